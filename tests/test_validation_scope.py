"""Key-scoped validation (macros/validation_scope.sql, int_validation_scope): a build that
continues a warehouse revalidates only the orders and ledger entries that depend on a
restaged row, and its validation tables and marts equal a full rebuild's.

Corrections that reach rows other than their own, made in raw on two copies of one
warehouse, one built incrementally and one with --full-refresh:
- a refund moved to another order (both orders' refund walks change);
- a purchase entry's order_id corrected (the reversal of the old order_id loses its
  purchase date);
- a customer removed (their orders and entries become unknown-customer rows);
- an order removed (its refunds become `unknown_order`);
- an order moved to another customer (both members' contributions change);
- an FX rate corrected (every order of that currency and day is converted again).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb

from tests.helpers.dbt_cli import run_dbt
from tests.helpers.warehouse_diff import OUTPUT_MODELS, diff_models
from tests.test_bi_marts import AS_OF

VALIDATED = (
    "int_refunds__validated",
    "int_orders__accepted",
    "int_refunds__accepted",
    "int_points_ledger__accepted",
    "int_contributions",
)
MARTS = tuple(model for model in OUTPUT_MODELS if model != "fct_customer_tier_daily")


def _correct_raw(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Apply the six corrections; return the keys they touched."""
    refund, from_order, to_order = con.execute(
        """
        select r.refund_id, r.order_id, other.order_id
        from intermediate.int_refunds__validated as r
        inner join intermediate.int_orders__accepted as other
            on other.program_id = r.program_id and other.order_id <> r.order_id
            and other.refund_count > 0 and other.total_amount > r.amount
        where r.rejection_reason is null
        order by r.program_id, r.refund_id, other.order_id
        limit 1
        """
    ).fetchone()
    con.execute("update raw.refunds set order_id = ? where refund_id = ?", [to_order, refund])

    purchase, ledger_order = con.execute(
        """
        select p.entry_id, p.order_id
        from intermediate.int_points_ledger__accepted as p
        inner join intermediate.int_points_ledger__accepted as reversal
            on reversal.program_id = p.program_id and reversal.order_id = p.order_id
            and reversal.activity = 'purchase_reversal'
            and reversal.entry_date <> reversal.attribution_date
        where p.activity = 'purchase'
            and (select count(*) from intermediate.int_points_ledger__accepted as q
                 where q.program_id = p.program_id and q.order_id = p.order_id
                   and q.activity = 'purchase') = 1
        order by p.program_id, p.entry_id
        limit 1
        """
    ).fetchone()
    con.execute(
        "update raw.points_ledger set order_id = order_id || '-corrected' where entry_id = ?",
        [purchase],
    )

    (customer,) = con.execute(
        """
        select o.customer_id
        from intermediate.int_orders__accepted as o
        inner join intermediate.int_points_ledger__accepted as e
            on e.program_id = o.program_id and e.customer_id = o.customer_id
        where o.is_known_customer
        order by o.program_id, o.customer_id
        limit 1
        """
    ).fetchone()
    con.execute("delete from raw.customers where customer_id = ?", [customer])

    (order,) = con.execute(
        """
        select order_id from intermediate.int_orders__accepted
        where refund_count > 0 and order_id not in (?, ?)
        order by program_id, order_id
        limit 1
        """,
        [from_order, to_order],
    ).fetchone()
    con.execute("delete from raw.orders where order_id = ?", [order])

    moved, old_owner, new_owner = con.execute(
        """
        select o.source_id, o.customer_id, other.customer_id
        from intermediate.int_contributions as o
        inner join intermediate.int_contributions as other
            on other.program_id = o.program_id and other.customer_id <> o.customer_id
        where o.source_table = 'orders' and o.activity = 'purchase'
            and o.source_id not in (?, ?, ?) and o.customer_id <> ?
            and other.customer_id <> ?
        order by o.program_id, o.source_id, other.customer_id
        limit 1
        """,
        [from_order, to_order, order, customer, customer],
    ).fetchone()
    con.execute("update raw.orders set customer_id = ? where order_id = ?", [new_owner, moved])

    currency, quote, day = con.execute(
        """
        select rates.currency, rates.quote_currency, rates.rate_date
        from raw.fx_rates as rates
        inner join intermediate.int_orders__accepted as o
            on o.currency = rates.currency and o.program_currency = rates.quote_currency
            and o.order_date = rates.rate_date
        group by 1, 2, 3
        order by count(*) desc, 1, 2, 3
        limit 1
        """
    ).fetchone()
    rate_orders = {
        key
        for (key,) in con.execute(
            "select order_id from intermediate.int_orders__accepted "
            "where currency = ? and program_currency = ? and order_date = ?",
            [currency, quote, day],
        ).fetchall()
    }
    con.execute(
        "update raw.fx_rates set rate = rate * 2 "
        "where currency = ? and quote_currency = ? and rate_date = ?",
        [currency, quote, day],
    )
    return {
        "refund": refund,
        "from_order": from_order,
        "to_order": to_order,
        "purchase": purchase,
        "ledger_order": ledger_order,
        "customer": customer,
        "order": order,
        "moved": moved,
        "old_owner": old_owner,
        "new_owner": new_owner,
        "rate_orders": rate_orders,
    }


def _build(warehouse: Path, artefacts: Path, *flags: str) -> None:
    run_dbt(warehouse, artefacts, ["build", *flags], {"as_of": AS_OF.isoformat()})


def _continue_and_rebuild(continued: Path, rebuilt: Path, tmp_path: Path) -> dict[str, int]:
    """Build `continued` on from its last build and `rebuilt` with --full-refresh; assert
    their validation tables and marts are equal; return the continued build's scope counts."""
    _build(continued, tmp_path / "continued")
    _build(rebuilt, tmp_path / "rebuilt", "--full-refresh")
    diffs = diff_models(continued, rebuilt, VALIDATED, schema="intermediate")
    diffs += diff_models(continued, rebuilt, MARTS)
    assert [d.describe() for d in diffs if not d.equal] == []
    with duckdb.connect(str(continued), read_only=True) as con:
        return dict(
            con.execute(
                "select scope, count(*) from intermediate.int_validation_scope group by 1"
            ).fetchall()
        )


def test_corrections_revalidate_what_depends_on_them(bi_warehouse: Path, tmp_path: Path) -> None:
    continued = Path(shutil.copy(bi_warehouse, tmp_path / "continued.duckdb"))
    rebuilt = Path(shutil.copy(bi_warehouse, tmp_path / "rebuilt.duckdb"))
    for warehouse in (continued, rebuilt):
        with duckdb.connect(str(warehouse)) as con:
            touched = _correct_raw(con)

    scopes = _continue_and_rebuild(continued, rebuilt, tmp_path)

    # the corrections changed every validation table, so the comparison had work to do
    changed = diff_models(bi_warehouse, continued, VALIDATED, schema="intermediate")
    assert [d.model for d in changed if d.equal] == []

    with duckdb.connect(str(continued), read_only=True) as con:
        orders, entries = con.execute(
            "select (select count(*) from intermediate.int_orders__accepted), "
            "(select count(*) from intermediate.int_points_ledger__accepted)"
        ).fetchone()
        listed = {
            key
            for (key,) in con.execute(
                "select key_id from intermediate.int_validation_scope where scope = 'order'"
            ).fetchall()
        }
        members = {
            key
            for (key,) in con.execute(
                "select key_id from intermediate.int_validation_scope where scope = 'member'"
            ).fetchall()
        }
        reversal_dates = con.execute(
            "select count(*) from intermediate.int_points_ledger__accepted "
            "where order_id = ? and activity = 'purchase_reversal' "
            "and entry_date <> attribution_date",
            [touched["ledger_order"]],
        ).fetchone()[0]
    assert "_all" not in scopes and scopes["_invocation"] == 1
    assert 0 < scopes["order"] < orders / 2 and 0 < scopes["ledger_entry"] < entries / 2
    assert {touched["from_order"], touched["to_order"], touched["order"]} <= listed
    assert touched["rate_orders"] and touched["rate_orders"] <= listed
    assert {touched["customer"], touched["old_owner"], touched["new_owner"]} <= members
    assert 0 < scopes["member"] < scopes["order"] + scopes["ledger_entry"]
    assert reversal_dates == 0


def test_a_validation_model_refuses_a_list_from_another_invocation(
    bi_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = Path(shutil.copy(bi_warehouse, tmp_path / "w.duckdb"))
    done = run_dbt(
        warehouse,
        tmp_path,
        ["run", "-s", "int_orders__accepted"],
        {"as_of": AS_OF.isoformat()},
        expect_success=False,
    )
    assert done.returncode != 0
    assert "was not built by this dbt invocation" in done.stdout
    assert "dbt build -s stg_raw__changed_keys+" in done.stdout


def test_a_program_currency_change_reconverts_everything(
    bi_warehouse: Path, tmp_path: Path
) -> None:
    """Orders are converted to their program's currency: when a buildable program's currency
    changes (or a program comes or goes), no key list can say what changed, so the build
    recomputes every validated and converted row (`_all`)."""
    continued = Path(shutil.copy(bi_warehouse, tmp_path / "continued.duckdb"))
    rebuilt = Path(shutil.copy(bi_warehouse, tmp_path / "rebuilt.duckdb"))
    for warehouse in (continued, rebuilt):
        with duckdb.connect(str(warehouse)) as con:
            con.execute(
                "update raw.programs set currency = 'EUR' "
                "where program_id = (select min(program_id) from raw.programs "
                "where currency <> 'EUR')"
            )

    scopes = _continue_and_rebuild(continued, rebuilt, tmp_path)
    assert scopes.get("_all") == 1
    changed = diff_models(bi_warehouse, continued, ("int_orders__accepted",), "intermediate")
    assert not changed[0].equal


def _move_an_order(con: duckdb.DuckDBPyConnection, skip: tuple[str, ...] = ()) -> str:
    """Give an old counted order (not restaged again by the next build for being near as_of)
    to another member of its program."""
    order, new_owner = con.execute(
        """
        select o.source_id, other.customer_id
        from intermediate.int_contributions as o
        inner join intermediate.int_contributions as other
            on other.program_id = o.program_id and other.customer_id <> o.customer_id
        where o.source_table = 'orders' and o.activity = 'purchase'
            and not list_contains(?, o.source_id)
        order by o.attribution_date, o.program_id, o.source_id, other.customer_id
        limit 1
        """,
        [list(skip)],
    ).fetchone()
    con.execute("update raw.orders set customer_id = ? where order_id = ?", [new_owner, order])
    return order


def test_a_list_that_did_not_reach_every_model_asks_for_everything(
    bi_warehouse: Path, tmp_path: Path
) -> None:
    """A build that stops part-way (a failed model, or a selection) leaves keys restaged or
    listed but not recomputed downstream. The next build must not lose them: it
    revalidates everything (`_all`) and ends equal to a full rebuild."""
    continued = Path(shutil.copy(bi_warehouse, tmp_path / "continued.duckdb"))
    rebuilt = Path(shutil.copy(bi_warehouse, tmp_path / "rebuilt.duckdb"))

    def scopes() -> dict[str, int]:
        with duckdb.connect(str(continued), read_only=True) as con:
            return dict(
                con.execute(
                    "select scope, count(*) from intermediate.int_validation_scope group by 1"
                ).fetchall()
            )

    def compare() -> None:
        diffs = diff_models(continued, rebuilt, VALIDATED, schema="intermediate")
        diffs += diff_models(continued, rebuilt, MARTS)
        assert [d.describe() for d in diffs if not d.equal] == []

    # 1. the list is used by validation but not by int_contributions and what follows it
    moved = []
    for warehouse in (continued, rebuilt):
        with duckdb.connect(str(warehouse)) as con:
            moved = [_move_an_order(con)]
    _build(continued, tmp_path / "a", "--exclude", "int_contributions+")
    assert "_all" not in scopes()
    _build(continued, tmp_path / "b")
    assert scopes().get("_all") == 1
    _build(rebuilt, tmp_path / "r1", "--full-refresh")
    compare()

    # 2. staging restages a key, then the build stops before int_validation_scope
    for warehouse in (continued, rebuilt):
        with duckdb.connect(str(warehouse)) as con:
            _move_an_order(con, skip=tuple(moved))
    _build(continued, tmp_path / "c", "--exclude", "int_validation_scope+")
    _build(continued, tmp_path / "d")
    assert scopes().get("_all") == 1
    _build(rebuilt, tmp_path / "r2", "--full-refresh")
    compare()

    # 3. and the build after a complete one is key-scoped again
    _build(continued, tmp_path / "e")
    assert "_all" not in scopes()


def test_a_warehouse_from_before_the_conversion_moved_is_revalidated_whole(
    bi_warehouse: Path, tmp_path: Path
) -> None:
    """Until 2026-12-07 the FX conversion was its own table (int_orders__converted) and
    int_orders__accepted had no `program_currency`, `fx_rate` or `amount`. A warehouse from
    then continues without a full refresh: the build lists everything (`_all`), the model
    gets its new columns and every order's values, and the results equal a full rebuild's."""
    continued = Path(shutil.copy(bi_warehouse, tmp_path / "continued.duckdb"))
    rebuilt = Path(shutil.copy(bi_warehouse, tmp_path / "rebuilt.duckdb"))
    with duckdb.connect(str(continued)) as con:
        for column in ("amount", "fx_rate", "program_currency"):
            con.execute(f"alter table intermediate.int_orders__accepted drop column {column}")

    scopes = _continue_and_rebuild(continued, rebuilt, tmp_path)
    assert scopes.get("_all") == 1
    with duckdb.connect(str(continued), read_only=True) as con:
        converted = con.execute(
            "select count(*), count(amount) from intermediate.int_orders__accepted"
        ).fetchone()
    assert converted[0] > 0 and converted[1] > converted[0] * 0.9


def test_a_warehouse_from_before_sets_shared_counting_starts_continues(
    bi_warehouse: Path, tmp_path: Path
) -> None:
    """Until 2026-12-08 a contribution set also had its counting start in its key (other
    `set_key` values), int_set_contributions an `is_counted` column and int_window_totals a
    `has_reduction` column. A warehouse from then continues without a full refresh: the two
    columns are dropped, the members in scope get the new keys, the members kept keep their
    rows (each member reads only its own), and the results equal a full rebuild's."""
    continued = Path(shutil.copy(bi_warehouse, tmp_path / "continued.duckdb"))
    rebuilt = Path(shutil.copy(bi_warehouse, tmp_path / "rebuilt.duckdb"))
    with duckdb.connect(str(continued)) as con:
        con.execute("alter table intermediate.int_set_contributions add column is_counted boolean")
        con.execute("update intermediate.int_set_contributions set set_key = set_key + 1")
        con.execute("alter table intermediate.int_window_totals add column has_reduction boolean")
    for warehouse in (continued, rebuilt):
        with duckdb.connect(str(warehouse)) as con:
            touched = _correct_raw(con)

    _continue_and_rebuild(continued, rebuilt, tmp_path)
    with duckdb.connect(str(continued), read_only=True) as con:
        columns = {
            (table, column)
            for table, column in con.execute(
                "select table_name, column_name from information_schema.columns "
                "where table_schema = 'intermediate' "
                "and table_name in ('int_set_contributions', 'int_window_totals')"
            ).fetchall()
        }
        moved_members_old_keys, moved_members_rows, kept_old_keys = con.execute(
            """
            select
                count(*) filter (where moved and not is_current_key),
                count(*) filter (where moved),
                count(*) filter (where not moved and not is_current_key)
            from (
                select
                    m.customer_id in (?, ?) and m.program_id in (
                        select program_id from intermediate.int_contributions
                        where source_table = 'orders' and source_id = ?
                            and customer_id = m.customer_id
                    ) as moved,
                    c.set_key in (select set_key from intermediate.int_window_specs)
                        as is_current_key
                from intermediate.int_set_contributions as c
                inner join intermediate.int_customers__eligibility as m
                    on m.customer_key = c.customer_key
            )
            """,
            [touched["old_owner"], touched["new_owner"], touched["moved"]],
        ).fetchone()
    assert ("int_set_contributions", "is_counted") not in columns
    assert ("int_window_totals", "has_reduction") not in columns
    # the member the order moved to was recomputed with the new keys; members out of scope
    # kept their rows under the old ones, and the results still equal a full rebuild's
    assert moved_members_rows > 0 and moved_members_old_keys == 0
    assert kept_old_keys > 0
