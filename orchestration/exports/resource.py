"""`ExportsResource`: the Dagster resource holding the export credentials and retry policy.

Credentials are never in config files or run config. A program file names the environment
variable that holds each secret (`api_key_env: KLAVIYO_API_KEY`); at run time the
resource returns its value:

- from `secrets`, a map NAME → value meant to be filled with `dg.EnvVar`, e.g.
  `ExportsResource(secrets={"KLAVIYO_API_KEY": dg.EnvVar("KLAVIYO_API_KEY")})`: Dagster
  stores `{"env": "KLAVIYO_API_KEY"}` in the run config, never the value;
- otherwise (`read_environment`, the default) from the process environment by that name,
  which is what a destination added to a program file needs without a code change.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from orchestration.exports.http import RetryPolicy
from orchestration.exports.runner import ExportOptions


class ExportsResource(dg.ConfigurableResource):
    """Export credentials (by environment variable name) and the retry / pacing policy."""

    secrets: dict[str, str] = Field(default_factory=dict)
    """NAME → value, values given as `dg.EnvVar("NAME")`; looked up before the environment."""
    read_environment: bool = True
    """Read a secret not in `secrets` from the environment variable the program file names."""
    attempts: int = 6
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    jitter_s: float = 0.5
    max_retry_after_s: float = 300.0
    timeout_s: float = 30.0
    pacing: float = 1.0
    """1 = the vendors' documented rate limits; 0 = no pacing (local test servers)."""
    files_root: str | None = None
    """Where relative file-destination paths start; default: the warehouse's folder."""

    def secret(self, name: str) -> str | None:
        value = self.secrets.get(name)
        if value:
            return value
        return os.environ.get(name) if self.read_environment else None

    def options(self) -> ExportOptions:
        return ExportOptions(
            retry=RetryPolicy(
                attempts=self.attempts,
                backoff_initial_s=self.backoff_initial_s,
                backoff_max_s=self.backoff_max_s,
                jitter_s=self.jitter_s,
                max_retry_after_s=self.max_retry_after_s,
                timeout_s=self.timeout_s,
            ),
            pacing=self.pacing,
            files_root=Path(self.files_root) if self.files_root else None,
        )
