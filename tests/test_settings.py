"""Settings from the environment (orchestration/settings.py): DuckDB's memory limit."""

from __future__ import annotations

import re

import pytest

from orchestration.settings import DBT_PROJECT_DIR, DEFAULT_DUCKDB_MEMORY_LIMIT, from_env


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
