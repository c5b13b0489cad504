"""Asset definitions, one module per concern (config, raw, dbt); listed in definitions.py.

This package's `__init__` holds only what those modules share, so importing one module
never defines another module's assets. The asset modules do not use
`from __future__ import annotations`: Dagster reads their type hints (run config, resources)
when the decorators run.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from orchestration.build_parameters import BuildParameters


class BuildConfig(dg.Config):
    """Run options of a build (the launchpad's op config; `vip-tiers run` fills them)."""

    full_refresh: bool = False
    """Rebuild incremental models from scratch (`dbt build --full-refresh`)."""
    as_of: str | None = None
    """Build date YYYY-MM-DD; overrides the `inputs` resource and `VIP_AS_OF`."""
    daily_from: str | None = None
    """First day YYYY-MM-DD of `fct_customer_tier_daily` to fill (default: the as_of day)."""
    daily_to: str | None = None
    """Last day YYYY-MM-DD of `fct_customer_tier_daily` to fill (default: the as_of day)."""
    programs: list[str] | None = None
    """Build only these programs (the others keep their rows); None: every program."""

    def parameters(self, as_of: dt.date | None) -> BuildParameters:
        """What `raw.build_parameters` holds for this build (`as_of` already resolved)."""
        return BuildParameters(
            as_of=as_of,
            daily_from=dt.date.fromisoformat(self.daily_from) if self.daily_from else None,
            daily_to=dt.date.fromisoformat(self.daily_to) if self.daily_to else None,
            programs=self.programs,
        )


class VipErrorKind:
    """`vip_error` metadata on a `dg.Failure`: what the CLI turns into exit code 2."""

    KEY = "vip_error"
    INPUT = "input"
    WAREHOUSE_LOCKED = "warehouse_locked"


def input_failure(message: str, kind: str = VipErrorKind.INPUT) -> dg.Failure:
    """A failure caused by the user's inputs: shown as is, never retried."""
    return dg.Failure(
        description=message,
        metadata={VipErrorKind.KEY: kind},
        allow_retries=False,
    )
