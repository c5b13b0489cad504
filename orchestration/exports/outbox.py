"""The warehouse outbox: schema `exports`, created and written here (never by dbt).

`exports.export_deliveries`, one row per (program, destination, change):

- program_id, destination_id, destination_type: where it goes;
- change_id, change_date: what goes (`fct_tier_changes.change_id`, the idempotency key);
- status: `pending` (due), `delivered`, `dead_letter` (refused, or still failing after the
  last retry), `held` (stopped by the guard until released), `withdrawn` (gone from
  `fct_tier_changes`, or no longer selected by `since` / `send_initial`, before it was sent);
- attempts: HTTP tries made for it (retries included);
- last_error: why the last attempt failed (scrubbed of secrets); hold_reason: the guard's;
- first_seen_at, last_attempt_at, delivered_at, released_at, updated_at: UTC instants;
- delivery_ref: what the destination calls it (file name, profile / contact id);
- run_id: the run that last changed the row.

`exports.export_runs` keeps one row per run and destination (counts, file, error), and
`exports.export_claims` one row per destination being exported right now, so two
processes never send the same destination at once.

Connections are short: the DuckDB file has one writer, and dbt needs it between runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb

from orchestration.exports.base import ItemResult
from orchestration.exports.payload import TierChange, parse_perks
from orchestration.programs import Destination, ExportsConfig

SCHEMA = "exports"
DELIVERIES = f"{SCHEMA}.export_deliveries"
RUNS = f"{SCHEMA}.export_runs"
CLAIMS = f"{SCHEMA}.export_claims"
MARTS = "main"
STAGING = "staging"
LIVE = "live"

Status = Literal["pending", "delivered", "dead_letter", "held", "withdrawn"]
STATUSES: tuple[Status, ...] = ("pending", "delivered", "dead_letter", "held", "withdrawn")
WITHDRAWN_REASON = (
    "no longer due: the change is gone from fct_tier_changes (a later build restated it) "
    "or the exports settings (since, send_initial) no longer select it"
)

DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""
    create table if not exists {DELIVERIES} (
        program_id varchar not null,
        destination_id varchar not null,
        destination_type varchar not null,
        change_id varchar not null,
        change_date date,
        status varchar not null,
        attempts integer not null default 0,
        last_error varchar,
        hold_reason varchar,
        first_seen_at timestamp not null,
        last_attempt_at timestamp,
        delivered_at timestamp,
        released_at timestamp,
        updated_at timestamp not null,
        delivery_ref varchar,
        run_id varchar not null,
        primary key (program_id, destination_id, change_id)
    )
    """,
    f"""
    create table if not exists {RUNS} (
        run_id varchar not null,
        program_id varchar not null,
        destination_id varchar not null,
        destination_type varchar not null,
        started_at timestamp not null,
        finished_at timestamp,
        dry_run boolean not null,
        planned integer not null,
        held integer not null,
        withdrawn integer not null,
        delivered integer not null,
        dead_lettered integer not null,
        left_pending integer not null,
        requests integer not null,
        file_path varchar,
        hold_reason varchar,
        error varchar
    )
    """,
    f"""
    create table if not exists {CLAIMS} (
        program_id varchar not null,
        destination_id varchar not null,
        run_id varchar not null,
        host varchar not null,
        pid integer not null,
        claimed_at timestamp not null,
        heartbeat_at timestamp not null,
        primary key (program_id, destination_id)
    )
    """,
)

REQUIRED_RELATIONS = (
    (MARTS, "fct_tier_changes"),
    (MARTS, "fct_tier_history"),
    (MARTS, "fct_tier_change_restatements"),
    (MARTS, "dim_program_tiers"),
    (MARTS, "dim_customer_tier_current"),
    (STAGING, "stg_customers"),
    ("raw", "programs"),
)


class WarehouseBusyError(RuntimeError):
    """Another process held the DuckDB file for longer than we wait."""


class WarehouseNotBuiltError(RuntimeError):
    """The marts the exports read are missing."""


def utcnow() -> dt.datetime:
    """UTC instant without zone (the warehouse convention for TIMESTAMP)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text


@contextlib.contextmanager
def connect(warehouse: Path, wait_s: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-write connection; waits up to `wait_s` while another process holds it."""
    deadline = time.monotonic() + max(0.0, wait_s)
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(warehouse))
            break
        except duckdb.Error as exc:
            if not _is_lock_error(exc) or time.monotonic() >= deadline:
                if _is_lock_error(exc):
                    raise WarehouseBusyError(
                        f"The warehouse {warehouse} is in use by another process ({exc}); "
                        "DuckDB allows one writer: let the other run finish (dbt, dagster, "
                        "a DuckDB shell) and export again."
                    ) from exc
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection, commit: bool = True) -> Iterator[None]:
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    if commit:
        con.commit()
    else:
        con.rollback()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)


def outbox_exists(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = ? and table_name = 'export_deliveries'",
        [SCHEMA],
    ).fetchone()
    return bool(row and row[0])


def missing_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    present = {
        (schema, name)
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }
    return [
        f"{schema}.{name}" for schema, name in REQUIRED_RELATIONS if (schema, name) not in present
    ]


def require_built(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    missing = missing_relations(con)
    if missing:
        raise WarehouseNotBuiltError(
            f"The warehouse {warehouse} has no {', '.join(missing)}: build it first "
            "(`vip-tiers run …`), then export."
        )


# --- config -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramExports:
    program_id: str
    exports: ExportsConfig


def program_exports(con: duckdb.DuckDBPyConnection) -> list[ProgramExports]:
    """The exports block of every stored program (`raw.programs.exports_json`), by id."""
    rows = con.execute(
        "select program_id, exports_json from raw.programs "
        "where exports_json is not null order by program_id"
    ).fetchall()
    return [
        ProgramExports(program_id, ExportsConfig.model_validate_json(text))
        for program_id, text in rows
        if text and text != "null"
    ]


def stored_program_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0] for row in con.execute("select program_id from raw.programs order by 1").fetchall()
    ]


# --- plan and guard -----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What planning found for one destination (before sending)."""

    new: int
    """Live changes entering the outbox now (never seen, or withdrawn and due again)."""
    held: int
    """Of those, held by the guard (all or nothing)."""
    withdrawn: int
    pending: int
    """Rows due to send after planning (new ones and earlier ones not sent yet)."""
    eligible_members: int
    limit: float
    hold_reason: str | None


def _outgoing_sql() -> str:
    """Everything a destination of one program may receive, one row per item, as CTE
    `outgoing`. Params: program, destination, program.

    - every live tier change of `fct_tier_changes`;
    - a **correction** for every change this destination received that a later build
      restated (`fct_tier_change_restatements`, late data rewrote the member's history and
      the change is gone): the member's live tier now, from the tier the destination holds
      (the restated change's), dated the day the member has held it since. Its id is a hash
      of the restated change and the tier now, so it goes out once, and a new one goes out
      if the tier moves again before it was sent.
    """
    return f"""
        outgoing as (
            select change_id, program_id, customer_id, from_tier_code, to_tier_code,
                change_date, direction, change_reason, false as is_correction
            from {MARTS}.fct_tier_changes
            where scenario_id = '{LIVE}' and program_id = ?

            union all

            select
                md5('correction|' || restated.restated_change_id || '|' || latest.tier_code
                    || '|' || cast(latest.valid_from as varchar)) as change_id,
                restated.program_id,
                restated.customer_id,
                restated.restated_to_tier_code as from_tier_code,
                latest.tier_code as to_tier_code,
                latest.valid_from as change_date,
                'correction' as direction,
                'restatement' as change_reason,
                true as is_correction
            from {MARTS}.fct_tier_change_restatements as restated
            inner join {DELIVERIES} as sent
                on sent.program_id = restated.program_id
                and sent.change_id = restated.restated_change_id
                and sent.destination_id = ?
                and sent.status = 'delivered'
            inner join (
                select program_id, customer_id, tier_code, valid_from,
                    row_number() over (
                        partition by program_id, customer_id order by valid_from desc
                    ) as recency
                from {MARTS}.fct_tier_history
                where scenario_id = '{LIVE}' and program_id = ?
            ) as latest
                on latest.program_id = restated.program_id
                and latest.customer_id = restated.customer_id
                and latest.recency = 1
            where restated.scenario_id = '{LIVE}'
                and not exists (
                    select 1 from {MARTS}.fct_tier_changes as published
                    where published.change_id = restated.restated_change_id
                )
            qualify row_number() over (
                partition by restated.restated_change_id order by restated.restated_as_of desc
            ) = 1
        )
    """


def _due_changes_sql() -> str:
    """Items due to one destination of one program: the live changes the exports settings
    select, and every correction. Params: program, destination, program, since x2,
    send_initial."""
    return f"""
        with {_outgoing_sql()}
        select change_id, change_date
        from outgoing
        where is_correction
            or ((cast(? as date) is null or change_date >= cast(? as date))
                and (? or direction <> 'initial'))
    """


def eligible_members(con: duckdb.DuckDBPyConnection, program_id: str) -> int:
    row = con.execute(
        f"select count(*) from {MARTS}.dim_customer_tier_current "
        "where program_id = ? and scenario_id = ?",
        [program_id, LIVE],
    ).fetchone()
    return int(row[0]) if row else 0


def guard_reason(
    program_id: str, new: int, eligible: int, share: float
) -> tuple[float, str | None]:
    """(limit, reason to hold or None). Held when new changes exceed share x eligible."""
    limit = share * eligible
    if new <= limit:
        return limit, None
    return limit, (
        f"{new} new tier changes for program {program_id} exceed max_change_share "
        f"{share:g} of its {eligible} eligible members (limit {limit:g}): a bad data load "
        "or a threshold typo? Check fct_tier_changes; if the changes are right, run "
        f"`vip-tiers exports release --program {program_id}`"
    )


def plan(
    con: duckdb.DuckDBPyConnection,
    program_id: str,
    destination: Destination,
    exports: ExportsConfig,
    run_id: str,
    now: dt.datetime,
) -> Plan:
    """Withdraw rows no longer due, add the newly due ones as pending or held (the guard).

    Runs in the caller's transaction: planning and the guard are one atomic step, so a
    crash never leaves new rows pending that the guard did not see.
    """
    destination_id = destination.id
    due = _due_changes_sql()
    due_params = [
        program_id,
        destination_id,
        program_id,
        exports.since,
        exports.since,
        exports.send_initial,
    ]
    withdrawn = con.execute(
        f"""
        update {DELIVERIES}
        set status = 'withdrawn', last_error = ?, updated_at = ?, run_id = ?
        where program_id = ? and destination_id = ? and status in ('pending', 'held')
          and change_id not in (select change_id from ({due}))
        """,
        [WITHDRAWN_REASON, now, run_id, program_id, destination_id, *due_params],
    ).fetchone()
    withdrawn_count = int(withdrawn[0]) if withdrawn else 0

    new_row = con.execute(
        f"""
        select count(*)
        from ({due}) as due
        left join {DELIVERIES} as d
          on d.program_id = ? and d.destination_id = ? and d.change_id = due.change_id
        where d.change_id is null or d.status = 'withdrawn'
        """,
        [*due_params, program_id, destination_id],
    ).fetchone()
    new = int(new_row[0]) if new_row else 0
    eligible = eligible_members(con, program_id)
    limit, reason = guard_reason(program_id, new, eligible, exports.max_change_share)
    status: Status = "held" if reason else "pending"

    if new:
        con.execute(
            f"""
            update {DELIVERIES}
            set status = ?, hold_reason = ?, last_error = null, updated_at = ?, run_id = ?
            where program_id = ? and destination_id = ? and status = 'withdrawn'
              and change_id in (select change_id from ({due}))
            """,
            [status, reason, now, run_id, program_id, destination_id, *due_params],
        )
        con.execute(
            f"""
            insert into {DELIVERIES} (
                program_id, destination_id, destination_type, change_id, change_date,
                status, attempts, hold_reason, first_seen_at, updated_at, run_id)
            select ?, ?, ?, due.change_id, due.change_date, ?, 0, ?, ?, ?, ?
            from ({due}) as due
            where not exists (
                select 1 from {DELIVERIES} as d
                where d.program_id = ? and d.destination_id = ? and d.change_id = due.change_id)
            """,
            [
                program_id,
                destination_id,
                destination.type,
                status,
                reason,
                now,
                now,
                run_id,
                *due_params,
                program_id,
                destination_id,
            ],
        )
    pending = count_status(con, program_id, destination_id, "pending")
    return Plan(
        new=new,
        held=new if reason else 0,
        withdrawn=withdrawn_count,
        pending=pending,
        eligible_members=eligible,
        limit=limit,
        hold_reason=reason,
    )


def count_status(
    con: duckdb.DuckDBPyConnection, program_id: str, destination_id: str, status: Status
) -> int:
    row = con.execute(
        f"select count(*) from {DELIVERIES} "
        "where program_id = ? and destination_id = ? and status = ?",
        [program_id, destination_id, status],
    ).fetchone()
    return int(row[0]) if row else 0


# --- what to send -------------------------------------------------------------------------


def pending_changes(
    con: duckdb.DuckDBPyConnection, program_id: str, destination_id: str
) -> list[TierChange]:
    """The pending rows of a destination with their payload, oldest change first."""
    rows = con.execute(
        f"""
        with {_outgoing_sql()},
        customers as (
            select program_id, customer_id, min(email) as email
            from {STAGING}.stg_customers
            where rejection_reason is null
            group by program_id, customer_id
        ),
        tiers as (
            select program_id, tier_code, tier_name, perks
            from {MARTS}.dim_program_tiers
            where scenario_id = '{LIVE}'
        )
        select
            d.change_id, c.program_id, c.customer_id, customers.email,
            c.from_tier_code, from_tier.tier_name, c.to_tier_code, to_tier.tier_name,
            to_tier.perks, c.change_date, c.direction, c.change_reason
        from {DELIVERIES} as d
        inner join outgoing as c
            on c.change_id = d.change_id and c.program_id = d.program_id
        left join customers
            on customers.program_id = c.program_id and customers.customer_id = c.customer_id
        left join tiers as from_tier
            on from_tier.program_id = c.program_id and from_tier.tier_code = c.from_tier_code
        left join tiers as to_tier
            on to_tier.program_id = c.program_id and to_tier.tier_code = c.to_tier_code
        where d.program_id = ? and d.destination_id = ? and d.status = 'pending'
        order by c.change_date, c.customer_id, d.change_id
        """,
        [program_id, destination_id, program_id, program_id, destination_id],
    ).fetchall()
    return [
        TierChange(
            change_id=change_id,
            program_id=program,
            customer_id=str(customer_id),
            email=email,
            from_tier_code=from_code,
            from_tier_name=from_name or from_code,
            to_tier_code=to_code,
            to_tier_name=to_name or to_code,
            to_tier_perks=parse_perks(perks),
            change_date=change_date
            if isinstance(change_date, date)
            else date.fromisoformat(str(change_date)),
            direction=direction,
            reason=reason,
        )
        for (
            change_id,
            program,
            customer_id,
            email,
            from_code,
            from_name,
            to_code,
            to_name,
            perks,
            change_date,
            direction,
            reason,
        ) in rows
    ]


# --- recording ----------------------------------------------------------------------------


def record_results(
    con: duckdb.DuckDBPyConnection,
    program_id: str,
    destination_id: str,
    results: Sequence[ItemResult],
    attempts: int,
    run_id: str,
    now: dt.datetime,
) -> None:
    """One batch's outcome, in one transaction (the caller's)."""
    for item in results:
        tries = attempts if item.sent else 0
        if item.delivered:
            con.execute(
                f"""
                update {DELIVERIES}
                set status = 'delivered', attempts = attempts + ?, last_error = null,
                    last_attempt_at = ?, delivered_at = ?, updated_at = ?, delivery_ref = ?,
                    run_id = ?
                where program_id = ? and destination_id = ? and change_id = ?
                """,
                [
                    tries,
                    now,
                    now,
                    now,
                    item.ref,
                    run_id,
                    program_id,
                    destination_id,
                    item.change_id,
                ],
            )
        else:
            con.execute(
                f"""
                update {DELIVERIES}
                set status = 'dead_letter', attempts = attempts + ?, last_error = ?,
                    last_attempt_at = ?, updated_at = ?, run_id = ?
                where program_id = ? and destination_id = ? and change_id = ?
                """,
                [tries, item.error, now, now, run_id, program_id, destination_id, item.change_id],
            )


def record_deferred(
    con: duckdb.DuckDBPyConnection,
    program_id: str,
    destination_id: str,
    change_ids: Iterable[str],
    attempts: int,
    error: str,
    run_id: str,
    now: dt.datetime,
) -> None:
    """Tried, not settled (rate limited for longer than a run waits): stays pending."""
    for change_id in change_ids:
        con.execute(
            f"""
            update {DELIVERIES}
            set attempts = attempts + ?, last_error = ?, last_attempt_at = ?, updated_at = ?,
                run_id = ?
            where program_id = ? and destination_id = ? and change_id = ?
            """,
            [attempts, error, now, now, run_id, program_id, destination_id, change_id],
        )


def delivered_refs(
    con: duckdb.DuckDBPyConnection, program_id: str, destination_id: str
) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            f"select distinct delivery_ref from {DELIVERIES} where program_id = ? "
            "and destination_id = ? and status = 'delivered' and delivery_ref is not null",
            [program_id, destination_id],
        ).fetchall()
    }


def release(
    con: duckdb.DuckDBPyConnection,
    program_id: str,
    destination_id: str | None = None,
    dead_letters: bool = False,
    run_id: str = "release",
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """held (and, when asked, dead_letter) → pending; counts released per status."""
    now = now or utcnow()
    statuses: list[Status] = ["held", "dead_letter"] if dead_letters else ["held"]
    released: dict[str, int] = {}
    for status in statuses:
        row = con.execute(
            f"""
            update {DELIVERIES}
            set status = 'pending', released_at = ?, updated_at = ?, run_id = ?
            where program_id = ? and status = ?
              and (cast(? as varchar) is null or destination_id = ?)
            """,
            [now, now, run_id, program_id, status, destination_id, destination_id],
        ).fetchone()
        released[status] = int(row[0]) if row else 0
    return released


# --- claims: one exporter per destination at a time ---------------------------------------


@dataclass(frozen=True)
class Claim:
    run_id: str
    host: str
    pid: int
    heartbeat_at: dt.datetime


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(
    con: duckdb.DuckDBPyConnection,
    program_id: str,
    destination_id: str,
    run_id: str,
    ttl_s: float,
    now: dt.datetime,
) -> Claim | None:
    """Take the destination for this run; returns the live holder instead when there is one.

    A claim is stale when its heartbeat is older than `ttl_s`, or its process (same host)
    is gone: a run killed mid-way never blocks the next one.
    """
    host = socket.gethostname()
    with transaction(con):
        row = con.execute(
            f"select run_id, host, pid, heartbeat_at from {CLAIMS} "
            "where program_id = ? and destination_id = ?",
            [program_id, destination_id],
        ).fetchone()
        if row is not None:
            holder = Claim(row[0], row[1], int(row[2]), row[3])
            stale = (now - holder.heartbeat_at).total_seconds() > ttl_s or (
                holder.host == host and not _process_alive(holder.pid)
            )
            if holder.run_id != run_id and not stale:
                return holder
        con.execute(
            f"insert or replace into {CLAIMS} values (?, ?, ?, ?, ?, ?, ?)",
            [program_id, destination_id, run_id, host, os.getpid(), now, now],
        )
    return None


def heartbeat(
    con: duckdb.DuckDBPyConnection,
    program_id: str,
    destination_id: str,
    run_id: str,
    now: dt.datetime,
) -> None:
    con.execute(
        f"update {CLAIMS} set heartbeat_at = ? "
        "where program_id = ? and destination_id = ? and run_id = ?",
        [now, program_id, destination_id, run_id],
    )


def unclaim(
    con: duckdb.DuckDBPyConnection, program_id: str, destination_id: str, run_id: str
) -> None:
    con.execute(
        f"delete from {CLAIMS} where program_id = ? and destination_id = ? and run_id = ?",
        [program_id, destination_id, run_id],
    )


# --- runs and status ----------------------------------------------------------------------


def record_run(con: duckdb.DuckDBPyConnection, values: dict[str, Any]) -> None:
    columns = [
        "run_id",
        "program_id",
        "destination_id",
        "destination_type",
        "started_at",
        "finished_at",
        "dry_run",
        "planned",
        "held",
        "withdrawn",
        "delivered",
        "dead_lettered",
        "left_pending",
        "requests",
        "file_path",
        "hold_reason",
        "error",
    ]
    con.execute(
        f"insert into {RUNS} ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
        [values.get(column) for column in columns],
    )


@dataclass(frozen=True)
class StatusCount:
    program_id: str
    destination_id: str
    destination_type: str
    status: str
    deliveries: int
    reason: str | None


def status_counts(
    con: duckdb.DuckDBPyConnection,
    program_id: str | None = None,
    destination_types: Sequence[str] | None = None,
    run_id: str | None = None,
) -> list[StatusCount]:
    """Deliveries per program, destination and status, with one reason per group."""
    if not outbox_exists(con):
        return []
    types_json = json.dumps(list(destination_types)) if destination_types else None
    rows = con.execute(
        f"""
        select program_id, destination_id, destination_type, status, count(*),
               coalesce(max(hold_reason), max(last_error))
        from {DELIVERIES}
        where (cast(? as varchar) is null or program_id = ?)
          and (cast(? as varchar) is null
               or list_contains(cast(json(?) as varchar[]), destination_type))
          and (cast(? as varchar) is null or run_id = ?)
        group by all
        order by 1, 2, 4
        """,
        [program_id, program_id, types_json, types_json, run_id, run_id],
    ).fetchall()
    return [StatusCount(*row) for row in rows]
