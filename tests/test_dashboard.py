"""The HTML dashboard: built from a generated warehouse, opened in headless Chromium.

The browser (Debian `chromium`, installed by `make system-deps`; this test installs nothing)
is driven over the DevTools protocol (orchestration/dashboard/browser.py): any JavaScript
exception or console error, any request leaving the machine, a page status other than `ok`
or a chart without data, in any program / scenario view, fails the test. Two control pages
(a script that throws, a chart with no data) check that those failures are seen.
"""

from __future__ import annotations

import copy
import os
import re
import struct
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.dashboard.browser import find_chromium, inspect_dashboard
from orchestration.dashboard.build import (
    MARTS,
    DashboardError,
    build_dashboard,
    load_dashboard_data,
    render_html,
)

SKIP_ENV = "VIP_SKIP_BROWSER_TESTS"


@pytest.fixture(scope="session")
def chromium() -> str:
    executable = find_chromium()
    if executable:
        return executable
    if os.environ.get(SKIP_ENV):
        pytest.skip(f"{SKIP_ENV} is set and Chromium is not installed")
    pytest.fail(
        "Chromium is not installed: run `make system-deps` (apt-get install chromium), or set "
        f"{SKIP_ENV}=1 to skip the browser tests."
    )


@pytest.fixture(scope="module")
def dashboard_data(bi_warehouse: Path) -> dict[str, Any]:
    return load_dashboard_data(bi_warehouse)


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", header[16:24])


def test_dashboard_renders_every_view_without_errors(
    bi_warehouse: Path, chromium: str, tmp_path: Path
) -> None:
    page = build_dashboard(bi_warehouse, tmp_path / "out" / "dashboard.html")
    text = page.read_text(encoding="utf-8")
    # self-contained: no script, style or image is fetched from anywhere
    assert not re.search(r"<script[^>]*\bsrc=", text, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref=", text, re.IGNORECASE)
    assert "Plotly" in text and len(text) > 1_000_000, "plotly.js is inlined"

    shot = tmp_path / "dashboard.png"
    report = inspect_dashboard(page, screenshot=shot, executable=chromium)
    assert report.problems == []
    programs = {view.program for view in report.views}
    assert programs == {"london_tea", "nyc_threads", "sydney_surf"}
    scenarios = {(view.program, view.scenario) for view in report.views}
    assert len(scenarios) >= 18, "every scenario of every program was shown"
    for view in report.views:
        assert len(view.charts) == 6
        assert all(chart["points"] > 0 and chart["traces"] > 0 for chart in view.charts)
    width, height = _png_size(shot)
    assert width >= 1200 and height >= 1500
    assert shot.stat().st_size > 100_000, "a screenshot of drawn charts, not a blank page"


def test_a_script_error_is_reported(
    dashboard_data: dict[str, Any], chromium: str, tmp_path: Path
) -> None:
    page = tmp_path / "broken.html"
    html = render_html(dashboard_data)
    html = html.replace("</body>", "<script>undefinedFunction();</script></body>", 1)
    page.write_text(html, encoding="utf-8")
    report = inspect_dashboard(page, all_views=False, executable=chromium)
    assert any("undefinedFunction" in problem for problem in report.problems), report.problems


def test_an_empty_chart_is_reported(
    dashboard_data: dict[str, Any], chromium: str, tmp_path: Path
) -> None:
    data = copy.deepcopy(dashboard_data)
    for program in data["programs"]:
        program["closest"] = []
    page = tmp_path / "empty.html"
    page.write_text(render_html(data), encoding="utf-8")
    report = inspect_dashboard(page, all_views=False, executable=chromium)
    assert report.views[0].status == "empty"
    assert "chart-closest" in report.views[0].empty_charts
    assert any("chart-closest" in problem for problem in report.problems)


def test_the_data_covers_every_program_and_scenario(
    bi_warehouse: Path, dashboard_data: dict[str, Any]
) -> None:
    with duckdb.connect(str(bi_warehouse), read_only=True) as con:
        scenarios = set(con.execute("select program_id, scenario_id from dim_scenarios").fetchall())
    shown = {
        (program["program_id"], scenario["id"])
        for program in dashboard_data["programs"]
        for scenario in program["scenarios"]
    }
    assert shown == scenarios
    for program in dashboard_data["programs"]:
        assert program["as_of"] == "2024-06-30"
        assert 0 < len(program["closest"]) <= 20
        amounts = [row["amount_to_next_tier"] for row in program["closest"]]
        assert amounts == sorted(amounts)
        for scenario in program["scenarios"]:
            dist = scenario["distribution"]
            assert {tier["code"] for tier in scenario["tiers"]} == set(dist["series"])
            assert all(len(series) == len(dist["dates"]) for series in dist["series"].values())
            months = scenario["movements"]["months"]
            assert months and months[-1]["month"] == "2024-06-01"
            for month in months:
                balance = (
                    month["opening"] + month["new"] - month["exits"]
                    # upgrades and downgrades move members between tiers: 0 in total
                )
                assert balance == month["closing"], (program["program_id"], month)


def test_missing_warehouse_or_marts_give_readable_errors(tmp_path: Path) -> None:
    with pytest.raises(DashboardError, match="does not exist"):
        build_dashboard(tmp_path / "nowhere.duckdb", tmp_path / "d.html")
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(DashboardError, match="fct_tier_distribution_daily") as info:
        build_dashboard(empty, tmp_path / "d.html")
    assert "vip-tiers run" in str(info.value)
    assert not (tmp_path / "d.html").exists()


def test_marts_copied_into_another_schema_give_the_same_dashboard(
    bi_warehouse: Path, dashboard_data: dict[str, Any], tmp_path: Path
) -> None:
    """On the Spark engine the dashboard reads the marts Spark built, copied into the
    warehouse file's `spark_marts` schema (orchestration.spark.mirror_tables)."""
    copied = tmp_path / "copied.duckdb"
    with duckdb.connect(str(copied)) as con:
        con.execute(f"attach '{bi_warehouse}' as source (read_only)")
        con.execute("create schema raw; create schema spark_marts")
        con.execute("create table raw.programs as select * from source.raw.programs")
        for name in MARTS:
            con.execute(f"create table spark_marts.{name} as select * from source.main.{name}")
    with pytest.raises(DashboardError, match="fct_tier_distribution_daily"):
        load_dashboard_data(copied)  # nothing in `main`
    copied_data = load_dashboard_data(copied, "spark_marts")
    # generated_at is the clock minute of each read; everything read from the marts must match.
    assert {**copied_data, "generated_at": None} == {**dashboard_data, "generated_at": None}
    out = build_dashboard(copied, tmp_path / "d.html", "spark_marts")
    assert out.stat().st_size > 1_000_000


def test_dashboard_asset_is_downstream_of_the_marts(bi_warehouse: Path, tmp_path: Path) -> None:
    import dagster as dg

    from orchestration.assets.dashboard import dashboard
    from orchestration.assets.dbt import dbt_models
    from orchestration.resources import WarehouseResource, build_resources

    defs = dg.Definitions(assets=[dbt_models, dashboard], resources=build_resources())
    graph = defs.resolve_asset_graph()
    parents = graph.get(dg.AssetKey("dashboard")).parent_keys
    assert parents == {dg.AssetKey(name) for name in MARTS}
    assert parents <= set(dbt_models.keys)

    out = tmp_path / "asset" / "dashboard.html"
    result = dg.materialize(
        [dashboard],
        resources={"warehouse": WarehouseResource(path=str(bi_warehouse))},
        run_config={"ops": {"dashboard": {"config": {"out": str(out)}}}},
    )
    assert result.success
    assert out.exists() and out.stat().st_size > 1_000_000
