"""File drops: one immutable CSV or Parquet file per run and program, never rewritten.

`<path>/<program_id>/tier_changes_<run start, UTC, YYYYmmddTHHMMSSZ>_<run id>.csv|parquet`,
holding every pending change of that program and destination (columns: `payload.FIELDS`).
A relative `path` is taken from the warehouse file's folder (the same place whichever
process runs the export). A run with nothing to send writes no file.

Exactly once, crash or not (`runner._send_file` drives these steps):
1. write the rows to a hidden partial file `.<final name>.partial` next to the final
   name and fsync it;
2. mark the rows delivered in the outbox with the final file name (one transaction);
3. publish: hard-link the partial file to its final name (fails rather than overwrite an
   existing file), then remove the partial name.
`recover` runs before every file export: a partial file whose name the outbox records as
delivered (crash between 2 and 3) is published; any other partial file (crash before 2:
its rows are still pending and go into this run's file) is deleted. Readers only ever see
complete files, and each change is in exactly one of them.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.exports.payload import FIELDS, TierChange
from orchestration.programs import FileDestination

FILE_PREFIX = "tier_changes_"
PARTIAL_SUFFIX = ".partial"


def export_dir(config: FileDestination, program_id: str, files_root: Path) -> Path:
    base = Path(config.path).expanduser()
    if not base.is_absolute():
        base = files_root / base
    return base / program_id


def file_name(run_started_at: dt.datetime, run_id: str, file_format: str) -> str:
    stamp = run_started_at.strftime("%Y%m%dT%H%M%SZ")
    return f"{FILE_PREFIX}{stamp}_{run_id}.{file_format}"


def partial_path(final: Path) -> Path:
    return final.with_name(f".{final.name}{PARTIAL_SUFFIX}")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_csv(changes: Sequence[TierChange], path: Path) -> None:
    with path.open("x", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(FIELDS))
        writer.writeheader()
        for change in changes:
            writer.writerow(change.as_row())
        handle.flush()
        os.fsync(handle.fileno())


PARQUET_SCHEMA = pa.schema(
    [
        ("change_id", pa.string()),
        ("program_id", pa.string()),
        ("customer_id", pa.string()),
        ("email", pa.string()),
        ("from_tier_code", pa.string()),
        ("from_tier_name", pa.string()),
        ("to_tier_code", pa.string()),
        ("to_tier_name", pa.string()),
        ("to_tier_perks", pa.list_(pa.string())),
        ("change_date", pa.date32()),
        ("direction", pa.string()),
        ("reason", pa.string()),
    ]
)


def _write_parquet(changes: Sequence[TierChange], path: Path) -> None:
    columns: dict[str, list[object]] = {name: [] for name in FIELDS}
    for change in changes:
        for name in FIELDS:
            value = getattr(change, name)
            columns[name].append(list(value) if name == "to_tier_perks" else value)
    table = pa.table(columns, schema=PARQUET_SCHEMA)
    with path.open("xb") as handle:
        pq.write_table(table, handle)
        handle.flush()
        os.fsync(handle.fileno())


def write_partial(changes: Sequence[TierChange], final: Path, file_format: str) -> Path:
    """Step 1: the complete file under its hidden partial name, synced to disk."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        raise FileExistsError(f"{final} exists already: export files are never rewritten")
    partial = partial_path(final)
    partial.unlink(missing_ok=True)
    try:
        if file_format == "parquet":
            _write_parquet(changes, partial)
        else:
            _write_csv(changes, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return partial


def publish(partial: Path, final: Path) -> None:
    """Step 3: give the partial file its final name without ever replacing a file."""
    if not final.exists():
        os.link(partial, final)
    partial.unlink(missing_ok=True)
    _fsync_dir(final.parent)


@dataclass
class Recovery:
    published: list[Path] = field(default_factory=list)
    discarded: list[Path] = field(default_factory=list)


def recover(directory: Path, delivered_names: Iterable[str]) -> Recovery:
    """Finish or undo what a crashed run left in `directory` (see the module docstring)."""
    outcome = Recovery()
    if not directory.is_dir():
        return outcome
    delivered = set(delivered_names)
    for partial in sorted(directory.glob(f".{FILE_PREFIX}*{PARTIAL_SUFFIX}")):
        final = partial.with_name(partial.name[1 : -len(PARTIAL_SUFFIX)])
        if final.exists() or final.name in delivered:
            publish(partial, final)
            outcome.published.append(final)
        else:
            partial.unlink(missing_ok=True)
            outcome.discarded.append(partial)
    return outcome
