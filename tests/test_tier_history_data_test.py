"""The data test of fct_tier_history (tests/dbt/generic/test_runs_are_contiguous.sql): one
sort of the model checks its key, the runs' contiguity and that consecutive runs differ in
tier. Each rule is broken for a different member of a built warehouse, and the test must
report exactly those members, each with the rule it breaks."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from tests.helpers.dbt_cli import run_dbt
from tests.test_bi_marts import AS_OF

PARTITION = ("program_id", "scenario_id", "customer_id")


def _members_with_runs(con: duckdb.DuckDBPyConnection, count: int) -> list[tuple[str, str, str]]:
    """`count` (program, scenario, member) partitions with at least three runs, each closed
    run at least two days long, the last one open-ended."""
    return con.execute(
        """
        select program_id, scenario_id, customer_id
        from main.fct_tier_history
        group by all
        having count(*) >= 3 and count(*) = count(valid_to) + 1
            and min(valid_to - valid_from) >= 2
        order by all
        limit ?
        """,
        [count],
    ).fetchall()


def _break(con: duckdb.DuckDBPyConnection, member: tuple[str, str, str], how: str) -> None:
    """Break one rule in one of the member's runs (ordered by valid_from)."""
    member_where = " and ".join(f"{column} = ?" for column in PARTITION)
    runs = con.execute(
        f"select valid_from, tier_code from main.fct_tier_history where {member_where} "
        "order by valid_from",
        list(member),
    ).fetchall()
    first, second, last = runs[0], runs[1], runs[-1]
    table = "main.fct_tier_history"
    # how → (statement, its values before the member's key, the run it changes)
    changes: dict[str, tuple[str, list[object], tuple[object, ...]]] = {
        "duplicate key": (f"insert into {table} select * from {table} where {{}}", [], first),
        "gap": (f"update {table} set valid_to = valid_to - 1 where {{}}", [], first),
        "open run before another": (f"update {table} set valid_to = null where {{}}", [], first),
        "empty run": (f"update {table} set valid_to = valid_from where {{}}", [], last),
        # the second run gets the first run's tier
        "repeated tier": (f"update {table} set tier_code = ? where {{}}", [first[1]], second),
    }
    statement, values, run = changes[how]
    con.execute(statement.format(f"{member_where} and valid_from = ?"), [*values, *member, run[0]])


def test_each_broken_rule_is_reported_for_its_member(bi_warehouse: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(bi_warehouse, warehouse)
    expected = {
        "duplicate key": "does not start where the previous run ends",
        "gap": "does not start where the previous run ends",
        "open run before another": "open-ended run followed by another",
        "empty run": "valid_to is not after valid_from",
        "repeated tier": "same tier_code as the previous run",
    }
    with duckdb.connect(str(warehouse)) as con:
        members = _members_with_runs(con, len(expected))
        assert len(members) == len(expected), "the BI warehouse has too few tier changes"
        broken = dict(zip(members, expected, strict=True))
        for member, how in broken.items():
            _break(con, member, how)

    done = run_dbt(
        warehouse,
        tmp_path,
        ["test", "--select", "fct_tier_history,test_name:runs_are_contiguous", "--store-failures"],
        {"as_of": AS_OF.isoformat()},
        expect_success=False,
    )
    assert done.returncode == 1, done.stdout[-3000:]

    with duckdb.connect(str(warehouse), read_only=True) as con:
        (audit,) = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where schema_name = 'dbt_test__audit' and table_name like 'runs_are_contiguous%'"
        ).fetchone()
        reported = con.execute(
            f"select distinct {', '.join(PARTITION)}, problem from {audit}"
        ).fetchall()
    found: dict[tuple[str, str, str], set[str]] = {}
    for program_id, scenario_id, customer_id, problem in reported:
        found.setdefault((program_id, scenario_id, customer_id), set()).add(problem)
    assert found == {member: {expected[how]} for member, how in broken.items()}
