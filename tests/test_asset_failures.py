"""The one error mapping of the input-reading assets (orchestration/assets/failures.py)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.assets import VipErrorKind
from orchestration.assets.failures import input_failures
from orchestration.exports import outbox
from orchestration.exports.runner import ExportConfigError
from orchestration.loader import LoaderError
from orchestration.programs import ProgramsDirectoryError
from orchestration.resources import WarehouseLockedError

WAREHOUSE = Path("/data/warehouse.duckdb")
INPUT, LOCKED = VipErrorKind.INPUT, VipErrorKind.WAREHOUSE_LOCKED


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ProgramsDirectoryError("no program file in programs/"), INPUT),
        (LoaderError("orders.csv: column order_id appears twice in the header"), INPUT),
        (LoaderError("writing the raw tables failed: Could not set lock on file"), LOCKED),
        (WarehouseLockedError("held by pid 12"), LOCKED),
        (ExportConfigError("no destination 'crm'"), INPUT),
        (outbox.WarehouseNotBuiltError("fct_tier_changes is missing"), INPUT),
        (outbox.WarehouseBusyError("held for 30 s"), LOCKED),
    ],
)
def test_input_errors_become_input_failures_of_their_kind(error: Exception, kind: str) -> None:
    with pytest.raises(dg.Failure) as info, input_failures(WAREHOUSE):
        raise error
    failure = info.value
    assert failure.description == str(error)
    assert failure.metadata[VipErrorKind.KEY].value == kind
    assert failure.allow_retries is False


def test_a_duckdb_lock_error_names_the_warehouse() -> None:
    with pytest.raises(dg.Failure) as info, input_failures(WAREHOUSE):
        raise duckdb.IOException('Could not set lock on file "/data/warehouse.duckdb"')
    assert info.value.metadata[VipErrorKind.KEY].value == LOCKED
    assert str(WAREHOUSE) in info.value.description
    assert "another process" in info.value.description


def test_other_errors_and_failures_pass_through_unchanged() -> None:
    with pytest.raises(ZeroDivisionError), input_failures(WAREHOUSE):
        raise ZeroDivisionError
    original = dg.Failure(description="dbt failed")
    with pytest.raises(dg.Failure) as info, input_failures(WAREHOUSE):
        raise original
    assert info.value is original
    with input_failures(WAREHOUSE):
        pass  # no error, nothing raised
