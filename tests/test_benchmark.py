"""`vip-tiers benchmark` at a tiny size: every figure is there and sane (no timing limits).

Four `vip-tiers run` builds (full, daily, and both again with the history doubled) make
this test take a few minutes, most of it the fixed cost of each build.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from orchestration import benchmark as bench

MEMBERS = 600
AS_OF = dt.date(2025, 6, 30)
MODELS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "models"

REQUIRED_KEYS = (
    "members", "full_build_s", "floor_s", "ratio_to_floor", "pandas_speedup", "peak_rss_gb",
    "daily_s", "daily_ratio_history_doubled", "rows", "rows_daily_added", "machine",
    "versions", "date", "daily_recomputes", "targets",
)  # fmt: skip
POSITIVE_SECONDS = (
    "full_build_s", "floor_s", "daily_s", "full_build_history_doubled_s",
    "daily_history_doubled_s", "pandas_extrapolated_s", "full_build_cpu_s",
)  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("benchmark")
    config = bench.BenchmarkConfig(
        members=MEMBERS, seed=3, work_dir=work / "work", as_of=AS_OF, pandas_members=200
    )
    out = bench.run_benchmark(config)
    path = work / "results.json"
    bench.write_json(out, path)
    return {**json.loads(path.read_text()), "_work": work / "work"}


def test_every_key_is_there(results: dict) -> None:
    missing = [key for key in REQUIRED_KEYS if key not in results]
    assert not missing, f"missing keys: {missing}"
    assert results["members"] == MEMBERS
    assert results["window"]["as_of"] == AS_OF.isoformat()
    assert dt.datetime.fromisoformat(results["date"])


def test_figures_are_sane(results: dict) -> None:
    for key in POSITIVE_SECONDS:
        assert results[key] > 0, key
    assert results["ratio_to_floor"] == pytest.approx(results["full_build_s"] / results["floor_s"])
    assert 0 < results["peak_rss_gb"] < results["machine"]["memory_gb"]
    assert results["pandas_speedup"] > 0
    assert results["pandas_subset_members"] == 200
    assert results["daily_ratio_history_doubled"] > 0
    assert set(results["targets"]) == {key for key, _, _ in bench.TARGETS}
    assert [run["exit_code"] for run in results["runs"]] == [0, 0, 0, 0]
    assert results["machine"]["cores_logical"] >= 1
    assert results["versions"]["duckdb"]


def test_each_run_says_where_dbt_spent_its_time(results: dict) -> None:
    for run in results["runs"]:
        assert 0 < run["dbt_elapsed_s"] < run["wall_s"], run["label"]
        assert run["dbt_node_s"]["model"] > 0 and run["dbt_node_s"]["test"] > 0, run["label"]
        slowest = [node["s"] for node in run["slowest_nodes"]]
        assert len(slowest) == bench.SLOWEST_NODES and slowest == sorted(slowest, reverse=True)
    # Which nodes are slowest at this size is timing noise; that they are the project's
    # own models (named as dbt names them, not as unique ids) is not.
    models = {path.stem for path in MODELS_DIR.rglob("*.sql")}
    full = results["runs"][0]
    assert any(node["node"] in models for node in full["slowest_nodes"]), full["slowest_nodes"]


def test_the_volume_per_member_is_the_issues(results: dict) -> None:
    """Activity 4 (the default): ~20 orders, ~2 refunds per member over 3 years."""
    assert results["activity"] == bench.DEFAULT_ACTIVITY == 4
    assert 14 < results["rows"]["orders"] / MEMBERS < 28
    assert 1.2 < results["rows"]["refunds"] / MEMBERS < 2.8


def test_row_counts_and_the_extra_day(results: dict) -> None:
    rows = results["rows"]
    assert set(rows) == set(bench.CUT_RULES)
    assert rows["customers"] >= MEMBERS  # plus a few invalid rows
    assert rows["orders"] > rows["refunds"] > 0
    assert rows["points_ledger"] > 0
    # The daily data is the full build's data plus one day: nothing re-drawn.
    assert results["daily_history_identical"]
    assert sum(results["rows_daily_added"].values()) < sum(rows.values()) / 100
    # The daily run restages the keys the extra day can change, not every row.
    restaged = results["daily_keys_restaged"]
    assert set(restaged) <= {"customers", "orders", "refunds", "points_ledger"}
    assert 0 < restaged["orders"] < rows["orders"] / 10
    doubled = results["rows_history_doubled"]
    assert doubled["customers"] == rows["customers"]
    assert doubled["orders"] > rows["orders"]


def test_the_work_dir_is_emptied(results: dict) -> None:
    assert results["work_dir"] is None
    assert not any(results["_work"].iterdir())


def test_docs_table_keeps_one_row_per_size(results: dict, tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmarks\n\nintro\n\n{bench.RESULTS_START}\n{bench.RESULTS_END}\n\nend\n")
    bench.update_docs(results, docs)
    bench.update_docs(results, docs)
    bigger = {**results, "members": 20_000}
    bench.update_docs(bigger, docs)
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\nintro") and text.endswith("\n\nend\n")
    table = text.split(bench.RESULTS_START)[1].split(bench.RESULTS_END)[0]
    rows = [line for line in table.splitlines() if line.startswith("| 20")]
    assert [line.split("|")[2].strip() for line in rows] == ["600", "20,000"]
