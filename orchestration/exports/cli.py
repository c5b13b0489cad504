"""`vip-tiers export` and `vip-tiers exports …`: the export runner from the command line.

Wiring into the main CLI (`orchestration/cli.py`):

    from orchestration.exports.cli import export_command, exports_app
    app.command("export")(export_command)
    app.add_typer(exports_app, name="exports")

`python -m orchestration.exports` runs the same commands on their own (`standalone_app`).
Exit codes: 0 everything due was sent (or a dry run); 1 something is held, dead-lettered or
could not be sent; 2 a wrong selection, a warehouse not built yet or locked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from orchestration.settings import from_env

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2

console = Console(highlight=False, width=None if Console().is_terminal else 120)

WarehouseOption = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        help="DuckDB warehouse file (env VIP_WAREHOUSE; default: .data/warehouse.duckdb).",
    ),
]


def _fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    console.print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _warehouse(warehouse: Path | None) -> Path:
    path = from_env(warehouse=warehouse).warehouse
    if not path.exists():
        raise _fail(
            f"The warehouse {path} does not exist: build it first (`vip-tiers run …`) or pass "
            "--warehouse (or set VIP_WAREHOUSE)."
        )
    return path


def export_command(
    program: Annotated[str | None, typer.Option("--program", help="Only this program id.")] = None,
    destination: Annotated[
        str | None, typer.Option("--destination", help="Only this destination id.")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what would be sent; write and send nothing."),
    ] = False,
    warehouse: WarehouseOption = None,
    attempts: Annotated[int, typer.Option("--attempts", hidden=True, min=1)] = 6,
    backoff: Annotated[float, typer.Option("--backoff", hidden=True, min=0)] = 1.0,
    timeout: Annotated[float, typer.Option("--timeout", hidden=True, min=0.01)] = 30.0,
    pacing: Annotated[float, typer.Option("--pacing", hidden=True, min=0)] = 1.0,
) -> None:
    """Send the tier changes that are due to every configured destination, exactly once."""
    from orchestration.exports import outbox
    from orchestration.exports.http import RetryPolicy
    from orchestration.exports.runner import ExportConfigError, ExportOptions, run_exports

    path = _warehouse(warehouse)
    options = ExportOptions(
        retry=RetryPolicy(
            attempts=attempts,
            backoff_initial_s=backoff,
            backoff_max_s=max(backoff, 60.0 if backoff >= 1 else backoff * 8),
            jitter_s=min(0.5, backoff),
            timeout_s=timeout,
        ),
        pacing=pacing,
    )
    try:
        report = run_exports(
            path,
            program_id=program,
            destination_id=destination,
            dry_run=dry_run,
            options=options,
            log=_ConsoleLog(),
            log_summary=False,
        )
    except (ExportConfigError, outbox.WarehouseNotBuiltError, outbox.WarehouseBusyError) as exc:
        raise _fail(str(exc)) from None

    console.print()
    title = "Dry run (nothing sent)" if dry_run else f"Export run {report.run_id}"
    console.print(f"[bold]{title}[/bold]")
    if not report.destinations:
        console.print("No export destination configured (see `exports:` in the program files).")
    for item in report.destinations:
        mark = "[green]✓[/green]" if item.ok else "[yellow]![/yellow]"
        console.print(f"  {mark} {escape(item.summary())}", soft_wrap=True)
    held_programs = sorted({d.program_id for d in report.destinations if d.held})
    for program_id in held_programs:
        console.print(
            f"[yellow]Held:[/yellow] program {program_id}: check fct_tier_changes, then "
            f"`vip-tiers exports release --program {program_id}` and export again.",
            soft_wrap=True,
        )
    for item in report.destinations:
        for reason in item.dead_letter_reasons[:3]:
            console.print(
                f"[red]Dead letter[/red] {item.program_id}/{item.destination_id}: {escape(reason)}",
                soft_wrap=True,
            )
    raise typer.Exit(EXIT_OK if dry_run or report.ok else EXIT_FAILED)


class _ConsoleLog:
    """Progress lines of the runner (already scrubbed) on the terminal."""

    def info(self, msg: str, *args: object, **kwargs: object) -> None:
        console.print(f"[dim]{escape(msg)}[/dim]", soft_wrap=True)

    def warning(self, msg: str, *args: object, **kwargs: object) -> None:
        console.print(f"[yellow]![/yellow] {escape(msg)}", soft_wrap=True)

    def error(self, msg: str, *args: object, **kwargs: object) -> None:
        console.print(f"[red]✗[/red] {escape(msg)}", soft_wrap=True)


exports_app = typer.Typer(
    name="exports",
    help="The exports outbox: release held deliveries, show delivery status.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@exports_app.command("release")
def release_command(
    program: Annotated[
        str, typer.Option("--program", help="The program whose deliveries to release.")
    ],
    destination: Annotated[
        str | None, typer.Option("--destination", help="Only this destination id.")
    ] = None,
    dead_letters: Annotated[
        bool,
        typer.Option("--dead-letters", help="Also send dead-lettered deliveries again."),
    ] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Release the deliveries the guard held (held → pending): the next export sends them."""
    from orchestration.exports import outbox
    from orchestration.exports.runner import ExportConfigError, release_held

    path = _warehouse(warehouse)
    try:
        released = release_held(path, program, destination, dead_letters)
    except (ExportConfigError, outbox.WarehouseBusyError) as exc:
        raise _fail(str(exc)) from None
    parts = [f"{count} {status.replace('_', '-')}" for status, count in released.items()]
    total = sum(released.values())
    console.print(
        f"Released {', '.join(parts)} deliveries of program {program}"
        + (f", destination {destination}" if destination else "")
        + (": run `vip-tiers export` to send them." if total else ": nothing to release."),
        soft_wrap=True,
    )


@exports_app.command("status")
def status_command(
    program: Annotated[str | None, typer.Option("--program", help="Only this program.")] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Deliveries per program, destination and status (with a reason where there is one)."""
    from orchestration.exports import outbox

    path = _warehouse(warehouse)
    try:
        with outbox.connect(path) as con:
            rows = outbox.status_counts(con, program_id=program)
    except outbox.WarehouseBusyError as exc:
        raise _fail(str(exc)) from None
    if not rows:
        console.print("The outbox is empty (nothing exported yet).")
        return
    for row in rows:
        reason = (
            f"  [dim]{escape(row.reason)}[/dim]" if row.reason and row.status != "delivered" else ""
        )
        console.print(
            f"{row.program_id}/{row.destination_id} ({row.destination_type}) "
            f"{row.status}: {row.deliveries}{reason}",
            soft_wrap=True,
        )


standalone_app = typer.Typer(
    name="vip-tiers-exports",
    help="Exports of tier changes (the same commands as `vip-tiers export` / `exports`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
standalone_app.command("export")(export_command)
standalone_app.add_typer(exports_app, name="exports")
