"""Settings from the environment (orchestration/settings.py): DuckDB's memory limit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import DBT_PROJECT_DIR, DEFAULT_DUCKDB_MEMORY_LIMIT, from_env
from tests.helpers.dbt_cli import run_dbt


def test_the_memory_limit_reaches_dbt_and_the_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIP_DUCKDB_MEMORY_LIMIT", raising=False)
    assert from_env().duckdb_memory_limit == DEFAULT_DUCKDB_MEMORY_LIMIT
    monkeypatch.setenv("VIP_DUCKDB_MEMORY_LIMIT", " 3GiB ")
    settings = from_env()
    assert settings.duckdb_memory_limit == "3GiB"
    assert settings.dbt_env()["VIP_DUCKDB_MEMORY_LIMIT"] == "3GiB"


@pytest.mark.parametrize("value", ["lots", "7.5", "GB", "7,5GB", "1GB; drop table x"])
def test_a_memory_limit_that_is_not_a_size_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("VIP_DUCKDB_MEMORY_LIMIT", value)
    with pytest.raises(ValueError, match="is not a memory size"):
        from_env()


def test_the_profile_falls_back_to_the_same_default() -> None:
    """dbt run by hand (without `vip-tiers`) reads the profile's own default."""
    profile = (DBT_PROJECT_DIR / "profiles.yml").read_text()
    (default,) = re.findall(r"env_var\('VIP_DUCKDB_MEMORY_LIMIT', '([^']+)'\)", profile)
    assert default == DEFAULT_DUCKDB_MEMORY_LIMIT


def test_dbt_runs_under_the_configured_memory_limit(tmp_path: Path) -> None:
    """The profile's DuckDB options reach the connections dbt's models run on: the
    memory limit from VIP_DUCKDB_MEMORY_LIMIT, and insertion order not preserved."""
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    query = (
        "select current_setting('memory_limit') as memory_limit, "
        "current_setting('preserve_insertion_order') as preserve_insertion_order"
    )
    env = {"VIP_DUCKDB_MEMORY_LIMIT": "300MiB"}
    done = run_dbt(
        warehouse,
        tmp_path,
        ["show", "--inline", query, "--output", "json", "--log-format", "text"],
        {},
        extra_env=env,
    )
    rows = json.loads(done.stdout[done.stdout.index("{") : done.stdout.rindex("}") + 1])["show"]
    assert rows == [{"memory_limit": "300.0 MiB", "preserve_insertion_order": False}]
