"""Run the project's dbt CLI on one DuckDB warehouse, as a test would by hand."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from orchestration.project import dbt_executable, put_venv_on_path
from orchestration.settings import DBT_PROJECT_DIR, Settings


def run_dbt(
    warehouse: Path,
    artefacts: Path,
    args: list[str],
    dbt_vars: dict[str, Any],
    project_dir: Path = DBT_PROJECT_DIR,
    expect_success: bool = True,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`dbt <args> --vars <dbt_vars>` on `warehouse`; dbt writes its target and logs under
    `artefacts`, never into dbt_project/. Fails the test with dbt's output on an error,
    unless `expect_success` is false (the caller then checks the result). `extra_env`
    overrides the environment the settings give dbt."""
    put_venv_on_path()
    env = {**os.environ, **Settings(warehouse=warehouse).dbt_env()}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env.update(extra_env or {})
    done = subprocess.run(
        [
            dbt_executable(),
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
            "--target-path",
            str(artefacts / "dbt_target"),
            "--log-path",
            str(artefacts / "dbt_logs"),
            "--vars",
            json.dumps(dbt_vars),
        ],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=1200,
        check=False,
    )
    if expect_success:
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done
