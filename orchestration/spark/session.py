"""A short-lived local Spark driver on the `spark` target's catalog (see __init__.py).

    python -m orchestration.spark.session load DIR TABLE...    DIR/TABLE.parquet → raw.TABLE
    python -m orchestration.spark.session export DIR TABLE...  TABLE → DIR/TABLE/ (Parquet)

The configuration comes from `VIP_SPARK_CONF` (key=value lines, the profile's
`server_side_parameters`, set by `orchestration.spark.run_driver`). Its own process: the
embedded Derby metastore admits one JVM at a time, and dbt's `session` target starts another.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RAW_SCHEMA = "raw"
TARGET_SCHEMA = "main"


def _session():  # -> pyspark.sql.SparkSession (imported lazily: pyspark is optional)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for line in os.environ.get("VIP_SPARK_CONF", "").splitlines():
        key, _, value = line.partition("=")
        if key:
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def load(spark, folder: Path, tables: list[str]) -> None:
    """Replace raw.TABLE by the rows of folder/TABLE.parquet (written by DuckDB)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType

    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    for table in tables:
        frame = spark.read.parquet(str(folder / f"{table}.parquet"))
        # DuckDB writes TIMESTAMP (a UTC instant without zone) as a local timestamp; the
        # session zone is UTC, so the cast keeps the instant.
        frame = frame.select(
            *[
                F.col(f.name).cast("timestamp").alias(f.name)
                if isinstance(f.dataType, TimestampNTZType)
                else F.col(f.name)
                for f in frame.schema.fields
            ]
        )
        spark.sql(f"drop table if exists {RAW_SCHEMA}.{table}")
        frame.write.format("parquet").saveAsTable(f"{RAW_SCHEMA}.{table}")
        print(f"{RAW_SCHEMA}.{table}: {spark.table(f'{RAW_SCHEMA}.{table}').count()} rows")


def export(spark, folder: Path, tables: list[str]) -> None:
    """Write each table to folder/<table>/ as Parquet (one file)."""
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    for table in tables:
        name = table if "." in table else f"{TARGET_SCHEMA}.{table}"
        short = name.rsplit(".", 1)[1]
        if not spark.catalog.tableExists(name):
            print(f"{name}: no such table")
            continue
        spark.table(name).coalesce(1).write.mode("overwrite").parquet(str(folder / short))
        print(f"{name} → {folder / short}")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] not in ("load", "export"):
        print(__doc__, file=sys.stderr)
        return 2
    command, folder, tables = args[0], Path(args[1]), args[2:]
    spark = _session()
    try:
        (load if command == "load" else export)(spark, folder, tables)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
