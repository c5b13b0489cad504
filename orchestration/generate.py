"""Synthetic raw data for vip-tiers: one raw directory (interfaces §1) for every program YAML.

`generate_raw_dir` writes the six raw tables for each program of a programs directory
(read with plain `yaml.safe_load`; a file without `program_id`, `currency` or `tiers` is
skipped with a warning, validating it is the config asset's job):

- `customers`: members `C00000001…` numbered per program (the same ids in every program,
  so anything keyed without `program_id` mixes programs up), with names, emails (~2 %
  missing), birthdays (~8 % missing, some on 29 Feb), `enrolled_at` spread over the period
  with more sign-ups later (many before the program's launch), ~5 % pending (empty
  `enrolled_at`) and ~3 % unenrolled later (some before launch: they never get a tier).
- `orders`: a Poisson number of orders per member from a log-normal yearly spend scaled to
  the program's top tier threshold, so that every tier is reached by a fair share of
  members (~10 % reach the top one); members stop buying after a random lifetime, so
  reviews demote some. ~3 % guest orders (`G…` customer ids unknown to `customers`), ~5 %
  in another currency (three with rates on business days, `CAD` whose rates start late and
  stop half-way, `CHF` with no rate at all), a few `0.00` orders, ~2 % cancelled (some after
  a partial refund).
- `refunds`: ~8 % of orders refunded in 1-3 parts (about 40 % in full), mostly within days,
  some weeks or months later, a few percent more than 12 months later; December orders
  refunded in January cross a year boundary. Refunds after `end` do not exist yet.
- `points_ledger` (every program, spend or points): `purchase` = 1 point per whole unit of
  program currency (foreign orders converted at a fixed rate) for orders placed while
  enrolled; `purchase_reversal` (same `order_id`) for each refund and for what a
  cancellation takes back; `signup`; `birthday` every year; `review` (with the order's id);
  `referral`; `social`; `manual_adjustment` (±); `tier_bonus` when lifetime purchase points
  cross a tier threshold; `redemption` and `expiration` (negative); a few orphan
  `purchase` entries for guests.
- `manual_tier_assignments`: ~1 % of members per program, ~15 % of them on launch day (a
  VIP list carried over), ~6 % naming a tier code the program does not have, some for
  pending customers or outside the member's enrolment, ~8 % paired with a second one the
  same UTC day (at least one pair per program at the very same `assigned_at`, so the
  `assignment_id` breaks the tie).
- `fx_rates`: rates from each foreign currency into each program currency on business
  days (weekends and ~3 % of weekdays missing, so the latest earlier rate matters), from one
  random walk per currency so that cross rates agree.

Formats. Timestamps are ISO 8601 strings in CSV *and* Parquet (the loader parses both):
most `…Z`, some with an offset (`+10:00`, `-05:00`, `+05:30`, …; the wall time shifted so
the instant is the same), some without offset (= UTC), and ~4 % of `enrolled_at`,
`ordered_at`, `assigned_at` and non-purchase `occurred_at` bare dates (the instant is then
midnight UTC). `birthday` and `rate_date` are `YYYY-MM-DD`. Amounts have 2 decimals (CSV
text, Parquet `decimal(18,2)`), rates 6 (Parquet `decimal(18,6)`), points are integers
(Parquet `int64`). CSV: header line (names quoted), values never quoted, a missing value is
an empty field. Every instant is before midnight UTC after `end`.

Layout. `mixed`: `customers.csv`, `orders/` (Parquet parts), `refunds.parquet`,
`points_ledger/` (CSV parts), `manual_tier_assignments.csv`, `fx_rates.parquet`;
`csv` / `parquet`: the same files and folders, all of that type. Members are generated in
chunks of `CHUNK_MEMBERS` (one part file per program and chunk, `<program_id>-<chunk>.<ext>`;
single files grow chunk by chunk), and a chunk is written in a thread while the next one
is generated, so memory stays at about two chunks (~2 GB peak at 1M members per program).

Invalid rows. About `invalid_share` of each table's rows are deliberately invalid, every
kind of `INVALID_KINDS` at least once in a table of 200 valid rows or more (in Parquet,
numbers are typed, so no `unparseable_amount` there). Each has a key of its own, so no valid
row is touched, except `exact_duplicate` (a copy of a valid row; one of the two is kept).
`duplicate_key_conflict` adds two rows with one new key and different contents (both are
counted). Manual assignments naming an unknown tier or an ineligible customer, guest
orders, orders in a currency without rates and orphan ledger entries are realistic data,
not invalid rows. The summary counts invalid rows per table and per kind.

Same arguments, same bytes: every chunk draws from its own generator seeded with
`(seed, program, chunk)`, and batches reach each file in order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import yaml

log = logging.getLogger(__name__)

FileFormat = Literal["mixed", "csv", "parquet"]
FileType = Literal["csv", "parquet"]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": (
        "program_id",
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "birthday",
        "enrolled_at",
        "unenrolled_at",
    ),
    "orders": (
        "program_id",
        "order_id",
        "customer_id",
        "ordered_at",
        "currency",
        "total_amount",
        "cancelled_at",
    ),
    "refunds": ("program_id", "refund_id", "order_id", "refunded_at", "amount"),
    "points_ledger": (
        "program_id",
        "entry_id",
        "customer_id",
        "occurred_at",
        "activity",
        "points",
        "order_id",
    ),
    "manual_tier_assignments": (
        "program_id",
        "assignment_id",
        "customer_id",
        "tier_code",
        "assigned_at",
        "reason",
        "assigned_by",
    ),
    "fx_rates": ("currency", "quote_currency", "rate_date", "rate"),
}
TABLES = tuple(COLUMNS)
REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("program_id", "customer_id"),
    "orders": COLUMNS["orders"][:6],
    "refunds": COLUMNS["refunds"],
    "points_ledger": COLUMNS["points_ledger"][:6],
    "manual_tier_assignments": COLUMNS["manual_tier_assignments"][:5],
    "fx_rates": COLUMNS["fx_rates"],
}
PARQUET_TYPES: dict[str, pa.DataType] = {
    "total_amount": pa.decimal128(18, 2),
    "amount": pa.decimal128(18, 2),
    "points": pa.int64(),
    "rate": pa.decimal128(18, 6),
}
# The column an `unparseable_amount` row breaks, and the main timestamp of each table.
NUMBER_COLUMN = {
    "orders": "total_amount",
    "refunds": "amount",
    "points_ledger": "points",
    "fx_rates": "rate",
}
TIME_COLUMN = {
    "customers": "enrolled_at",
    "orders": "ordered_at",
    "refunds": "refunded_at",
    "points_ledger": "occurred_at",
    "manual_tier_assignments": "assigned_at",
    "fx_rates": "rate_date",
}
KEY_COLUMN = {
    "customers": "customer_id",
    "orders": "order_id",
    "refunds": "refund_id",
    "points_ledger": "entry_id",
    "manual_tier_assignments": "assignment_id",
}
COMMON_KINDS = (
    "duplicate_key_conflict",
    "exact_duplicate",
    "missing_required",
    "unparseable_timestamp",
)
INVALID_KINDS: dict[str, tuple[str, ...]] = {
    "customers": (*COMMON_KINDS, "unparseable_date"),
    "orders": (*COMMON_KINDS, "unparseable_amount", "negative_amount", "cancelled_before_ordered"),
    "refunds": (
        *COMMON_KINDS,
        "unparseable_amount",
        "negative_amount",
        "refund_exceeds_remaining",
        "refund_before_order",
        "refund_after_cancellation",
        "unknown_order",
    ),
    "points_ledger": (*COMMON_KINDS, "unparseable_amount", "unknown_activity"),
    "manual_tier_assignments": COMMON_KINDS,
    "fx_rates": (*COMMON_KINDS, "unparseable_amount", "non_positive_rate"),
}
ACTIVITIES = (
    "purchase",
    "purchase_reversal",
    "signup",
    "birthday",
    "review",
    "referral",
    "social",
    "manual_adjustment",
    "tier_bonus",
    "redemption",
    "expiration",
)
ACTIVITY = {name: code for code, name in enumerate(ACTIVITIES)}

DAY = 86_400
HOUR = 3_600
YEAR = 365 * DAY
NEVER = np.iinfo(np.int64).max
CHUNK_MEMBERS = 250_000
MIN_ROWS_FOR_EVERY_KIND = 200
INVALID_CLUSTERS = 64

PENDING_SHARE = 0.05
UNENROLLED_SHARE = 0.03
GUEST_ORDER_SHARE = 0.03
FOREIGN_ORDER_SHARE = 0.05
NO_RATE_ORDER_SHARE = 0.004
ZERO_ORDER_SHARE = 0.001
REFUNDED_ORDER_SHARE = 0.08
CANCELLED_ORDER_SHARE = 0.02
MANUAL_MEMBER_SHARE = 0.01

# Value of one unit in USD: base of the fx random walks and of foreign order amounts.
USD_VALUE = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "AUD": 0.66,
    "CAD": 0.74,
    "NZD": 0.61,
    "CHF": 1.12,
    "SEK": 0.095,
    "JPY": 0.0067,
}
RATED_CURRENCIES = ("EUR", "USD", "GBP", "AUD")
# (suffix, seconds added to the UTC wall time); index 0 is `Z`, 1 no offset.
TIME_FORMS: tuple[tuple[str, int], ...] = (
    ("Z", 0),
    ("", 0),
    ("+10:00", 10 * HOUR),
    ("+11:00", 11 * HOUR),
    ("-05:00", -5 * HOUR),
    ("-04:00", -4 * HOUR),
    ("+01:00", HOUR),
    ("+00:00", 0),
    ("+05:30", 5 * HOUR + 30 * 60),
)
TIME_FORM_WEIGHTS = (0.58, 0.2, 0.05, 0.03, 0.05, 0.03, 0.03, 0.01, 0.02)
BARE_DATE_SHARE = 0.04
EPOCH_DAY_FIRST = -25_567  # 1900-01-01, first day of the date string table
DATE_TABLE_DAYS = 300 * 366


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = words(
    "Olivia Liam Amelia Noah Isla Oliver Ava Jack Mia William Grace Lucas Chloe Leo Zoe James "
    "Ella Henry Ruby Thomas Aria Charlie Sofia Ethan Emily Mason Harper Elijah Layla Alexander "
    "Nora Daniel Hannah Samuel Aiko Mateo Priya Arjun Fatima Omar Mei Wei Chiara Luca Ingrid Sven"
)
LAST_NAMES = words(
    "Smith Jones Williams Brown Taylor Wilson Johnson Davies Patel Nguyen Garcia Martinez Lee "
    "Walker Harris Clark Lewis Robinson Young King Wright Scott Green Baker Adams Nelson Hill "
    "Campbell Mitchell Roberts Carter Phillips Evans Turner Torres Parker Collins Edwards "
    "Stewart Morris Murphy Cook Rogers Kim Chen Singh Kowalski Rossi Müller OBrien"
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
MANUAL_REASONS = (
    "Customer service goodwill",
    "Influencer partnership",
    "Migrated from previous program",
    "Correction after support ticket",
    "VIP event guest",
)
MANUAL_AUTHORS = (
    "ana@shop.example",
    "ben@shop.example",
    "cs-team@shop.example",
    "system:migration",
)
UNKNOWN_TIER_CODES = ("platinum", "vip", "diamond_old")
UNKNOWN_ACTIVITIES = ("cashback", "signup_bonus", "survey", "purchase_refund")
BAD_TIMESTAMPS = (
    "2023-02-30T10:00:00Z",
    "31/12/2023 10:00",
    "not a date",
    "2024-13-01T08:00:00",
    "2023-06-15T25:61:00Z",
    "yesterday",
)
BAD_DATES = ("1985-02-30", "12/31/1990", "19900101", "unknown")
BAD_NUMBERS = ("12.34.56", "n/a", "ten", "1 234.50", "$19.99")


# --- public API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate_raw_dir` wrote: rows per table (invalid included) and the invalid ones."""

    out_dir: Path
    rows: dict[str, int]
    invalid_rows: dict[str, int]
    invalid_by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_text(self) -> str:
        lines = [f"Generated raw data in {self.out_dir} ({self.seconds:.1f} s):"]
        for table, rows in self.rows.items():
            invalid = self.invalid_rows.get(table, 0)
            lines.append(f"  {table:<24} {rows:>12,} rows  ({invalid:,} invalid)")
        return "\n".join(lines)


def generate_raw_dir(
    out_dir: Path,
    programs_dir: Path,
    members_per_program: int = 2000,
    seed: int = 42,
    start: dt.date = dt.date(2022, 7, 1),
    end: dt.date | None = None,
    file_format: FileFormat = "mixed",
    invalid_share: float = 0.005,
    activity: float = 1.0,
) -> GenerationSummary:
    """(Re)create `out_dir` with the six raw tables for every program in `programs_dir`.

    `activity` multiplies every member's order rate (about 5 orders per member over 3 years
    at 1.0) and divides their basket size by the same factor, so yearly spend, and with it
    the tier distribution, stays the same while orders, refunds and ledger rows grow.
    """
    started = time.perf_counter()
    end = end if end is not None else dt.datetime.now(dt.UTC).date()
    _check_arguments(members_per_program, start, end, file_format, invalid_share, activity)
    programs = load_program_specs(Path(programs_dir))
    if not programs:
        raise ValueError(f"no usable program YAML (*.yaml) in {programs_dir}")
    out_dir = Path(out_dir)
    clear_generated(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    period = Period.of(start, end)
    layouts = table_layouts(file_format)
    sinks = {table: TableSink(out_dir, table, layouts[table]) for table in TABLES}
    injector = InvalidInjector(invalid_share, {t: layouts[t].file_type for t in TABLES})
    with BackgroundWriter(sinks) as writer:
        for index, program in enumerate(programs):
            is_last = index == len(programs) - 1
            generate_program(
                writer,
                injector,
                program,
                index,
                period,
                seed,
                members_per_program,
                is_last,
                activity,
            )
        fx = generate_fx_rates(np.random.default_rng([seed, 1_000_001]), programs, period)
        fx_context = InvalidContext(
            np.random.default_rng([seed, 1_000_002]), None, period, None, fx, None
        )
        writer.submit([("fx_rates", injector.mix("fx_rates", fx_context, True), "all")])
    return GenerationSummary(
        out_dir=out_dir,
        rows={table: sinks[table].rows for table in TABLES},
        invalid_rows={table: injector.invalid_total(table) for table in TABLES},
        invalid_by_kind={table: dict(injector.produced[table]) for table in TABLES},
        seconds=time.perf_counter() - started,
    )


def generate_program(
    writer: BackgroundWriter,
    injector: InvalidInjector,
    program: ProgramSpec,
    index: int,
    period: Period,
    seed: int,
    members: int,
    is_last: bool,
    activity: float = 1.0,
) -> None:
    """All rows of one program: its members chunk by chunk, then its manual assignments."""
    ids = ProgramIds(members)
    manual_candidates: list[ManualCandidates] = []
    chunks = math.ceil(members / CHUNK_MEMBERS)
    for chunk in range(chunks):
        rng = np.random.default_rng([seed, index, chunk])
        first = chunk * CHUNK_MEMBERS
        batch = generate_chunk(
            rng, program, period, ids, first, min(CHUNK_MEMBERS, members - first), activity
        )
        manual_candidates.append(pick_manual_candidates(rng, program, period, batch))
        is_final = is_last and chunk == chunks - 1
        part = f"{program.program_id}-{chunk:04d}"
        writes = []
        for table, valid in chunk_tables(rng, program, ids, batch).items():
            context = InvalidContext(rng, program, period, ids, valid, batch)
            writes.append((table, injector.mix(table, context, is_final), part))
        writer.submit(writes)
    rng = np.random.default_rng([seed, index, 1_000_000])
    manual = manual_assignments_table(rng, program, period, ids, manual_candidates)
    context = InvalidContext(rng, program, period, ids, manual, None)
    table = "manual_tier_assignments"
    writer.submit([(table, injector.mix(table, context, is_last), program.program_id)])


def clear_generated(out_dir: Path) -> None:
    """Remove every table entry this module may have written (other files stay)."""
    for table in TABLES:
        for path in (out_dir / f"{table}.csv", out_dir / f"{table}.parquet"):
            path.unlink(missing_ok=True)
        if (out_dir / table).is_dir():
            shutil.rmtree(out_dir / table)


def _check_arguments(
    members: int,
    start: dt.date,
    end: dt.date,
    file_format: str,
    invalid_share: float,
    activity: float = 1.0,
) -> None:
    if members < 1:
        raise ValueError(f"members_per_program must be at least 1, got {members}")
    if end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    if file_format not in ("mixed", "csv", "parquet"):
        raise ValueError(f"file_format must be mixed, csv or parquet, got {file_format!r}")
    if not 0 <= invalid_share <= 0.5:
        raise ValueError(f"invalid_share must be between 0 and 0.5, got {invalid_share}")
    if not 0 < activity <= 100:
        raise ValueError(f"activity must be above 0 and at most 100, got {activity}")


# --- programs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramSpec:
    """What the generator needs from a program YAML."""

    program_id: str
    currency: str
    launch_date: dt.date
    tier_codes: tuple[str, ...]
    thresholds: tuple[float, ...]
    entry_bonus_points: tuple[int, ...]

    @property
    def top_threshold(self) -> float:
        return max(max(self.thresholds), 100.0)

    @property
    def foreign_currencies(self) -> tuple[str, ...]:
        """Three currencies with daily rates, one with sparse rates, one without rates."""
        rated = tuple(c for c in RATED_CURRENCIES if c != self.currency)[:3]
        sparse = "CAD" if self.currency != "CAD" else "NZD"
        return (*rated, sparse, self.no_rate_currency)

    @property
    def no_rate_currency(self) -> str:
        return "CHF" if self.currency != "CHF" else "SEK"


def load_program_specs(programs_dir: Path) -> list[ProgramSpec]:
    """Program specs from `*.yaml` / `*.yml`, sorted by file name. Files that lack what the
    generator needs (or repeat a program id) are skipped with a warning: validating them
    is the config asset's job."""
    specs: list[ProgramSpec] = []
    seen: set[str] = set()
    paths = sorted([*programs_dir.glob("*.yaml"), *programs_dir.glob("*.yml")])
    for path in paths:
        try:
            spec = _program_spec(yaml.safe_load(path.read_text()))
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
            log.warning("No data generated for %s: %s", path, exc)
            continue
        if spec.program_id in seen:
            log.warning("No data generated for %s: program_id %s repeats", path, spec.program_id)
            continue
        seen.add(spec.program_id)
        specs.append(spec)
    return specs


def _program_spec(raw: dict[str, Any]) -> ProgramSpec:
    tiers = raw["tiers"]
    if not isinstance(tiers, list) or not tiers:
        raise ValueError("tiers must be a non-empty list")
    launch = raw.get("launch_date") or raw.get("start_date")
    if not isinstance(launch, dt.date):
        launch = dt.date.fromisoformat(str(launch))
    return ProgramSpec(
        program_id=str(raw["program_id"]),
        currency=str(raw["currency"]).upper(),
        launch_date=launch,
        tier_codes=tuple(str(tier["code"]) for tier in tiers),
        thresholds=tuple(float(tier.get("threshold") or 0) for tier in tiers),
        entry_bonus_points=tuple(int(tier.get("entry_bonus_points") or 0) for tier in tiers),
    )


# --- time and formatting ------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Seconds since the epoch: `start` (midnight UTC) inclusive, `end` exclusive."""

    start: int
    end: int

    @classmethod
    def of(cls, start: dt.date, end: dt.date) -> Period:
        return cls(epoch_seconds(start), epoch_seconds(end) + DAY)

    @property
    def span(self) -> int:
        return self.end - self.start


def epoch_seconds(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * DAY


@lru_cache(maxsize=1)
def date_strings() -> pa.Array:
    """`YYYY-MM-DD` for every day from 1900-01-01 on, indexed by epoch day - EPOCH_DAY_FIRST."""
    days = np.arange(EPOCH_DAY_FIRST, EPOCH_DAY_FIRST + DATE_TABLE_DAYS).astype("datetime64[D]")
    return pa.array(np.datetime_as_string(days), pa.string())


@lru_cache(maxsize=1)
def clock_strings() -> pa.Array:
    """`THH:MM:SS` for every second of a day, then "" (index DAY) for bare dates."""
    clocks = [f"T{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
    return pa.array([*clocks, ""], pa.string())


def format_dates(days: Ints, valid: Bools | None = None) -> pa.Array:
    """Epoch days as `YYYY-MM-DD` (null where not valid)."""
    index = np.where(valid, days, EPOCH_DAY_FIRST) if valid is not None else days
    mask = None if valid is None else ~valid
    return date_strings().take(pa.array(index - EPOCH_DAY_FIRST, mask=mask))


def format_instants(rng: np.random.Generator, seconds: Ints, bare: Bools | None = None) -> pa.Array:
    """Instants as ISO 8601 text in varied forms; NEVER becomes null, `bare` rows a date."""
    valid = seconds != NEVER
    safe = np.where(valid, seconds, 0)
    form = rng.choice(len(TIME_FORMS), size=len(seconds), p=TIME_FORM_WEIGHTS)
    offsets = np.array([offset for _, offset in TIME_FORMS], np.int64)
    local = safe + offsets[form]
    clock = local % DAY
    day = local // DAY
    suffix = form
    if bare is not None:
        clock = np.where(bare, DAY, clock)
        day = np.where(bare, safe // DAY, day)
        suffix = np.where(bare, 1, form)
    mask = ~valid
    dates = date_strings().take(pa.array(day - EPOCH_DAY_FIRST, mask=mask))
    clocks = clock_strings().take(pa.array(clock))
    suffixes = pa.array([text for text, _ in TIME_FORMS]).take(pa.array(suffix))
    return pc.binary_join_element_wise(dates, clocks, suffixes, "")


def truncate_some_to_midnight(rng: np.random.Generator, seconds: Ints) -> tuple[Ints, Bools]:
    """Make BARE_DATE_SHARE of the instants midnight UTC, to be written as bare dates."""
    bare = (rng.random(len(seconds)) < BARE_DATE_SHARE) & (seconds != NEVER)
    return np.where(bare, seconds - seconds % DAY, seconds), bare


def format_fixed(units: Ints, decimals: int) -> pa.Array:
    """Integers in 1/10**decimals as decimal text (`-12.30`)."""
    scale = 10**decimals
    magnitude = np.abs(units)
    whole = pc.cast(pa.array(magnitude // scale), pa.string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(magnitude % scale), pa.string()), decimals, "0")
    text = pc.binary_join_element_wise(whole, fraction, ".")
    if (units < 0).any():
        sign = pa.array(np.where(units < 0, "-", ""))
        text = pc.binary_join_element_wise(sign, text, "")
    return text


def format_cents(cents: Ints) -> pa.Array:
    return format_fixed(cents, 2)


def format_ids(prefix: str, numbers: Ints, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def parse_cents(text: pa.Array) -> Ints:
    values = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    return np.round(values * 100).astype(np.int64)


def constant(value: str | None, n: int) -> pa.Array:
    return pc.fill_null(pa.nulls(n, pa.string()), pa.scalar(value, pa.string()))


def grouped_cumsum(values: Ints, groups: Ints) -> Ints:
    """Running sum of `values` within runs of equal `groups` (rows sorted by group)."""
    total = np.cumsum(values)
    if len(values) == 0:
        return total
    starts = np.r_[True, groups[1:] != groups[:-1]]
    start_index = np.maximum.accumulate(np.where(starts, np.arange(len(values)), 0))
    before = np.r_[0, total[:-1]]
    return total - before[start_index]


def uniform_between(rng: np.random.Generator, low: Ints, high: Ints) -> Ints:
    """A random second in [low, high) (low where the range is empty)."""
    width = np.maximum(high - low, 1)
    return low + (rng.random(len(low)) * width).astype(np.int64)


# --- ids ----------------------------------------------------------------------------------


class ProgramIds:
    """Running id numbers of one program; invalid rows take fresh numbers too."""

    def __init__(self, members: int) -> None:
        self.next: dict[str, int] = {
            "customers": members + 1,
            "orders": 1,
            "refunds": 1,
            "points_ledger": 1,
            "manual_tier_assignments": 1,
            "guests": 1,
            "unknown_orders": 1,
        }

    def take(self, kind: str, count: int) -> Ints:
        first = self.next[kind]
        self.next[kind] = first + count
        return np.arange(first, first + count, dtype=np.int64)

    def format(self, table: str, numbers: Ints) -> pa.Array:
        prefix, width = ID_FORMATS[table]
        return format_ids(prefix, numbers, width)

    def fresh(self, table: str, count: int) -> pa.Array:
        return self.format(table, self.take(table, count))


ID_FORMATS: dict[str, tuple[str, int]] = {
    "customers": ("C", 8),
    "guests": ("G", 8),
    "orders": ("O", 9),
    "refunds": ("R", 9),
    "points_ledger": ("L", 10),
    "manual_tier_assignments": ("M", 7),
    # Longer than any order id, so such a reference never matches an order.
    "unknown_orders": ("O9999", 7),
}


# --- fx rates -----------------------------------------------------------------------------


def approx_rate(currency: str, quote: str) -> float:
    """Units of `quote` for one unit of `currency`, ignoring the daily moves."""
    return USD_VALUE.get(currency, 1.0) / USD_VALUE.get(quote, 1.0)


def generate_fx_rates(
    rng: np.random.Generator, programs: Sequence[ProgramSpec], period: Period
) -> pa.Table:
    """Business-day rates of each foreign currency into each program currency.

    Rates come from one random walk per currency (value in USD), so cross rates agree.
    The sparse currency's rates start a tenth into the period and stop at half of it: orders
    before have no usable rate, orders after use a months-old one.
    """
    first_day = period.start // DAY - 10
    days = np.arange(first_day, period.end // DAY, dtype=np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    business = (weekday < 5) & (rng.random(len(days)) >= 0.03)
    currencies = sorted({c for p in programs for c in (p.currency, *p.foreign_currencies)})
    walks = {
        c: USD_VALUE.get(c, 1.0) * np.exp(np.cumsum(rng.normal(0, 0.004, len(days))))
        for c in currencies
    }
    pairs: list[tuple[str, str, Bools]] = []
    for quote in sorted({p.currency for p in programs}):
        program = next(p for p in programs if p.currency == quote)
        *rated, sparse, _no_rate = program.foreign_currencies
        for currency in rated:
            pairs.append((currency, quote, business))
        sparse_from = first_day + len(days) // 10
        sparse_to = first_day + len(days) // 2
        pairs.append((sparse, quote, business & (days >= sparse_from) & (days < sparse_to)))
    parts = []
    for currency, quote, on in pairs:
        micro = np.round(walks[currency][on] / walks[quote][on] * 1e6).astype(np.int64)
        n = int(on.sum())
        parts.append(
            pa.table(
                {
                    "currency": constant(currency, n),
                    "quote_currency": constant(quote, n),
                    "rate_date": format_dates(days[on]),
                    "rate": format_fixed(micro, 6),
                }
            )
        )
    return pa.concat_tables(parts)


# --- one chunk of members -----------------------------------------------------------------


@dataclass
class Members:
    number: Ints
    ids: pa.Array
    first_seen: Ints
    enrolled: Ints  # NEVER = pending
    unenrolled: Ints  # NEVER = still enrolled
    enrolled_bare: Bools
    activity_end: Ints
    yearly_spend: Floats
    orders_per_year: Floats
    birthday: Ints  # epoch day, NEVER = unknown

    def __len__(self) -> int:
        return len(self.number)

    @property
    def is_enrolled(self) -> Bools:
        return self.enrolled != NEVER


@dataclass
class Orders:
    ids: pa.Array
    member: Ints  # -1 for guests
    customer_ids: pa.Array
    ordered: Ints
    ordered_bare: Bools
    currency: Ints  # index into CURRENCY list of the chunk (0 = program currency)
    cents: Ints  # in the order's currency
    program_cents: Ints  # approximate, in the program currency (for points)
    cancelled: Ints  # NEVER = not cancelled

    def __len__(self) -> int:
        return len(self.ordered)


@dataclass
class Refunds:
    ids: pa.Array
    order: Ints  # position in Orders
    refunded: Ints
    cents: Ints

    def __len__(self) -> int:
        return len(self.order)


@dataclass
class Ledger:
    customer_ref: Ints  # < len(members): a member; else len(members) + order position
    occurred: Ints
    bare: Bools
    activity: Ints
    points: Ints
    order: Ints  # -1: no order_id


@dataclass
class Chunk:
    members: Members
    orders: Orders
    refunds: Refunds
    ledger: Ledger
    currencies: tuple[str, ...]


def generate_chunk(
    rng: np.random.Generator,
    program: ProgramSpec,
    period: Period,
    ids: ProgramIds,
    first_member: int,
    size: int,
    activity: float = 1.0,
) -> Chunk:
    currencies = (program.currency, *program.foreign_currencies)
    members = generate_members(rng, period, first_member, size, activity)
    orders = generate_orders(rng, program, period, ids, members, currencies)
    refunds = generate_refunds_and_cancellations(rng, period, ids, orders)
    ledger = generate_ledger(rng, program, period, members, orders, refunds)
    return Chunk(members, orders, refunds, ledger, currencies)


def generate_members(
    rng: np.random.Generator, period: Period, first: int, n: int, activity: float = 1.0
) -> Members:
    number = np.arange(first + 1, first + n + 1, dtype=np.int64)
    # u ** 0.8 leans toward later dates: a growing program signs up more members each month.
    first_seen = period.start + (rng.random(n) ** 0.8 * period.span * 0.97).astype(np.int64)
    delay = np.where(rng.random(n) < 0.6, 0, rng.exponential(40 * DAY, n)).astype(np.int64)
    enrolled, enrolled_bare = truncate_some_to_midnight(rng, first_seen + delay)
    pending = (rng.random(n) < PENDING_SHARE) | (enrolled >= period.end)
    enrolled = np.where(pending, NEVER, enrolled)
    enrolled_bare &= ~pending
    leaves = ~pending & (rng.random(n) < UNENROLLED_SHARE)
    left_at = uniform_between(rng, np.where(pending, period.start, enrolled) + HOUR, period.end)
    leaves &= left_at < period.end
    unenrolled = np.where(leaves, left_at, NEVER)
    lifetime = rng.exponential(2.5 * YEAR, n).astype(np.int64)
    stops = np.minimum(first_seen + lifetime, period.end)
    stops = np.where(
        leaves, np.minimum(stops, left_at + rng.exponential(60 * DAY, n).astype(np.int64)), stops
    )
    birthday = rng.integers(
        (dt.date(1950, 1, 1) - dt.date(1970, 1, 1)).days,
        (dt.date(2007, 1, 1) - dt.date(1970, 1, 1)).days,
        n,
    )
    birthday = np.where(rng.random(n) < 0.08, NEVER, birthday)
    return Members(
        number=number,
        ids=format_ids("C", number, 8),
        first_seen=first_seen,
        enrolled=enrolled,
        unenrolled=unenrolled,
        enrolled_bare=enrolled_bare,
        activity_end=np.minimum(stops, period.end),
        yearly_spend=rng.lognormal(math.log(0.25), 1.0, n),
        orders_per_year=rng.lognormal(math.log(4.2), 0.6, n) * activity,
        birthday=birthday.astype(np.int64),
    )


def generate_orders(
    rng: np.random.Generator,
    program: ProgramSpec,
    period: Period,
    ids: ProgramIds,
    members: Members,
    currencies: tuple[str, ...],
) -> Orders:
    active = np.maximum(members.activity_end - members.first_seen, 0)
    counts = rng.poisson(members.orders_per_year * active / YEAR)
    member = np.repeat(np.arange(len(members), dtype=np.int64), counts)
    ordered = members.first_seen[member] + (rng.random(len(member)) * active[member]).astype(
        np.int64
    )
    basket = program.top_threshold * members.yearly_spend / members.orders_per_year
    member_cents = basket[member] * rng.lognormal(0, 0.45, len(member)) * 100

    guests = rng.binomial(len(member), GUEST_ORDER_SHARE / (1 - GUEST_ORDER_SHARE))
    guest_ordered = period.start + (rng.random(guests) * period.span).astype(np.int64)
    guest_cents = program.top_threshold / 14 * rng.lognormal(0, 0.6, guests) * 100
    # Every fifth guest id is used twice: guests come back without an account too.
    guest_numbers = ids.take("guests", guests)[(np.arange(guests) * 4) // 5]

    member = np.r_[member, np.full(guests, -1, np.int64)]
    ordered = np.r_[ordered, guest_ordered]
    program_cents = np.maximum(np.round(np.r_[member_cents, guest_cents]), 100).astype(np.int64)
    program_cents = np.where(rng.random(len(member)) < ZERO_ORDER_SHARE, 0, program_cents)
    customer_ids = pa.concat_arrays(
        [members.ids.take(pa.array(member[member >= 0])), format_ids("G", guest_numbers, 8)]
    )

    by_time = np.argsort(ordered, kind="stable")
    member, ordered, program_cents = member[by_time], ordered[by_time], program_cents[by_time]
    customer_ids = customer_ids.take(pa.array(by_time))
    ordered, ordered_bare = truncate_some_to_midnight(rng, ordered)
    currency = pick_order_currencies(rng, len(member), len(currencies))
    rates = np.array([approx_rate(program.currency, c) for c in currencies])
    cents = np.round(program_cents * rates[currency]).astype(np.int64)
    numbers = ids.take("orders", len(member))
    return Orders(
        ids=ids.format("orders", numbers),
        member=member,
        customer_ids=customer_ids,
        ordered=ordered,
        ordered_bare=ordered_bare,
        currency=currency,
        cents=cents,
        program_cents=program_cents,
        cancelled=np.full(len(member), NEVER, np.int64),
    )


def pick_order_currencies(rng: np.random.Generator, n: int, n_currencies: int) -> Ints:
    """0 (program currency) mostly; the foreign ones share FOREIGN_ORDER_SHARE, the last
    (no rate) gets NO_RATE_ORDER_SHARE of it."""
    rated_share = (FOREIGN_ORDER_SHARE - NO_RATE_ORDER_SHARE) / (n_currencies - 2)
    weights = [1 - FOREIGN_ORDER_SHARE] + [rated_share] * (n_currencies - 2)
    weights.append(NO_RATE_ORDER_SHARE)
    return rng.choice(n_currencies, size=n, p=weights).astype(np.int64)


def generate_refunds_and_cancellations(
    rng: np.random.Generator, period: Period, ids: ProgramIds, orders: Orders
) -> Refunds:
    """Refunds in 1-3 parts for REFUNDED_ORDER_SHARE of the orders; sets `orders.cancelled`."""
    n = len(orders)
    refunded = np.flatnonzero((rng.random(n) < REFUNDED_ORDER_SHARE) & (orders.cents > 0))
    parts = 1 + (rng.random(len(refunded)) < 0.22) + (rng.random(len(refunded)) < 0.05)
    full = rng.random(len(refunded)) < 0.4
    share = np.where(full, 1.0, rng.uniform(0.1, 0.9, len(refunded)))
    target = np.floor(orders.cents[refunded] * share).astype(np.int64)

    order = np.repeat(refunded, parts)
    group = np.repeat(np.arange(len(refunded)), parts)
    weight = rng.uniform(0.2, 1.0, len(order))
    weight_sum = np.bincount(group, weight)[group]
    cents = np.floor(np.repeat(target, parts) * weight / weight_sum).astype(np.int64)
    is_last = np.r_[group[1:] != group[:-1], True] if len(group) else np.zeros(0, bool)
    shortfall = target - np.bincount(group, cents, minlength=len(refunded)).astype(np.int64)
    cents[is_last] += shortfall  # parts add up to the target exactly

    refunded_at = orders.ordered[order] + grouped_cumsum(refund_delays(rng, len(order)), group)
    last_refund = refunded_at[is_last]

    # Cancellations: some after a partial refund, the others of unrefunded orders.
    cancels = ~full & (rng.random(len(refunded)) < 0.12)
    after_refund_delay = rng.exponential(5 * DAY, len(refunded)).astype(np.int64) + HOUR
    cancel_after_refund = refunded[cancels]
    cancelled_after = (last_refund + after_refund_delay)[cancels]
    plain_share = CANCELLED_ORDER_SHARE - 0.12 * 0.6 * REFUNDED_ORDER_SHARE
    plain = np.flatnonzero(rng.random(n) < plain_share)
    plain = plain[~np.isin(plain, refunded)]
    plain_delay = rng.exponential(2 * DAY, len(plain)).astype(np.int64) + 10 * 60
    cancelled = orders.cancelled
    cancelled[cancel_after_refund] = cancelled_after
    cancelled[plain] = orders.ordered[plain] + plain_delay
    cancelled[cancelled >= period.end] = NEVER

    known = refunded_at < period.end
    order, refunded_at, cents = order[known], refunded_at[known], cents[known]
    by_time = np.argsort(refunded_at, kind="stable")
    return Refunds(
        ids=ids.fresh("refunds", len(order)),
        order=order[by_time],
        refunded=refunded_at[by_time],
        cents=cents[by_time],
    )


def refund_delays(rng: np.random.Generator, n: int) -> Ints:
    """Seconds from the order (or the previous part): mostly days, some weeks or months,
    ~5 % over a year (a return credited long after)."""
    pick = rng.random(n)
    days = np.where(
        pick < 0.78,
        rng.exponential(9, n),
        np.where(pick < 0.95, rng.uniform(21, 130, n), rng.uniform(370, 560, n)),
    )
    return (days * DAY).astype(np.int64) + HOUR


def generate_ledger(
    rng: np.random.Generator,
    program: ProgramSpec,
    period: Period,
    members: Members,
    orders: Orders,
    refunds: Refunds,
) -> Ledger:
    """All ledger entries of a chunk, sorted by time."""
    parts = [
        *purchase_entries(rng, program, period, members, orders, refunds),
        signup_entries(members),
        birthday_entries(rng, period, members),
        member_event_entries(rng, period, members, "referral", 0.06, 3, (250, 250)),
        member_event_entries(rng, period, members, "social", 0.2, 2, (20, 50)),
        member_event_entries(rng, period, members, "manual_adjustment", 0.02, 1, (-300, 500)),
        expiration_entries(rng, period, members, orders),
    ]
    ledger = Ledger(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in LEDGER_FIELDS})
    in_period = ledger.occurred < period.end
    by_time = np.argsort(np.where(in_period, ledger.occurred, NEVER), kind="stable")
    by_time = by_time[: int(in_period.sum())]
    return Ledger(**{f: getattr(ledger, f)[by_time] for f in LEDGER_FIELDS})


LEDGER_FIELDS = ("customer_ref", "occurred", "bare", "activity", "points", "order")


def ledger_part(
    customer_ref: Ints, occurred: Ints, activity: str, points: Ints, order: Ints | None = None
) -> Ledger:
    n = len(occurred)
    return Ledger(
        customer_ref=customer_ref.astype(np.int64),
        occurred=occurred.astype(np.int64),
        bare=np.zeros(n, bool),
        activity=np.full(n, ACTIVITY[activity], np.int64),
        points=points.astype(np.int64),
        order=np.full(n, -1, np.int64) if order is None else order.astype(np.int64),
    )


def with_bare_dates(rng: np.random.Generator, part: Ledger) -> Ledger:
    occurred, bare = truncate_some_to_midnight(rng, part.occurred)
    part.occurred, part.bare = occurred, bare
    return part


def member_ids_with_orders(members: Members, orders: Orders) -> pa.Array:
    """The string array a ledger `customer_ref` indexes."""
    return pa.concat_arrays([members.ids, orders.customer_ids])


def purchase_entries(
    rng: np.random.Generator,
    program: ProgramSpec,
    period: Period,
    members: Members,
    orders: Orders,
    refunds: Refunds,
) -> list[Ledger]:
    """Purchases of enrolled members (and a few orphan guest ones), their reversals, reviews,
    tier bonuses and redemptions."""
    member = orders.member
    safe = np.maximum(member, 0)
    while_enrolled = (
        (member >= 0)
        & (orders.ordered >= members.enrolled[safe])
        & (orders.ordered < members.unenrolled[safe])
    )
    orphan = (member < 0) & (rng.random(len(orders)) < 0.02)
    earns = np.flatnonzero(while_enrolled | orphan)
    points = orders.program_cents[earns] // 100
    customer_ref = np.where(member[earns] >= 0, member[earns], len(members) + earns)
    purchases = ledger_part(customer_ref, orders.ordered[earns], "purchase", points, earns)

    earned = np.zeros(len(orders), np.int64)
    earned[earns] = orders.program_cents[earns]
    ref_of_order = np.full(len(orders), -1, np.int64)
    ref_of_order[earns] = customer_ref
    parts = [purchases, *reversal_entries(orders, refunds, earned, ref_of_order)]

    reviewed = earns[(rng.random(len(earns)) < 0.12) & (member[earns] >= 0)]
    review_at = orders.ordered[reviewed] + rng.integers(3 * DAY, 40 * DAY, len(reviewed))
    still_member = review_at < members.unenrolled[member[reviewed]]
    parts.append(
        with_bare_dates(
            rng,
            ledger_part(
                member[reviewed][still_member],
                review_at[still_member],
                "review",
                np.full(int(still_member.sum()), 25),
                reviewed[still_member],
            ),
        )
    )
    parts.extend(
        bonus_and_redemption_entries(rng, program, members, orders, earns[member[earns] >= 0])
    )
    return parts


def reversal_entries(
    orders: Orders, refunds: Refunds, earned_cents: Ints, customer_ref: Ints
) -> list[Ledger]:
    """A `purchase_reversal` per refund of an order that earned points, and one for what a
    cancellation takes back."""
    with_points = earned_cents[refunds.order] > 0
    order = refunds.order[with_points]
    share = refunds.cents[with_points] / np.maximum(orders.cents[order], 1)
    reversed_points = np.floor(share * earned_cents[order] / 100).astype(np.int64)
    worth_points = reversed_points > 0
    refunds_part = ledger_part(
        customer_ref[order][worth_points],
        refunds.refunded[with_points][worth_points],
        "purchase_reversal",
        -reversed_points[worth_points],
        order[worth_points],
    )
    taken = np.bincount(order, reversed_points, minlength=len(orders)).astype(np.int64)
    cancelled = np.flatnonzero((orders.cancelled != NEVER) & (earned_cents > 0))
    left = earned_cents[cancelled] // 100 - taken[cancelled]
    cancelled, left = cancelled[left > 0], left[left > 0]
    cancel_part = ledger_part(
        customer_ref[cancelled], orders.cancelled[cancelled], "purchase_reversal", -left, cancelled
    )
    return [refunds_part, cancel_part]


def bonus_and_redemption_entries(
    rng: np.random.Generator,
    program: ProgramSpec,
    members: Members,
    orders: Orders,
    earns: Ints,
) -> list[Ledger]:
    """`tier_bonus` when lifetime purchase points first cross a tier threshold; redemptions
    spent from what was earned so far."""
    by_member = earns[np.lexsort((orders.ordered[earns], orders.member[earns]))]
    member = orders.member[by_member]
    points = orders.program_cents[by_member] // 100
    lifetime = grouped_cumsum(points, member)
    parts = []
    for threshold, bonus in zip(program.thresholds, program.entry_bonus_points, strict=True):
        if threshold <= 0 or bonus <= 0:
            continue
        crossed = (lifetime >= threshold) & (lifetime - points < threshold)
        parts.append(
            ledger_part(
                member[crossed],
                orders.ordered[by_member][crossed] + 60,
                "tier_bonus",
                np.full(int(crossed.sum()), bonus),
            )
        )
    redeems = (lifetime >= 500) & (rng.random(len(member)) < 0.1)
    amount = 100 * rng.integers(1, 6, len(member))
    amount = np.minimum(amount, (lifetime // 200) * 100)[redeems]
    redeemed_at = orders.ordered[by_member][redeems] + rng.integers(
        HOUR, 45 * DAY, int(redeems.sum())
    )
    still_member = redeemed_at < members.unenrolled[member[redeems]]
    parts.append(
        ledger_part(
            member[redeems][still_member],
            redeemed_at[still_member],
            "redemption",
            -amount[still_member],
        )
    )
    return parts


def signup_entries(members: Members) -> Ledger:
    enrolled = np.flatnonzero(members.is_enrolled)
    part = ledger_part(enrolled, members.enrolled[enrolled], "signup", np.full(len(enrolled), 100))
    part.bare = members.enrolled_bare[enrolled]
    return part


def birthday_entries(rng: np.random.Generator, period: Period, members: Members) -> Ledger:
    """One entry per birthday (29 Feb → 28 Feb) while enrolled, at a random hour."""
    known = np.flatnonzero(members.is_enrolled & (members.birthday != NEVER))
    born = members.birthday[known].astype("datetime64[D]")
    month_day = born - born.astype("datetime64[Y]").astype("datetime64[D]")
    first_year = 1970 + period.start // YEAR - 1
    last_year = int(str(np.datetime64(period.end // DAY, "D"))[:4])
    refs, times = [], []
    for year in range(first_year, last_year + 1):  # a handful of years, not rows
        year_start = np.datetime64(f"{year}-01-01", "D")
        day = year_start + month_day
        in_year = day.astype("datetime64[Y]") == year_start.astype("datetime64[Y]")
        day = np.where(in_year, day, day - 1).astype(np.int64)
        at = day * DAY + rng.integers(0, DAY, len(day))
        window = (at >= members.enrolled[known]) & (at < members.unenrolled[known])
        window &= (at >= period.start) & (at < period.end)
        refs.append(known[window])
        times.append(at[window])
    ref = np.concatenate(refs)
    return with_bare_dates(
        rng, ledger_part(ref, np.concatenate(times), "birthday", np.full(len(ref), 50))
    )


def member_event_entries(
    rng: np.random.Generator,
    period: Period,
    members: Members,
    activity: str,
    share: float,
    max_count: int,
    points_range: tuple[int, int],
) -> Ledger:
    """`share` of enrolled members get 1..max_count entries at random times while enrolled."""
    who = np.flatnonzero(members.is_enrolled & (rng.random(len(members)) < share))
    who = np.repeat(who, rng.integers(1, max_count + 1, len(who)))
    until = np.minimum(members.unenrolled[who], period.end)
    at = uniform_between(rng, members.enrolled[who], until)
    low, high = points_range
    points = rng.integers(low // 10, high // 10 + 1, len(who)) * 10
    points = np.where(points == 0, 10, points)
    return with_bare_dates(rng, ledger_part(who, at, activity, points))


def expiration_entries(
    rng: np.random.Generator, period: Period, members: Members, orders: Orders
) -> Ledger:
    """Members inactive for a year lose part of their points."""
    member = orders.member[orders.member >= 0]
    earned = np.bincount(member, orders.program_cents[orders.member >= 0] // 100, len(members))
    expires_at = members.activity_end + YEAR
    who = np.flatnonzero(
        members.is_enrolled
        & (expires_at < period.end)
        & (expires_at < members.unenrolled)
        & (earned > 100)
    )
    points = -np.floor(earned[who] * rng.uniform(0.2, 0.5, len(who))).astype(np.int64)
    return ledger_part(who, expires_at[who], "expiration", points)


# --- chunk tables -------------------------------------------------------------------------


def chunk_tables(
    rng: np.random.Generator, program: ProgramSpec, ids: ProgramIds, chunk: Chunk
) -> dict[str, pa.Table]:
    """The four member-driven tables of a chunk, every column as text."""
    return {
        "customers": customers_table(rng, program, chunk.members),
        "orders": orders_table(rng, program, chunk),
        "refunds": refunds_table(rng, program, chunk),
        "points_ledger": ledger_table(rng, program, ids, chunk),
    }


def customers_table(rng: np.random.Generator, program: ProgramSpec, members: Members) -> pa.Table:
    n = len(members)
    first = pa.array(FIRST_NAMES).take(pa.array(rng.integers(0, len(FIRST_NAMES), n)))
    last = pa.array(LAST_NAMES).take(pa.array(rng.integers(0, len(LAST_NAMES), n)))
    domain = pa.array(EMAIL_DOMAINS).take(pa.array(rng.integers(0, len(EMAIL_DOMAINS), n)))
    local_part = pc.binary_join_element_wise(
        pc.utf8_lower(first),
        pc.utf8_lower(last),
        pc.cast(pa.array(members.number), pa.string()),
        ".",
    )
    email = pc.binary_join_element_wise(local_part, domain, "@")
    email = pc.if_else(pa.array(rng.random(n) < 0.02), pa.scalar(None, pa.string()), email)
    return pa.table(
        {
            "program_id": constant(program.program_id, n),
            "customer_id": members.ids,
            "email": email,
            "first_name": first,
            "last_name": last,
            "birthday": format_dates(members.birthday, members.birthday != NEVER),
            "enrolled_at": format_instants(rng, members.enrolled, members.enrolled_bare),
            "unenrolled_at": format_instants(rng, members.unenrolled),
        }
    )


def orders_table(rng: np.random.Generator, program: ProgramSpec, chunk: Chunk) -> pa.Table:
    orders = chunk.orders
    n = len(orders)
    return pa.table(
        {
            "program_id": constant(program.program_id, n),
            "order_id": orders.ids,
            "customer_id": orders.customer_ids,
            "ordered_at": format_instants(rng, orders.ordered, orders.ordered_bare),
            "currency": pa.array(chunk.currencies).take(pa.array(orders.currency)),
            "total_amount": format_cents(orders.cents),
            "cancelled_at": format_instants(rng, orders.cancelled),
        }
    )


def refunds_table(rng: np.random.Generator, program: ProgramSpec, chunk: Chunk) -> pa.Table:
    refunds = chunk.refunds
    return pa.table(
        {
            "program_id": constant(program.program_id, len(refunds)),
            "refund_id": refunds.ids,
            "order_id": chunk.orders.ids.take(pa.array(refunds.order)),
            "refunded_at": format_instants(rng, refunds.refunded),
            "amount": format_cents(refunds.cents),
        }
    )


def ledger_table(
    rng: np.random.Generator, program: ProgramSpec, ids: ProgramIds, chunk: Chunk
) -> pa.Table:
    ledger = chunk.ledger
    n = len(ledger.occurred)
    has_order = ledger.order >= 0
    order_ids = chunk.orders.ids.take(pa.array(np.maximum(ledger.order, 0), mask=~has_order))
    return pa.table(
        {
            "program_id": constant(program.program_id, n),
            "entry_id": ids.fresh("points_ledger", n),
            "customer_id": member_ids_with_orders(chunk.members, chunk.orders).take(
                pa.array(ledger.customer_ref)
            ),
            "occurred_at": format_instants(rng, ledger.occurred, ledger.bare),
            "activity": pa.array(ACTIVITIES).take(pa.array(ledger.activity)),
            "points": pc.cast(pa.array(ledger.points), pa.string()),
            "order_id": order_ids,
        }
    )


# --- manual tier assignments --------------------------------------------------------------


@dataclass
class ManualCandidates:
    """Members of one chunk picked for a manual assignment, and when it may happen."""

    customer_ids: pa.Array
    earliest: Ints
    latest: Ints


def pick_manual_candidates(
    rng: np.random.Generator, program: ProgramSpec, period: Period, chunk: Chunk
) -> ManualCandidates:
    """MANUAL_MEMBER_SHARE of the members (pending ones too). Most assignments fall while
    the member is enrolled; some before enrolment or up to a month after unenrolment, when
    the member is not eligible; ~15 % on launch day (a VIP list carried over)."""
    members = chunk.members
    chosen = np.flatnonzero(rng.random(len(members)) < MANUAL_MEMBER_SHARE)
    early = rng.random(len(chosen)) < 0.1
    enrolled = members.enrolled[chosen]
    earliest = np.where(enrolled != NEVER, enrolled, members.first_seen[chosen])
    earliest = np.where(early, np.maximum(earliest - 30 * DAY, period.start), earliest)
    unenrolled = members.unenrolled[chosen]
    latest = np.where(unenrolled != NEVER, unenrolled + 30 * DAY, period.end)
    launch = epoch_seconds(program.launch_date)
    carried_over = (rng.random(len(chosen)) < 0.15) & (launch >= period.start)
    carried_over &= launch + 9 * HOUR < period.end
    earliest = np.where(carried_over, launch + HOUR, earliest)
    latest = np.where(carried_over, launch + 9 * HOUR, latest)
    return ManualCandidates(
        customer_ids=members.ids.take(pa.array(chosen)),
        earliest=earliest,
        latest=np.minimum(latest, period.end),
    )


def manual_assignments_table(
    rng: np.random.Generator,
    program: ProgramSpec,
    period: Period,
    ids: ProgramIds,
    picks: list[ManualCandidates],
) -> pa.Table:
    """One assignment per candidate; ~8 % get a second one the same day (a quarter of those
    at the very same instant); ~6 % name a tier code the program does not have."""
    customer_ids = pa.concat_arrays([p.customer_ids for p in picks]).cast(pa.string())
    earliest = np.concatenate([p.earliest for p in picks])
    latest = np.concatenate([p.latest for p in picks])
    at = uniform_between(rng, earliest, latest)
    twice = np.flatnonzero((rng.random(len(at)) < 0.08) & (at + 2 * HOUR < period.end))
    if len(twice) == 0 and len(at) > 0:
        twice = np.array([0])  # every program gets at least one same-day pair
    gap = np.where(rng.random(len(twice)) < 0.25, 0, rng.integers(60, 90 * 60, len(twice)))
    gap[:1] = 0  # ... and at least one pair at the very same instant
    # Keep the pair on one UTC day: move the first one back when the gap would cross midnight.
    first_at = np.minimum(at[twice], (at[twice] // DAY + 1) * DAY - 1 - gap)
    at[twice] = first_at
    customer_ref = np.r_[np.arange(len(at)), twice]
    at = np.r_[at, first_at + gap]
    at, bare = truncate_some_to_midnight(rng, at)
    by_time = np.lexsort((np.arange(len(at)), at))
    customer_ref, at, bare = customer_ref[by_time], at[by_time], bare[by_time]
    n = len(at)
    return pa.table(
        {
            "program_id": constant(program.program_id, n),
            "assignment_id": ids.fresh("manual_tier_assignments", n),
            "customer_id": customer_ids.take(pa.array(customer_ref)),
            "tier_code": manual_tier_codes(rng, program, n),
            "assigned_at": format_instants(rng, at, bare),
            "reason": pc.if_else(
                pa.array(rng.random(n) < 0.2),
                pa.scalar(None, pa.string()),
                pa.array(MANUAL_REASONS).take(pa.array(rng.integers(0, len(MANUAL_REASONS), n))),
            ),
            "assigned_by": pa.array(MANUAL_AUTHORS).take(
                pa.array(rng.integers(0, len(MANUAL_AUTHORS), n))
            ),
        }
    )


def manual_tier_codes(rng: np.random.Generator, program: ProgramSpec, n: int) -> pa.Array:
    codes = (*program.tier_codes, *UNKNOWN_TIER_CODES)
    tiers = len(program.tier_codes)
    weights = np.r_[0.14, np.full(tiers - 1, 0.8 / max(tiers - 1, 1)), np.full(3, 0.02)]
    if tiers == 1:
        weights[0] = 0.94
    return pa.array(codes).take(pa.array(rng.choice(len(codes), size=n, p=weights / weights.sum())))


# --- invalid rows -------------------------------------------------------------------------


@dataclass
class InvalidContext:
    """What the invalid-row builders of one batch may use: the batch's valid rows (text) and,
    for member chunks, the numbers behind them (row i of `valid` is element i)."""

    rng: np.random.Generator
    program: ProgramSpec | None
    period: Period
    ids: ProgramIds | None
    valid: pa.Table
    chunk: Chunk | None
    fresh_day_cursor: int = 0

    def sample(self, count: int, candidates: Ints | None = None) -> Ints:
        pool = np.arange(self.valid.num_rows) if candidates is None else candidates
        if len(pool) == 0 or count == 0:
            return np.zeros(0, np.int64)
        return np.sort(self.rng.choice(pool, size=count, replace=count > len(pool)))

    def fresh_days(self, count: int) -> Ints:
        """Weekend days: no valid fx rate is ever dated on one."""
        days = np.arange(self.period.start // DAY, self.period.end // DAY, dtype=np.int64)
        weekend = days[(days + 3) % 7 >= 5]
        picked = weekend[(self.fresh_day_cursor + np.arange(count)) % len(weekend)]
        self.fresh_day_cursor += count
        return picked


class InvalidInjector:
    """Decides how many invalid rows of which kind go into each batch and mixes them in.

    Kinds take turns across batches, so every kind appears as soon as a table has had as
    many invalid rows as it has kinds; the final batch adds any kind still missing when the
    table has at least MIN_ROWS_FOR_EVERY_KIND valid rows.
    """

    def __init__(self, share: float, file_types: dict[str, FileType]) -> None:
        self.share = share
        self.file_types = file_types
        self.valid_rows = dict.fromkeys(TABLES, 0)
        self.turn = dict.fromkeys(TABLES, 0)
        self.produced: dict[str, dict[str, int]] = {table: {} for table in TABLES}

    def kinds(self, table: str) -> tuple[str, ...]:
        kinds = INVALID_KINDS[table]
        if self.file_types[table] == "parquet":  # typed numbers cannot be unparseable
            kinds = tuple(kind for kind in kinds if kind != "unparseable_amount")
        return kinds

    def invalid_total(self, table: str) -> int:
        return sum(self.produced[table].values())

    def mix(self, table: str, context: InvalidContext, is_final: bool) -> pa.Table:
        valid = context.valid
        self.valid_rows[table] += valid.num_rows
        if self.share == 0:
            return valid
        counts = self.allocate(table, round(self.share * valid.num_rows))
        if is_final and self.valid_rows[table] >= MIN_ROWS_FOR_EVERY_KIND:
            for kind in self.kinds(table):
                if not self.produced[table].get(kind) and not counts.get(kind):
                    counts[kind] = 1
        pieces = []
        for kind, count in counts.items():
            rows = build_invalid_rows(table, kind, count, context)
            if rows.num_rows:
                pieces.append(rows)
                self.produced[table][kind] = self.produced[table].get(kind, 0) + rows.num_rows
        return interleave(context.rng, valid, pieces)

    def allocate(self, table: str, count: int) -> dict[str, int]:
        kinds = self.kinds(table)
        turns = (self.turn[table] + np.arange(count)) % len(kinds)
        self.turn[table] += count
        return {kind: int((turns == k).sum()) for k, kind in enumerate(kinds) if (turns == k).any()}


def interleave(rng: np.random.Generator, valid: pa.Table, pieces: list[pa.Table]) -> pa.Table:
    """The valid rows in their order with the invalid rows, shuffled, in up to
    INVALID_CLUSTERS runs at random places (slices, so no row is copied)."""
    if not pieces:
        return valid
    invalid = pa.concat_tables([piece.cast(valid.schema) for piece in pieces])
    invalid = invalid.take(pa.array(rng.permutation(invalid.num_rows)))
    clusters = min(invalid.num_rows, INVALID_CLUSTERS)
    positions = np.sort(rng.integers(0, valid.num_rows + 1, clusters))
    bounds = np.linspace(0, invalid.num_rows, clusters + 1).astype(np.int64)
    parts, previous = [], 0
    for cluster, position in enumerate(positions):
        parts.append(valid.slice(previous, position - previous))
        parts.append(invalid.slice(bounds[cluster], bounds[cluster + 1] - bounds[cluster]))
        previous = position
    parts.append(valid.slice(previous))
    return pa.concat_tables(parts)


def build_invalid_rows(table: str, kind: str, count: int, context: InvalidContext) -> pa.Table:
    builder = SPECIFIC_BUILDERS.get((table, kind)) or GENERIC_BUILDERS[kind]
    return builder(table, count, context)


def replace(rows: pa.Table, column: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    return rows.set_column(rows.schema.get_field_index(column), column, values)


def cycled(values: Sequence[str], n: int) -> pa.Array:
    return pa.array([values[i % len(values)] for i in range(n)], pa.string())


def with_fresh_keys(table: str, rows: pa.Table, context: InvalidContext) -> pa.Table:
    """The rows under keys no other row has."""
    if table == "fx_rates":
        return replace(rows, "rate_date", format_dates(context.fresh_days(rows.num_rows)))
    assert context.ids is not None
    return replace(rows, KEY_COLUMN[table], context.ids.fresh(table, rows.num_rows))


def exact_duplicates(table: str, count: int, context: InvalidContext) -> pa.Table:
    return context.valid.take(pa.array(context.sample(count)))


def duplicate_key_conflicts(table: str, count: int, context: InvalidContext) -> pa.Table:
    first = with_fresh_keys(table, context.valid.take(pa.array(context.sample(count))), context)
    return pa.concat_tables([first, conflicting_copy(table, first)])


def conflicting_copy(table: str, rows: pa.Table) -> pa.Table:
    """The rows with one non-key value changed (to another plausible value)."""
    if table == "customers":
        return replace(
            rows, "last_name", pc.binary_join_element_wise(rows["last_name"], "Jones", "-")
        )
    if table == "manual_tier_assignments":
        return replace(rows, "reason", constant("Re-sent by CRM sync", rows.num_rows))
    if table == "points_ledger":
        points = pc.cast(rows["points"], pa.int64()).to_numpy(zero_copy_only=False)
        doubled = np.where(points == 0, 10, points * 2)  # keeps the sign of the activity
        return replace(rows, "points", pc.cast(pa.array(doubled), pa.string()))
    if table == "fx_rates":
        rate = pc.cast(rows["rate"], pa.float64()).to_numpy(zero_copy_only=False)
        return replace(rows, "rate", format_fixed(np.round(rate * 1.01e6).astype(np.int64), 6))
    column = NUMBER_COLUMN[table]
    cents = parse_cents(rows[column])
    return replace(rows, column, format_cents(np.where(cents >= 2, cents // 2, cents + 1)))


def missing_required(table: str, count: int, context: InvalidContext) -> pa.Table:
    rows = with_fresh_keys(table, context.valid.take(pa.array(context.sample(count))), context)
    required = REQUIRED[table]
    which = np.arange(rows.num_rows) % len(required)
    for position, column in enumerate(required):
        blank = pa.array(which == position)
        rows = replace(rows, column, pc.if_else(blank, pa.scalar(None, pa.string()), rows[column]))
    return rows


def unparseable_timestamps(table: str, count: int, context: InvalidContext) -> pa.Table:
    rows = with_fresh_keys(table, context.valid.take(pa.array(context.sample(count))), context)
    bad = BAD_DATES if table == "fx_rates" else BAD_TIMESTAMPS
    return replace(rows, TIME_COLUMN[table], cycled(bad, rows.num_rows))


def unparseable_dates(table: str, count: int, context: InvalidContext) -> pa.Table:
    rows = with_fresh_keys(table, context.valid.take(pa.array(context.sample(count))), context)
    return replace(rows, "birthday", cycled(BAD_DATES, rows.num_rows))


def unparseable_amounts(table: str, count: int, context: InvalidContext) -> pa.Table:
    rows = with_fresh_keys(table, context.valid.take(pa.array(context.sample(count))), context)
    return replace(rows, NUMBER_COLUMN[table], cycled(BAD_NUMBERS, rows.num_rows))


def unknown_activities(table: str, count: int, context: InvalidContext) -> pa.Table:
    rows = with_fresh_keys(table, context.valid.take(pa.array(context.sample(count))), context)
    return replace(rows, "activity", cycled(UNKNOWN_ACTIVITIES, rows.num_rows))


def non_positive_rates(table: str, count: int, context: InvalidContext) -> pa.Table:
    rows = with_fresh_keys(table, context.valid.take(pa.array(context.sample(count))), context)
    negative = pc.binary_join_element_wise(pa.scalar("-"), rows["rate"], "")
    zero = pa.array(np.arange(rows.num_rows) % 2 == 0)
    return replace(rows, "rate", pc.if_else(zero, pa.scalar("0.000000"), negative))


def negative_amounts(table: str, count: int, context: InvalidContext) -> pa.Table:
    column = NUMBER_COLUMN[table]
    positive = np.flatnonzero(parse_cents(context.valid[column]) > 0)
    rows = context.valid.take(pa.array(context.sample(count, positive)))
    rows = with_fresh_keys(table, rows, context)
    return replace(rows, column, pc.binary_join_element_wise(pa.scalar("-"), rows[column], ""))


def orders_cancelled_before_ordered(table: str, count: int, context: InvalidContext) -> pa.Table:
    assert context.chunk is not None
    ordered = context.chunk.orders.ordered
    picked = context.sample(count, np.flatnonzero(ordered - 3 * DAY > context.period.start))
    rows = with_fresh_keys(table, context.valid.take(pa.array(picked)), context)
    before = ordered[picked] - context.rng.integers(HOUR, 3 * DAY, len(picked))
    return replace(rows, "cancelled_at", format_instants(context.rng, before))


def new_refunds(context: InvalidContext, order: Ints, at: Ints, cents: Ints) -> pa.Table:
    """Refund rows (fresh ids) for order positions of the context's chunk."""
    assert context.chunk is not None and context.ids is not None and context.program
    n = len(order)
    return pa.table(
        {
            "program_id": constant(context.program.program_id, n),
            "refund_id": context.ids.fresh("refunds", n),
            "order_id": context.chunk.orders.ids.take(pa.array(order)),
            "refunded_at": format_instants(context.rng, at),
            "amount": format_cents(cents),
        }
    )


def refunded_so_far(chunk: Chunk) -> tuple[Ints, Ints]:
    """Per order: cents refunded by valid refunds, and the time of its last refund (or order)."""
    orders, refunds = chunk.orders, chunk.refunds
    cents = np.bincount(refunds.order, refunds.cents, len(orders)).astype(np.int64)
    last = orders.ordered.copy()
    np.maximum.at(last, refunds.order, refunds.refunded)
    return cents, last


def refunds_exceeding_remaining(table: str, count: int, context: InvalidContext) -> pa.Table:
    """Dated after the order's valid refunds, for more than they left (never cancelled)."""
    assert context.chunk is not None
    orders = context.chunk.orders
    refunded, last = refunded_so_far(context.chunk)
    fits = (orders.cents > 0) & (orders.cancelled == NEVER) & (last + 31 * DAY < context.period.end)
    order = context.sample(count, np.flatnonzero(fits))
    left = orders.cents[order] - refunded[order]
    extra = context.rng.integers(1, np.maximum(orders.cents[order] // 2, 2))
    at = last[order] + context.rng.integers(HOUR, 30 * DAY, len(order))
    return new_refunds(context, order, at, left + extra)


def refunds_before_order(table: str, count: int, context: InvalidContext) -> pa.Table:
    assert context.chunk is not None
    orders = context.chunk.orders
    fits = (orders.cents > 0) & (orders.ordered - 10 * DAY > context.period.start)
    order = context.sample(count, np.flatnonzero(fits))
    at = orders.ordered[order] - context.rng.integers(60, 10 * DAY, len(order))
    return new_refunds(context, order, at, np.maximum(orders.cents[order] // 4, 1))


def refunds_after_cancellation(table: str, count: int, context: InvalidContext) -> pa.Table:
    """At the very instant of the cancellation (even rows) or later."""
    assert context.chunk is not None
    orders = context.chunk.orders
    order = context.sample(count, np.flatnonzero(orders.cancelled != NEVER))
    cancelled = orders.cancelled[order]
    later = cancelled + context.rng.integers(HOUR, 20 * DAY, len(order))
    at = np.where((np.arange(len(order)) % 2 == 1) & (later < context.period.end), later, cancelled)
    return new_refunds(context, order, at, orders.cents[order] // 5)


def refunds_of_unknown_orders(table: str, count: int, context: InvalidContext) -> pa.Table:
    assert context.ids is not None
    rows = with_fresh_keys(table, context.valid.take(pa.array(context.sample(count))), context)
    return replace(rows, "order_id", context.ids.fresh("unknown_orders", rows.num_rows))


Builder = Callable[[str, int, InvalidContext], pa.Table]
GENERIC_BUILDERS: dict[str, Builder] = {
    "duplicate_key_conflict": duplicate_key_conflicts,
    "exact_duplicate": exact_duplicates,
    "missing_required": missing_required,
    "unparseable_timestamp": unparseable_timestamps,
    "unparseable_date": unparseable_dates,
    "unparseable_amount": unparseable_amounts,
    "negative_amount": negative_amounts,
    "unknown_activity": unknown_activities,
    "non_positive_rate": non_positive_rates,
}
SPECIFIC_BUILDERS: dict[tuple[str, str], Builder] = {
    ("orders", "cancelled_before_ordered"): orders_cancelled_before_ordered,
    ("refunds", "refund_exceeds_remaining"): refunds_exceeding_remaining,
    ("refunds", "refund_before_order"): refunds_before_order,
    ("refunds", "refund_after_cancellation"): refunds_after_cancellation,
    ("refunds", "unknown_order"): refunds_of_unknown_orders,
}


# --- files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableLayout:
    file_type: FileType
    as_folder: bool


MIXED_LAYOUT: dict[str, TableLayout] = {
    "customers": TableLayout("csv", as_folder=False),
    "orders": TableLayout("parquet", as_folder=True),
    "refunds": TableLayout("parquet", as_folder=False),
    "points_ledger": TableLayout("csv", as_folder=True),
    "manual_tier_assignments": TableLayout("csv", as_folder=False),
    "fx_rates": TableLayout("parquet", as_folder=False),
}


def table_layouts(file_format: FileFormat) -> dict[str, TableLayout]:
    if file_format == "mixed":
        return dict(MIXED_LAYOUT)
    return {
        table: TableLayout(file_format, layout.as_folder) for table, layout in MIXED_LAYOUT.items()
    }


def file_schema(table: str, file_type: FileType) -> pa.Schema:
    def column_type(name: str) -> pa.DataType:
        return PARQUET_TYPES.get(name, pa.string()) if file_type == "parquet" else pa.string()

    return pa.schema([(name, column_type(name)) for name in COLUMNS[table]])


class TableSink:
    """Where one table's batches go: a single file grown batch by batch, or a folder with
    one part per batch."""

    def __init__(self, out_dir: Path, table: str, layout: TableLayout) -> None:
        self.table = table
        self.layout = layout
        self.schema = file_schema(table, layout.file_type)
        self.rows = 0
        self.parts = 0
        self.folder = out_dir / table
        self.file = out_dir / f"{table}.{layout.file_type}"
        self._writer: pa_csv.CSVWriter | pq.ParquetWriter | None = None

    def write(self, text: pa.Table, part: str) -> None:
        data = text.cast(self.schema)
        self.rows += data.num_rows
        if not self.layout.as_folder:
            self._single_writer().write_table(data)
        elif data.num_rows:
            self.folder.mkdir(exist_ok=True)
            self._write_file(data, self.folder / f"{part}.{self.layout.file_type}")
            self.parts += 1

    def close(self) -> None:
        if self.layout.as_folder and self.parts == 0:
            self.folder.mkdir(exist_ok=True)
            self._write_file(
                self.schema.empty_table(), self.folder / f"empty.{self.layout.file_type}"
            )
        if not self.layout.as_folder:
            self._single_writer().close()

    def _single_writer(self) -> pa_csv.CSVWriter | pq.ParquetWriter:
        if self._writer is None:
            if self.layout.file_type == "csv":
                self._writer = pa_csv.CSVWriter(self.file, self.schema, write_options=CSV_OPTIONS)
            else:
                self._writer = pq.ParquetWriter(self.file, self.schema, **PARQUET_OPTIONS)
        return self._writer

    def _write_file(self, data: pa.Table, path: Path) -> None:
        if self.layout.file_type == "csv":
            pa_csv.write_csv(data, path, write_options=CSV_OPTIONS)
        else:
            pq.write_table(data, path, **PARQUET_OPTIONS)


class BackgroundWriter:
    """Writes one batch of tables in a thread while the caller builds the next (pyarrow
    releases the GIL). One batch in flight bounds the memory; each sink gets its batches in
    submission order, so the files are the same as when written inline."""

    def __init__(self, sinks: dict[str, TableSink]) -> None:
        self.sinks = sinks
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vip-generate")
        self._pending: list[Future[None]] = []

    def submit(self, writes: list[tuple[str, pa.Table, str]]) -> None:
        self.wait()
        self._pending = [
            self._pool.submit(self.sinks[table].write, data, part) for table, data, part in writes
        ]

    def wait(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self.wait()
                for sink in self.sinks.values():
                    sink.close()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


CSV_OPTIONS = pa_csv.WriteOptions(quoting_style="none")
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["program_id", "currency", "quote_currency", "activity", "tier_code"],
}


# --- command line -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate a synthetic vip-tiers raw directory.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--programs-dir", type=Path, default=Path(__file__).parent / "samples")
    parser.add_argument("--members", type=int, default=2000, help="members per program")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2022, 7, 1))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--format", choices=("mixed", "csv", "parquet"), default="mixed")
    parser.add_argument("--invalid-share", type=float, default=0.005)
    parser.add_argument("--activity", type=float, default=1.0, help="order rate multiplier")
    args = parser.parse_args(argv)
    summary = generate_raw_dir(
        args.out_dir,
        args.programs_dir,
        members_per_program=args.members,
        seed=args.seed,
        start=args.start,
        end=args.end,
        file_format=args.format,
        invalid_share=args.invalid_share,
        activity=args.activity,
    )
    print(summary.as_text())


if __name__ == "__main__":
    main()
