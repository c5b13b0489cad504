"""The program config asset: every program YAML validated and written to `raw` tables.

The asset keys are `["raw", <table>]`, the keys dagster-dbt gives the dbt sources of the same
tables, so the lineage into the dbt models needs no glue. An invalid program file does not
fail the run: its errors are logged and recorded as metadata, its last good rows stay, and
the other programs build (the CLI turns the errors into exit code 1).
"""

from collections.abc import Iterator

import dagster as dg

from orchestration.assets import BuildConfig, input_failure
from orchestration.assets.failures import input_failures
from orchestration.build_parameters import write_build_parameters
from orchestration.config_tables import sync_program_config
from orchestration.resources import (
    InputsResource,
    WarehouseResource,
    resolve_settings,
)

CONFIG_TABLES: dict[str, str] = {
    "programs": "One row per program with valid (or last valid) config.",
    "program_scenarios": "Resolved scenarios per program (live, mode_*, custom).",
    "program_scenario_tiers": "Tiers per program scenario, base tier rank 0.",
    "program_scenario_activities": "Qualifying points activities per program scenario.",
    "program_config_status": "Validation status of each program file at the last config load.",
    "build_parameters": "What this build is asked for: as_of, daily partitions, programs.",
}
STATUS_KEY = dg.AssetKey(["raw", "program_config_status"])


@dg.multi_asset(
    name="program_config",
    specs=[
        dg.AssetSpec(
            key=["raw", table],
            description=description,
            group_name="config",
            kinds={"python", "duckdb"},
        )
        for table, description in CONFIG_TABLES.items()
    ],
)
def program_config(
    context: dg.AssetExecutionContext,
    config: BuildConfig,
    inputs: InputsResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult]:
    """Validate the programs directory and write programs, scenarios, tiers and status."""
    settings = resolve_settings(inputs, warehouse, config.as_of)
    if not settings.programs_dir.is_dir():
        raise input_failure(
            f"The programs directory {settings.programs_dir} does not exist: pass "
            "--programs-dir (or VIP_PROGRAMS_DIR) pointing at a folder of program YAML files."
        )
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with input_failures(settings.warehouse):
        result = sync_program_config(settings.warehouse, settings.programs_dir, settings.as_of)

    with warehouse.connect() as con:
        write_build_parameters(con, config.parameters(settings.as_of))

    errors = [str(error) for error in result.errors]
    for message in errors:
        context.log.warning(f"Invalid program config: {message}")
    invalid_ids = sorted(str(i) for i in (result.invalid_program_ids or []) if i is not None)
    if errors:
        context.log.warning(
            f"{len(errors)} problem(s) in {settings.programs_dir}; the programs concerned keep "
            "their last good config and outputs, the others build."
        )

    counts = warehouse.row_counts("raw", CONFIG_TABLES)
    for table in CONFIG_TABLES:
        metadata: dict[str, dg.RawMetadataValue] = {
            "dagster/row_count": counts[table] or 0,
            "programs_dir": str(settings.programs_dir),
        }
        key = dg.AssetKey(["raw", table])
        if key == STATUS_KEY:
            metadata.update(
                {
                    "invalid_programs": len(invalid_ids),
                    "error_count": len(errors),
                    "invalid_program_ids": dg.MetadataValue.json(invalid_ids),
                    "errors": dg.MetadataValue.json(errors),
                    "summary": dg.MetadataValue.md(f"```\n{result.as_text()}\n```"),
                }
            )
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
