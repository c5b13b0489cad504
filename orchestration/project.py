"""The dbt project as Dagster sees it: a cached `DbtProject` and a current manifest.

`@dbt_assets` reads `dbt_project/target/manifest.json` when the definitions load, so a fresh
clone (or an edited model) needs `dbt parse` first: `ensure_manifest()` runs it when the
manifest is missing or older than any file dbt reads.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR, REPO_ROOT, Settings

# What dbt reads to build the manifest (dbt_project.yml points seeds, macros and tests
# outside dbt_project/).
MANIFEST_INPUTS: tuple[Path, ...] = (
    DBT_PROJECT_DIR / "dbt_project.yml",
    DBT_PROJECT_DIR / "profiles.yml",
    DBT_PROJECT_DIR / "models",
    REPO_ROOT / "macros",
    REPO_ROOT / "seeds",
    REPO_ROOT / "tests" / "dbt",
)
_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints"}


class DbtParseError(RuntimeError):
    """`dbt parse` failed: the dbt project itself has an error."""


def put_venv_on_path() -> None:
    """Make the `dbt` next to this Python findable without an activated venv."""
    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if not parts or parts[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *[p for p in parts if p != bin_dir]])


def dbt_executable() -> str:
    """The dbt CLI installed beside this interpreter, else whatever `dbt` is on PATH."""
    local = Path(sys.executable).parent / "dbt"
    if local.exists():
        return str(local)
    return shutil.which("dbt") or "dbt"


@functools.cache
def get_dbt_project(target: str | None = None) -> DbtProject:
    """The vip-tiers dbt project (profiles.yml sits beside dbt_project.yml).

    `target` None uses the profile's default, itself `VIP_DBT_TARGET` (else `duckdb`).
    """
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=target)


def _input_files() -> Iterator[Path]:
    for path in MANIFEST_INPUTS:
        if path.is_file():
            yield path
        elif path.is_dir():
            for child in path.rglob("*"):
                if child.is_file() and not _SKIP_DIRS.intersection(child.parts):
                    yield child


def manifest_is_current(project: DbtProject | None = None) -> bool:
    """True when manifest.json exists and is newer than every file dbt parses."""
    project = project or get_dbt_project()
    manifest = project.manifest_path
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    return all(path.stat().st_mtime <= built for path in _input_files())


def parse_env(settings: Settings | None = None) -> Mapping[str, str]:
    """Environment for `dbt parse`: the profile needs a warehouse path, never opened."""
    env = dict(os.environ)
    env.update((settings or Settings()).dbt_env())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def ensure_manifest(project: DbtProject | None = None, settings: Settings | None = None) -> Path:
    """Run `dbt parse` when the manifest is missing or stale; return the manifest path.

    Raises DbtParseError with dbt's own message when the project does not parse.
    """
    put_venv_on_path()
    project = project or get_dbt_project()
    if manifest_is_current(project):
        return project.manifest_path
    command = [
        dbt_executable(),
        "parse",
        "--quiet",
        "--project-dir",
        str(project.project_dir),
        "--profiles-dir",
        str(project.profiles_dir),
    ]
    if project.target:
        command += ["--target", project.target]
    done = subprocess.run(
        command,
        cwd=project.project_dir,
        env=parse_env(settings),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0 or not project.manifest_path.exists():
        output = (done.stdout + done.stderr).strip()
        raise DbtParseError(
            f"`dbt parse` failed in {project.project_dir} (exit {done.returncode}); fix the dbt "
            f"project and run again.\n{output}"
        )
    # A partial parse may leave the file's time unchanged: mark it as current.
    project.manifest_path.touch()
    return project.manifest_path
