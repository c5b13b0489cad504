"""`vip-tiers`: build the warehouse, generate sample data, validate program files.

`vip-tiers run` executes the Dagster job `build_all` of `orchestration.definitions` in this
process (the same assets and resources `dagster dev` runs), prints one line per asset as it
completes, then a summary. Exit codes: 0 built; 1 an invalid program file (the other
programs built) or a dbt failure; 2 unreadable input or a locked warehouse.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from orchestration.exports.cli import export_command, exports_app
from orchestration.settings import ENGINES, SAMPLE_PROGRAMS_DIR, Settings, from_env

if TYPE_CHECKING:  # Dagster is imported by `run` only: `validate` and `generate` start fast.
    import dagster as dg

    from orchestration.summary import BuildSummary

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
PROGRESS_LOGGER = "vip_tiers.progress"

app = typer.Typer(
    name="vip-tiers",
    help="Loyalty-program VIP tiers computed in the warehouse (dbt + Dagster, DuckDB).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _console() -> Console:
    # Off a terminal (CI, pipes, tests) keep lines long instead of 80 columns.
    probe = Console()
    return Console(highlight=False, width=None if probe.is_terminal else 120)


console = _console()


def _fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    console.print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _date_option(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        message = f"{value!r} is not a date (expected YYYY-MM-DD)"
        raise typer.BadParameter(message, param_hint=name) from None


# ---------------------------------------------------------------------------------------------
# Progress: a Dagster logger that forwards run events to a Python logger this module watches.


def progress_logger_def() -> dg.LoggerDefinition:
    """The Dagster logger `progress`: hands every run record to the PROGRESS_LOGGER logger."""
    import dagster as dg

    @dg.logger(description="Forwards run events to the `vip-tiers` terminal progress lines.")
    def progress(_init_context: dg.InitLoggerContext) -> logging.Logger:
        logger = logging.getLogger(PROGRESS_LOGGER)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        return logger

    return progress


def _event_of(record: logging.LogRecord) -> Any:
    meta = getattr(record, "dagster_meta", None)
    if isinstance(meta, dict) and meta.get("dagster_event") is not None:
        return meta["dagster_event"]
    return getattr(record, "dagster_event", None)


def _metadata_value(metadata: Any, key: str) -> Any:
    value = (metadata or {}).get(key)
    return getattr(value, "value", value)


class ProgressHandler(logging.Handler):
    """One terminal line per completed asset, failed check, failed step and warning."""

    def __init__(self, out: Console) -> None:
        super().__init__(level=logging.DEBUG)
        self.out = out
        self.passed_checks = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(record)
        except Exception:  # a progress line must never break the run
            self.handleError(record)

    def _tests(self) -> str:
        passed, self.passed_checks = self.passed_checks, 0
        return f" [dim]({passed} tests passed)[/dim]" if passed else ""

    def _line(self, text: str) -> None:
        self.out.print(text, soft_wrap=True)

    def _emit(self, record: logging.LogRecord) -> None:
        event = _event_of(record)
        if event is None:
            if record.levelno >= logging.WARNING:
                meta = getattr(record, "dagster_meta", {}) or {}
                message = meta.get("orig_message") or record.getMessage()
                self._line(f"  [yellow]![/yellow] {escape(str(message))}")
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self._line(f"[bold]▶ {escape(event.step_key or '')}[/bold]")
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            key = materialization.asset_key.to_user_string()
            rows = _metadata_value(materialization.metadata, "dagster/row_count")
            seconds = _metadata_value(materialization.metadata, "Execution Duration")
            detail = f"{rows:,} rows" if isinstance(rows, int) else ""
            if not detail and isinstance(seconds, int | float):
                detail = f"{seconds:.1f} s"
            self._line(f"  [green]✓[/green] {escape(key)}  [dim]{detail}[/dim]")
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.passed:
                self.passed_checks += 1
                return
            severity = getattr(evaluation.severity, "value", evaluation.severity)
            mark = "[red]✗[/red]" if severity == "ERROR" else "[yellow]![/yellow]"
            self._line(
                f"  {mark} test {escape(evaluation.check_name)} on "
                f"{escape(evaluation.asset_key.to_user_string())} failed"
            )
        elif kind == "STEP_SUCCESS":
            duration = getattr(event.event_specific_data, "duration_ms", None)
            timing = f" in {duration / 1000:.1f} s" if duration else ""
            self._line(f"[green]✓ {escape(event.step_key or '')}[/green]{timing}{self._tests()}")
        elif kind == "STEP_FAILURE":
            self._line(f"[red]✗ {escape(event.step_key or '')} failed[/red]{self._tests()}")
        elif kind == "STEP_SKIPPED":
            self._line(f"[yellow]- {escape(event.step_key or '')} skipped[/yellow]")


# ---------------------------------------------------------------------------------------------
# Reading the run's outcome.


def _error_text(error: Any) -> str:
    """The user's exception message from a SerializableErrorInfo (skipping Dagster wrappers)."""
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause or getattr(error, "context", None)
    user = [e for e in chain if not e.cls_name.startswith("Dagster")] or chain
    return user[0].message.strip() if user else ""


def failures_of(result: dg.ExecuteInProcessResult) -> tuple[list[str], list[str]]:
    """(input errors → exit 2, other failures → exit 1) of a finished run."""
    from orchestration.assets import VipErrorKind

    input_errors: list[str] = []
    failures: list[str] = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        user = data.user_failure_data
        kind = _metadata_value(user.metadata, VipErrorKind.KEY) if user else None
        if user and user.description:
            message = user.description
        else:
            message = _error_text(data.error) or "unknown error"
        if kind in (VipErrorKind.INPUT, VipErrorKind.WAREHOUSE_LOCKED):
            input_errors.append(message)
        else:
            failures.append(f"{event.step_key}: {_shorten(message)}")
    return input_errors, failures


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _shorten(message: str, max_lines: int = 25) -> str:
    """dbt's error text without colour codes and blank lines, at most `max_lines` lines."""
    lines = [line for line in _ANSI.sub("", message).strip().splitlines() if line.strip()]
    if len(lines) <= max_lines:
        return "\n".join(lines)
    return "\n".join([*lines[:max_lines], f"… ({len(lines) - max_lines} more lines)"])


def invalid_programs_of(result: dg.ExecuteInProcessResult) -> list[str]:
    """The program file errors recorded by the program_config asset."""
    from orchestration.assets.config import STATUS_KEY

    messages: list[str] = []
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key == STATUS_KEY:
            messages += [str(m) for m in _metadata_value(materialization.metadata, "errors") or []]
    return messages


def failed_checks_of(result: dg.ExecuteInProcessResult) -> list[str]:
    failed = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            severity = getattr(evaluation.severity, "value", evaluation.severity)
            failed.append(
                f"{evaluation.check_name} on {evaluation.asset_key.to_user_string()} ({severity})"
            )
    return failed


def exit_code_for(summary: BuildSummary, input_errors: Sequence[str]) -> int:
    if input_errors:
        return EXIT_INPUT
    if summary.failures or summary.invalid_programs or summary.failed_checks:
        return EXIT_FAILED
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# Commands.


def _preflight(settings: Settings) -> None:
    """Checks that make a readable message instead of a failed step (exit code 2)."""
    from orchestration.resources import WarehouseLockedError, WarehouseResource

    if not settings.programs_dir.is_dir():
        raise _fail(
            f"The programs directory {settings.programs_dir} does not exist: pass --programs-dir "
            "(or set VIP_PROGRAMS_DIR) to a folder of program YAML files."
        )
    if settings.raw_dir is not None and not settings.raw_dir.is_dir():
        raise _fail(
            f"The raw directory {settings.raw_dir} does not exist: pass --raw-dir (or set "
            "VIP_RAW_DIR) to a folder holding at least customers and orders (CSV or Parquet)."
        )
    if settings.dbt_target == "spark":
        from orchestration.spark import engine_problem

        problem = engine_problem()
        if problem:
            raise _fail(problem)
    try:
        settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
        WarehouseResource(path=str(settings.warehouse)).check_writable()
    except WarehouseLockedError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:
        raise _fail(
            f"Cannot open the warehouse {settings.warehouse}: {exc}. Pass --warehouse (or set "
            "VIP_WAREHOUSE) to a writable FILE.duckdb path."
        ) from exc


def _describe(settings: Settings) -> None:
    raw = (
        f"{settings.sample_raw_dir} (sample data, generated when missing)"
        if settings.uses_sample_data
        else str(settings.raw_dir)
    )
    programs = (
        f"{settings.programs_dir} (bundled samples)"
        if settings.programs_dir == SAMPLE_PROGRAMS_DIR
        else str(settings.programs_dir)
    )
    as_of = settings.as_of.isoformat() if settings.as_of else "yesterday in each program's zone"
    for label, value in (
        ("raw dir", raw),
        ("programs", programs),
        ("warehouse", str(settings.warehouse)),
        ("as of", as_of),
        ("engine", settings.dbt_target),
    ):
        console.print(f"[dim]{label:>10}:[/dim] {escape(value)}", soft_wrap=True)


@app.command()
def run(
    raw_dir: Annotated[
        Path | None,
        typer.Option("--raw-dir", help="Raw directory (env VIP_RAW_DIR; default: sample data)."),
    ] = None,
    programs_dir: Annotated[
        Path | None,
        typer.Option(
            "--programs-dir",
            help="Folder of program YAML files (env VIP_PROGRAMS_DIR; default: bundled samples).",
        ),
    ] = None,
    warehouse: Annotated[
        Path | None,
        typer.Option(
            "--warehouse",
            help="DuckDB warehouse file (env VIP_WAREHOUSE; default: .data/warehouse.duckdb).",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Build date YYYY-MM-DD (env VIP_AS_OF; default: yesterday per program).",
        ),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch.")
    ] = False,
    daily_from: Annotated[
        str | None,
        typer.Option(
            "--daily-from",
            help="First day YYYY-MM-DD of fct_customer_tier_daily to fill (default: as-of).",
        ),
    ] = None,
    daily_to: Annotated[
        str | None,
        typer.Option(
            "--daily-to",
            help="Last day YYYY-MM-DD of fct_customer_tier_daily to fill (default: as-of).",
        ),
    ] = None,
    program: Annotated[
        list[str] | None,
        typer.Option(
            "--program", help="Build only this program (repeatable); the others keep their rows."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="dbt target that builds the models: duckdb or spark (env VIP_DBT_TARGET; "
            "default duckdb). Spark always rebuilds in full (docs/spark.md).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show dbt's own output.")
    ] = False,
) -> None:
    """Load the raw data, validate the programs and build every model as of a date.

    On an existing warehouse the build continues it: only the members whose tiers new data
    or the calendar can change are recomputed (the summary says how many, and why)."""
    started = time.monotonic()
    as_of_date = _date_option(as_of, "--as-of")
    daily_from_date = _date_option(daily_from, "--daily-from")
    daily_to_date = _date_option(daily_to, "--daily-to")
    if daily_from_date and daily_to_date and daily_from_date > daily_to_date:
        raise _fail(f"--daily-from {daily_from_date} is after --daily-to {daily_to_date}.")
    if engine is not None and engine not in ENGINES:
        message = f"{engine!r} is not one of {', '.join(ENGINES)}"
        raise typer.BadParameter(message, param_hint="--engine")
    try:
        settings = from_env(raw_dir, programs_dir, warehouse, as_of_date, engine=engine)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    _describe(settings)
    _preflight(settings)

    import dagster as dg

    from orchestration.project import DbtParseError
    from orchestration.resources import WarehouseResource
    from orchestration.summary import collect_summary, render_summary

    try:
        from orchestration.definitions import BUILD_ALL, make_definitions
    except DbtParseError as exc:
        raise _fail(str(exc), EXIT_FAILED) from exc

    defs = make_definitions(settings, loggers={"progress": progress_logger_def()})
    job = defs.resolve_job_def(BUILD_ALL)
    run_config: dict[str, Any] = {"loggers": {"progress": {"config": {}}}}
    build_config: dict[str, Any] = {
        "full_refresh": full_refresh,
        "daily_from": daily_from_date.isoformat() if daily_from_date else None,
        "daily_to": daily_to_date.isoformat() if daily_to_date else None,
        "programs": list(program) if program else None,
    }
    run_config["ops"] = {
        "program_config": {"config": build_config},
        "dbt_models": {"config": build_config},
    }

    # Progress lines go to the terminal; dbt's own log lines (printed by dagster-dbt on
    # stdout) only with --verbose: dbt also writes them to dbt.log under dbt_project/target/.
    handler = ProgressHandler(Console(file=sys.stdout, highlight=False, width=console.width))
    progress = logging.getLogger(PROGRESS_LOGGER)
    progress.addHandler(handler)
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    try:
        with quiet, dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(
                run_config=run_config, instance=instance, raise_on_error=False
            )
    finally:
        progress.removeHandler(handler)

    input_errors, failures = failures_of(result)
    if input_errors:
        for message in input_errors:
            console.print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)
        console.print(f"Total time: {time.monotonic() - started:.1f} s")
        raise typer.Exit(EXIT_INPUT)

    summary = collect_summary(
        WarehouseResource(path=str(settings.warehouse)), time.monotonic() - started
    )
    summary.invalid_programs = invalid_programs_of(result)
    summary.failed_checks = failed_checks_of(result)
    summary.failures = failures
    console.print()
    render_summary(summary, console)
    code = exit_code_for(summary, input_errors)
    if code == EXIT_OK:
        console.print("[bold green]Built.[/bold green]")
    raise typer.Exit(code)


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the raw tables into.")],
    programs_dir: Annotated[
        Path | None,
        typer.Option(
            "--programs-dir", help="Program YAML files (env VIP_PROGRAMS_DIR; default: samples)."
        ),
    ] = None,
    members: Annotated[int, typer.Option("--members", min=1, help="Members per program.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 42,
    start: Annotated[
        str, typer.Option("--start", help="First day of activity YYYY-MM-DD.")
    ] = "2022-07-01",
    end: Annotated[
        str | None, typer.Option("--end", help="Last day of activity YYYY-MM-DD (default: today).")
    ] = None,
    file_format: Annotated[
        str, typer.Option("--format", help="csv, parquet or mixed (files and folders of parts).")
    ] = "mixed",
    activity: Annotated[
        float,
        typer.Option(
            "--activity",
            help="Order rate multiplier: about 5 orders per member over 3 years at 1, with "
            "the same yearly spend at any value.",
        ),
    ] = 1.0,
) -> None:
    """Write a synthetic raw directory for the program files (sample data, tests, benchmarks)."""
    from orchestration.generate import generate_raw_dir

    start_date = _date_option(start, "--start")
    end_date = _date_option(end, "--end")
    programs = from_env(programs_dir=programs_dir).programs_dir
    if not programs.is_dir():
        raise _fail(f"The programs directory {programs} does not exist.")
    try:
        summary = generate_raw_dir(
            out.expanduser().resolve(),
            programs,
            members_per_program=members,
            seed=seed,
            start=start_date or dt.date(2022, 7, 1),
            end=end_date,
            file_format=file_format,  # type: ignore[arg-type]  # checked by the generator
            activity=activity,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    console.print(summary.as_text(), soft_wrap=True, markup=False)


@app.command()
def validate(
    programs_dir: Annotated[
        Path | None,
        typer.Option(
            "--programs-dir", help="Program YAML files (env VIP_PROGRAMS_DIR; default: samples)."
        ),
    ] = None,
) -> None:
    """Check every program file (no warehouse involved); exit 1 when one is invalid."""
    from orchestration.programs import ProgramsDirectoryError, load_programs

    programs = from_env(programs_dir=programs_dir).programs_dir
    try:
        result = load_programs(programs)
    except ProgramsDirectoryError as exc:
        raise _fail(str(exc)) from exc
    console.print(result.as_text(), soft_wrap=True, markup=False)
    raise typer.Exit(EXIT_OK if not result.errors else EXIT_FAILED)


@app.command()
def benchmark(
    members: Annotated[
        int, typer.Option("--members", min=3, help="Members in total (split over 3 programs).")
    ],
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON to this file.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed.")] = 42,
    activity: Annotated[
        float,
        typer.Option(
            "--activity",
            min=0.01,
            help="Generator order rate multiplier; 4 gives the issue's volume per member "
            "(~20 orders, ~2 refunds, ~26 ledger rows over 3 years).",
        ),
    ] = 4.0,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Where to put the data (default: a temp dir)."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the generated data, warehouses and logs.")
    ] = False,
    update_docs: Annotated[
        bool,
        typer.Option(
            "--update-docs/--no-update-docs", help="Put the results in docs/benchmarks.md."
        ),
    ] = True,
    history_doubled: Annotated[
        bool,
        typer.Option(
            "--history-doubled/--no-history-doubled",
            help="Also build and run a day on 6 years of history (two more builds).",
        ),
    ] = True,
) -> None:
    """Time a full build, a daily run, the floor and the pandas loop at N members."""
    from orchestration import benchmark as bench

    config = bench.BenchmarkConfig(
        members=members,
        seed=seed,
        activity=activity,
        work_dir=work_dir,
        keep=keep,
        history_doubled=history_doubled,
        progress=lambda message: console.print(escape(message), soft_wrap=True),
    )
    try:
        results = bench.run_benchmark(config)
    except bench.BenchmarkError as exc:
        raise _fail(str(exc), EXIT_FAILED) from exc
    bench.render(results, console)
    if json_file is not None:
        bench.write_json(results, json_file)
        console.print(f"Results written to {escape(str(json_file))}", soft_wrap=True)
    if update_docs:
        bench.update_docs(results)
        console.print(f"Results table updated in {bench.DOCS_PATH}", soft_wrap=True)


@app.command("check-engines")
def check_engines(
    raw_dir: Annotated[
        Path | None,
        typer.Option("--raw-dir", help="Raw directory (default: generated sample data)."),
    ] = None,
    programs_dir: Annotated[
        Path | None,
        typer.Option(
            "--programs-dir", help="Program YAML files (env VIP_PROGRAMS_DIR; default: samples)."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Build date YYYY-MM-DD (default: yesterday per program)."),
    ] = None,
    members: Annotated[
        int,
        typer.Option("--members", min=1, help="Members per program of the generated data."),
    ] = 150,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir", help="Folder for the data and both warehouses (.data/engine-check)."
        ),
    ] = None,
) -> None:
    """Build the same data on DuckDB and on Spark and compare every public mart row by row."""
    from rich.table import Table

    from orchestration import engine_check as ec

    started = time.monotonic()
    as_of_date = _date_option(as_of, "--as-of")
    try:
        result = ec.check_engines(
            raw_dir=raw_dir.expanduser().resolve() if raw_dir else None,
            programs_dir=programs_dir.expanduser().resolve() if programs_dir else None,
            as_of=as_of_date,
            members=members,
            work_dir=work_dir or ec.DEFAULT_WORK_DIR,
            progress=lambda message: console.print(escape(message), soft_wrap=True),
        )
    except ec.EngineCheckError as exc:
        raise _fail(str(exc)) from exc
    for engine, problems in result.build_problems.items():
        for problem in problems:
            console.print(f"[red]✗ {engine}:[/red] {escape(problem)}", soft_wrap=True)
    table = Table(title="DuckDB vs Spark: public marts", title_justify="left")
    table.add_column("model")
    table.add_column("duckdb rows", justify="right")
    table.add_column("spark rows", justify="right")
    table.add_column("identical")
    table.add_column("detail", overflow="fold")
    for item in result.comparisons:
        counts = [
            f"{item.rows[engine]:,}" if item.rows[engine] is not None else "-"
            for engine in ec.ENGINES
        ]
        mark = "[green]yes[/green]" if item.identical else "[red]NO[/red]"
        table.add_row(item.model, *counts, mark, escape(item.detail))
    console.print(table)
    timings = ", ".join(f"{engine} {seconds:.0f} s" for engine, seconds in result.seconds.items())
    console.print(f"Builds: {timings}; total time: {time.monotonic() - started:.0f} s")
    if result.ok:
        console.print("[bold green]Identical on both engines.[/bold green]")
        raise typer.Exit(EXIT_OK)
    console.print("[bold red]The engines differ (or a build failed).[/bold red]")
    raise typer.Exit(EXIT_FAILED)


@app.command()
def dashboard(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="HTML file to write (default: dashboard.html beside the warehouse)."
        ),
    ] = None,
    warehouse: Annotated[
        Path | None,
        typer.Option(
            "--warehouse",
            help="DuckDB warehouse file (env VIP_WAREHOUSE; default: .data/warehouse.duckdb).",
        ),
    ] = None,
) -> None:
    """Write the self-contained HTML dashboard of a built warehouse (opens offline)."""
    from orchestration.dashboard.build import DashboardError, build_dashboard, dashboard_path

    settings = from_env(warehouse=warehouse)
    try:
        path = build_dashboard(settings.warehouse, dashboard_path(settings.warehouse, out))
    except DashboardError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"Dashboard written to {escape(str(path))}", soft_wrap=True)


# `vip-tiers export` and `vip-tiers exports release|status` (orchestration/exports/cli.py).
app.command("export")(export_command)
app.add_typer(exports_app, name="exports")


def main() -> None:  # pragma: no cover - `python -m orchestration.cli`
    app(prog_name="vip-tiers")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
