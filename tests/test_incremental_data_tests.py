"""Data tests in a build that continues a warehouse (macros/get_where_subquery.sql): a
generic test of a member-scoped model reads the rows of the members this build rewrote
(`int_rebuild_scope`), so a daily run's tests cost what its models cost; `dbt test` and a
full refresh read every row.

Two duplicate rows are planted in int_window_totals, one for a member the build rewrote
and one for a member it kept: the build's unique test reports the first only, `dbt test`
and a full-refresh build report both."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.helpers.dbt_cli import run_dbt
from tests.test_bi_marts import AS_OF

NEXT_DAY = AS_OF + dt.timedelta(days=1)
MODEL = "model.vip_tiers.int_window_totals"


def _unique_test(manifest: Path) -> str:
    nodes = json.loads(manifest.read_text())["nodes"].values()
    (name,) = [
        node["name"]
        for node in nodes
        if node["resource_type"] == "test"
        and node.get("attached_node") == MODEL
        and node["test_metadata"]["name"] == "unique_combination"
    ]
    return name


def _result(artefacts: Path, test: str) -> dict[str, Any]:
    results = json.loads((artefacts / "dbt_target" / "run_results.json").read_text())
    (result,) = [r for r in results["results"] if r["unique_id"].split(".")[2] == test]
    return result


def _failures(artefacts: Path, test: str) -> int:
    return int(_result(artefacts, test)["failures"])


def _compiled(artefacts: Path, test: str) -> str:
    return str(_result(artefacts, test)["compiled_code"])


def _plant_duplicates(warehouse: Path) -> None:
    """A copy of one int_window_totals row of a rewritten member and of a kept one."""
    with duckdb.connect(str(warehouse)) as con:
        rewritten, kept = (
            con.execute(
                f"""
                select any_value(totals.customer_key)
                from intermediate.int_window_totals as totals
                where totals.customer_key {op} (
                    select customer_key from intermediate.int_rebuild_scope)
                """
            ).fetchone()[0]
            for op in ("in", "not in")
        )
        for key in (rewritten, kept):
            con.execute(
                """
                insert into intermediate.int_window_totals
                select * from intermediate.int_window_totals where customer_key = ? limit 1
                """,
                [key],
            )


@pytest.fixture(scope="module")
def continued(bi_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The BI warehouse continued one day later by an incremental `dbt build`."""
    base = tmp_path_factory.mktemp("continued")
    warehouse = Path(shutil.copy(bi_warehouse, base / "warehouse.duckdb"))
    run_dbt(warehouse, base / "build", ["build"], {"as_of": NEXT_DAY.isoformat()})
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (in_scope, members) = con.execute(
            """
            select
                (select count(*) from intermediate.int_rebuild_scope),
                (select count(*) from intermediate.int_build_state)
            """
        ).fetchone()
    assert 0 < in_scope < members / 2, (in_scope, members)
    return base


def _planted_copy(continued: Path, to: Path) -> Path:
    to.mkdir()
    warehouse = Path(shutil.copy(continued / "warehouse.duckdb", to / "warehouse.duckdb"))
    _plant_duplicates(warehouse)
    return warehouse


def test_a_continued_build_tests_the_rows_it_rewrote(continued: Path, tmp_path: Path) -> None:
    test = _unique_test(continued / "build" / "dbt_target" / "manifest.json")
    assert "int_rebuild_scope" in _compiled(continued / "build", test)
    assert _failures(continued / "build", test) == 0
    warehouse = _planted_copy(continued, tmp_path / "planted")
    dbt_vars = {"as_of": NEXT_DAY.isoformat()}

    scoped = run_dbt(
        warehouse, tmp_path / "build", ["build", "-s", test], dbt_vars, expect_success=False
    )
    assert scoped.returncode != 0
    assert _failures(tmp_path / "build", test) == 1  # the rewritten member's duplicate only

    whole = run_dbt(
        warehouse, tmp_path / "test", ["test", "-s", test], dbt_vars, expect_success=False
    )
    assert whole.returncode != 0
    assert "int_rebuild_scope" not in _compiled(tmp_path / "test", test)
    assert _failures(tmp_path / "test", test) == 2


def test_a_full_refresh_build_tests_every_row(continued: Path, tmp_path: Path) -> None:
    test = _unique_test(continued / "build" / "dbt_target" / "manifest.json")
    warehouse = _planted_copy(continued, tmp_path / "planted")
    done = run_dbt(
        warehouse,
        tmp_path,
        ["build", "-s", test, "--full-refresh"],
        {"as_of": NEXT_DAY.isoformat()},
        expect_success=False,
    )
    assert done.returncode != 0
    assert "int_rebuild_scope" not in _compiled(tmp_path, test)
    assert _failures(tmp_path, test) == 2


def test_a_staging_key_test_counts_accepted_copies_only(continued: Path, tmp_path: Path) -> None:
    """The key tests find repeated key hashes first (macros/repeated_keys.sql); an accepted
    order planted twice more fails the test with its copies, a rejected copy does not."""
    test = "stg_orders_accepted_key_is_unique"
    (tmp_path / "planted").mkdir()
    warehouse = Path(
        shutil.copy(continued / "warehouse.duckdb", tmp_path / "planted" / "warehouse.duckdb")
    )
    with duckdb.connect(str(warehouse)) as con:
        (program_id, order_id) = con.execute(
            "select program_id, order_id from staging.stg_orders "
            "where rejection_reason is null order by program_id, order_id limit 1"
        ).fetchone()
        for reason in (None, None, "exact_duplicate"):
            con.execute(
                """
                insert into staging.stg_orders by name
                select * replace (cast(? as varchar) as rejection_reason)
                from staging.stg_orders
                where program_id = ? and order_id = ? and rejection_reason is null
                limit 1
                """,
                [reason, program_id, order_id],
            )
    done = run_dbt(
        warehouse,
        tmp_path / "test",
        ["test", "-s", test, "--store-failures"],
        {"as_of": NEXT_DAY.isoformat()},
        expect_success=False,
    )
    assert done.returncode != 0
    assert _failures(tmp_path / "test", test) == 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        failing = con.execute(
            "select table_schema from information_schema.tables where table_name = ?", [test]
        ).fetchone()
        assert failing is not None
        rows = con.execute(
            f'select program_id, order_id, copies from "{failing[0]}"."{test}"'
        ).fetchall()
    assert rows == [(program_id, order_id, 3)]
