"""The Dagster definitions: they load, the lineage is wired, the whole graph materialises."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import AS_OF, clean_env
from dagster_dbt.core import resource as dagster_dbt_resource
from packaging import version

from orchestration.assets.dbt import dbt_models
from orchestration.definitions import BUILD_ALL, defs, make_definitions
from orchestration.project import get_dbt_project
from orchestration.resources import VipDbtCliResource, dbt_resource
from orchestration.settings import REPO_ROOT, SAMPLE_PROGRAMS_DIR, Settings

RAW_DATA_TABLES = (
    "customers",
    "orders",
    "refunds",
    "points_ledger",
    "manual_tier_assignments",
    "fx_rates",
    "load_rejections",
)
CONFIG_TABLES = (
    "programs",
    "program_scenarios",
    "program_scenario_tiers",
    "program_scenario_activities",
    "program_config_status",
    "build_parameters",
)
RAW_KEYS = [dg.AssetKey(["raw", t]) for t in RAW_DATA_TABLES + CONFIG_TABLES]
# Contract models (interfaces §4) this test requires after a build, all in dbt's target schema.
CONTRACT_MODELS = ("dim_program_tiers", "dim_scenarios", "fct_qualifying_windows", "rejected_rows")
MODEL_GROUPS = {"staging", "intermediate", "marts", "reference"}


def test_definitions_validate() -> None:
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def(BUILD_ALL)
    assert job.executor_def is dg.in_process_executor
    assert set(defs.resolve_all_job_defs()) >= {job}


def test_definitions_load_without_environment(tmp_path: Path) -> None:
    """No VIP_* variables, another working directory: loads, opens no warehouse."""
    warehouse = tmp_path / "never" / "warehouse.duckdb"
    env = {**clean_env(), "VIP_WAREHOUSE": str(warehouse)}
    code = (
        "import dagster as dg\n"
        "from orchestration.definitions import defs\n"
        "dg.Definitions.validate_loadable(defs)\n"
        "print(len(defs.resolve_asset_graph().get_all_asset_keys()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip().splitlines()[-1]) > len(RAW_KEYS)
    assert not warehouse.exists() and not warehouse.parent.exists()


def _ancestors(graph: dg.AssetGraph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    todo = [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_raw_and_config_assets_feed_the_dbt_models() -> None:
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    # Every asset is materialisable: each dbt source resolves to the config or raw asset
    # of the same key, with no external stand-in in between.
    assert [k for k in keys if not graph.get(k).is_materializable] == []
    for key in RAW_KEYS:
        assert key in keys
        node = graph.get(key)
        assert node.group_name in {"raw", "config"}
        assert node.parent_keys == set()
        children = node.child_keys & set(dbt_models.keys)
        assert children, f"no dbt model reads {key.to_user_string()}"

    dbt_keys = set(dbt_models.keys)
    assert {graph.get(k).group_name for k in dbt_keys} <= MODEL_GROUPS
    for model in CONTRACT_MODELS:
        key = dg.AssetKey([model])
        assert key in dbt_keys, f"dbt model {model} is missing"
        assert graph.get(key).group_name == "marts"
        assert _ancestors(graph, key) & set(RAW_KEYS), f"{model} does not read raw"
    # dbt tests are asset checks.
    assert graph.asset_check_keys


def test_build_all_materialises_in_process(
    small_raw_dir: Path, make_warehouse: Callable[[], Path]
) -> None:
    warehouse = make_warehouse()
    settings = Settings(
        raw_dir=small_raw_dir,
        programs_dir=SAMPLE_PROGRAMS_DIR,
        warehouse=warehouse,
        as_of=AS_OF,
    )
    job = make_definitions(settings).resolve_job_def(BUILD_ALL)
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    failures = [
        (e.step_key, e.step_failure_data.error and e.step_failure_data.error.to_string())
        for e in result.get_step_failure_events()
    ]
    assert result.success, failures

    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert set(RAW_KEYS) <= materialized
    for model in CONTRACT_MODELS:
        assert dg.AssetKey([model]) in materialized
    assert all(check.passed for check in result.get_asset_check_evaluations())

    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {
            (schema, name)
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }

        def rows(schema: str, name: str) -> int:
            assert (schema, name) in tables, f"{schema}.{name} was not built"
            return con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]

        for table in RAW_DATA_TABLES + CONFIG_TABLES:
            rows("raw", table)
        assert rows("raw", "customers") > 0 and rows("raw", "orders") > 0
        assert rows("raw", "programs") == len(list(SAMPLE_PROGRAMS_DIR.glob("*.yaml")))
        for model in ("dim_program_tiers", "dim_scenarios", "fct_qualifying_windows"):
            assert rows("main", model) > 0, f"main.{model} is empty"
        rows("main", "rejected_rows")
        live = con.execute(
            "select count(distinct program_id) from main.dim_scenarios where scenario_id = 'live'"
        ).fetchone()[0]
        assert live == len(list(SAMPLE_PROGRAMS_DIR.glob("*.yaml")))


def test_run_config_accepts_build_options() -> None:
    """The launchpad's op config of the dbt step: full refresh and as-of."""
    job = defs.resolve_job_def(BUILD_ALL)
    options = {"full_refresh": True, "as_of": "2024-06-30"}
    dg.validate_run_config(job, {"ops": {"dbt_models": {"config": options}}})
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(job, {"ops": {"dbt_models": {"config": {"full_refresh": "x"}}}})


def test_dbt_resource_knows_the_installed_dbt_version_without_a_subprocess(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """dagster-dbt asks `dbt --version` in a subprocess at every run; the dbt beside this
    interpreter is the installed dbt-core, whose version is read without one."""

    def no_subprocess(*args: object, **kwargs: object) -> bytes:
        raise AssertionError(f"unexpected subprocess {args}")

    monkeypatch.setattr(dagster_dbt_resource, "check_output", no_subprocess)
    resource = dbt_resource()
    assert Path(resource.dbt_executable).parent == Path(sys.executable).parent
    assert resource._cli_version == version.parse(importlib.metadata.version("dbt-core"))

    asked: list[list[str]] = []

    def fake_dbt_version(command: list[str], *args: object, **kwargs: object) -> bytes:
        asked.append(command)
        return b"Core:\n  - installed: 1.10.7\n"

    monkeypatch.setattr(dagster_dbt_resource, "check_output", fake_dbt_version)
    elsewhere = tmp_path / "bin" / "dbt"
    elsewhere.parent.mkdir()
    elsewhere.write_text("#!/bin/sh\n")
    elsewhere.chmod(0o755)
    other = VipDbtCliResource(project_dir=get_dbt_project(), dbt_executable=str(elsewhere))
    assert other._cli_version == version.parse("1.10.7")
    assert asked == [[str(elsewhere), "--version"]]
