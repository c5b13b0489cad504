"""The `spark` engine: the raw schema copied into a local Spark catalog, and back out.

The loader (`orchestration/loader.py`) and the config asset (`config_tables.py`) type and
validate everything in DuckDB, into the warehouse file, exactly as for the DuckDB engine.
For the `spark` dbt target the `raw` schema is then copied into the Spark catalog that the
profile's `session` target uses (a Hive catalog in an embedded Derby metastore under
`Settings.spark_dir`): DuckDB writes each table to Parquet, and a short-lived Spark driver
(`python -m orchestration.spark.session`, its own process because embedded Derby admits one
JVM at a time and dbt starts its own) creates `raw.<table>` from it. Column types are the
same on both sides (strings, DECIMAL(18,2), BIGINT, DATE, and UTC timestamps).

The Spark configuration is the profile's own (`server_side_parameters` of the `spark`
output in dbt_project/profiles.yml), read here so both drivers open the same catalog.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import yaml

from orchestration.settings import DBT_PROJECT_DIR, Settings

PROFILE_PATH = DBT_PROJECT_DIR / "profiles.yml"
PROFILE_NAME = "vip_tiers"
SPARK_TARGET = "spark"
RAW_SCHEMA = "raw"
_ENV_VAR = re.compile(r"\{\{\s*env_var\(\s*'([^']+)'\s*(?:,\s*'([^']*)'\s*)?\)\s*\}\}")


class SparkEngineError(RuntimeError):
    """The local Spark driver failed (Java missing, a statement failed, …)."""


def _render_env_vars(value: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise SparkEngineError(f"{PROFILE_PATH}: environment variable {name} is not set")

    return _ENV_VAR.sub(replace, value)


def session_conf(settings: Settings) -> dict[str, str]:
    """The Spark configuration of the profile's `spark` target, rendered for `settings`."""
    profile = yaml.safe_load(PROFILE_PATH.read_text())[PROFILE_NAME]
    params = profile["outputs"][SPARK_TARGET].get("server_side_parameters") or {}
    env = {**os.environ, **settings.dbt_env()}
    return {str(key): _render_env_vars(str(value), env) for key, value in params.items()}


def engine_problem() -> str | None:
    """Why the spark engine cannot run here (no pyspark / dbt-spark, no Java), or None."""
    import importlib.util

    for module, package in (("pyspark", "pyspark"), ("dbt.adapters.spark", "dbt-spark")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return (
                f"{package} is not installed: the spark engine needs the `spark` extra "
                "(pip install -e '.[spark]'; `make setup` installs it)."
            )
    return java_problem()


def java_problem() -> str | None:
    """Why Spark cannot start here (no Java), or None."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return None
    if shutil.which("java"):
        return None
    return (
        "Java is not installed: the spark engine needs a Java 17 runtime "
        "(Debian: apt-get install openjdk-17-jre-headless; `make setup` installs it)."
    )


def run_driver(settings: Settings, command: str, *args: str) -> str:
    """Run `python -m orchestration.spark.session COMMAND ARGS` with the profile's config.

    Returns the driver's stdout; raises SparkEngineError with its stderr when it fails.
    """
    problem = java_problem()
    if problem:
        raise SparkEngineError(problem)
    settings.spark_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings.dbt_env()}
    env["VIP_SPARK_CONF"] = "\n".join(f"{k}={v}" for k, v in session_conf(settings).items())
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.spark.session", command, *args],
        cwd=settings.spark_dir,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        detail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-30:])
        raise SparkEngineError(
            f"The Spark driver failed ({command}, exit {done.returncode}):\n{detail}"
        )
    return done.stdout


def landing_dir(settings: Settings) -> Path:
    return settings.spark_dir / "landing"


def raw_table_names(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? order by table_name",
            [RAW_SCHEMA],
        ).fetchall()
    return [name for (name,) in rows]


def publish_raw_schema(settings: Settings, tables: Iterable[str] | None = None) -> list[str]:
    """Copy the warehouse file's `raw` tables (all, or `tables`) into Spark's `raw` schema.

    Returns the tables copied. Each becomes a managed Parquet table replacing the old one.
    """
    names = list(tables) if tables is not None else raw_table_names(settings.warehouse)
    out = landing_dir(settings)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        for name in names:
            target = out / f"{name}.parquet"
            con.execute(f'copy "{RAW_SCHEMA}"."{name}" to \'{target}\' (format parquet)')
    run_driver(settings, "load", str(out), *names)
    shutil.rmtree(out, ignore_errors=True)
    return names


def export_tables(settings: Settings, tables: Iterable[str], out_dir: Path) -> None:
    """Write Spark tables (`schema.table` or `table` in the target schema) to Parquet files
    `out_dir/<table>.parquet`, for reading them back with DuckDB."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run_driver(settings, "export", str(out_dir), *tables)


MIRROR_SCHEMA = "spark_marts"


def mirror_tables(
    settings: Settings, tables: Iterable[str], schema: str = MIRROR_SCHEMA
) -> list[str]:
    """Copy Spark tables of the target schema into the warehouse file's `schema` (replaced).

    For readers that take a DuckDB file (the dashboard): on the Spark engine the marts live in
    the Spark catalog, while the warehouse file holds only the raw and config tables. Returns
    the tables copied; a table Spark does not have is skipped (the reader reports it).
    """
    names = list(tables)
    out = settings.spark_dir / "mirror"
    shutil.rmtree(out, ignore_errors=True)
    export_tables(settings, names, out)
    copied = []
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f'create schema if not exists "{schema}"')
        for name in names:
            if not any((out / name).glob("*.parquet")):
                con.execute(f'drop table if exists "{schema}"."{name}"')
                continue
            con.execute(
                f'create or replace table "{schema}"."{name}" as '
                f"select * from read_parquet('{out / name}/*.parquet')"
            )
            copied.append(name)
    shutil.rmtree(out, ignore_errors=True)
    return copied
