"""Plan → guard → send → record, per program and destination: the one export code path.

`run_exports` is what `vip-tiers export` and the Dagster export assets call. For each
configured destination selected (by program, destination id, destination type):

1. claim the destination (`outbox.claim`), so two processes never send it at once;
2. plan and guard in one transaction (`outbox.plan`): rows no longer due are withdrawn,
   newly due live changes are inserted `pending`, or all of them `held` when they exceed
   `max_change_share` × the program's eligible members;
3. send the pending rows (new ones, those a crashed run left, released ones), oldest
   change first, in the vendor's batches; after each batch its rows are marked
   `delivered` / `dead_letter` in their own short transaction;
4. record the run (`exports.export_runs`) and free the claim.

A run killed at any point loses nothing: rows not yet marked delivered are still pending
and go out on the next run. The one window where a change can be sent twice is between a
2xx answer and the commit that follows it (milliseconds); receivers dedupe on the change
id (docs/exports.md). Failures of one destination never stop the others.

Secrets: read by name (`*_env` of the config) through `secrets`, registered with the run's
`Scrubber` before any request, so no message, log line, outbox row or report carries them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from orchestration.exports import file as file_drop
from orchestration.exports import outbox
from orchestration.exports.base import DestinationClient, ItemResult
from orchestration.exports.http import (
    DeliveryError,
    HttpSender,
    PermanentError,
    RateLimitedTooLong,
    RetriesExhausted,
    RetryPolicy,
    Scrubber,
)
from orchestration.exports.hubspot import HubspotClient
from orchestration.exports.klaviyo import KlaviyoClient
from orchestration.exports.mailchimp import MailchimpClient, MailchimpKeyError
from orchestration.exports.payload import TierChange
from orchestration.exports.webhook import WebhookClient
from orchestration.programs import (
    Destination,
    ExportsConfig,
    FileDestination,
    HubspotDestination,
    KlaviyoDestination,
    MailchimpDestination,
    WebhookDestination,
)

DESTINATION_TYPES: tuple[str, ...] = ("klaviyo", "hubspot", "mailchimp", "webhook", "file")
MIN_SECRET_LENGTH = 8

logger = logging.getLogger("vip_tiers.exports")

SecretLookup = Callable[[str], str | None]


class LogLike(Protocol):
    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def error(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


class ExportConfigError(ValueError):
    """A selection or a destination that cannot be exported as configured."""


def environ_secrets(name: str) -> str | None:
    """The default secret lookup: the environment variable the config names."""
    return os.environ.get(name)


@dataclass(frozen=True)
class ExportOptions:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    pacing: float = 1.0
    """Multiplies the vendors' documented minimum spacing of requests; 0 turns pacing off."""
    stop_after_failed_batches: int = 3
    """Consecutive batches failing after every retry before a destination stops for the run
    (its remaining rows stay pending): an outage does not dead-letter the whole backlog."""
    claim_ttl_s: float = 900.0
    lock_wait_s: float = 30.0
    files_root: Path | None = None
    """Where a relative file `path` starts; default: the warehouse file's folder."""


@dataclass
class DestinationReport:
    program_id: str
    destination_id: str
    destination_type: str
    dry_run: bool = False
    planned: int = 0
    held: int = 0
    withdrawn: int = 0
    pending: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    left_pending: int = 0
    requests: int = 0
    eligible_members: int = 0
    hold_reason: str | None = None
    error: str | None = None
    file_path: str | None = None
    dead_letter_reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.held == 0 and self.dead_lettered == 0

    def summary(self) -> str:
        where = f"{self.program_id}/{self.destination_id} ({self.destination_type})"
        if self.error and not self.planned and not self.delivered:
            return f"{where}: not exported: {self.error}"
        verb = "would send" if self.dry_run else "delivered"
        count = self.pending if self.dry_run else self.delivered
        parts = [f"{self.planned} new", f"{count} {verb}"]
        if self.held:
            parts.append(f"{self.held} held")
        if self.dead_lettered:
            parts.append(f"{self.dead_lettered} dead-lettered")
        if self.withdrawn:
            parts.append(f"{self.withdrawn} withdrawn")
        if self.left_pending and not self.dry_run:
            parts.append(f"{self.left_pending} still pending")
        text = f"{where}: " + ", ".join(parts)
        if self.file_path:
            text += f" → {self.file_path}"
        if self.error:
            text += f"; {self.error}"
        return text


@dataclass
class ExportReport:
    run_id: str
    started_at: dt.datetime
    dry_run: bool
    destinations: list[DestinationReport] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(d.delivered for d in self.destinations)

    @property
    def held(self) -> int:
        return sum(d.held for d in self.destinations)

    @property
    def dead_lettered(self) -> int:
        return sum(d.dead_lettered for d in self.destinations)

    @property
    def errors(self) -> list[str]:
        return [
            f"{d.program_id}/{d.destination_id}: {d.error}" for d in self.destinations if d.error
        ]

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.destinations)


@dataclass(frozen=True)
class Target:
    program_id: str
    exports: ExportsConfig
    destination: Destination


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def secret_env_name(destination: Destination) -> str | None:
    if isinstance(destination, KlaviyoDestination | MailchimpDestination):
        return destination.api_key_env
    if isinstance(destination, HubspotDestination):
        return destination.token_env
    if isinstance(destination, WebhookDestination):
        return destination.secret_env
    return None


def select_targets(
    configs: Sequence[outbox.ProgramExports],
    known_programs: Sequence[str],
    program_id: str | None,
    destination_id: str | None,
    destination_types: Sequence[str] | None,
) -> list[Target]:
    """The (program, destination) pairs a run covers; a wrong filter is a readable error."""
    if program_id is not None and program_id not in known_programs:
        known = ", ".join(known_programs) or "none"
        raise ExportConfigError(
            f"program '{program_id}' is not in the warehouse (programs: {known}); "
            "run `vip-tiers run` after adding its file"
        )
    selected = [
        Target(config.program_id, config.exports, destination)
        for config in configs
        if program_id is None or config.program_id == program_id
        for destination in config.exports.destinations
        if destination_id is None or destination.id == destination_id
    ]
    if destination_id is not None and not selected:
        configured = sorted(
            {
                f"{c.program_id}/{d.id}"
                for c in configs
                if program_id is None or c.program_id == program_id
                for d in c.exports.destinations
            }
        )
        raise ExportConfigError(
            f"destination '{destination_id}' is not configured"
            + (f" for program '{program_id}'" if program_id else "")
            + f" (configured: {', '.join(configured) or 'none'}); see `exports.destinations` "
            "in the program file"
        )
    targets = [
        target
        for target in selected
        if destination_types is None or target.destination.type in destination_types
    ]
    return targets


def _client_for(
    destination: Destination, secret: str, options: ExportOptions, scrub: Scrubber
) -> DestinationClient:
    policy = options.retry
    if isinstance(destination, WebhookDestination):
        sender = HttpSender(policy, scrub, timeout_s=destination.timeout_s)
        return WebhookClient(destination, secret, sender)
    client_type: type[DestinationClient]
    if isinstance(destination, KlaviyoDestination):
        client_type = KlaviyoClient
    elif isinstance(destination, HubspotDestination):
        client_type = HubspotClient
    else:
        client_type = MailchimpClient
    sender = HttpSender(policy, scrub, min_interval_s=client_type.min_interval_s * options.pacing)
    try:
        return client_type(destination, secret, sender)  # type: ignore[call-arg]
    except BaseException:
        sender.close()
        raise


class _Run:
    """State of one `run_exports` call."""

    def __init__(
        self,
        warehouse: Path,
        run_id: str,
        dry_run: bool,
        options: ExportOptions,
        secrets: SecretLookup,
        log: LogLike,
        now: Callable[[], dt.datetime],
    ) -> None:
        self.warehouse = warehouse
        self.run_id = run_id
        self.dry_run = dry_run
        self.options = options
        self.secrets = secrets
        self.log = log
        self.now = now
        self.scrub = Scrubber()
        self.started_at = now()

    def connect(self) -> Any:
        return outbox.connect(self.warehouse, self.options.lock_wait_s)

    def info(self, message: str) -> None:
        self.log.info(self.scrub(message))

    def warning(self, message: str) -> None:
        self.log.warning(self.scrub(message))

    # -- secrets -----------------------------------------------------------------------

    def secret_for(self, destination: Destination) -> str | None:
        """The destination's secret, registered with the scrubber; raises when missing."""
        name = secret_env_name(destination)
        if name is None:
            return None
        value = self.secrets(name)
        if not value:
            raise ExportConfigError(
                f"environment variable {name} (named by `{_secret_key(destination)}`) is not "
                "set: export it where the exports run (shell, .env of `dagster dev`, "
                "deployment secrets)"
            )
        self.scrub.add(value)
        if len(value) < MIN_SECRET_LENGTH:
            raise ExportConfigError(
                f"environment variable {name} holds a value too short to be a real secret "
                f"(fewer than {MIN_SECRET_LENGTH} characters)"
            )
        return value

    # -- one destination ---------------------------------------------------------------

    def export(self, target: Target) -> DestinationReport:
        destination = target.destination
        report = DestinationReport(
            target.program_id, destination.id, destination.type, dry_run=self.dry_run
        )
        try:
            secret = self.secret_for(destination)
        except ExportConfigError as exc:
            report.error = self.scrub(exc)
            secret = None
        if not self.dry_run:
            with self.connect() as con:
                holder = outbox.claim(
                    con,
                    target.program_id,
                    destination.id,
                    self.run_id,
                    self.options.claim_ttl_s,
                    self.now(),
                )
            if holder is not None:
                report.error = (
                    f"run {holder.run_id} (pid {holder.pid} on {holder.host}) is exporting "
                    "this destination right now; nothing sent by this run"
                )
                return report
        try:
            self._plan_and_send(target, report, secret)
        finally:
            if not self.dry_run:
                with self.connect() as con:
                    outbox.unclaim(con, target.program_id, destination.id, self.run_id)
                    outbox.record_run(con, self._run_row(report))
        return report

    def _plan_and_send(self, target: Target, report: DestinationReport, secret: str | None) -> None:
        destination = target.destination
        if isinstance(destination, FileDestination) and not self.dry_run:
            self._recover_files(target)
        with self.connect() as con, outbox.transaction(con, commit=not self.dry_run):
            plan = outbox.plan(
                con, target.program_id, destination, target.exports, self.run_id, self.now()
            )
        report.planned = plan.new
        report.held = plan.held
        report.withdrawn = plan.withdrawn
        report.pending = plan.pending
        report.eligible_members = plan.eligible_members
        report.hold_reason = plan.hold_reason
        where = f"{target.program_id}/{destination.id}"
        if plan.hold_reason:
            self.warning(f"{where}: {plan.held} deliveries held: {plan.hold_reason}")
        if self.dry_run:
            report.left_pending = plan.pending
            return
        if report.error is not None:  # no secret: plan recorded, nothing sent
            report.left_pending = plan.pending
            return
        if plan.pending == 0:
            return
        if isinstance(destination, FileDestination):
            self._send_file(target, report)
        else:
            assert secret is not None
            self._send_http(target, report, secret)

    # -- HTTP destinations -------------------------------------------------------------

    def _send_http(self, target: Target, report: DestinationReport, secret: str) -> None:
        destination = target.destination
        where = f"{target.program_id}/{destination.id}"
        with self.connect() as con:
            changes = outbox.pending_changes(con, target.program_id, destination.id)
        try:
            client = _client_for(destination, secret, self.options, self.scrub)
        except MailchimpKeyError as exc:
            report.error = self.scrub(exc)
            report.left_pending = len(changes)
            return
        self.info(f"{where}: sending {len(changes)} change(s) to {destination.type}")
        failed_in_a_row = 0
        remaining = len(changes)
        try:
            for batch in client.batches(changes):
                if failed_in_a_row >= self.options.stop_after_failed_batches:
                    report.error = (
                        f"stopped after {failed_in_a_row} batches failed in a row; "
                        f"{remaining} change(s) stay pending for the next run"
                    )
                    break
                outcome = self._send_batch(client, batch, target, report)
                remaining -= len(batch)
                if outcome == "deferred":
                    remaining += len(batch)
                    break
                failed_in_a_row = failed_in_a_row + 1 if outcome == "exhausted" else 0
        finally:
            report.requests += client.sender.requests_made
            client.close()
        report.left_pending = remaining
        if report.error:
            self.warning(f"{where}: {report.error}")

    def _send_batch(
        self,
        client: DestinationClient,
        batch: list[TierChange],
        target: Target,
        report: DestinationReport,
    ) -> str:
        """Send one batch and record it; 'ok', 'exhausted' or 'deferred'."""
        destination = target.destination
        outcome = "ok"
        try:
            result = client.send_batch(batch)
            items, attempts = result.items, result.attempts
        except RateLimitedTooLong as exc:
            with self.connect() as con, outbox.transaction(con):
                outbox.record_deferred(
                    con,
                    target.program_id,
                    destination.id,
                    [c.change_id for c in batch],
                    exc.attempts,
                    self.scrub(exc.message),
                    self.run_id,
                    self.now(),
                )
            report.error = self.scrub(f"rate limited: {exc.message}; the rest stays pending")
            return "deferred"
        except (PermanentError, RetriesExhausted) as exc:
            reason = self.scrub(exc.message)
            items = [ItemResult(c.change_id, False, reason) for c in batch]
            attempts = exc.attempts
            outcome = "exhausted" if isinstance(exc, RetriesExhausted) else "ok"
        except DeliveryError as exc:  # pragma: no cover - every subclass is handled above
            reason = self.scrub(exc.message)
            items = [ItemResult(c.change_id, False, reason) for c in batch]
            attempts = exc.attempts
        items = [replace(i, error=self.scrub(i.error)) if i.error else i for i in items]
        with self.connect() as con, outbox.transaction(con):
            outbox.record_results(
                con, target.program_id, destination.id, items, attempts, self.run_id, self.now()
            )
            outbox.heartbeat(con, target.program_id, destination.id, self.run_id, self.now())
        for item in items:
            if item.delivered:
                report.delivered += 1
            else:
                report.dead_lettered += 1
                if item.error and item.error not in report.dead_letter_reasons:
                    report.dead_letter_reasons.append(item.error)
                    self.warning(
                        f"{target.program_id}/{destination.id}: dead letter "
                        f"{item.change_id}: {item.error}"
                    )
        return outcome

    # -- files -------------------------------------------------------------------------

    def _files_dir(self, target: Target) -> Path:
        assert isinstance(target.destination, FileDestination)
        root = self.options.files_root or self.warehouse.parent
        return file_drop.export_dir(target.destination, target.program_id, root)

    def _recover_files(self, target: Target) -> None:
        directory = self._files_dir(target)
        if not directory.is_dir():
            return
        with self.connect() as con:
            names = outbox.delivered_refs(con, target.program_id, target.destination.id)
        recovery = file_drop.recover(directory, names)
        for path in recovery.published:
            self.info(f"published {path} left unfinished by an interrupted run")
        for path in recovery.discarded:
            self.info(f"removed {path}: an interrupted run's rows are exported again")

    def _send_file(self, target: Target, report: DestinationReport) -> None:
        destination = target.destination
        assert isinstance(destination, FileDestination)
        with self.connect() as con:
            changes = outbox.pending_changes(con, target.program_id, destination.id)
        if not changes:
            return
        final = self._files_dir(target) / file_drop.file_name(
            self.started_at, self.run_id, destination.format
        )
        try:
            partial = file_drop.write_partial(changes, final, destination.format)
        except OSError as exc:
            report.error = self.scrub(f"cannot write {final}: {exc}")
            report.left_pending = len(changes)
            return
        items = [ItemResult(c.change_id, True, ref=final.name) for c in changes]
        with self.connect() as con, outbox.transaction(con):
            outbox.record_results(
                con, target.program_id, destination.id, items, 1, self.run_id, self.now()
            )
        file_drop.publish(partial, final)
        report.delivered += len(items)
        report.file_path = str(final)
        self.info(f"{target.program_id}/{destination.id}: wrote {len(items)} change(s) to {final}")

    def _run_row(self, report: DestinationReport) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "program_id": report.program_id,
            "destination_id": report.destination_id,
            "destination_type": report.destination_type,
            "started_at": self.started_at,
            "finished_at": self.now(),
            "dry_run": report.dry_run,
            "planned": report.planned,
            "held": report.held,
            "withdrawn": report.withdrawn,
            "delivered": report.delivered,
            "dead_lettered": report.dead_lettered,
            "left_pending": report.left_pending,
            "requests": report.requests,
            "file_path": report.file_path,
            "hold_reason": report.hold_reason,
            "error": report.error,
        }


def _secret_key(destination: Destination) -> str:
    return (
        "token_env"
        if isinstance(destination, HubspotDestination)
        else ("secret_env" if isinstance(destination, WebhookDestination) else "api_key_env")
    )


def run_exports(
    warehouse: Path,
    *,
    program_id: str | None = None,
    destination_id: str | None = None,
    destination_types: Sequence[str] | None = None,
    dry_run: bool = False,
    run_id: str | None = None,
    options: ExportOptions | None = None,
    secrets: SecretLookup = environ_secrets,
    log: LogLike = logger,
    now: Callable[[], dt.datetime] = outbox.utcnow,
    log_summary: bool = True,
) -> ExportReport:
    """Send what is due to every selected destination; see the module docstring.

    Raises `ExportConfigError` for a selection that names nothing configured,
    `outbox.WarehouseNotBuiltError` / `outbox.WarehouseBusyError` for the warehouse.
    Per-destination problems (missing secret, refused requests, held changes) are in the
    report, never raised. `log_summary`: end with one line per destination in `log`.
    """
    run = _Run(
        warehouse,
        run_id or new_run_id(),
        dry_run,
        options or ExportOptions(),
        secrets,
        log,
        now,
    )
    report = ExportReport(run.run_id, run.started_at, dry_run)
    with run.connect() as con:
        outbox.require_built(con, warehouse)
        outbox.ensure_schema(con)
        configs = outbox.program_exports(con)
        known = outbox.stored_program_ids(con)
    targets = select_targets(configs, known, program_id, destination_id, destination_types)
    if not targets:
        run.info("no export destination configured for this selection: nothing to do")
    for target in targets:
        report.destinations.append(run.export(target))
    for destination in report.destinations if log_summary else ():
        line = destination.summary()
        if destination.ok:
            run.info(line)
        else:
            run.warning(line)
    return report


def release_held(
    warehouse: Path,
    program_id: str,
    destination_id: str | None = None,
    dead_letters: bool = False,
    lock_wait_s: float = 30.0,
) -> dict[str, int]:
    """`vip-tiers exports release`: held (and optionally dead-lettered) rows → pending."""
    with outbox.connect(warehouse, lock_wait_s) as con:
        if not outbox.outbox_exists(con):
            return {"held": 0, "dead_letter": 0} if dead_letters else {"held": 0}
        known = (
            outbox.stored_program_ids(con)
            if "raw.programs" not in outbox.missing_relations(con)
            else []
        )
        if known and program_id not in known:
            raise ExportConfigError(
                f"program '{program_id}' is not in the warehouse (programs: {', '.join(known)})"
            )
        with outbox.transaction(con):
            return outbox.release(
                con, program_id, destination_id, dead_letters, run_id=f"release-{new_run_id()}"
            )
