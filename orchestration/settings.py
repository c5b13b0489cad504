"""The only module that reads the environment (VIP_*): every other module takes a Settings."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SAMPLE_PROGRAMS_DIR = PACKAGE_DIR / "samples"
DEFAULT_DATA_DIR = REPO_ROOT / ".data"
SPARK_LOG4J_CONFIG = PACKAGE_DIR / "spark" / "log4j2.properties"
# The dbt targets of dbt_project/profiles.yml that `vip-tiers run --engine` accepts.
ENGINES = ("duckdb", "spark")
# Engines whose builds are always full refreshes: dbt-spark has no `delete+insert` without
# Delta (whose jars are not bundled), so the Spark target rebuilds every incremental model
# (docs/spark.md). The one place that decides it.
FULL_REFRESH_ENGINES = frozenset({"spark"})
# DuckDB's memory limit for the loader and for dbt (dbt_project/profiles.yml reads it from
# VIP_DUCKDB_MEMORY_LIMIT, which dbt_env always sets). Without a limit DuckDB takes up to
# 80 % of RAM: at 1M members the raw load alone then reached 10.1 GB (docs/benchmarks.md).
DEFAULT_DUCKDB_MEMORY_LIMIT = "7.5GB"
_MEMORY_LIMIT_RE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    """Where the inputs and the warehouse are, and the build date.

    `raw_dir` None means: generate the bundled sample data into `.data/raw`.
    `as_of` None means: yesterday in each program's own timezone.
    """

    raw_dir: Path | None = None
    programs_dir: Path = SAMPLE_PROGRAMS_DIR
    warehouse: Path = DEFAULT_DATA_DIR / "warehouse.duckdb"
    as_of: dt.date | None = None
    dbt_target: str = "duckdb"
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def uses_sample_data(self) -> bool:
        return self.raw_dir is None

    @property
    def sample_raw_dir(self) -> Path:
        return self.warehouse.parent / "raw"

    @property
    def effective_raw_dir(self) -> Path:
        return self.raw_dir if self.raw_dir is not None else self.sample_raw_dir

    @property
    def spark_dir(self) -> Path:
        """The `spark` target's catalog (Derby metastore) and table files, beside the
        DuckDB warehouse: `.data/warehouse.duckdb` → `.data/warehouse-spark/`."""
        warehouse = self.warehouse.resolve()
        return warehouse.parent / f"{warehouse.stem}-spark"

    @property
    def always_full_refresh(self) -> bool:
        """True for engines whose builds always rebuild every incremental model."""
        return self.dbt_target in FULL_REFRESH_ENGINES

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt subprocess: the warehouse paths are always absolute.

        dbt.log is written at `info` (node starts, results, errors) unless
        `DBT_LOG_LEVEL_FILE` says otherwise: at dbt's default, `debug`, every query is
        logged from every thread through one locked file handler, about 1 s of a 20k-member
        build (docs/benchmarks.md)."""
        return {
            "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "info"),
            "VIP_WAREHOUSE": str(self.warehouse.resolve()),
            "VIP_DBT_TARGET": self.dbt_target,
            "VIP_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "VIP_SPARK_DIR": str(self.spark_dir),
            "VIP_SPARK_LOG4J": str(SPARK_LOG4J_CONFIG),
            **self.extra_env,
        }


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser().resolve() if value else None


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name}={value!r} is not a date (expected YYYY-MM-DD)") from exc


def from_env(
    raw_dir: str | Path | None = None,
    programs_dir: str | Path | None = None,
    warehouse: str | Path | None = None,
    as_of: str | dt.date | None = None,
    engine: str | None = None,
) -> Settings:
    """Settings from explicit values first, then VIP_* environment variables, then defaults."""
    env = os.environ
    raw = _path(str(raw_dir)) if raw_dir else _path(env.get("VIP_RAW_DIR"))
    programs = _path(str(programs_dir)) if programs_dir else _path(env.get("VIP_PROGRAMS_DIR"))
    wh = _path(str(warehouse)) if warehouse else _path(env.get("VIP_WAREHOUSE"))
    if isinstance(as_of, dt.date):
        as_of_date: dt.date | None = as_of
    else:
        as_of_date = _date(as_of or env.get("VIP_AS_OF"), "as_of")
    return Settings(
        raw_dir=raw,
        programs_dir=programs or SAMPLE_PROGRAMS_DIR,
        warehouse=wh or (DEFAULT_DATA_DIR / "warehouse.duckdb").resolve(),
        as_of=as_of_date,
        dbt_target=engine or env.get("VIP_DBT_TARGET", "duckdb"),
        duckdb_memory_limit=memory_limit(env.get("VIP_DUCKDB_MEMORY_LIMIT")),
    )


def memory_limit(value: str | None) -> str:
    """A DuckDB memory limit such as `7.5GB` or `900MiB` (the default when unset)."""
    size = (value or "").strip()
    if not size:
        return DEFAULT_DUCKDB_MEMORY_LIMIT
    if not _MEMORY_LIMIT_RE.match(size):
        raise ValueError(
            f"VIP_DUCKDB_MEMORY_LIMIT={value!r} is not a memory size: write a number and a "
            "unit, e.g. 7.5GB or 900MiB"
        )
    return size
