"""The one Dagster `Definitions` of vip-tiers (`dagster dev -m orchestration.definitions`).

Everything is listed explicitly. `vip-tiers run` builds the same definitions with its own
settings (`make_definitions(settings)`) and executes the `build_all` job in process: one code
path. Nothing here reads the environment or opens the warehouse: unset resource values are
resolved when a run starts (orchestration/resources.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from orchestration.assets.config import program_config
from orchestration.assets.dashboard import dashboard
from orchestration.assets.dbt import dbt_models
from orchestration.assets.exports import EXPORT_ASSETS, export_all
from orchestration.assets.raw import raw_tables
from orchestration.resources import build_resources
from orchestration.settings import Settings

ASSETS: list[dg.AssetsDefinition] = [program_config, raw_tables, dbt_models, dashboard]
BUILD_ALL = "build_all"

build_all = dg.define_asset_job(
    name=BUILD_ALL,
    selection=dg.AssetSelection.assets(*ASSETS),
    description=(
        "Validate the program config, load the raw data and `dbt build` every model and test, "
        "as of the run's date, then write the HTML dashboard; no exports."
    ),
    executor_def=dg.in_process_executor,
)


def make_definitions(
    settings: Settings | None = None,
    loggers: Mapping[str, dg.LoggerDefinition] | None = None,
) -> dg.Definitions:
    """The Definitions; `settings` None leaves paths to the environment at run time."""
    return dg.Definitions(
        assets=[*ASSETS, *EXPORT_ASSETS],
        jobs=[build_all, export_all],
        resources=build_resources(settings),
        executor=dg.in_process_executor,
        loggers=dict(loggers) if loggers else None,
    )


defs = make_definitions()
