"""Export assets: one per destination type, downstream of the dbt mart `fct_tier_changes`.

`exports/klaviyo`, `exports/hubspot`, `exports/mailchimp`, `exports/webhook`, `exports/file`
each run `orchestration.exports.runner.run_exports` for every configured destination of
their type (all programs; run config can narrow to one program / destination or ask for a
dry run): the same code as `vip-tiers export`. Each asset carries two checks:

- `no_held_deliveries`: fails (ERROR) while deliveries of its type are held by the guard,
  naming the program and why; `vip-tiers exports release --program ID` releases them and
  the next materialisation sends them.
- `no_new_dead_letters`: fails (ERROR) when this run dead-lettered deliveries, with the
  reasons (scrubbed of secrets).

A destination that cannot send at all (missing secret, outage after retries, rate limit
beyond the run) fails the step after the materialisation and checks are recorded.

Credentials come from `ExportsResource` (resource key `exports`), the warehouse path from
`WarehouseResource` (`warehouse`). No secret reaches logs or metadata: every text the
runner produces has gone through its scrubber.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg

from orchestration.assets.failures import input_failures
from orchestration.exports import outbox
from orchestration.exports.resource import ExportsResource
from orchestration.exports.runner import (
    DESTINATION_TYPES,
    ExportReport,
    run_exports,
)
from orchestration.resources import WarehouseResource

FCT_TIER_CHANGES = dg.AssetKey(["fct_tier_changes"])
HELD_CHECK = "no_held_deliveries"
DEAD_LETTER_CHECK = "no_new_dead_letters"
GROUP = "exports"
MAX_REASONS = 5


class ExportRunConfig(dg.Config):
    """Run options of an export asset (the launchpad's op config)."""

    program: str | None = None
    """Only this program (default: every program with destinations of this type)."""
    destination: str | None = None
    """Only this destination id."""
    dry_run: bool = False
    """Plan and report what would be sent; write and send nothing."""


def export_asset_key(destination_type: str) -> dg.AssetKey:
    return dg.AssetKey(["exports", destination_type])


def _held_check(
    warehouse: WarehouseResource, destination_type: str, report: ExportReport
) -> dg.AssetCheckResult:
    with outbox.connect(warehouse.resolved_path()) as con:
        held = [
            row
            for row in outbox.status_counts(con, destination_types=[destination_type])
            if row.status == "held"
        ]
    pending_holds = [d for d in report.destinations if d.dry_run and d.held]
    count = sum(row.deliveries for row in held) + sum(d.held for d in pending_holds)
    reasons = [row.reason for row in held if row.reason] + [
        d.hold_reason for d in pending_holds if d.hold_reason
    ]
    programs = sorted({row.program_id for row in held} | {d.program_id for d in pending_holds})
    description = (
        f"{count} {destination_type} deliveries held by the guard: "
        + " | ".join(dict.fromkeys(reasons[:MAX_REASONS]))
        if count
        else f"no {destination_type} delivery is held"
    )
    return dg.AssetCheckResult(
        check_name=HELD_CHECK,
        passed=count == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={"held": count, "programs": ", ".join(programs) or "none"},
    )


def _dead_letter_check(destination_type: str, report: ExportReport) -> dg.AssetCheckResult:
    count = report.dead_lettered
    reasons = [reason for d in report.destinations for reason in d.dead_letter_reasons]
    description = (
        f"{count} {destination_type} deliveries dead-lettered by this run: "
        + " | ".join(reasons[:MAX_REASONS])
        if count
        else f"no {destination_type} delivery dead-lettered by this run"
    )
    return dg.AssetCheckResult(
        check_name=DEAD_LETTER_CHECK,
        passed=count == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={"dead_lettered": count},
    )


def _metadata(report: ExportReport) -> dict[str, Any]:
    lines = [f"- {d.summary()}" for d in report.destinations] or ["- nothing configured"]
    return {
        "export_run_id": report.run_id,
        "dry_run": report.dry_run,
        "destinations": len(report.destinations),
        "planned": sum(d.planned for d in report.destinations),
        "delivered": report.delivered,
        "held": report.held,
        "dead_lettered": report.dead_lettered,
        "left_pending": sum(d.left_pending for d in report.destinations),
        "summary": dg.MetadataValue.md("\n".join(lines)),
    }


def build_export_asset(destination_type: str) -> dg.AssetsDefinition:
    """The export asset of one destination type, with its two checks."""
    key = export_asset_key(destination_type)

    @dg.asset(
        key=key,
        deps=[FCT_TIER_CHANGES],
        group_name=GROUP,
        kinds={"python", destination_type},
        description=(
            f"Tier changes sent to every configured {destination_type} destination, exactly "
            "once (outbox `exports.export_deliveries`)."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                HELD_CHECK,
                asset=key,
                description="No delivery is held by the max_change_share guard.",
            ),
            dg.AssetCheckSpec(
                DEAD_LETTER_CHECK,
                asset=key,
                description="This run dead-lettered no delivery.",
            ),
        ],
    )
    def _export(
        context: dg.AssetExecutionContext,
        config: ExportRunConfig,
        exports: ExportsResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult]:
        path = warehouse.resolved_path()
        with input_failures(path):
            report = run_exports(
                path,
                program_id=config.program,
                destination_id=config.destination,
                destination_types=[destination_type],
                dry_run=config.dry_run,
                run_id=context.run_id,
                options=exports.options(),
                secrets=exports.secret,
                log=context.log,
            )
        yield dg.MaterializeResult(
            metadata=_metadata(report),
            check_results=[
                _held_check(warehouse, destination_type, report),
                _dead_letter_check(destination_type, report),
            ],
        )
        if report.errors:
            raise dg.Failure(
                description="; ".join(report.errors),
                metadata={"errors": len(report.errors)},
                allow_retries=False,
            )

    return _export


EXPORT_ASSETS: Sequence[dg.AssetsDefinition] = tuple(
    build_export_asset(destination_type) for destination_type in DESTINATION_TYPES
)
EXPORT_ASSET_KEYS: Sequence[dg.AssetKey] = tuple(
    export_asset_key(destination_type) for destination_type in DESTINATION_TYPES
)
EXPORT_ALL = "export_all"

export_all = dg.define_asset_job(
    name=EXPORT_ALL,
    selection=dg.AssetSelection.assets(*EXPORT_ASSETS),
    description=(
        "Send the tier changes that are due to every configured destination (Klaviyo, HubSpot, "
        "Mailchimp, webhooks, files), exactly once; run after `build_all`."
    ),
    executor_def=dg.in_process_executor,
)
