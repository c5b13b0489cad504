"""The loader: raw directory → typed `raw` schema + `raw.load_rejections` (docs/raw-data.md)."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers.raw_builder import make_row, write_csv, write_raw_dir, write_table

from orchestration import loader
from orchestration.loader import LoaderError, load_raw_dir, main
from orchestration.raw_tables import RAW_TABLES


@pytest.fixture
def work_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="loader-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def minimal_tables(**extra: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    return {
        "customers": [make_row("customers")],
        "orders": [make_row("orders", order_id=f"o{i}") for i in range(1, 6)],
        **extra,
    }


# --- input forms -----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["csv", "parquet", "csv_folder", "parquet_folder"])
def test_input_forms_load_the_same_rows(work_dir: Path, form: str) -> None:
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables(), form=form, parts=2)
    warehouse = work_dir / "wh.duckdb"
    summary = load_raw_dir(raw_dir, warehouse)
    assert summary.rows_loaded["orders"] == 5
    assert summary.rows_loaded["customers"] == 1
    rows = query(
        warehouse,
        "select order_id, ordered_at, total_amount from raw.orders order by order_id",
    )
    assert rows == [(f"o{i}", dt.datetime(2024, 2, 1, 12), Decimal("100.00")) for i in range(1, 6)]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_folder_parts_keep_file_and_row(work_dir: Path, suffix: str) -> None:
    """The row number is the row's 1-based position in its file, in either format (CSV rows
    are numbered as copied; Parquet rows by the reader's file_row_number)."""
    form = f"{suffix}_folder"
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables(), form=form, parts=2)
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(raw_dir, warehouse)
    rows = query(warehouse, "select order_id, _source_file, _source_row from raw.orders")
    assert sorted(rows) == [
        ("o1", f"orders/part-0000.{suffix}", 1),
        ("o2", f"orders/part-0000.{suffix}", 2),
        ("o3", f"orders/part-0000.{suffix}", 3),
        ("o4", f"orders/part-0001.{suffix}", 1),
        ("o5", f"orders/part-0001.{suffix}", 2),
    ]


def test_row_numbers_of_a_large_csv_follow_the_file(work_dir: Path) -> None:
    """A CSV file of many megabytes is read in parallel chunks, and the loader writes its
    inserts unordered: the row number must still be the row's position in the file."""
    raw_dir = work_dir / "raw"
    write_table(raw_dir, "customers", [make_row("customers")])
    orders = raw_dir / "orders.csv"
    first = make_row("orders")
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select ? as program_id, 'o' || i as order_id, ? as customer_id,
                    ? as ordered_at, ? as currency, ? as total_amount
                from range(1, 400001) as numbers(i)
                order by i
            ) to '{orders}' (header, delimiter ',')
            """,
            [
                first["program_id"],
                first["customer_id"],
                str(first["ordered_at"]),
                first["currency"],
                str(first["total_amount"]),
            ],
        )
    assert orders.stat().st_size > 16_000_000
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(raw_dir, warehouse)
    misplaced = query(
        warehouse,
        "select count(*), count(*) filter (where order_id <> 'o' || _source_row) from raw.orders",
    )
    assert misplaced == [(400_000, 0)]


def test_mixed_folder_nested_parts_and_marker_files(work_dir: Path) -> None:
    raw_dir = work_dir / "raw"
    write_table(raw_dir, "customers", [make_row("customers")])
    write_csv(raw_dir / "orders" / "day=1" / "a.csv", [make_row("orders", order_id="o1")])
    pq.write_table(
        pa.Table.from_pylist([make_row("orders", order_id="o2")]),
        raw_dir / "orders" / "day=2.parquet",
    )
    (raw_dir / "orders" / "_SUCCESS").write_text("")
    (raw_dir / "orders" / ".part.csv.crc").write_text("junk")
    (raw_dir / "orders" / "empty.csv").write_text("")
    warehouse = work_dir / "wh.duckdb"
    summary = load_raw_dir(raw_dir, warehouse)
    assert summary.rows_loaded["orders"] == 2
    assert sorted(query(warehouse, "select order_id, _source_file from raw.orders")) == [
        ("o1", "orders/day=1/a.csv"),
        ("o2", "orders/day=2.parquet"),
    ]


def test_parquet_with_real_types(work_dir: Path) -> None:
    raw_dir = work_dir / "raw"
    write_table(
        raw_dir,
        "customers",
        [
            make_row(
                "customers",
                birthday=dt.date(1990, 5, 1),
                enrolled_at=dt.datetime(
                    2024, 1, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=10))
                ),
                unenrolled_at=None,
            )
        ],
        form="parquet",
    )
    write_table(
        raw_dir,
        "orders",
        [
            make_row(
                "orders", ordered_at=dt.datetime(2024, 2, 1, 12, 30), total_amount=Decimal("12.50")
            )
        ],
        form="parquet",
    )
    write_table(
        raw_dir,
        "points_ledger",
        [make_row("points_ledger", points=250, occurred_at=dt.datetime(2024, 2, 1, 12, 30))],
        form="parquet",
    )
    write_table(
        raw_dir,
        "fx_rates",
        [make_row("fx_rates", rate=1.0825, rate_date=dt.date(2024, 1, 2))],
        form="parquet",
    )
    warehouse = work_dir / "wh.duckdb"
    summary = load_raw_dir(raw_dir, warehouse)
    assert summary.rows_rejected == 0
    assert query(warehouse, "select birthday, enrolled_at from raw.customers") == [
        (dt.date(1990, 5, 1), dt.datetime(2024, 1, 1, 0, 0))
    ]
    assert query(warehouse, "select ordered_at, total_amount from raw.orders") == [
        (dt.datetime(2024, 2, 1, 12, 30), Decimal("12.50"))
    ]
    assert query(warehouse, "select points from raw.points_ledger") == [(250,)]
    assert query(warehouse, "select rate_date, rate from raw.fx_rates") == [
        (dt.date(2024, 1, 2), Decimal("1.08250000"))
    ]


# --- parsing ---------------------------------------------------------------------------

TIMESTAMPS = [
    ("2024-03-01T10:00:00Z", dt.datetime(2024, 3, 1, 10)),
    ("2024-03-01T10:00:00.250Z", dt.datetime(2024, 3, 1, 10, 0, 0, 250000)),
    ("2024-03-01T10:00:00+10:00", dt.datetime(2024, 3, 1, 0)),
    ("2024-03-01T10:00:00-05:30", dt.datetime(2024, 3, 1, 15, 30)),
    ("2024-03-01T10:00:00+1000", dt.datetime(2024, 3, 1, 0)),
    ("2024-03-01T10:00:00+10", dt.datetime(2024, 3, 1, 0)),
    ("2024-03-01T02:00:00+05:00", dt.datetime(2024, 2, 29, 21)),
    ("2024-03-01T10:00:00", dt.datetime(2024, 3, 1, 10)),
    ("2024-03-01 10:00:00", dt.datetime(2024, 3, 1, 10)),
    ("2024-03-01T10:00", dt.datetime(2024, 3, 1, 10)),
    ("2024-03-01t10:00:00z", dt.datetime(2024, 3, 1, 10)),
    ("2024-03-01", dt.datetime(2024, 3, 1, 0)),
    ("  2024-03-01T10:00:00Z  ", dt.datetime(2024, 3, 1, 10)),
    ("not-a-date", None),
    ("2024-02-30", None),
    ("2024-3-1", None),
    ("20240301", None),
    ("01/03/2024", None),
    ("2024-03-01T25:00:00Z", None),
]


def test_timestamp_forms_become_utc_instants(work_dir: Path) -> None:
    orders = [
        make_row("orders", order_id=f"o{i}", ordered_at=value)
        for i, (value, _) in enumerate(TIMESTAMPS)
    ]
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables(orders=orders))
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(raw_dir, warehouse)
    loaded = dict(query(warehouse, "select order_id, ordered_at from raw.orders"))
    rejected = dict(
        query(
            warehouse,
            "select row_key, reason from raw.load_rejections where source_table = 'orders'",
        )
    )
    for i, (value, expected) in enumerate(TIMESTAMPS):
        if expected is None:
            assert rejected[f"order_id=o{i}"] == f"unparseable ordered_at: '{value.strip()}'"
        else:
            assert loaded[f"o{i}"] == expected, value


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("total_amount", "12.5", Decimal("12.50")),
        ("total_amount", "-3", Decimal("-3.00")),
        ("total_amount", "+0.10", Decimal("0.10")),
        ("total_amount", "19.999", Decimal("20.00")),
        ("total_amount", "1,234.00", None),
        ("total_amount", "$5", None),
        ("total_amount", "NaN", None),
        ("total_amount", "1e400", None),
        ("currency", "usd", "USD"),
        ("currency", "US Dollar", None),
    ],
)
def test_order_values(work_dir: Path, column: str, value: str, expected: object) -> None:
    orders = [make_row("orders", **{column: value})]
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables(orders=orders))
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(raw_dir, warehouse)
    loaded = query(warehouse, f"select {column} from raw.orders")
    reasons = query(warehouse, "select reason from raw.load_rejections")
    if expected is None:
        assert loaded == []
        assert reasons == [(f"unparseable {column}: '{value}'",)]
    else:
        assert loaded == [(expected,)]
        assert reasons == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120), ("-40", -40), ("12.0", 12), ("12.5", None), ("ten", None)],
)
def test_points_are_whole_numbers(work_dir: Path, value: str, expected: int | None) -> None:
    ledger = [make_row("points_ledger", points=value)]
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables(points_ledger=ledger))
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(raw_dir, warehouse)
    loaded = query(warehouse, "select points from raw.points_ledger")
    assert loaded == ([] if expected is None else [(expected,)])


def test_missing_required_and_unparseable_values_are_rejected(work_dir: Path) -> None:
    orders = [
        make_row("orders", order_id="ok"),
        make_row("orders", order_id="bad", ordered_at="soon", total_amount=" "),
        make_row("orders", order_id=""),
    ]
    fx = [make_row("fx_rates", rate_date="2024-13-01")]
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables(orders=orders, fx_rates=fx))
    warehouse = work_dir / "wh.duckdb"
    summary = load_raw_dir(raw_dir, warehouse)
    rows = query(
        warehouse,
        "select source_table, program_id, row_key, reason, _source_file, _source_row "
        "from raw.load_rejections order by all",
    )
    assert rows == [
        (
            "fx_rates",
            None,
            "currency=EUR,quote_currency=USD,rate_date=2024-13-01",
            "unparseable rate_date: '2024-13-01'",
            "fx_rates.csv",
            1,
        ),
        (
            "orders",
            "acme",
            "order_id=(missing)",
            "missing required order_id",
            "orders.csv",
            3,
        ),
        (
            "orders",
            "acme",
            "order_id=bad",
            "unparseable ordered_at: 'soon'; missing required total_amount",
            "orders.csv",
            2,
        ),
    ]
    assert summary.rejections == {
        ("fx_rates", "unparseable rate_date"): 1,
        ("orders", "missing required order_id"): 1,
        ("orders", "unparseable ordered_at"): 1,
    }
    assert "orders" in summary.as_text() and "unparseable ordered_at × 1" in summary.as_text()


def test_extra_columns_ignored_and_names_matched_loosely(work_dir: Path) -> None:
    raw_dir = work_dir / "raw"
    write_table(raw_dir, "customers", [make_row("customers")])
    rows = [
        {
            " Program_ID ": "acme",
            "ORDER_ID": "o1",
            "customer_id": "c1",
            "ordered_at": "2024-01-01",
            "currency": "USD",
            "total_amount": "1",
            "note": "x",
        }
    ]
    write_csv(raw_dir / "orders.csv", rows)
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(raw_dir, warehouse)
    assert query(warehouse, "select program_id, order_id, cancelled_at from raw.orders") == [
        ("acme", "o1", None)
    ]


def test_quoted_csv_values(work_dir: Path) -> None:
    raw_dir = work_dir / "raw"
    write_table(raw_dir, "customers", [make_row("customers", last_name='O"Brien, Jr.')])
    write_table(raw_dir, "orders", [make_row("orders")])
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(raw_dir, warehouse)
    assert query(warehouse, "select last_name from raw.customers") == [('O"Brien, Jr.',)]


# --- tables ----------------------------------------------------------------------------


def test_absent_optional_tables_are_created_empty(work_dir: Path) -> None:
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables())
    warehouse = work_dir / "wh.duckdb"
    summary = load_raw_dir(raw_dir, warehouse)
    for table in ("refunds", "points_ledger", "manual_tier_assignments", "fx_rates"):
        assert summary.rows_loaded[table] == 0
        assert summary.origins[table] == "absent"
    columns = query(
        warehouse,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and table_name = 'refunds' order by ordinal_position",
    )
    assert columns == [
        ("program_id", "VARCHAR"),
        ("refund_id", "VARCHAR"),
        ("order_id", "VARCHAR"),
        ("refunded_at", "TIMESTAMP"),
        ("amount", "DECIMAL(18,2)"),
        ("_source_file", "VARCHAR"),
        ("_source_row", "BIGINT"),
    ]


def test_every_table_has_its_documented_types(work_dir: Path) -> None:
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables())
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(raw_dir, warehouse)
    types = dict(
        ((table, column), data_type)
        for table, column, data_type in query(
            warehouse,
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'raw'",
        )
    )
    for table in RAW_TABLES:
        for column in table.columns:
            assert types[(table.name, column.name)] == column.sql_type
    assert types[("customers", "birthday")] == "DATE"
    assert types[("fx_rates", "rate")] == "DECIMAL(18,8)"
    assert types[("points_ledger", "points")] == "BIGINT"
    assert types[("load_rejections", "_source_row")] == "BIGINT"


def test_reload_replaces_every_table(work_dir: Path) -> None:
    warehouse = work_dir / "wh.duckdb"
    first = write_raw_dir(
        work_dir / "first",
        minimal_tables(refunds=[make_row("refunds")], fx_rates=[make_row("fx_rates", rate="x")]),
    )
    load_raw_dir(first, warehouse)
    second = write_raw_dir(work_dir / "second", minimal_tables())
    summary = load_raw_dir(second, warehouse)
    assert summary.rows_loaded["refunds"] == 0
    assert query(warehouse, "select count(*) from raw.load_rejections") == [(0,)]
    assert query(warehouse, "select count(*) from raw.orders") == [(5,)]


# --- files loaded before --------------------------------------------------------------


def raw_state(warehouse: Path) -> dict[str, list[tuple]]:
    """Every raw table and the load rejections, as sorted rows."""
    names = [table.name for table in RAW_TABLES] + ["load_rejections"]
    return {name: sorted(query(warehouse, f"select * from raw.{name}"), key=repr) for name in names}


def assert_same_as_fresh_load(raw_dir: Path, warehouse: Path, work_dir: Path) -> None:
    fresh = work_dir / f"fresh-{len(list(work_dir.glob('fresh-*')))}.duckdb"
    load_raw_dir(raw_dir, fresh)
    assert raw_state(warehouse) == raw_state(fresh)


def test_unchanged_files_are_not_read_again(work_dir: Path) -> None:
    """A landing zone: parts arrive, one is corrected, one withdrawn; each load reads only
    what is new or changed and ends with what a fresh load of the same files gives."""
    raw_dir = work_dir / "raw"
    write_table(raw_dir, "customers", [make_row("customers")])
    day = {n: [make_row("orders", order_id=f"o{n}{i}") for i in range(3)] for n in range(1, 5)}
    day[2][1]["total_amount"] = "not a number"  # a load rejection in an unchanged file
    for n in (1, 2):
        write_csv(raw_dir / "orders" / f"day-{n}.csv", day[n])
    warehouse = work_dir / "wh.duckdb"
    first = load_raw_dir(raw_dir, warehouse)
    assert (first.files_read["orders"], first.files_kept["orders"]) == (2, 0)

    write_csv(raw_dir / "orders" / "day-3.csv", day[3])
    second = load_raw_dir(raw_dir, warehouse)
    assert (second.files_read["orders"], second.files_kept["orders"]) == (1, 2)
    assert (second.files_read["customers"], second.files_kept["customers"]) == (0, 1)
    assert "2 unchanged, 1 read" in second.as_text()
    assert_same_as_fresh_load(raw_dir, warehouse, work_dir)
    assert query(warehouse, "select count(*) from raw.load_rejections") == [(1,)]

    day[1][0]["total_amount"] = "99.5"  # corrected
    write_csv(raw_dir / "orders" / "day-1.csv", day[1])
    (raw_dir / "orders" / "day-2.csv").unlink()  # withdrawn, with its rejected row
    write_csv(raw_dir / "orders" / "day-4.csv", day[4])
    third = load_raw_dir(raw_dir, warehouse)
    assert (third.files_read["orders"], third.files_kept["orders"]) == (2, 1)
    assert_same_as_fresh_load(raw_dir, warehouse, work_dir)
    assert query(warehouse, "select count(*) from raw.load_rejections") == [(0,)]
    assert query(warehouse, "select total_amount from raw.orders where order_id = 'o10'") == [
        (Decimal("99.50"),)
    ]


def test_reload_and_changed_typing_rules_read_every_file(
    work_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables(), form="csv_folder", parts=2)
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(raw_dir, warehouse)
    assert load_raw_dir(raw_dir, warehouse).files_read["orders"] == 0
    assert load_raw_dir(raw_dir, warehouse, reload=True).files_read["orders"] == 2
    monkeypatch.setattr(loader, "rules_hash", lambda table: "other rules")
    assert load_raw_dir(raw_dir, warehouse).files_read["orders"] == 2
    assert_same_as_fresh_load(raw_dir, warehouse, work_dir)


def test_raw_tables_filled_by_another_tool_are_replaced(work_dir: Path) -> None:
    """Without the loader's file list (or with other columns) nothing is kept."""
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables())
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(raw_dir, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("alter table raw.orders add column note varchar")
    assert load_raw_dir(raw_dir, warehouse).files_read["orders"] == 1
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table raw.loaded_files")
    assert load_raw_dir(raw_dir, warehouse).files_read["customers"] == 1
    assert_same_as_fresh_load(raw_dir, warehouse, work_dir)


def test_the_memory_limit_bounds_the_load(work_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`memory_limit` (the VIP_DUCKDB_MEMORY_LIMIT setting, 7.5GB by default) is DuckDB's
    limit for the whole load: without one DuckDB may take 80 % of RAM, and at 1M members
    the load alone reached 10.1 GB (docs/benchmarks.md)."""
    warehouse = work_dir / "wh.duckdb"
    with loader.connect_warehouse(warehouse, "300MB") as con:
        assert con.execute("select current_setting('memory_limit')").fetchone() == ("286.1 MiB",)
    write_raw_dir(work_dir / "raw", minimal_tables())
    seen: list[str] = []
    original = loader._plan

    def plan(con: duckdb.DuckDBPyConnection, *args: Any) -> loader.TablePlan:
        seen.append(con.execute("select current_setting('memory_limit')").fetchone()[0])
        return original(con, *args)

    monkeypatch.setattr(loader, "_plan", plan)
    summary = load_raw_dir(work_dir / "raw", warehouse, memory_limit="64MB")
    assert set(seen) == {"61.0 MiB"}
    assert summary.rows_loaded["orders"] == 5


@pytest.mark.parametrize("table", ["customers", "orders"])
def test_missing_customers_or_orders_is_an_error(work_dir: Path, table: str) -> None:
    tables = minimal_tables()
    del tables[table]
    raw_dir = write_raw_dir(work_dir / "raw", tables)
    with pytest.raises(LoaderError, match=f"table {table} is missing from"):
        load_raw_dir(raw_dir, work_dir / "wh.duckdb")


def test_missing_raw_dir_is_an_error(work_dir: Path) -> None:
    with pytest.raises(LoaderError, match="does not exist"):
        load_raw_dir(work_dir / "nowhere", work_dir / "wh.duckdb")


def test_table_given_twice_is_an_error(work_dir: Path) -> None:
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables())
    write_table(raw_dir, "orders", [make_row("orders")], form="parquet_folder")
    with pytest.raises(LoaderError, match=r"orders is given more than once .*orders\.csv, orders"):
        load_raw_dir(raw_dir, work_dir / "wh.duckdb")


def test_missing_required_column_is_an_error(work_dir: Path) -> None:
    raw_dir = work_dir / "raw"
    write_table(raw_dir, "customers", [make_row("customers")])
    rows = [{k: v for k, v in make_row("orders").items() if k != "total_amount"}]
    write_table(raw_dir, "orders", rows, form="parquet")
    with pytest.raises(LoaderError, match=r"orders\.parquet: missing required column total_amount"):
        load_raw_dir(raw_dir, work_dir / "wh.duckdb")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("orders.parquet", b"this is not parquet at all", r"cannot read .*orders\.parquet"),
        (
            "orders.csv",
            b"program_id,order_id,customer_id,ordered_at,currency,total_amount\n"
            b"acme,o1,c1,2024-01-01,USD,1\nacme,o2,c1,2024-01-01,USD,1,extra\n",
            r"cannot read .*orders\.csv.*Line: 3",
        ),
        (
            "orders.csv",
            b"program_id,order_id,customer_id,ordered_at,currency,total_amount\n"
            b"acme,o1,c1,2024-01-01,USD,\xff\xfe\n",
            r"cannot read .*orders\.csv",
        ),
    ],
    ids=["parquet-garbage", "csv-extra-field", "csv-not-utf8"],
)
def test_corrupt_file_is_an_error(work_dir: Path, name: str, content: bytes, message: str) -> None:
    raw_dir = work_dir / "raw"
    write_table(raw_dir, "customers", [make_row("customers")])
    (raw_dir / name).write_bytes(content)
    with pytest.raises(LoaderError, match=message):
        load_raw_dir(raw_dir, work_dir / "wh.duckdb")


def test_failed_load_keeps_previous_load(work_dir: Path) -> None:
    warehouse = work_dir / "wh.duckdb"
    load_raw_dir(write_raw_dir(work_dir / "good", minimal_tables()), warehouse)
    bad = write_raw_dir(work_dir / "bad", {"customers": [make_row("customers")]})
    (bad / "orders.parquet").write_bytes(b"garbage")
    with pytest.raises(LoaderError):
        load_raw_dir(bad, warehouse)
    assert query(warehouse, "select count(*) from raw.orders") == [(5,)]


def test_locked_warehouse_is_a_readable_error(work_dir: Path) -> None:
    warehouse = work_dir / "wh.duckdb"
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables())
    load_raw_dir(raw_dir, warehouse)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(warehouse)!r})\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(LoaderError) as caught:
            load_raw_dir(raw_dir, warehouse)
        assert str(caught.value) == (
            f"warehouse {warehouse} is in use by another process (pid {holder.pid}): "
            "close it and retry"
        )
    finally:
        holder.kill()
        holder.wait()


def test_cli_exit_codes(work_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables())
    assert main([str(raw_dir), str(work_dir / "wh.duckdb")]) == 0
    assert "orders" in capsys.readouterr().out
    assert main([str(work_dir / "nowhere"), str(work_dir / "wh.duckdb")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_gzipped_csv(work_dir: Path) -> None:
    raw_dir = write_raw_dir(work_dir / "raw", minimal_tables())
    plain = raw_dir / "orders.csv"
    with gzip.open(raw_dir / "orders.csv.gz", "wb") as handle:
        handle.write(plain.read_bytes())
    plain.unlink()
    warehouse = work_dir / "wh.duckdb"
    summary = load_raw_dir(raw_dir, warehouse)
    assert summary.rows_loaded["orders"] == 5
    assert summary.origins["orders"] == "orders.csv.gz"
