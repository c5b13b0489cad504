"""Compare the output models of two DuckDB warehouses row for row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

# Public marts a daily incremental run must leave equal to a full rebuild (tier-rules §8).
# fct_tier_change_restatements is a log of what earlier builds published, not a function
# of today's data, so a full rebuild has none: it is checked separately.
OUTPUT_MODELS = (
    "dim_program_tiers",
    "dim_scenarios",
    "fct_qualifying_windows",
    "fct_tier_history",
    "fct_tier_changes",
    "dim_customer_tier_current",
    "fct_customer_tier_daily",
    "fct_manual_assignment_outcomes",
    "fct_uncounted_activity",
    "rejected_rows",
    "fct_tier_distribution_daily",
    "fct_tier_movements",
    "fct_tier_movements_monthly",
    "fct_tier_migrations_monthly",
    "fct_scenario_comparison",
)


@dataclass(frozen=True)
class ModelDiff:
    model: str
    left_rows: int
    right_rows: int
    only_left: list[tuple]
    only_right: list[tuple]

    @property
    def equal(self) -> bool:
        return not self.only_left and not self.only_right

    def describe(self, limit: int = 5) -> str:
        return (
            f"{self.model}: {self.left_rows} vs {self.right_rows} rows; "
            f"only left {self.only_left[:limit]}; only right {self.only_right[:limit]}"
        )


def diff_models(
    left: Path,
    right: Path,
    models: tuple[str, ...] = OUTPUT_MODELS,
    schema: str = "main",
    exclude: tuple[str, ...] = (),
) -> list[ModelDiff]:
    """Per model: the rows (as multisets) found in one warehouse and not the other, leaving
    out the columns `exclude` (those of them the model has)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{left}' as l (read_only)")
        con.execute(f"attach '{right}' as r (read_only)")
        diffs = []
        for model in models:
            columns = {
                name
                for (name,) in con.execute(
                    "select column_name from duckdb_columns() where database_name = 'l' "
                    "and schema_name = ? and table_name = ?",
                    [schema, model],
                ).fetchall()
            }
            dropped = [name for name in exclude if name in columns]
            star = f"* exclude ({', '.join(dropped)})" if dropped else "*"
            left_rel = f"(select {star} from l.{schema}.{model})"
            right_rel = f"(select {star} from r.{schema}.{model})"
            only_left = con.execute(
                f"select * from {left_rel} except all select * from {right_rel}"
            ).fetchall()
            only_right = con.execute(
                f"select * from {right_rel} except all select * from {left_rel}"
            ).fetchall()
            count_left = con.execute(f"select count(*) from {left_rel}").fetchone()[0]
            count_right = con.execute(f"select count(*) from {right_rel}").fetchone()[0]
            diffs.append(ModelDiff(model, count_left, count_right, only_left, only_right))
        return diffs
    finally:
        con.close()
