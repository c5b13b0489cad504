"""Dagster resources: the build inputs, the DuckDB warehouse, the dbt CLI and the exports.

Every path left unset (None) is resolved when a run uses it, through `settings.from_env`
(explicit value, then `VIP_*` variable, then the default), so the definitions load without
any environment and without a warehouse file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from packaging import version

from orchestration.project import dbt_executable, get_dbt_project, put_venv_on_path
from orchestration.settings import Settings, from_env


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB file."""


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and ("lock" in text or "conflicting" in text)


def locked_message(path: Path, exc: BaseException) -> str:
    return (
        f"The warehouse {path} is in use by another process ({exc}). DuckDB allows one "
        "writer: close other sessions on this file (a DuckDB shell, a notebook, `dagster dev` "
        "running a job, another `vip-tiers run`) and run again."
    )


class InputsResource(dg.ConfigurableResource):
    """Where the raw data and the program files are, and the default build date.

    None means `VIP_RAW_DIR` / `VIP_PROGRAMS_DIR` / `VIP_AS_OF` at run time, else the bundled
    sample programs, generated sample data and yesterday in each program's time zone.
    """

    raw_dir: str | None = None
    programs_dir: str | None = None
    as_of: str | None = None


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. Connections are short-lived: dbt needs the file unlocked.

    `engine` is the dbt target that builds the models (None: `VIP_DBT_TARGET`, else duckdb).
    On `spark` the loader and config asset still write this file first; the raw schema is
    then copied into the Spark catalog beside it (orchestration/spark/, docs/spark.md).
    """

    path: str | None = None
    engine: str | None = None

    def resolved_path(self) -> Path:
        return from_env(warehouse=self.path).warehouse

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection that is closed (and the file unlocked) when the block ends."""
        path = self.resolved_path()
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if is_lock_error(exc):
                raise WarehouseLockedError(locked_message(path, exc)) from exc
            raise
        try:
            yield con
        finally:
            con.close()

    def exists(self) -> bool:
        return self.resolved_path().exists()

    def check_writable(self) -> None:
        """Raise WarehouseLockedError when another process holds the file."""
        with self.connect():
            pass

    def row_counts(self, schema: str, tables: Iterable[str]) -> dict[str, int | None]:
        """Rows per table of `schema`; None for a table that does not exist."""
        wanted = list(tables)
        if not self.exists():
            return dict.fromkeys(wanted)
        with self.connect() as con:
            present = {
                name
                for (name,) in con.execute(
                    "select table_name from information_schema.tables where table_schema = ?",
                    [schema],
                ).fetchall()
            }
            return {
                table: (
                    int(con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0])
                    if table in present
                    else None
                )
                for table in wanted
            }


def resolve_settings(
    inputs: InputsResource, warehouse: WarehouseResource, as_of: str | None = None
) -> Settings:
    """The run's Settings: run config `as_of` first, then the resources, then the environment."""
    return from_env(
        raw_dir=inputs.raw_dir,
        programs_dir=inputs.programs_dir,
        warehouse=warehouse.path,
        as_of=as_of or inputs.as_of,
        engine=warehouse.engine,
    )


@contextlib.contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the duration of the block (the dbt subprocess copies os.environ)."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class VipDbtCliResource(DbtCliResource):
    """`DbtCliResource` whose invocations get the run's environment (`VIP_WAREHOUSE`, …).

    dagster-dbt starts dbt with a copy of `os.environ`; the profile reads the warehouse path
    from `VIP_WAREHOUSE`, so it is set for the start of the subprocess only.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        """dagster-dbt asks `dbt --version` in a subprocess on every run (~4 s of imports);
        the dbt beside this interpreter is the installed dbt-core package."""
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(importlib.metadata.version("dbt-core"))
        return DbtCliResource._cli_version.func(self)  # type: ignore[attr-defined]

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        """No dbt adapter in this process: dagster-dbt builds one before every invocation
        (loading the project's macros, ~1 s) only for `fetch_column_metadata` and
        `fetch_row_counts`, which these assets do not use. dbt itself runs in the subprocess."""
        return None

    def cli_with_env(
        self, args: Sequence[str], env: Mapping[str, str], **kwargs: Any
    ) -> DbtCliInvocation:
        put_venv_on_path()
        with patched_environ(env):
            return self.cli(args, **kwargs)


def dbt_resource(project: DbtProject | None = None) -> VipDbtCliResource:
    return VipDbtCliResource(
        project_dir=project or get_dbt_project(), dbt_executable=dbt_executable()
    )


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The resources of the Definitions: unset values resolve at run time (see module doc)."""
    if settings is None:
        inputs = InputsResource()
        warehouse = WarehouseResource()
    else:
        inputs = InputsResource(
            raw_dir=str(settings.raw_dir) if settings.raw_dir else None,
            programs_dir=str(settings.programs_dir),
            as_of=settings.as_of.isoformat() if isinstance(settings.as_of, dt.date) else None,
        )
        warehouse = WarehouseResource(path=str(settings.warehouse), engine=settings.dbt_target)
    from orchestration.exports.resource import ExportsResource

    return {
        "inputs": inputs,
        "warehouse": warehouse,
        "dbt": dbt_resource(),
        "exports": ExportsResource(),
    }
