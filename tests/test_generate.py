"""The synthetic data generator: layout, determinism, invalid rows and the realistic cases."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from orchestration.generate import INVALID_KINDS, GenerationSummary, generate_raw_dir

SAMPLES = Path(__file__).resolve().parents[1] / "orchestration" / "samples"
END = dt.date(2026, 6, 30)
MEMBERS = 1500

# interfaces.md §1, spelled out here so that the test guards the contract itself.
INTERFACE_COLUMNS = {
    "customers": [
        "program_id",
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "birthday",
        "enrolled_at",
        "unenrolled_at",
    ],
    "orders": [
        "program_id",
        "order_id",
        "customer_id",
        "ordered_at",
        "currency",
        "total_amount",
        "cancelled_at",
    ],
    "refunds": ["program_id", "refund_id", "order_id", "refunded_at", "amount"],
    "points_ledger": [
        "program_id",
        "entry_id",
        "customer_id",
        "occurred_at",
        "activity",
        "points",
        "order_id",
    ],
    "manual_tier_assignments": [
        "program_id",
        "assignment_id",
        "customer_id",
        "tier_code",
        "assigned_at",
        "reason",
        "assigned_by",
    ],
    "fx_rates": ["currency", "quote_currency", "rate_date", "rate"],
}
ACTIVITIES = {
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
}
PROGRAM_CURRENCY = "(values ('london_tea', 'GBP'), ('nyc_threads', 'USD'), ('sydney_surf', 'AUD'))"


def generate(out_dir: Path, **options: object) -> GenerationSummary:
    arguments: dict[str, object] = {"members_per_program": 300, "end": END, **options}
    return generate_raw_dir(out_dir, SAMPLES, **arguments)  # type: ignore[arg-type]


def entry(raw_dir: Path, table: str) -> Path:
    found = [
        path
        for path in (raw_dir / f"{table}.csv", raw_dir / f"{table}.parquet", raw_dir / table)
        if path.exists()
    ]
    assert len(found) == 1, f"{table}: {found}"
    return found[0]


def reader_sql(path: Path) -> str:
    """DuckDB reader of a table entry, every value as text (like the loader sees it)."""
    if path.is_dir():
        suffix = next(path.iterdir()).suffix
        path = path / f"*{suffix}"
    else:
        suffix = path.suffix
    if suffix == ".csv":
        return f"read_csv('{path}', all_varchar = true, header = true)"
    return f"read_parquet('{path}')"


def file_digests(raw_dir: Path) -> dict[str, str]:
    return {
        str(path.relative_to(raw_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(raw_dir.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    out_dir = tmp_path_factory.mktemp("raw") / "mixed"
    return out_dir, generate(out_dir, members_per_program=MEMBERS)


@pytest.fixture(scope="module")
def con(mixed: tuple[Path, GenerationSummary]) -> Iterator[duckdb.DuckDBPyConnection]:
    """Every table as a view of text columns, `ts(x)`: text → UTC instant, and
    `good_orders`: the orders no rule rejects."""
    raw_dir, _ = mixed
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    for table in INTERFACE_COLUMNS:
        source = reader_sql(entry(raw_dir, table))
        columns = ", ".join(f"cast({c} as varchar) as {c}" for c in INTERFACE_COLUMNS[table])
        connection.execute(f"create view {table} as select {columns} from {source}")
    connection.execute("create macro ts(x) as try_cast(x as timestamptz)")
    connection.execute(
        """
        create table good_orders as
        select * from (select distinct * from orders)
        where ts(ordered_at) is not null and try_cast(total_amount as decimal(18,2)) >= 0
          and (cancelled_at is null or ts(cancelled_at) >= ts(ordered_at))
          and order_id is not null and customer_id is not null and currency is not null
          and program_id is not null
        qualify count(*) over (partition by program_id, order_id) = 1
        """
    )
    yield connection
    connection.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


# --- layout ----------------------------------------------------------------------------


def test_every_table_is_present_with_the_interface_columns(
    mixed: tuple[Path, GenerationSummary],
) -> None:
    raw_dir, summary = mixed
    with duckdb.connect() as connection:
        for table, columns in INTERFACE_COLUMNS.items():
            relation = connection.sql(f"select * from {reader_sql(entry(raw_dir, table))}")
            assert relation.columns == columns, table
            assert summary.rows[table] == len(relation.fetchall()) > 0, table


def test_mixed_uses_single_files_of_both_types_and_folders_of_both_types(
    mixed: tuple[Path, GenerationSummary],
) -> None:
    raw_dir, _ = mixed
    entries = [entry(raw_dir, table) for table in INTERFACE_COLUMNS]
    files = {path.suffix for path in entries if path.is_file()}
    folders = {next(path.iterdir()).suffix for path in entries if path.is_dir()}
    assert files == {".csv", ".parquet"}
    assert folders == {".csv", ".parquet"}
    orders_parts = sorted(path.name for path in (raw_dir / "orders").iterdir())
    assert orders_parts == [
        "london_tea-0000.parquet",
        "nyc_threads-0000.parquet",
        "sydney_surf-0000.parquet",
    ]


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_forced_format_writes_only_that_type(tmp_path: Path, file_format: str) -> None:
    generate(tmp_path, file_format=file_format)
    suffixes = {path.suffix for path in tmp_path.rglob("*") if path.is_file()}
    assert suffixes == {f".{file_format}"}


def test_regenerating_replaces_what_was_generated_and_keeps_other_files(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("not ours")
    generate(tmp_path, file_format="parquet")
    generate(tmp_path, file_format="csv")
    assert not list(tmp_path.rglob("*.parquet"))
    assert (tmp_path / "README.txt").read_text() == "not ours"
    assert len([entry(tmp_path, table) for table in INTERFACE_COLUMNS]) == 6


def test_summary_text_names_every_table(mixed: tuple[Path, GenerationSummary]) -> None:
    _, summary = mixed
    text = summary.as_text()
    assert all(table in text for table in INTERFACE_COLUMNS)


@pytest.mark.parametrize(
    "options",
    [
        {"start": END, "end": END},
        {"file_format": "json"},
        {"invalid_share": 0.9},
        {"members_per_program": 0},
        {"activity": 0},
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, **options)


def test_a_programs_dir_without_programs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no usable program"):
        generate_raw_dir(tmp_path / "raw", tmp_path)


# --- determinism and size -------------------------------------------------------------


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a")
    generate(tmp_path / "b")
    assert file_digests(tmp_path / "a") == file_digests(tmp_path / "b")


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=1)
    generate(tmp_path / "b", seed=2)
    first, second = file_digests(tmp_path / "a"), file_digests(tmp_path / "b")
    assert first.keys() == second.keys()
    assert all(first[name] != second[name] for name in first if "fx_rates" not in name)


def test_rows_scale_with_members(tmp_path: Path) -> None:
    small = generate(tmp_path / "small", members_per_program=200, invalid_share=0)
    large = generate(tmp_path / "large", members_per_program=800, invalid_share=0)
    for table in ("customers", "orders", "refunds", "points_ledger"):
        assert 3 < large.rows[table] / small.rows[table] < 5, table
    assert large.rows["customers"] == 3 * 800
    assert large.rows["fx_rates"] == small.rows["fx_rates"]  # depends on dates only


def order_spend_per_member(raw_dir: Path) -> float:
    """Orders' total (in their own currencies) per enrolled customer, guests left out."""
    orders = reader_sql(entry(raw_dir, "orders"))
    customers = reader_sql(entry(raw_dir, "customers"))
    with duckdb.connect() as con:
        return con.execute(
            f"""
            select sum(try_cast(o.total_amount as double)) / count(distinct o.customer_id)
            from {orders} o join {customers} c using (program_id, customer_id)
            """
        ).fetchone()[0]


def test_activity_multiplies_orders_not_spend(tmp_path: Path) -> None:
    """The benchmark's volume knob: 4× the orders (and refunds, purchase ledger rows) per
    member, while what members spend, and so the tiers they reach, stays about the same."""
    base = generate(tmp_path / "base", members_per_program=400, invalid_share=0)
    busy = generate(tmp_path / "busy", members_per_program=400, invalid_share=0, activity=4)
    assert busy.rows["customers"] == base.rows["customers"]
    for table in ("orders", "refunds"):
        assert 3.3 < busy.rows[table] / base.rows[table] < 4.7, table
    assert 2 < busy.rows["points_ledger"] / base.rows["points_ledger"] < 4.7
    spend = order_spend_per_member(tmp_path / "busy")
    assert 0.8 < spend / order_spend_per_member(tmp_path / "base") < 1.25


# --- invalid rows ---------------------------------------------------------------------


def test_every_kind_of_invalid_row_appears(mixed: tuple[Path, GenerationSummary]) -> None:
    _, summary = mixed
    for table, kinds in INVALID_KINDS.items():
        if summary.rows[table] < 200:
            continue
        expected = set(kinds)
        if table in ("orders", "refunds", "fx_rates"):  # Parquet in `mixed`: typed numbers
            expected.discard("unparseable_amount")
        assert set(summary.invalid_by_kind[table]) == expected, table
        assert summary.invalid_rows[table] == sum(summary.invalid_by_kind[table].values())


def test_invalid_rows_are_about_the_asked_share(mixed: tuple[Path, GenerationSummary]) -> None:
    _, summary = mixed
    for table in ("orders", "points_ledger"):
        share = summary.invalid_rows[table] / summary.rows[table]
        assert 0.004 < share < 0.01, (table, share)


def test_no_invalid_rows_when_the_share_is_zero(tmp_path: Path) -> None:
    summary = generate(tmp_path, invalid_share=0)
    assert sum(summary.invalid_rows.values()) == 0


def test_rule_breaking_rows_are_exactly_the_invalid_ones(
    con: duckdb.DuckDBPyConnection, mixed: tuple[Path, GenerationSummary]
) -> None:
    """The valid rows never break a rule by accident: counting rule breaks in the files
    gives the generator's own counts."""
    _, summary = mixed
    kinds = summary.invalid_by_kind
    refund_checks = scalar(
        con,
        """
        select {
          'before': count(*) filter (where ts(r.refunded_at) < ts(o.ordered_at)),
          'after_cancel': count(*) filter (where ts(r.refunded_at) >= ts(o.cancelled_at)),
          'unknown': count(*) filter (where o.order_id is null and r.order_id is not null
                                        and r.program_id is not null)
        }
        from refunds r left join good_orders o using (program_id, order_id)
        where ts(r.refunded_at) is not null
        """,
    )
    assert refund_checks == {
        "before": kinds["refunds"]["refund_before_order"],
        "after_cancel": kinds["refunds"]["refund_after_cancellation"],
        "unknown": kinds["refunds"]["unknown_order"],
    }
    negative_orders = scalar(con, "select count(*) from orders where total_amount like '-%'")
    assert negative_orders == kinds["orders"]["negative_amount"]
    cancelled_early = scalar(
        con, "select count(*) from orders where ts(cancelled_at) < ts(ordered_at)"
    )
    assert cancelled_early == kinds["orders"]["cancelled_before_ordered"]
    unknown_activities = scalar(
        con,
        f"select count(*) from points_ledger where activity not in {tuple(sorted(ACTIVITIES))}",
    )
    assert unknown_activities == kinds["points_ledger"]["unknown_activity"]
    non_positive = scalar(con, "select count(*) from fx_rates where try_cast(rate as double) <= 0")
    assert non_positive == kinds["fx_rates"]["non_positive_rate"]
    for table, key in (("orders", "order_id"), ("points_ledger", "entry_id")):
        conflicts, copies = con.execute(
            f"""
            with keys as (
              select program_id, {key}, count(*) as n, count(distinct t::varchar) as versions
              from {table} t where {key} is not null and program_id is not null group by all
            )
            select coalesce(sum(n) filter (where versions > 1), 0),
                   coalesce(sum(n - 1) filter (where versions = 1), 0)
            from keys
            """
        ).fetchone() or (None, None)
        assert conflicts == kinds[table]["duplicate_key_conflict"], table
        assert copies == kinds[table]["exact_duplicate"], table


def test_valid_refunds_never_exceed_their_order(con: duckdb.DuckDBPyConnection) -> None:
    over = scalar(
        con,
        """
        with refunded as (
          select program_id, order_id, sum(amount::decimal(18,2)) as refunded
          from refunds
          where ts(refunded_at) is not null and try_cast(amount as decimal(18,2)) >= 0
          group by all
        )
        select count(*) from refunded join good_orders using (program_id, order_id)
        where refunded > total_amount::decimal(18,2)
        """,
    )
    # Only the deliberately too large refunds (one per order they target) push it over.
    assert over <= scalar(con, "select count(*) from refunds") * 0.01


# --- realistic cases --------------------------------------------------------------------


def test_members_pending_unenrolled_and_guests(con: duckdb.DuckDBPyConnection) -> None:
    pending, unenrolled, customers = con.execute(
        """
        select count(*) filter (where enrolled_at is null),
               count(*) filter (where unenrolled_at is not null),
               count(*)
        from customers
        """
    ).fetchone() or (0, 0, 1)
    assert 0.03 < pending / customers < 0.08
    assert 0.015 < unenrolled / customers < 0.05
    guest_share = scalar(
        con,
        """
        select avg((c.customer_id is null)::int)
        from good_orders o left join customers c using (program_id, customer_id)
        """,
    )
    assert 0.02 < guest_share < 0.045
    before_launch = scalar(
        con,
        """
        select count(*) from customers
        where program_id = 'nyc_threads' and ts(enrolled_at) < '2023-03-15'::timestamptz
        """,
    )
    assert before_launch > 0


def test_other_currencies_with_gappy_rates_and_one_without(
    con: duckdb.DuckDBPyConnection,
) -> None:
    foreign_share = scalar(
        con,
        f"""
        select avg((o.currency <> p.currency)::int)
        from good_orders o join {PROGRAM_CURRENCY} p(program_id, currency) using (program_id)
        """,
    )
    assert 0.035 < foreign_share < 0.065
    no_rate = con.execute(
        f"""
        select distinct o.currency
        from good_orders o join {PROGRAM_CURRENCY} p(program_id, currency) using (program_id)
        where o.currency <> p.currency
          and not exists (
            select 1 from fx_rates f where f.currency = o.currency and f.quote_currency = p.currency
          )
        """
    ).fetchall()
    assert no_rate == [("CHF",)]
    weekend_rates = scalar(
        con,
        """
        select count(*) from (
          select * from fx_rates
          where try_cast(rate_date as date) is not null and try_cast(rate as double) > 0
            and currency is not null and quote_currency is not null
          qualify count(*) over (partition by currency, quote_currency, rate_date) = 1
        )
        where isodow(rate_date::date) >= 6
        """,
    )
    assert weekend_rates == 0


def test_refunds_and_cancellations(con: duckdb.DuckDBPyConnection) -> None:
    stats = scalar(
        con,
        """
        with r as (
          select r.*, ts(r.refunded_at) - ts(o.ordered_at) as delay, o.ordered_at, o.total_amount
          from refunds r join good_orders o using (program_id, order_id)
          where ts(r.refunded_at) >= ts(o.ordered_at)
        ),
        per_order as (
          select program_id, order_id, count(*) as parts,
                 sum(amount::decimal(18,2)) = any_value(total_amount::decimal(18,2)) as is_full
          from r group by all
        )
        select {
          'refunded_share': (select count(*) from per_order) / (select count(*) from good_orders),
          'multi_part': (select count(*) from per_order where parts > 1),
          'full': (select count(*) from per_order where is_full),
          'partial': (select count(*) from per_order where not is_full),
          'over_a_year': (select count(*) from r where delay > interval 365 days),
          'weeks_later': (select count(*) from r where delay between interval 14 days
                                                                 and interval 120 days),
          'next_year': (select count(*) from r where year(ts(refunded_at)) > year(ts(ordered_at)))
        }
        """,
    )
    assert 0.06 < stats["refunded_share"] < 0.10
    assert min(stats.values()) > 0, stats
    cancelled_share, after_partial_refund = con.execute(
        """
        select avg((cancelled_at is not null)::int),
               count(*) filter (where cancelled_at is not null and exists (
                 select 1 from refunds r
                 where r.program_id = o.program_id and r.order_id = o.order_id
                   and ts(r.refunded_at) < ts(o.cancelled_at)))
        from good_orders o
        """
    ).fetchone() or (0, 0)
    assert 0.012 < cancelled_share < 0.03
    assert after_partial_refund > 0


def test_ledger_has_every_activity_and_reversals_match_refunds(
    con: duckdb.DuckDBPyConnection,
) -> None:
    activities = {
        row[0] for row in con.execute("select distinct activity from points_ledger").fetchall()
    }
    assert activities >= ACTIVITIES
    signs = dict(
        con.execute(
            """
            select activity, {'min': min(try_cast(points as bigint)),
                              'max': max(try_cast(points as bigint))}
            from points_ledger where activity in ('redemption', 'expiration', 'purchase_reversal',
                                                  'manual_adjustment', 'purchase')
            group by all
            """
        ).fetchall()
    )
    for negative in ("redemption", "expiration", "purchase_reversal"):
        assert signs[negative]["max"] < 0, negative
    assert signs["manual_adjustment"]["min"] < 0 < signs["manual_adjustment"]["max"]
    assert signs["purchase"]["min"] >= 0
    unmatched_reversals = scalar(
        con,
        """
        select count(*) from points_ledger l
        where activity = 'purchase_reversal' and not exists (
          select 1 from points_ledger p
          where p.program_id = l.program_id and p.order_id = l.order_id
            and p.activity = 'purchase')
        """,
    )
    assert unmatched_reversals <= scalar(con, "select count(*) from points_ledger") * 0.001


def test_purchase_points_follow_the_amount(con: duckdb.DuckDBPyConnection) -> None:
    ratio = scalar(
        con,
        f"""
        select median(l.points::double / o.total_amount::double)
        from points_ledger l
        join good_orders o using (program_id, order_id)
        join {PROGRAM_CURRENCY} p(program_id, currency) using (program_id)
        where l.activity = 'purchase' and o.currency = p.currency
          and try_cast(o.total_amount as double) > 20 and try_cast(l.points as bigint) is not null
        """,
    )
    assert 0.95 < ratio <= 1.0


def test_manual_assignments_cover_the_awkward_cases(con: duckdb.DuckDBPyConnection) -> None:
    cases = scalar(
        con,
        """
        select {
          'unknown_tier': count(*) filter (where tier_code not in (
              'leaf', 'bud', 'blossom', 'estate', 'member', 'silver', 'gold',
              'grom', 'rider', 'pro', 'legend')),
          'pending_customer': count(*) filter (where c.customer_id is not null
                                                 and c.enrolled_at is null),
          'same_day_pairs': (select count(*) from (
              select program_id, customer_id, ts(assigned_at)::date
              from manual_tier_assignments group by all having count(*) > 1)),
          'same_instant_pairs': (select count(*) from (
              select program_id, customer_id, ts(assigned_at)
              from manual_tier_assignments group by all having count(*) > 1))
        }
        from manual_tier_assignments m left join customers c using (program_id, customer_id)
        """,
    )
    assert min(cases.values()) > 0, cases
    members = scalar(con, "select count(*) from customers")
    assert 0.007 < scalar(con, "select count(*) from manual_tier_assignments") / members < 0.02


def test_timestamps_come_in_every_allowed_form(con: duckdb.DuckDBPyConnection) -> None:
    forms = dict(
        con.execute(
            r"""
            select case
                     when ordered_at like '%Z' then 'z'
                     when regexp_matches(ordered_at, '[+-]\d\d:\d\d$') then 'offset'
                     when length(ordered_at) = 10 then 'date'
                     else 'naive'
                   end as form, count(*)
            from orders where ts(ordered_at) is not null group by all
            """
        ).fetchall()
    )
    assert set(forms) == {"z", "offset", "date", "naive"}
    assert forms["z"] > forms["offset"] > forms["date"]


@pytest.mark.parametrize(
    ("program_id", "thresholds"),
    [("london_tea", (250, 600, 1200)), ("nyc_threads", (500, 1000)), ("sydney_surf", (1000, 5000))],
)
def test_every_tier_is_reached_by_a_fair_share(
    con: duckdb.DuckDBPyConnection, program_id: str, thresholds: tuple[int, ...]
) -> None:
    """Best 365-day spend per buyer in the program currency, a proxy for the tier reached."""
    reached = ", ".join(f"avg((best >= {threshold})::int)" for threshold in thresholds)
    shares = con.execute(
        f"""
        with spend as (
          select customer_id,
                 sum(o.total_amount::decimal(18,2)) over (
                   partition by customer_id order by ts(ordered_at)
                   range between interval 364 days preceding and current row) as window_total
          from good_orders o join {PROGRAM_CURRENCY} p(program_id, currency) using (program_id)
          where program_id = '{program_id}' and o.currency = p.currency
        ),
        best as (select customer_id, max(window_total) as best from spend group by all)
        select {reached} from best
        """
    ).fetchone()
    assert shares is not None
    assert all(share > 0.05 for share in shares), shares
