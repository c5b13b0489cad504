"""The DuckDB-vs-Spark comparison logic (no Spark needed; `make test` runs the real check)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from orchestration import engine_check as ec
from orchestration.settings import from_env


def test_public_marts_are_the_mart_models() -> None:
    marts = ec.public_marts()
    assert {"fct_tier_history", "dim_customer_tier_current", "rejected_rows"} <= set(marts)
    assert not any(name.startswith(("stg_", "int_")) for name in marts)


def test_rows_compare_after_normalising_types_and_order() -> None:
    duck = (
        ["program_id", "valid_from", "total", "changed_at", "note"],
        [
            ("p", dt.date(2024, 1, 2), Decimal("1.50"), dt.datetime(2024, 1, 2, 3), None),
            ("p", dt.date(2024, 1, 1), Decimal("0.00"), None, "x"),
        ],
    )
    spark = (
        ["NOTE", "program_id", "valid_from", "total", "changed_at"],
        [
            ("x", "p", dt.date(2024, 1, 1), Decimal("0"), None),
            (
                None,
                "p",
                dt.date(2024, 1, 2),
                Decimal("1.5"),
                dt.datetime(2024, 1, 2, 3, tzinfo=dt.UTC),
            ),
        ],
    )
    result = ec.compare_rows("m", duck, spark)
    assert result.identical, result.detail
    assert result.rows == {"duckdb": 2, "spark": 2}


def test_a_differing_row_is_reported() -> None:
    duck = (["a", "b"], [(1, "x"), (2, "y")])
    spark = (["a", "b"], [(1, "x"), (2, "z")])
    result = ec.compare_rows("m", duck, spark)
    assert not result.identical
    assert "1 rows only on duckdb, 1 only on spark" in result.detail


def test_a_missing_model_or_column_is_not_identical() -> None:
    assert not ec.compare_rows("m", (["a"], []), None).identical
    assert "columns differ" in ec.compare_rows("m", (["a"], []), (["b"], [])).detail


def test_spark_catalog_sits_beside_the_warehouse(tmp_path) -> None:
    settings = from_env(warehouse=tmp_path / "w.duckdb", engine="spark")
    assert settings.spark_dir == tmp_path / "w-spark"
    assert settings.always_full_refresh
    assert settings.dbt_env()["VIP_SPARK_DIR"] == str(tmp_path / "w-spark")
    assert not from_env(warehouse=tmp_path / "w.duckdb", engine="duckdb").always_full_refresh
