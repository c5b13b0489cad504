"""The dbt unit tests (the `unit_tests:` in the models' YAML) run here, not in the nightly build.

`vip-tiers run` builds with `--exclude-resource-type unit_test` (orchestration/assets/dbt.py):
their inputs are fixed, so they give the same answer every night. This test is where they
run: every unit test of the project must run and pass.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.dbt_cli import run_dbt
from tests.test_bi_marts import AS_OF


def test_every_dbt_unit_test_passes(bi_warehouse: Path, tmp_path: Path) -> None:
    done = run_dbt(
        bi_warehouse,
        tmp_path,
        ["test", "--select", "test_type:unit"],
        {"as_of": AS_OF.isoformat()},
        expect_success=False,
    )
    target = tmp_path / "dbt_target"
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    assert manifest["unit_tests"], "the project has no dbt unit tests"
    assert set(statuses) == set(manifest["unit_tests"]), "a unit test did not run"
    failed = {uid: status for uid, status in statuses.items() if status != "pass"}
    assert not failed, f"{failed}\n{done.stdout[-6000:]}"
    assert done.returncode == 0


def test_nightly_build_leaves_unit_tests_out() -> None:
    from orchestration.assets.dbt import dbt_build_args

    for full_refresh in (False, True):
        args = dbt_build_args(full_refresh)
        assert args[0] == "build"
        assert args[args.index("--exclude-resource-type") + 1] == "unit_test"
        assert ("--full-refresh" in args) is full_refresh
