"""The one Dagster `Definitions` of vip-tiers (`dagster dev -m orchestration.definitions`).

Everything is listed explicitly. `vip-tiers run` builds the same definitions with its own
settings (`make_definitions(settings)`) and executes the `build_all` job in process: one code
path. Nothing here opens the warehouse: unset resource values are resolved when a run starts
(orchestration/resources.py). The one thing read at load is the programs directory
(`settings.programs_dir`, else `VIP_PROGRAMS_DIR`, else the bundled samples): each valid
program gets its daily partitions, job and schedule (orchestration/assets/daily.py); an
invalid file is logged and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import dagster as dg

from orchestration.assets.config import program_config
from orchestration.assets.daily import DailyDefinitions, build_daily_definitions, daily_programs
from orchestration.assets.dashboard import dashboard
from orchestration.assets.dbt import dbt_models
from orchestration.assets.exports import EXPORT_ASSETS, export_all
from orchestration.assets.raw import raw_tables
from orchestration.resources import build_resources
from orchestration.sensors import make_run_failure_sensor
from orchestration.settings import Settings, from_env

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


def daily_definitions(settings: Settings | None = None) -> DailyDefinitions:
    """The per-program daily assets, jobs and schedules of the programs directory."""
    if settings is not None:
        programs_dir = settings.programs_dir
    else:
        try:
            programs_dir = from_env().programs_dir
        except ValueError as exc:  # a bad VIP_AS_OF fails the runs, not the load
            logging.getLogger("vip_tiers.daily").warning(f"No daily partitions: {exc}")
            return build_daily_definitions([])
    return build_daily_definitions(daily_programs(programs_dir))


def make_definitions(
    settings: Settings | None = None,
    loggers: Mapping[str, dg.LoggerDefinition] | None = None,
) -> dg.Definitions:
    """The Definitions; `settings` None leaves paths to the environment at run time."""
    daily = daily_definitions(settings)
    return dg.Definitions(
        assets=[*ASSETS, *EXPORT_ASSETS, *daily.assets],
        jobs=[build_all, export_all, *daily.jobs],
        schedules=list(daily.schedules),
        sensors=[make_run_failure_sensor(daily.secret_env_names)],
        resources=build_resources(settings),
        executor=dg.in_process_executor,
        loggers=dict(loggers) if loggers else None,
    )


defs = make_definitions()
