"""The raw tables asset: a raw directory loaded into the warehouse's `raw` schema.

Keys are `["raw", <table>]`, the dbt source keys. Without a raw directory (sample mode) the
bundled sample data is generated first into `<warehouse folder>/raw`, again only when the
programs it was generated from have changed.
"""

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from orchestration.assets import BuildConfig, input_failure
from orchestration.assets.failures import input_failures
from orchestration.generate import generate_raw_dir
from orchestration.loader import load_raw_dir
from orchestration.resources import (
    InputsResource,
    WarehouseResource,
    resolve_settings,
)
from orchestration.settings import Settings

RAW_TABLES: dict[str, str] = {
    "customers": "Loyalty customers per program; `enrolled_at` empty = pending member.",
    "orders": "Orders; `customer_id` may be unknown to `customers` (guest checkout).",
    "refunds": "Full or partial refunds of orders.",
    "points_ledger": "Signed points entries per customer and activity.",
    "manual_tier_assignments": "Tiers set by a person, applied on the local day of `assigned_at`.",
    "fx_rates": "1 unit of `currency` = `rate` units of `quote_currency` on `rate_date`.",
    "load_rejections": "Rows the loader could not type (missing required value, unparseable).",
}
SAMPLE_STAMP = ".vip-sample.json"
SAMPLE_MEMBERS_PER_PROGRAM = 2000
SAMPLE_SEED = 42


def programs_fingerprint(programs_dir: Path) -> str:
    """A hash of the program files (names and contents) the sample data depends on."""
    digest = hashlib.sha256()
    for path in sorted(programs_dir.glob("*.y*ml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_sample_raw_dir(settings: Settings, log: dg.DagsterLogManager | None = None) -> Path:
    """Generate the sample raw directory unless it is there and made from the same programs.

    A folder without the stamp file was not made here: it is used as it is, never rewritten.
    Regenerating replaces the table entries the generator writes (other files stay).
    """
    out_dir = settings.sample_raw_dir
    stamp_path = out_dir / SAMPLE_STAMP
    wanted = {
        "programs_dir": str(settings.programs_dir),
        "programs": programs_fingerprint(settings.programs_dir),
        "members_per_program": SAMPLE_MEMBERS_PER_PROGRAM,
        "seed": SAMPLE_SEED,
    }
    if out_dir.exists():
        if not stamp_path.exists():
            if log:
                log.info(f"Using the existing raw directory {out_dir} (not generated here).")
            return out_dir
        try:
            previous = json.loads(stamp_path.read_text())
        except (OSError, ValueError):
            previous = None
        if previous == wanted:
            if log:
                log.info(f"Sample data in {out_dir} is current.")
            return out_dir
    if log:
        log.info(f"Generating sample data for {settings.programs_dir} into {out_dir} …")
    summary = generate_raw_dir(
        out_dir,
        settings.programs_dir,
        members_per_program=SAMPLE_MEMBERS_PER_PROGRAM,
        seed=SAMPLE_SEED,
    )
    stamp_path.write_text(json.dumps(wanted, indent=2))
    if log:
        log.info(summary.as_text())
    return out_dir


@dg.multi_asset(
    name="raw_tables",
    specs=[
        dg.AssetSpec(
            key=["raw", table],
            description=description,
            group_name="raw",
            kinds={"python", "duckdb"},
        )
        for table, description in RAW_TABLES.items()
    ],
)
def raw_tables(
    context: dg.AssetExecutionContext,
    config: BuildConfig,
    inputs: InputsResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult]:
    """Load the raw directory (generating the sample one first in sample mode)."""
    settings = resolve_settings(inputs, warehouse, config.as_of)
    if settings.uses_sample_data:
        raw_dir = ensure_sample_raw_dir(settings, context.log)
    else:
        raw_dir = settings.effective_raw_dir
        if not raw_dir.is_dir():
            raise input_failure(
                f"The raw directory {raw_dir} does not exist: pass --raw-dir (or VIP_RAW_DIR) "
                "pointing at a folder holding customers and orders (CSV or Parquet)."
            )
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with input_failures(settings.warehouse):
        summary = load_raw_dir(
            raw_dir,
            settings.warehouse,
            reload=config.full_refresh,
            memory_limit=settings.duckdb_memory_limit,
        )
    context.log.info(summary.as_text())

    counts = warehouse.row_counts("raw", RAW_TABLES)
    for table in RAW_TABLES:
        metadata: dict[str, dg.RawMetadataValue] = {
            "dagster/row_count": counts[table] or 0,
            "raw_dir": str(raw_dir),
        }
        if table == "load_rejections":
            metadata["summary"] = dg.MetadataValue.md(f"```\n{summary.as_text()}\n```")
        yield dg.MaterializeResult(asset_key=dg.AssetKey(["raw", table]), metadata=metadata)
