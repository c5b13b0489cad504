"""The dashboard asset: the self-contained HTML dashboard of the BI marts (docs/bi.md).

Downstream of the marts it reads (dagster-dbt keys `[model]`). Written next to the warehouse
(`<warehouse folder>/dashboard.html`) unless the run config names another file. It opens the
warehouse read-only for a moment, after dbt has finished with it. On the Spark engine the
marts live in the Spark catalog: they are first copied into the warehouse file's
`spark_marts` schema (orchestration.spark.mirror_tables), and the dashboard reads them there.
"""

import dagster as dg

from orchestration.dashboard.build import (
    MARTS,
    DashboardError,
    NothingToShowError,
    build_dashboard,
    dashboard_path,
)
from orchestration.resources import WarehouseResource
from orchestration.settings import from_env
from orchestration.spark import MIRROR_SCHEMA, SPARK_TARGET, SparkEngineError, mirror_tables


class DashboardConfig(dg.Config):
    """Where to write the dashboard."""

    out: str | None = None
    """HTML file to write; default `dashboard.html` beside the warehouse file."""


@dg.asset(
    key="dashboard",
    group_name="bi",
    kinds={"html", "plotly"},
    deps=[dg.AssetKey(name) for name in MARTS],
    description=(
        "Self-contained HTML dashboard (works offline): tier distribution over time, monthly "
        "movements and churn, tier migrations, live vs what-if scenarios with perk cost, and "
        "the members closest to their next tier."
    ),
)
def dashboard(
    context: dg.AssetExecutionContext,
    config: DashboardConfig,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Build the dashboard HTML from the marts."""
    settings = from_env(warehouse=warehouse.path, engine=warehouse.engine)
    source = settings.warehouse
    out = dashboard_path(source, config.out)
    schema = "main"
    try:
        if settings.dbt_target == SPARK_TARGET:
            copied = mirror_tables(settings, MARTS)
            schema = MIRROR_SCHEMA
            context.log.info(f"Copied {len(copied)} marts from Spark into {source} ({schema})")
        path = build_dashboard(source, out, schema)
    except NothingToShowError as exc:
        context.log.warning(f"No dashboard written: {exc}")
        return dg.MaterializeResult(metadata={"skipped": str(exc)})
    except (DashboardError, SparkEngineError) as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    context.log.info(f"Dashboard written to {path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "url": dg.MetadataValue.url(path.as_uri()),
            "size_bytes": path.stat().st_size,
        }
    )
