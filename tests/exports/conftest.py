"""Fixtures of the export tests: a fake warehouse, the secrets, fast retry options."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.exports.http import RetryPolicy
from orchestration.exports.runner import ExportOptions

from .export_fakes import ENV_NAMES, SECRET, FakeWarehouse

# Fast back-off for tests; Retry-After from the servers is still honoured as sent.
FAST_RETRY = RetryPolicy(
    attempts=5, backoff_initial_s=0.01, backoff_max_s=0.05, jitter_s=0.0, timeout_s=0.5
)
FAST = ExportOptions(retry=FAST_RETRY, pacing=0.0, lock_wait_s=10.0)


@pytest.fixture
def warehouse(tmp_path: Path) -> FakeWarehouse:
    return FakeWarehouse(tmp_path / "wh" / "warehouse.duckdb")


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ENV_NAMES.values():
        monkeypatch.setenv(name, SECRET)
    return SECRET


@pytest.fixture
def fast_options() -> ExportOptions:
    return FAST
