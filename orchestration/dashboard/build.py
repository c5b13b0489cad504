"""Build the VIP tiers dashboard: one self-contained HTML file from the BI marts.

`build_dashboard(warehouse, out)` reads the marts with one short read-only DuckDB connection,
embeds the data as JSON and inlines the chart library (plotly.js from the `plotly` package)
with the page's own script and style, so the file opens from the file system with no network.
The page sets `#dashboard-status[data-status]` to `ok` once every chart has drawn data, to
`empty` when a chart has nothing to show and to `error` when a script fails (tests read it).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import defaultdict
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

MARTS = (
    "fct_tier_distribution_daily",
    "fct_tier_movements_monthly",
    "fct_tier_migrations_monthly",
    "fct_scenario_comparison",
    "dim_customer_tier_current",
    "dim_scenarios",
    "dim_program_tiers",
)
DASHBOARD_FILE = "dashboard.html"
CLOSEST_MEMBERS = 20
MIGRATION_MONTHS = 12


class DashboardError(RuntimeError):
    """The dashboard cannot be built (no warehouse, marts missing, nothing to show)."""


class NothingToShowError(DashboardError):
    """The marts are there but hold no tier history yet (no eligible members)."""


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [
        {name: _plain(value) for name, value in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


def _missing_marts(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    present = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [schema]
        ).fetchall()
    }
    return [name for name in MARTS if name not in present]


def _program_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    try:
        return dict(con.execute("select program_id, name from raw.programs").fetchall())
    except duckdb.Error:  # another tool filled the marts: ids are enough
        return {}


def _query_all(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, list[dict[str, Any]]]:
    con.execute("set schema = ?", [schema])
    return {
        "scenarios": _rows(
            con,
            "select program_id, scenario_id, scenario_order, description, is_live, "
            "threshold_unit from dim_scenarios order by program_id, scenario_order",
        ),
        "tiers": _rows(
            con,
            "select program_id, scenario_id, tier_code, tier_name, tier_rank, "
            "cast(threshold as double) as threshold from dim_program_tiers "
            "order by program_id, scenario_id, tier_rank",
        ),
        "distribution": _rows(
            con,
            "select program_id, scenario_id, calendar_date, tier_code, members "
            "from fct_tier_distribution_daily order by program_id, scenario_id, "
            "calendar_date, tier_rank",
        ),
        "movements": _rows(
            con,
            "select program_id, scenario_id, month_start_date, is_complete_month, tier_code, "
            "tier_name, tier_rank, opening_members, new_members, upgrades_in, downgrades_in, "
            "upgrades_out, downgrades_out, exits, closing_members, churned_members "
            "from fct_tier_movements_monthly "
            "order by program_id, scenario_id, month_start_date, tier_rank",
        ),
        "migrations": _rows(
            con,
            "select program_id, scenario_id, month_start_date, movement_kind, from_tier_code, "
            "to_tier_code, movements from fct_tier_migrations_monthly",
        ),
        "comparison": _rows(
            con,
            "select program_id, scenario_id, is_live, as_of_date, tier_code, tier_name, "
            "tier_rank, cast(threshold as double) as threshold, threshold_unit, members, "
            "members_vs_live, members_changed_vs_live, members_up_vs_live, "
            "members_down_vs_live, entry_bonus_points_held, entry_bonus_points_to_date, "
            "birthday_points_per_year, cast(multiplier_exposure as double) as "
            "multiplier_exposure from fct_scenario_comparison "
            "order by program_id, scenario_id, tier_rank",
        ),
        "closest": _rows(
            con,
            f"""
            select program_id, customer_id, tier_code, next_tier_code,
                cast(amount_to_next_tier as double) as amount_to_next_tier,
                cast(window_total as double) as window_total, review_on, as_of_date
            from dim_customer_tier_current
            where scenario_id = 'live' and next_tier_code is not null
            qualify row_number() over (
                partition by program_id order by amount_to_next_tier, customer_id
            ) <= {CLOSEST_MEMBERS}
            order by program_id, amount_to_next_tier, customer_id
            """,
        ),
    }


def _group(rows: list[dict[str, Any]], *keys: str) -> dict[tuple, list[dict[str, Any]]]:
    grouped: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[tuple(row[key] for key in keys)].append(row)
    return grouped


def _distribution(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """{dates: [...], series: {tier_code: [members per date]}} for one program scenario."""
    dates: list[str] = []
    series: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if not dates or dates[-1] != row["calendar_date"]:
            dates.append(row["calendar_date"])
        series[row["tier_code"]].append(int(row["members"]))
    return {"dates": dates, "series": dict(series)}


def _movements(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Program-level monthly flows (every tier summed) and the per-tier rows of the last month."""
    months: dict[str, dict[str, Any]] = {}
    for row in rows:
        month = months.setdefault(
            row["month_start_date"],
            {
                "month": row["month_start_date"],
                "complete": row["is_complete_month"],
                "opening": 0,
                "new": 0,
                "upgrades": 0,
                "downgrades": 0,
                "exits": 0,
                "churned": 0,
                "closing": 0,
            },
        )
        month["opening"] += row["opening_members"]
        month["new"] += row["new_members"]
        month["upgrades"] += row["upgrades_in"]
        month["downgrades"] += row["downgrades_in"]
        month["exits"] += row["exits"]
        month["churned"] += row["churned_members"]
        month["closing"] += row["closing_members"]
    ordered = [months[key] for key in sorted(months)]
    last_month = ordered[-1]["month"] if ordered else None
    last_rows = [
        {
            key: row[key]
            for key in (
                "tier_code",
                "tier_name",
                "opening_members",
                "new_members",
                "upgrades_in",
                "downgrades_in",
                "upgrades_out",
                "downgrades_out",
                "exits",
                "closing_members",
            )
        }
        for row in rows
        if row["month_start_date"] == last_month
    ]
    return {"months": ordered, "last_month": last_month, "last_month_tiers": last_rows}


def _migrations(rows: list[dict[str, Any]], as_of: str | None) -> dict[str, Any]:
    """From tier -> to tier totals over the last MIGRATION_MONTHS months up to as_of."""
    if as_of:
        end = dt.date.fromisoformat(as_of)
        first = dt.date(end.year, end.month, 1)
        month_index = first.year * 12 + first.month - 1 - (MIGRATION_MONTHS - 1)
        since = dt.date(month_index // 12, month_index % 12 + 1, 1).isoformat()
    else:
        since = ""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        if row["month_start_date"] < since:
            continue
        source = row["from_tier_code"] or "(new member)"
        target = row["to_tier_code"] or "(exit)"
        totals[(source, target)] += int(row["movements"])
    return {
        "since": since,
        "cells": [
            {"from": source, "to": target, "movements": count}
            for (source, target), count in sorted(totals.items())
        ],
    }


def load_dashboard_data(warehouse: Path, schema: str = "main") -> dict[str, Any]:
    """Everything the page shows, read from the marts in `schema` with one short read-only
    connection."""
    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise DashboardError(
            f"The warehouse {warehouse} does not exist: build it first (`vip-tiers run`)."
        )
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise DashboardError(
            f"Cannot open the warehouse {warehouse} read-only ({exc}). If another process is "
            "writing it (a `vip-tiers run`, `dagster dev`), wait for it to finish."
        ) from exc
    try:
        missing = _missing_marts(con, schema)
        if missing:
            raise DashboardError(
                f"The warehouse {warehouse} has no {', '.join(missing)}: build the marts first "
                "(`vip-tiers run`, or `dbt build` in dbt_project/)."
            )
        names = _program_names(con)
        raw = _query_all(con, schema)
    finally:
        con.close()
    return _assemble(raw, names)


def _assemble(raw: dict[str, list[dict[str, Any]]], names: dict[str, str]) -> dict[str, Any]:
    scenarios = _group(raw["scenarios"], "program_id")
    tiers = _group(raw["tiers"], "program_id", "scenario_id")
    distribution = _group(raw["distribution"], "program_id", "scenario_id")
    movements = _group(raw["movements"], "program_id", "scenario_id")
    migrations = _group(raw["migrations"], "program_id", "scenario_id")
    comparison = _group(raw["comparison"], "program_id")
    closest = _group(raw["closest"], "program_id")
    programs = []
    for (program_id,), program_scenarios in sorted(scenarios.items()):
        built = [s for s in program_scenarios if (program_id, s["scenario_id"]) in distribution]
        if not built:
            continue
        as_of = next((row["as_of_date"] for row in comparison.get((program_id,), [])), None)
        programs.append(
            {
                "program_id": program_id,
                "name": names.get(program_id) or program_id,
                "as_of": as_of,
                "scenarios": [
                    {
                        "id": s["scenario_id"],
                        "description": s["description"],
                        "is_live": bool(s["is_live"]),
                        "unit": s["threshold_unit"],
                        "tiers": [
                            {
                                "code": t["tier_code"],
                                "name": t["tier_name"],
                                "rank": t["tier_rank"],
                                "threshold": t["threshold"],
                            }
                            for t in tiers.get((program_id, s["scenario_id"]), [])
                        ],
                        "distribution": _distribution(
                            distribution.get((program_id, s["scenario_id"]), [])
                        ),
                        "movements": _movements(movements.get((program_id, s["scenario_id"]), [])),
                        "migrations": _migrations(
                            migrations.get((program_id, s["scenario_id"]), []), as_of
                        ),
                    }
                    for s in built
                ],
                "comparison": comparison.get((program_id,), []),
                "closest": closest.get((program_id,), []),
            }
        )
    if not programs:
        raise NothingToShowError(
            "The marts hold no tier history yet: there is nothing to chart. Load members and "
            "build again."
        )
    return {
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "programs": programs,
    }


def _static(name: str) -> str:
    return resources.files("orchestration.dashboard").joinpath("static", name).read_text("utf-8")


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:  # pragma: no cover - plotly is a dependency
        raise DashboardError(
            "The `plotly` package (which ships plotly.js) is not installed: pip install plotly."
        ) from exc
    return get_plotlyjs()


def _script_safe(text: str) -> str:
    """Script text that cannot end the <script> element it is inlined into.

    Inside the JavaScript string and regular-expression literals where they can appear,
    `<\\/script` means `</script` and `<\\!--` means `<!--`.
    """
    text = re.sub(r"</(script)", lambda match: "<\\/" + match.group(1), text, flags=re.I)
    return text.replace("<!--", "<\\!--")


def _json_safe(payload: str) -> str:
    """JSON text safe inside <script>: every `<` (only ever inside strings) as \\u003c."""
    return payload.replace("<", "\\u003c")


def render_html(data: dict[str, Any]) -> str:
    """The page: style, data, plotly.js and the page script, all inline."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
    template = _static("dashboard.html")
    replacements = {
        "{{TITLE}}": html.escape("VIP tiers dashboard"),
        "{{STYLE}}": _static("dashboard.css"),
        "{{DATA}}": _json_safe(payload),
        "{{PLOTLY}}": _script_safe(_plotly_js()),
        "{{SCRIPT}}": _script_safe(_static("dashboard.js")),
    }
    missing = [marker for marker in replacements if marker not in template]
    if missing:
        raise DashboardError(f"The dashboard template lacks {', '.join(missing)}.")
    # one pass over the template: inserted text is never searched for markers
    return re.sub(r"\{\{[A-Z]+\}\}", lambda match: replacements[match.group(0)], template)


def dashboard_path(warehouse: Path, out: str | Path | None = None) -> Path:
    """`out` if given, else `dashboard.html` beside the warehouse file."""
    return Path(out).expanduser().resolve() if out else Path(warehouse).parent / DASHBOARD_FILE


def build_dashboard(warehouse: Path, out: Path, schema: str = "main") -> Path:
    """Write the dashboard of the marts in `warehouse`'s `schema` to `out` (an .html file) and
    return its path."""
    data = load_dashboard_data(Path(warehouse), schema)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render_html(data), encoding="utf-8")
    tmp.replace(out)
    return out
