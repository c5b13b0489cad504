"""The dbt models as Dagster assets: one `dbt build` per run, its tests as asset checks.

Asset keys are dagster-dbt's defaults: `[schema, model]` for models with a custom schema
(`["staging", "stg_orders"]`, `["intermediate", …]`, seeds `["reference", …]`), `[model]` for
the marts, `[source, table]` for sources, so `["raw", "orders"]` is the raw asset upstream.
Groups follow the folders: staging, intermediate, marts (seeds: reference).
"""

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from orchestration.assets import BuildConfig
from orchestration.build_parameters import write_build_parameters
from orchestration.project import ensure_manifest, get_dbt_project
from orchestration.resources import (
    InputsResource,
    VipDbtCliResource,
    WarehouseResource,
    resolve_settings,
)
from orchestration.spark import SPARK_TARGET, publish_raw_schema

MODEL_GROUPS = ("staging", "intermediate", "marts")


class VipDbtTranslator(DagsterDbtTranslator):
    """Default keys; groups by models folder (staging / intermediate / marts)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        configured = super().get_group_name(dbt_resource_props)
        if configured:
            return configured
        if dbt_resource_props.get("resource_type") == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn") or []
        if len(fqn) > 1 and fqn[1] in MODEL_GROUPS:
            return fqn[1]
        return "dbt"


TRANSLATOR = VipDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=True)
)

DBT_PROJECT = get_dbt_project()
# @dbt_assets reads the manifest while the definitions load: parse first when it is stale.
ensure_manifest(DBT_PROJECT)


def dbt_target_path(warehouse: Path) -> Path:
    """One dbt target folder per warehouse, reused run after run: dbt's partial parsing
    (target/partial_parse.msgpack) then skips re-parsing an unchanged project, and target
    folders do not pile up (dagster-dbt's default is a new folder per invocation)."""
    digest = hashlib.sha1(str(warehouse.resolve()).encode()).hexdigest()[:12]
    return Path(DBT_PROJECT.project_dir) / "target" / "runs" / digest


def dbt_build_args(full_refresh: bool) -> list[str]:
    """`dbt build` without the unit tests, with a full refresh when asked. The build date and
    partitions go through `raw.build_parameters` (see orchestration/build_parameters.py),
    not `--vars`.

    Unit tests check the SQL against fixed inputs, so they give the same answer every night:
    dbt recommends running them in development and CI only. Here the test suite runs them
    (tests/test_dbt_unit_tests.py); in a build they would add ~2.5 s at any size."""
    args = ["build", "--exclude-resource-type", "unit_test"]
    return [*args, "--full-refresh"] if full_refresh else args


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    name="dbt_models",
)
def dbt_models(
    context: dg.AssetExecutionContext,
    config: BuildConfig,
    dbt: VipDbtCliResource,
    inputs: InputsResource,
    warehouse: WarehouseResource,
) -> Iterator[Any]:
    """Build (run + test) the selected dbt models as of the run's date."""
    settings = resolve_settings(inputs, warehouse, config.as_of)
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    params = config.parameters(settings.as_of)
    with warehouse.connect() as con:
        write_build_parameters(con, params)
    if settings.dbt_target == SPARK_TARGET:
        # the loader and the config asset wrote the raw schema into the warehouse file
        tables = publish_raw_schema(settings)
        context.log.info(f"Copied {len(tables)} raw tables into Spark ({settings.spark_dir})")
    # Spark always rebuilds (settings.always_full_refresh, docs/spark.md)
    args = dbt_build_args(config.full_refresh or settings.always_full_refresh)
    context.log.info(f"dbt {' '.join(args)} on {settings.warehouse} ({params})")
    invocation = dbt.cli_with_env(
        args,
        env=settings.dbt_env(),
        context=context,
        target_path=dbt_target_path(settings.warehouse),
    )
    yield from invocation.stream()
