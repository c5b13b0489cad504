"""`vip-tiers benchmark`: how long the pipeline takes at a given number of members.

One call of `run_benchmark` does, on data from the project's own generator
(`orchestration/generate.py`, the three bundled sample programs):

1. **data**: `members // 3` members per program over 3 years ending on `as_of` (yesterday,
   UTC, unless given), plus one extra day for the daily run (see "The extra day" below);
   the row count of every raw table is reported;
2. **full build**: `vip-tiers run` as a subprocess on a fresh warehouse (every program,
   `live`, the four `mode_*` scenarios and the custom ones): wall time, CPU time and the
   peak RSS of the whole process tree (sampled every 0.2 s, summed over all processes);
3. **daily run**: `vip-tiers run` again on the same warehouse, `--as-of` one day later,
   with that day's rows added; then the same on a data set whose history is twice as long
   (6 years ending on the same day, same members) for `daily_ratio_history_doubled`;
4. **floor**: one DuckDB pass over the same raw files in this process (parse every table
   once, total spend and points per member), the least work any correct answer needs;
5. **pandas loop**: the plain day-by-day reference of the rules (`tests/reference`) fed
   from pandas frames of the validated rows of the built warehouse, member by member, on a
   random subset, extrapolated linearly to every member;
6. a printed table, a JSON file and a row of the results table in `docs/benchmarks.md`.

The extra day. The generator spreads members and their activity over its whole period,
so generating with `end` one day later re-draws every timestamp (same ids and amounts,
stretched by 1/1096): that is not "the same history plus a day". So the data is generated
once up to `as_of + 1` and the full build reads a copy cut at midnight UTC after `as_of`
(rows dated on the extra day left out; a cancellation or unenrolment dated then blanked).
The daily run reads the same files, with the same rows in the same places (those
cancellations and unenrolments filled in), plus one new part per file holding the extra
day's rows: a landing zone that received the next day's export.

The daily run is incremental (docs/operations.md "Incremental runs"): it recomputes only
the members whose inputs changed or whose calendar event is due; `daily_recomputes` gives
how many, by reason (read from `intermediate.int_rebuild_scope` after the run).
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.metadata
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb

from orchestration.generate import GenerationSummary, generate_raw_dir, load_program_specs
from orchestration.loader import find_source
from orchestration.raw_tables import RAW_TABLES, RawTable
from orchestration.settings import REPO_ROOT, SAMPLE_PROGRAMS_DIR

DOCS_PATH = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS_START = "<!-- benchmark-results:start -->"
RESULTS_END = "<!-- benchmark-results:end -->"
SAMPLE_EVERY_S = 0.2
SLOWEST_NODES = 12
DEFAULT_ACTIVITY = 4.0
YEARS = 3
PANDAS_SUBSET = 2_000
GB = 1024**3

# The targets (1M members, ~20M orders, ~2M refunds, ~30M ledger rows, 3 years,
# 2 cores / 24 GB): (key, comparison, limit).
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("full_build_s", "<=", 300.0),
    ("ratio_to_floor", "<=", 15.0),
    ("peak_rss_gb", "<=", 10.0),
    ("pandas_speedup", ">=", 100.0),
    ("daily_ratio_to_full_build", "<=", 0.10),
    ("daily_ratio_history_doubled", "<=", 1.3),
)


def recomputed_members(warehouse: Path) -> dict[str, int]:
    """Members the last build of `warehouse` recomputed, by reason, and the member total."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        counts = {
            str(reason): int(count)
            for reason, count in con.execute(
                "select reason, count(*) from intermediate.int_rebuild_scope group by 1"
            ).fetchall()
        }
        (members,) = con.execute("select count(*) from intermediate.int_build_state").fetchone()
    return {**counts, "members": int(members)}


def restaged_keys(warehouse: Path) -> dict[str, int]:
    """Keys per raw table the last build of `warehouse` restaged (stg_raw__changed_keys)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select source_table, count(*) from staging.stg_raw__changed_keys "
            "where source_table not in ('_incremental', '_invocation') group by 1 order by 1"
        ).fetchall()
    return {str(table): int(count) for table, count in rows}


def describe_recomputed(counts: dict[str, int]) -> str:
    recomputed = sum(count for reason, count in counts.items() if reason != "members")
    reasons = ", ".join(
        f"{reason} {count:,}" for reason, count in sorted(counts.items()) if reason != "members"
    )
    return f"{recomputed:,} of {counts.get('members', 0):,} members ({reasons or 'none'})"


# Per raw table: time columns whose rows are dropped when dated after the cut, and time
# columns blanked (an update that happens on the extra day).
CUT_RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customers": (("enrolled_at",), ("unenrolled_at",)),
    "orders": (("ordered_at",), ("cancelled_at",)),
    "refunds": (("refunded_at",), ()),
    "points_ledger": (("occurred_at",), ()),
    "manual_tier_assignments": (("assigned_at",), ()),
    "fx_rates": (("rate_date",), ()),
}
RAW_BY_NAME: dict[str, RawTable] = {table.name: table for table in RAW_TABLES}


class BenchmarkError(RuntimeError):
    """The benchmark could not run (a build failed, a missing tool); the message says why."""


# --- measuring a subprocess ---------------------------------------------------------------


@dataclass
class RunMeasure:
    """One `vip-tiers run` subprocess."""

    label: str
    as_of: str
    wall_s: float
    cpu_s: float
    peak_rss_gb: float
    exit_code: int
    load_before: float
    load_after: float
    log: str
    # From the build's dbt run_results.json: dbt's own elapsed time, the summed thread time
    # per kind of node (model, test, unit_test), and the slowest nodes (where time goes).
    dbt_elapsed_s: float | None = None
    dbt_node_s: dict[str, float] = field(default_factory=dict)
    slowest_nodes: list[dict[str, Any]] = field(default_factory=list)


def _psutil() -> ModuleType:
    try:
        return importlib.import_module("psutil")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BenchmarkError(
            "The benchmark samples memory with psutil: .venv/bin/pip install psutil"
        ) from exc


def _tree_rss(process: Any, psutil: ModuleType) -> int:
    """RSS of a process and all its descendants, in bytes (0 once it is gone)."""
    try:
        processes = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for each in processes:
        try:
            total += each.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_process(command: list[str], log_path: Path, label: str, as_of: str) -> RunMeasure:
    """Run `command`, sampling the RSS of its process tree every SAMPLE_EVERY_S seconds.

    CPU time comes from RUSAGE_CHILDREN (every descendant that was waited for, dbt
    included), so it is what the run cost whatever else the machine was doing.
    """
    psutil = _psutil()
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu_s()
    peak = 0
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        process = psutil.Process(child.pid)
        while child.poll() is None:
            peak = max(peak, _tree_rss(process, psutil))
            try:
                child.wait(timeout=SAMPLE_EVERY_S)
            except subprocess.TimeoutExpired:
                continue
        wall = time.perf_counter() - started
    return RunMeasure(
        label=label,
        as_of=as_of,
        wall_s=wall,
        cpu_s=_children_cpu_s() - cpu_before,
        peak_rss_gb=peak / GB,
        exit_code=child.returncode,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        log=str(log_path),
    )


def add_dbt_timings(measure: RunMeasure, warehouse: Path, slowest: int = SLOWEST_NODES) -> None:
    """Where the build's dbt time went, from the run_results.json of its dbt target folder."""
    from orchestration.assets.dbt import dbt_target_path

    path = dbt_target_path(warehouse) / "run_results.json"
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    nodes = results.get("results", [])
    measure.dbt_elapsed_s = results.get("elapsed_time")
    for node in nodes:
        kind = node["unique_id"].split(".", 1)[0]
        measure.dbt_node_s[kind] = measure.dbt_node_s.get(kind, 0.0) + node["execution_time"]
    measure.slowest_nodes = [
        {"node": node["unique_id"].split(".", 2)[-1], "s": round(node["execution_time"], 2)}
        for node in sorted(nodes, key=lambda n: -n["execution_time"])[:slowest]
    ]


def vip_tiers_command() -> list[str]:
    """The `vip-tiers` beside this interpreter, else `python -m orchestration.cli`."""
    script = Path(sys.executable).parent / "vip-tiers"
    return [str(script)] if script.exists() else [sys.executable, "-m", "orchestration.cli"]


def pipeline_run(
    raw_dir: Path, warehouse: Path, as_of: dt.date, log_path: Path, label: str
) -> RunMeasure:
    """`vip-tiers run` on explicit inputs; a failed run stops the benchmark."""
    command = [
        *vip_tiers_command(),
        "run",
        "--raw-dir",
        str(raw_dir),
        "--programs-dir",
        str(SAMPLE_PROGRAMS_DIR),
        "--warehouse",
        str(warehouse),
        "--as-of",
        as_of.isoformat(),
    ]
    measure = measure_process(command, log_path, label, as_of.isoformat())
    add_dbt_timings(measure, warehouse)
    if measure.exit_code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise BenchmarkError(
            f"`vip-tiers run` ({label}) exited with {measure.exit_code}; its output is in "
            f"{log_path} (the working directory is kept), ending with:\n{tail}"
        )
    return measure


# --- data ---------------------------------------------------------------------------------


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day `years` earlier (29 Feb becomes 28 Feb)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass
class DataSet:
    """A generated raw directory up to `as_of + 1`, split after `as_of` (cut_raw_dir)."""

    start: dt.date
    as_of: dt.date
    raw_next: Path
    raw_base: Path
    generated: GenerationSummary
    rows: dict[str, int]  # rows of the cut copy (what the full build reads), invalid included
    rows_added: dict[str, int]  # rows dated on the extra day
    values_blanked: dict[str, int]  # cancellations / unenrolments dated on the extra day
    history_identical: bool  # rows of the cut copy + rows of the extra day = generated rows
    generate_s: float
    cut_s: float


def _sql_str(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _reader(path: Path) -> str:
    """DuckDB reader of one raw file; CSV as text, like the loader reads it."""
    if path.name.lower().endswith(".parquet"):
        return f"read_parquet({_sql_str(path)})"
    return f"read_csv({_sql_str(path)}, header = true, all_varchar = true)"


def _parsed(table: str, column: str) -> str:
    """The loader's parse of a time column (NULL when missing or unparseable)."""
    spec = next(c for c in RAW_BY_NAME[table].columns if c.name == column)
    return spec.parse_sql(f"nullif(trim(cast({column} as varchar)), '')")


def _part_path(table: str, path: Path, source: Path) -> Path:
    """Where a source file goes in both copies: inside the table's folder of parts (a
    single `TABLE.csv` becomes `TABLE/TABLE.csv`), so the daily copy can add a part."""
    relative = path.relative_to(source)
    return relative if len(relative.parts) > 1 else Path(table) / relative.name


def cut_raw_dir(source: Path, base: Path, daily: Path, cut: dt.datetime) -> tuple[dict, dict, dict]:
    """Split `source` at `cut` (naive UTC) into what the full build and the daily run read.

    `base` holds every row whose main time column parses before `cut`, with the blanked
    columns (cancellation, unenrolment) empty when dated at or after it. `daily` holds the
    same rows in the same files and places, those columns as generated, plus one new part
    per file (`<name>-next`) with the rows dated at or after `cut`: a landing zone that
    received the next day's export. Unparseable values stay: the loader rejects them in
    both. Files keep their formats and row order; tables become folders of parts.
    Returns (rows in `base`, rows in the new parts, values blanked) per table.
    """
    kept: dict[str, int] = {}
    added: dict[str, int] = {}
    blanked: dict[str, int] = {}
    cut_sql = f"timestamp '{cut.isoformat(sep=' ')}'"
    for target in (base, daily):
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute("set timezone = 'UTC'")  # an instant without offset is UTC (the loader's rule)
        for table, (drop_columns, blank_columns) in CUT_RULES.items():
            files = find_source(source, RAW_BY_NAME[table]).files
            kept[table] = added[table] = blanked[table] = 0
            for path in files:
                part = _part_path(table, path, source)
                for target in (base, daily):
                    (target / part).parent.mkdir(parents=True, exist_ok=True)
                late = " or ".join(
                    f"coalesce({_parsed(table, c)} >= {cut_sql}, false)" for c in drop_columns
                )
                blank = {
                    c: f"coalesce({_parsed(table, c)} >= {cut_sql}, false)" for c in blank_columns
                }
                counts = con.execute(
                    f"select count(*) filter (where not ({late})), count(*) filter (where {late})"
                    + "".join(
                        f", count(*) filter (where not ({late}) and {test})"
                        for test in blank.values()
                    )
                    + f" from {_reader(path)}"
                ).fetchone()
                assert counts is not None
                kept[table] += counts[0]
                added[table] += counts[1]
                blanked[table] += sum(counts[2:])
                replace = ", ".join(
                    f"case when {test} then null else {column} end as {column}"
                    for column, test in blank.items()
                )
                select = f"* replace ({replace})" if replace else "*"
                parquet = path.name.lower().endswith(".parquet")
                options = "format parquet" if parquet else "format csv, header"
                reader = _reader(path)
                copies = [(f"select {select} from {reader} where not ({late})", base / part)]
                if sum(counts[2:]):
                    copies.append((f"select * from {reader} where not ({late})", daily / part))
                if counts[1]:
                    suffix = ".parquet" if parquet else ".csv"
                    name = (
                        path.name[: -len(suffix)]
                        if path.name.lower().endswith(suffix)
                        else path.stem
                    )
                    next_part = (daily / part).with_name(f"{name}-next{suffix}")
                    copies.append((f"select * from {reader} where {late}", next_part))
                for query, out in copies:
                    con.execute(f"copy ({query}) to {_sql_str(out)} ({options})")
                if not sum(counts[2:]):  # nothing blanked: the very same file
                    shutil.copyfile(base / part, daily / part)
    return kept, added, blanked


def make_data_set(
    directory: Path,
    members_per_program: int,
    seed: int,
    start: dt.date,
    as_of: dt.date,
    activity: float = 1.0,
) -> DataSet:
    """Generate up to `as_of + 1`, then split it at midnight after `as_of` into `raw_base`
    (the full build's) and `raw_next` (the same files plus the next day's parts)."""
    raw_next, raw_base = directory / "raw_next", directory / "raw_base"
    generated_dir = directory / "generated"
    started = time.perf_counter()
    generated = generate_raw_dir(
        generated_dir,
        SAMPLE_PROGRAMS_DIR,
        members_per_program=members_per_program,
        seed=seed,
        start=start,
        end=as_of + dt.timedelta(days=1),
        activity=activity,
    )
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    cut = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    rows, added, blanked = cut_raw_dir(generated_dir, raw_base, raw_next, cut)
    shutil.rmtree(generated_dir)
    return DataSet(
        start=start,
        as_of=as_of,
        raw_next=raw_next,
        raw_base=raw_base,
        generated=generated,
        rows=rows,
        rows_added=added,
        values_blanked=blanked,
        history_identical=all(
            rows[table] + added[table] == generated.rows[table] for table in CUT_RULES
        ),
        generate_s=generate_s,
        cut_s=time.perf_counter() - started,
    )


# --- the floor ----------------------------------------------------------------------------


def _table_reader(raw_dir: Path, table: str) -> str:
    files = find_source(raw_dir, RAW_BY_NAME[table]).files
    if not files:
        raise BenchmarkError(f"table {table} is missing from {raw_dir}")
    paths = "[" + ", ".join(_sql_str(p) for p in files) + "]"
    if files[0].name.lower().endswith(".parquet"):
        return f"read_parquet({paths}, union_by_name = true)"
    return f"read_csv({paths}, header = true, all_varchar = true, union_by_name = true)"


def floor_sql(raw_dir: Path, as_of: dt.date) -> str:
    """One pass over every raw table: parse what a correct answer must parse (times,
    amounts, points), total spend (orders less refunds) and points per member."""
    r = {table: _table_reader(raw_dir, table) for table in CUT_RULES}
    currencies = ", ".join(
        f"({_sql_str(p.program_id)}, {_sql_str(p.currency)})"
        for p in load_program_specs(SAMPLE_PROGRAMS_DIR)
    )
    cut = f"timestamp '{as_of + dt.timedelta(days=1)} 00:00:00'"

    def ts(column: str) -> str:
        return f"try_cast({column} as timestamptz) < {cut}"

    return f"""
    create or replace table floor_totals as
    with customers as (
        select program_id, customer_id, min(try_cast(enrolled_at as timestamptz)) as enrolled_at
        from {r["customers"]} where customer_id is not null group by all
    ),
    orders as (
        select program_id, order_id, customer_id, currency,
            try_cast(total_amount as decimal(18, 2)) as amount
        from {r["orders"]} where {ts("ordered_at")}
    ),
    refunds as (
        select program_id, order_id, sum(try_cast(amount as decimal(18, 2))) as refunded
        from {r["refunds"]} where {ts("refunded_at")} group by all
    ),
    program_currencies (program_id, quote_currency) as (values {currencies}),
    fx as (
        select currency, quote_currency,
            arg_max(try_cast(rate as decimal(18, 8)), try_cast(rate_date as date)) as rate
        from {r["fx_rates"]} where try_cast(rate_date as date) <= date '{as_of}' group by all
    ),
    spend as (
        select o.program_id, o.customer_id,
            sum((o.amount - coalesce(f.refunded, 0)) * coalesce(x.rate, 1)) as spend
        from orders o
        join program_currencies c using (program_id)
        left join refunds f using (program_id, order_id)
        left join fx x on x.currency = o.currency and x.quote_currency = c.quote_currency
        group by all
    ),
    points as (
        select program_id, customer_id, sum(try_cast(points as bigint)) as points
        from {r["points_ledger"]} where {ts("occurred_at")} group by all
    ),
    manual as (
        select program_id, customer_id, count(*) as assignments
        from {r["manual_tier_assignments"]} where {ts("assigned_at")} group by all
    )
    select c.program_id, c.customer_id, c.enrolled_at, s.spend, p.points, m.assignments
    from customers c
    left join spend s using (program_id, customer_id)
    left join points p using (program_id, customer_id)
    left join manual m using (program_id, customer_id)
    """


def measure_floor(raw_dir: Path, as_of: dt.date) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of all threads, members) of the floor query, in this
    process, in an in-memory DuckDB."""
    with duckdb.connect() as con:
        con.execute("set timezone = 'UTC'")
        started, cpu_started = time.perf_counter(), time.process_time()
        con.execute(floor_sql(raw_dir, as_of))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        row = con.execute("select count(*) from floor_totals").fetchone()
    return seconds, cpu, int(row[0]) if row else 0


# --- the pandas loop ----------------------------------------------------------------------


@dataclass
class PandasMeasure:
    subset_members: int
    total_members: int
    load_s: float  # reading the subset's validated rows into frames (not extrapolated)
    prepare_s: float  # frames → reference members
    live_s: float  # simulate, live scenario of each program
    other_scenarios_s: float  # simulate, every other scenario
    scenarios: int

    @property
    def live_extrapolated_s(self) -> float:
        return (self.prepare_s + self.live_s) / self.subset_members * self.total_members

    @property
    def all_scenarios_extrapolated_s(self) -> float:
        seconds = self.prepare_s + self.live_s + self.other_scenarios_s
        return seconds / self.subset_members * self.total_members


def _reference_modules() -> ModuleType:
    """tests/reference/tier_rules.py, the plain Python reference (needs the repository)."""
    if not (REPO_ROOT / "tests" / "reference" / "tier_rules.py").is_file():
        raise BenchmarkError(
            f"The pandas loop runs the reference in {REPO_ROOT / 'tests/reference'}, which "
            "is not there: run the benchmark from a checkout of the repository."
        )
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("tests.reference.tier_rules")


# The validated rows the engine starts from (the same queries as tests/engine_check.py).
PANDAS_QUERIES = {
    "orders": """
        select o.program_id, o.customer_id, o.order_id, o.order_date,
            cast(o.amount as varchar) as amount, o.cancelled_date
        from intermediate.int_orders__accepted o join subset using (program_id, customer_id)
        where o.amount is not null and o.is_known_customer""",
    "refunds": """
        select r.program_id, o.customer_id, r.refund_id, r.order_id, r.refund_date,
            cast(cast(round(r.amount * o.fx_rate, 2) as decimal(18, 2)) as varchar) as amount
        from intermediate.int_refunds__accepted r
        join intermediate.int_orders__accepted o using (program_id, order_id)
        join subset s on s.program_id = o.program_id and s.customer_id = o.customer_id
        where o.amount is not null and o.is_known_customer""",
    "ledger": """
        select l.program_id, l.customer_id, l.entry_id, l.entry_date, l.activity, l.points,
            l.order_id
        from intermediate.int_points_ledger__accepted l
        join subset using (program_id, customer_id)""",
    "manual": """
        select * from (
            select program_id, customer_id, assignment_id, assigned_date, tier_code,
                row_number() over (
                    partition by program_id, customer_id, assigned_date
                    order by assigned_at, assignment_id) as seq
            from staging.stg_manual_tier_assignments where rejection_reason is null
        ) m join subset using (program_id, customer_id)""",
}


def _as_date(value: Any) -> dt.date | None:
    if value is None or value != value:  # None, NaT, NaN
        return None
    return value.date() if hasattr(value, "date") else value


def _scenarios(con: duckdb.DuckDBPyConnection, ref: ModuleType) -> dict[str, dict[str, Any]]:
    """Reference scenarios per program, from pandas frames of the config staging."""
    programs = con.sql("select * from staging.stg_programs").df().set_index("program_id")
    tiers = con.sql(
        "select * from staging.stg_program_tiers order by program_id, scenario_id, tier_rank"
    ).df()
    activities = con.sql("select * from staging.stg_program_activities").df()
    out: dict[str, dict[str, Any]] = {}
    for row in con.sql("select * from staging.stg_program_scenarios").df().itertuples():
        program = programs.loc[row.program_id]
        mine = (tiers.program_id == row.program_id) & (tiers.scenario_id == row.scenario_id)
        acts = activities[
            (activities.program_id == row.program_id) & (activities.scenario_id == row.scenario_id)
        ]
        out.setdefault(row.program_id, {})[row.scenario_id] = ref.Scenario(
            milestone=row.milestone,
            period=row.period,
            rolling_window=row.rolling_window if isinstance(row.rolling_window, str) else None,
            refunds=row.refunds,
            tiers=tuple(
                ref.Tier(t.tier_code, Decimal(str(t.threshold))) for t in tiers[mine].itertuples()
            ),
            start_date=_as_date(program["start_date"]),
            back_date=_as_date(program["back_date"]),
            launch_date=_as_date(program["launch_date"]),
            qualifying_activities=frozenset(acts.activity),
        )
    return out


def measure_pandas_loop(warehouse: Path, subset: int, seed: int) -> PandasMeasure:
    """The tier rules in a plain per-member Python loop, fed from pandas frames.

    Frames of the validated rows are grouped by member once (`groupby`), then each member
    of a random subset becomes a reference `Member` and is simulated day by day with
    `tests/reference/tier_rules.simulate`. Reading the frames is timed apart and not
    extrapolated (it is mostly DuckDB work), which favours pandas.
    """
    ref = _reference_modules()
    started = time.perf_counter()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        scenarios = _scenarios(con, ref)
        as_of = {
            r[0]: r[1]
            for r in con.execute(
                "select program_id, as_of_date from staging.stg_programs where is_buildable"
            ).fetchall()
        }
        members = con.sql(
            "select program_id, customer_id, enrolled_date, unenrolled_date "
            "from intermediate.int_customers__eligibility order by program_id, customer_id"
        ).df()
        members = members[members.program_id.isin(list(as_of))].reset_index(drop=True)
        total = len(members)
        chosen = sorted(random.Random(seed).sample(range(total), min(subset, total)))
        subset_frame = members.iloc[chosen].reset_index(drop=True)
        con.register("subset", subset_frame[["program_id", "customer_id"]])
        frames = {name: con.sql(sql).df() for name, sql in PANDAS_QUERIES.items()}
    load_s = time.perf_counter() - started

    # frames → one reference Member per member (plain pandas: group once, then loop).
    started = time.perf_counter()
    grouped = {
        name: {key: rows for key, rows in frame.groupby(["program_id", "customer_id"])}
        for name, frame in frames.items()
    }
    built: list[tuple[str, Any]] = []
    for m in subset_frame.itertuples(index=False):
        key = (m.program_id, m.customer_id)
        orders = grouped["orders"].get(key)
        refunds = grouped["refunds"].get(key)
        ledger = grouped["ledger"].get(key)
        manual = grouped["manual"].get(key)
        member = ref.Member(
            customer_id=m.customer_id,
            enrolled_date=_as_date(m.enrolled_date),
            unenrolled_date=_as_date(m.unenrolled_date),
            orders=()
            if orders is None
            else tuple(
                ref.Order(
                    o.order_id,
                    _as_date(o.order_date),
                    Decimal(o.amount),
                    _as_date(o.cancelled_date),
                )
                for o in orders.itertuples()
            ),
            refunds=()
            if refunds is None
            else tuple(
                ref.Refund(r.refund_id, r.order_id, _as_date(r.refund_date), Decimal(r.amount))
                for r in refunds.itertuples()
            ),
            ledger=()
            if ledger is None
            else tuple(
                ref.LedgerEntry(
                    e.entry_id,
                    _as_date(e.entry_date),
                    e.activity,
                    int(e.points),
                    e.order_id if isinstance(e.order_id, str) else None,
                )
                for e in ledger.itertuples()
            ),
            manual=()
            if manual is None
            else tuple(
                ref.ManualAssignment(
                    a.assignment_id, _as_date(a.assigned_date), int(a.seq), a.tier_code
                )
                for a in manual.itertuples()
            ),
        )
        built.append((m.program_id, member))
    prepare_s = time.perf_counter() - started

    def simulate(select: Callable[[str], bool]) -> float:
        started = time.perf_counter()
        for program_id, member in built:
            for scenario_id, scenario in scenarios[program_id].items():
                if select(scenario_id):
                    ref.simulate(scenario, member, as_of[program_id])
        return time.perf_counter() - started

    live_s = simulate(lambda scenario_id: scenario_id == "live")
    other_s = simulate(lambda scenario_id: scenario_id != "live")
    return PandasMeasure(
        subset_members=len(built),
        total_members=total,
        load_s=load_s,
        prepare_s=prepare_s,
        live_s=live_s,
        other_scenarios_s=other_s,
        scenarios=sum(len(s) for p, s in scenarios.items() if p in as_of),
    )


# --- machine, versions --------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    psutil = _psutil()
    return {
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / GB, 1),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ("vip-tiers", "duckdb", "dbt-core", "dbt-duckdb", "dagster", "dagster-dbt",
                 "pandas", "pyarrow"):  # fmt: skip
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    out["git_commit"] = _git_commit()
    return out


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


# --- the benchmark ------------------------------------------------------------------------


@dataclass
class BenchmarkConfig:
    members: int
    seed: int = 42
    # Order rate multiplier of the generator: 4 gives the volume per member
    # (~20 orders, ~2 refunds, ~26 ledger rows over 3 years).
    activity: float = DEFAULT_ACTIVITY
    work_dir: Path | None = None
    keep: bool = False
    as_of: dt.date | None = None  # default: yesterday (UTC)
    pandas_members: int = PANDAS_SUBSET
    history_doubled: bool = True
    progress: Callable[[str], None] = field(default=lambda message: None)


@contextmanager
def _work_dir(config: BenchmarkConfig) -> Iterator[Path]:
    """The working directory: deleted afterwards unless --keep or the benchmark failed
    (then its logs are the way to find out why)."""
    temporary = config.work_dir is None
    if config.work_dir is None:
        path = Path(tempfile.mkdtemp(prefix="vip-tiers-benchmark-"))
    else:
        path = config.work_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
    failed = False
    try:
        yield path
    except BaseException:
        failed = True
        raise
    finally:
        if not config.keep and not failed:
            if temporary:
                shutil.rmtree(path, ignore_errors=True)
            else:
                for child in ("normal", "doubled", "logs"):
                    shutil.rmtree(path / child, ignore_errors=True)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def run_benchmark(config: BenchmarkConfig) -> dict[str, Any]:
    """Run every measurement once; return the results (see the module docstring)."""
    say = config.progress
    began = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    programs = load_program_specs(SAMPLE_PROGRAMS_DIR)
    per_program = max(1, config.members // len(programs))
    as_of = config.as_of or (started_at.date() - dt.timedelta(days=1))
    daily_as_of = as_of + dt.timedelta(days=1)
    start = years_before(as_of, YEARS) + dt.timedelta(days=1)
    doubled_start = years_before(as_of, 2 * YEARS) + dt.timedelta(days=1)
    machine = machine_facts()

    from orchestration.project import ensure_manifest

    ensure_manifest()  # a stale manifest would add `dbt parse` to the first timed run

    with _work_dir(config) as work:
        logs = work / "logs"
        say(f"Generating {per_program:,} members × {len(programs)} programs")
        normal = make_data_set(
            work / "normal", per_program, config.seed, start, as_of, config.activity
        )
        warehouse = work / "normal" / "warehouse" / "warehouse.duckdb"

        say(f"Full build as of {as_of} (fresh warehouse)")
        full = pipeline_run(normal.raw_base, warehouse, as_of, logs / "full.log", "full build")
        say(f"  {full.wall_s:.1f} s, peak RSS {full.peak_rss_gb:.2f} GB")

        say("Floor: one DuckDB pass over the same raw files")
        floor_s, floor_cpu_s, floor_members = measure_floor(normal.raw_base, as_of)
        say(f"  {floor_s:.2f} s ({floor_members:,} members)")

        say(f"Pandas loop on {min(config.pandas_members, config.members):,} random members")
        pandas = measure_pandas_loop(warehouse, config.pandas_members, config.seed)
        say(f"  live {pandas.prepare_s + pandas.live_s:.1f} s on the subset")

        say(f"Daily run as of {daily_as_of} (same warehouse, one more day of data)")
        daily = pipeline_run(normal.raw_next, warehouse, daily_as_of, logs / "daily.log", "daily")
        daily_recomputed = recomputed_members(warehouse)
        daily_restaged = restaged_keys(warehouse)
        say(f"  {daily.wall_s:.1f} s, recomputed {describe_recomputed(daily_recomputed)}")
        say(f"  restaged keys: {', '.join(f'{t} {n:,}' for t, n in daily_restaged.items())}")
        if not config.keep:
            shutil.rmtree(work / "normal", ignore_errors=True)

        doubled: DataSet | None = None
        doubled_full = doubled_daily = None
        if config.history_doubled:
            say(f"History doubled: {doubled_start} … {daily_as_of}, same members")
            doubled = make_data_set(
                work / "doubled", per_program, config.seed, doubled_start, as_of, config.activity
            )
            warehouse2 = work / "doubled" / "warehouse" / "warehouse.duckdb"
            doubled_full = pipeline_run(
                doubled.raw_base, warehouse2, as_of, logs / "doubled_full.log", "doubled full"
            )
            say(f"  full build {doubled_full.wall_s:.1f} s")
            doubled_daily = pipeline_run(
                doubled.raw_next,
                warehouse2,
                daily_as_of,
                logs / "doubled_daily.log",
                "doubled daily",
            )
            say(f"  daily {doubled_daily.wall_s:.1f} s")

        machine["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
        runs = [r for r in (full, daily, doubled_full, doubled_daily) if r is not None]
        results: dict[str, Any] = {
            "date": started_at.isoformat(timespec="seconds"),
            "members": per_program * len(programs),
            "members_requested": config.members,
            "members_per_program": per_program,
            "programs": len(programs),
            "scenarios": pandas.scenarios,
            "seed": config.seed,
            "activity": config.activity,
            "window": {
                "start": start.isoformat(),
                "as_of": as_of.isoformat(),
                "daily_as_of": daily_as_of.isoformat(),
                "history_doubled_start": doubled_start.isoformat(),
            },
            "rows": normal.rows,
            "rows_invalid_generated": normal.generated.invalid_rows,
            "rows_daily_added": normal.rows_added,
            "values_daily_updated": normal.values_blanked,
            "daily_history_identical": normal.history_identical
            and (doubled is None or doubled.history_identical),
            "rows_history_doubled": doubled.rows if doubled else None,
            "generate_s": normal.generate_s + (doubled.generate_s if doubled else 0.0),
            "full_build_s": full.wall_s,
            "full_build_cpu_s": full.cpu_s,
            "peak_rss_gb": max(r.peak_rss_gb for r in runs),
            "full_build_peak_rss_gb": full.peak_rss_gb,
            "floor_s": floor_s,
            "ratio_to_floor": _ratio(full.wall_s, floor_s),
            "floor_cpu_s": floor_cpu_s,
            "ratio_to_floor_cpu": _ratio(full.cpu_s, floor_cpu_s),
            "pandas_subset_members": pandas.subset_members,
            "pandas_load_s": pandas.load_s,
            "pandas_prepare_s": pandas.prepare_s,
            "pandas_subset_live_s": pandas.prepare_s + pandas.live_s,
            "pandas_subset_all_scenarios_s": pandas.prepare_s
            + pandas.live_s
            + pandas.other_scenarios_s,
            "pandas_extrapolated_s": pandas.live_extrapolated_s,
            "pandas_all_scenarios_extrapolated_s": pandas.all_scenarios_extrapolated_s,
            "pandas_speedup": _ratio(pandas.live_extrapolated_s, full.wall_s),
            "pandas_speedup_all_scenarios": _ratio(
                pandas.all_scenarios_extrapolated_s, full.wall_s
            ),
            "pandas_note": (
                "the reference simulated member by member from pandas frames (live scenario of "
                "each program) on a random subset, extrapolated linearly to all members; the "
                "SQL build is not timed on the subset (its fixed start-up cost would dominate), "
                "so the speedup divides by the full build at this size"
            ),
            "daily_s": daily.wall_s,
            "daily_cpu_s": daily.cpu_s,
            "daily_ratio_to_full_build": _ratio(daily.wall_s, full.wall_s),
            "daily_recomputes": describe_recomputed(daily_recomputed),
            "daily_members_recomputed": daily_recomputed,
            "daily_keys_restaged": daily_restaged,
            "full_build_history_doubled_s": doubled_full.wall_s if doubled_full else None,
            "daily_history_doubled_s": doubled_daily.wall_s if doubled_daily else None,
            "daily_ratio_history_doubled": _ratio(
                doubled_daily.wall_s if doubled_daily else None, daily.wall_s
            ),
            "daily_cpu_ratio_history_doubled": _ratio(
                doubled_daily.cpu_s if doubled_daily else None, daily.cpu_s
            ),
            # Log paths only when they are kept (--keep); a failed run keeps everything.
            "runs": [{**asdict(r), "log": r.log if config.keep else None} for r in runs],
            "machine": machine,
            "machine_shared_note": (
                "wall times include whatever else ran on the machine: compare the load averages "
                "and the CPU seconds"
            ),
            "versions": versions(),
            "work_dir": str(work) if config.keep else None,
        }
    results["benchmark_s"] = time.perf_counter() - began
    results["targets"] = check_targets(results)
    return results


def check_targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of the issue with the measured value and whether it is met (the
    targets are for 1M members; at other sizes they are only indicative)."""
    out = {}
    for key, op, limit in TARGETS:
        value = results.get(key)
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        out[key] = {"target": f"{op} {limit:g}", "value": value, "met": met}
    return out


# --- output -------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(results: dict[str, Any], console: Any) -> None:
    """The figures as rich tables."""
    from rich.table import Table

    window = results["window"]
    rows = Table(
        title=f"Raw rows ({results['members']:,} members, {window['start']} … {window['as_of']})"
    )
    for column in ("table", "full build", "+ daily day", "history doubled"):
        rows.add_column(column, justify="right" if column != "table" else "left")
    doubled = results["rows_history_doubled"] or {}
    for table, count in results["rows"].items():
        rows.add_row(
            table, _fmt(count), _fmt(results["rows_daily_added"][table]), _fmt(doubled.get(table))
        )
    console.print(rows)

    targets = results["targets"]
    table = Table(title="vip-tiers benchmark")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target (1M)", justify="right")
    table.add_column("met")
    figures = (
        ("full_build_s", "full build (s)", 1),
        ("full_build_cpu_s", "full build CPU (s)", 1),
        ("floor_s", "floor (s)", 2),
        ("ratio_to_floor", "full build / floor", 1),
        ("ratio_to_floor_cpu", "… in CPU seconds", 1),
        ("peak_rss_gb", "peak RSS, process tree (GB)", 2),
        ("pandas_extrapolated_s", "pandas loop, live, all members (s)", 1),
        ("pandas_speedup", "pandas loop / full build", 2),
        ("pandas_speedup_all_scenarios", "… every scenario", 2),
        ("daily_s", "daily run (s)", 1),
        ("daily_ratio_to_full_build", "daily / full build", 2),
        ("full_build_history_doubled_s", "full build, history doubled (s)", 1),
        ("daily_history_doubled_s", "daily, history doubled (s)", 1),
        ("daily_ratio_history_doubled", "daily: doubled / normal history", 2),
        ("daily_cpu_ratio_history_doubled", "… in CPU seconds", 2),
    )
    for key, label, digits in figures:
        target = targets.get(key)
        met = "" if target is None or target["met"] is None else ("yes" if target["met"] else "no")
        table.add_row(label, _fmt(results[key], digits), target["target"] if target else "", met)
    console.print(table)
    console.print(dbt_time_table(results["runs"]))
    machine = results["machine"]
    console.print(
        f"Machine: {machine['cores_logical']} cores, {machine['memory_gb']} GB, load "
        f"{machine['load_avg_start']} at start, {machine['load_avg_end']} at end. "
        f"Daily run recomputes {results['daily_recomputes']}. "
        f"Benchmark took {results['benchmark_s']:.0f} s.",
        soft_wrap=True,
    )


def dbt_time_table(runs: list[dict[str, Any]]) -> Any:
    """Per run: wall time, dbt's share of it, and the slowest dbt nodes."""
    from rich.table import Table

    table = Table(title="Where the time went (dbt run_results; node times are thread time)")
    for column in ("run", "wall s", "dbt s", "models / tests s", "slowest nodes (s)"):
        left = column in ("run", "slowest nodes (s)")
        table.add_column(column, justify="left" if left else "right")
    for run in runs:
        kinds = run.get("dbt_node_s") or {}
        slowest = ", ".join(f"{n['node']} {n['s']:.1f}" for n in run.get("slowest_nodes", [])[:5])
        table.add_row(
            run["label"],
            _fmt(run["wall_s"]),
            _fmt(run.get("dbt_elapsed_s")),
            f"{_fmt(kinds.get('model'))} / {_fmt(kinds.get('test'))}",
            slowest,
        )
    return table


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


RESULTS_HEADER = (
    "| date (UTC) | members | orders | refunds | ledger | full build s | CPU s | floor s "
    "| × floor (CPU) | peak RSS GB | daily s | daily / full | doubled / normal (CPU) "
    "| pandas × | load "
    "| commit |\n"
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
)


def results_row(results: dict[str, Any]) -> str:
    rows = results["rows"]
    load = results["machine"]["load_avg_start"][0], results["machine"]["load_avg_end"][0]
    cells = [
        results["date"][:16].replace("T", " "),
        _fmt(results["members"]),
        _fmt(rows["orders"]),
        _fmt(rows["refunds"]),
        _fmt(rows["points_ledger"]),
        _fmt(results["full_build_s"]),
        _fmt(results["full_build_cpu_s"]),
        _fmt(results["floor_s"], 2),
        f"{_fmt(results['ratio_to_floor'])} ({_fmt(results.get('ratio_to_floor_cpu'))})",
        _fmt(results["peak_rss_gb"], 2),
        _fmt(results["daily_s"]),
        _fmt(results["daily_ratio_to_full_build"], 2),
        f"{_fmt(results['daily_ratio_history_doubled'], 2)} "
        f"({_fmt(results.get('daily_cpu_ratio_history_doubled'), 2)})",
        _fmt(results["pandas_speedup"], 2),
        f"{load[0]:.1f} → {load[1]:.1f}",
        results["versions"].get("git_commit") or "",
    ]
    return "| " + " | ".join(cells) + " |"


def update_docs(results: dict[str, Any], path: Path = DOCS_PATH) -> None:
    """Put this run's row in the results table of `path`, replacing the row of the same
    member count (one row per size: the latest run)."""
    text = (
        path.read_text() if path.exists() else f"# Benchmarks\n\n{RESULTS_START}\n{RESULTS_END}\n"
    )
    if RESULTS_START not in text or RESULTS_END not in text:
        text = text.rstrip("\n") + f"\n\n## Results\n\n{RESULTS_START}\n{RESULTS_END}\n"
    head, rest = text.split(RESULTS_START, 1)
    body, tail = rest.split(RESULTS_END, 1)
    members = _fmt(results["members"])
    rows = [
        line
        for line in body.strip().splitlines()
        if line.startswith("| ")
        and not line.startswith("| date")
        and not re.match(rf"\| [^|]+ \| {re.escape(members)} \|", line)
    ]
    rows.append(results_row(results))
    rows.sort(key=lambda line: int(line.split("|")[2].strip().replace(",", "")))
    body = "\n".join([RESULTS_HEADER, *rows])
    path.write_text(f"{head}{RESULTS_START}\n{body}\n{RESULTS_END}{tail}")
