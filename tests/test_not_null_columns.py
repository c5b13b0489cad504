"""The `not_null_columns` data test (tests/dbt/generic/test_not_null_columns.sql): one test per
model for its required columns, failing with one row per column that has nulls.

Nulls are planted in a copy of the BI warehouse: two columns of dim_customer_tier_current.
`dbt test --store-failures` must fail the model's test with those two columns and their
null counts, and pass on the untouched warehouse.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from tests.helpers.dbt_cli import run_dbt
from tests.test_bi_marts import AS_OF

MODEL = "model.vip_tiers.dim_customer_tier_current"


def _test_node(artefacts: Path) -> dict:
    manifest = json.loads((artefacts / "dbt_target" / "manifest.json").read_text())
    (node,) = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("attached_node") == MODEL
        and node["test_metadata"]["name"] == "not_null_columns"
    ]
    return node


def _run_test(warehouse: Path, artefacts: Path) -> tuple[dict, dict]:
    run_dbt(warehouse, artefacts, ["parse"], {"as_of": AS_OF.isoformat()})
    node = _test_node(artefacts)
    run_dbt(
        warehouse,
        artefacts,
        ["test", "--select", node["name"], "--store-failures"],
        {"as_of": AS_OF.isoformat()},
        expect_success=False,
    )
    results = json.loads((artefacts / "dbt_target" / "run_results.json").read_text())
    (result,) = results["results"]
    return node, result


def test_not_null_columns_names_each_column_with_nulls(bi_warehouse: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(bi_warehouse, warehouse)

    node, clean = _run_test(warehouse, tmp_path / "clean")
    assert {"program_id", "customer_id", "tier_code"} <= set(
        node["test_metadata"]["kwargs"]["columns"]
    )
    assert clean["status"] == "pass" and clean["failures"] == 0

    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "update main.dim_customer_tier_current set tier_code = null "
            "where customer_id in (select customer_id from main.dim_customer_tier_current "
            "order by customer_id limit 3)"
        )
        con.execute(
            "update main.dim_customer_tier_current set customer_id = null "
            "where customer_id = (select max(customer_id) from main.dim_customer_tier_current)"
        )
        tier_nulls, customer_nulls = con.execute(
            "select count(*) filter (where tier_code is null), "
            "count(*) filter (where customer_id is null) from main.dim_customer_tier_current"
        ).fetchone()
    assert tier_nulls >= 3 and customer_nulls >= 1

    node, planted = _run_test(warehouse, tmp_path / "planted")
    assert planted["status"] == "fail" and planted["failures"] == 2
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            f'select column_name, null_rows from "{node["schema"]}"."{node["alias"]}" '
            "order by column_name"
        ).fetchall()
    assert rows == [("customer_id", customer_nulls), ("tier_code", tier_nulls)]
