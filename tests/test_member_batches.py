"""Member batches (macros/member_batches.sql): int_tier_states computed a slice of the members
at a time gives exactly the rows of one pass, on a full build and on an incremental one.

The batch size is var('member_batch_rows'); here it is set so low that the BI warehouse's
members take a dozen batches."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import DBT_PROJECT_DIR, REPO_ROOT
from tests.helpers.dbt_cli import run_dbt
from tests.helpers.warehouse_diff import OUTPUT_MODELS, diff_models
from tests.test_bi_marts import AS_OF

BATCH_ROWS = 100


def _copy(warehouse: Path, to: Path) -> Path:
    to.mkdir(parents=True)
    return Path(shutil.copy(warehouse, to / "warehouse.duckdb"))


def _batches_expected(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (rows,) = con.execute("select count(*) from intermediate.int_tier_members").fetchone()
    return math.ceil(rows / BATCH_ROWS)


def _assert_same_states_and_marts(built: Path, batched: Path) -> None:
    diffs = diff_models(built, batched, ("int_tier_states",), schema="intermediate")
    diffs += diff_models(built, batched, OUTPUT_MODELS)
    assert [d.describe() for d in diffs if not d.equal] == []
    with duckdb.connect(str(batched), read_only=True) as con:
        (rows,) = con.execute("select count(*) from intermediate.int_tier_states").fetchone()
    assert rows > 1000


@pytest.mark.parametrize("full_refresh", [True, False], ids=["full", "incremental"])
def test_batched_tier_states_equal_one_pass(
    bi_warehouse: Path, tmp_path: Path, full_refresh: bool
) -> None:
    batched = _copy(bi_warehouse, tmp_path / "batched")
    batches = _batches_expected(batched)
    assert batches >= 10
    args = ["run", "-s", "int_tier_states+"] + (["--full-refresh"] if full_refresh else [])
    done = run_dbt(
        batched, tmp_path, args, {"as_of": AS_OF.isoformat(), "member_batch_rows": BATCH_ROWS}
    )
    assert f"int_tier_states: {batches} member batch(es)" in done.stdout
    _assert_same_states_and_marts(bi_warehouse, batched)


def test_a_batched_model_without_its_filter_is_refused(bi_warehouse: Path, tmp_path: Path) -> None:
    """Without member_batch() in its SQL every batch would compute every member: the build
    stops instead of writing each row once per batch."""
    repo = tmp_path / "repo"
    project = repo / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    for shared in ("macros", "seeds", "tests"):  # the project's ../ paths
        (repo / shared).symlink_to(REPO_ROOT / shared)
    copied = project / "models" / "intermediate" / "tiers" / "int_tier_states.sql"
    sql = copied.read_text()
    assert "{{ member_batch('customer_key') }}" in sql
    copied.write_text(sql.replace("{{ member_batch('customer_key') }}", "true"))
    warehouse = _copy(bi_warehouse, tmp_path / "unfiltered")
    with pytest.raises(AssertionError, match="its SQL has no"):
        run_dbt(
            warehouse,
            tmp_path,
            ["run", "-s", "int_tier_states", "--full-refresh"],
            {"as_of": AS_OF.isoformat(), "member_batch_rows": BATCH_ROWS},
            project_dir=project,
        )
