"""Shared fixtures: a small generated raw directory, warehouse paths, the CLI command."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from orchestration.settings import REPO_ROOT, SAMPLE_PROGRAMS_DIR

# A build date inside the generated period (the generator starts on 2022-07-01).
AS_OF = dt.date(2024, 6, 30)
SMALL_MEMBERS_PER_PROGRAM = 50


@pytest.fixture(scope="session")
def sample_programs_dir() -> Path:
    return SAMPLE_PROGRAMS_DIR


@pytest.fixture(scope="session")
def small_raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real generator, ~50 members per bundled sample program, up to AS_OF."""
    from orchestration.generate import generate_raw_dir

    out_dir = tmp_path_factory.mktemp("small") / "raw"
    generate_raw_dir(
        out_dir,
        SAMPLE_PROGRAMS_DIR,
        members_per_program=SMALL_MEMBERS_PER_PROGRAM,
        seed=7,
        end=AS_OF,
    )
    return out_dir


@pytest.fixture
def make_warehouse(tmp_path: Path) -> Callable[[], Path]:
    """Returns a fresh (not yet existing) warehouse path inside the test's tmp dir."""
    counter = itertools.count(1)

    def factory() -> Path:
        return tmp_path / f"warehouse_{next(counter)}" / "warehouse.duckdb"

    return factory


BROKEN_FILE = "zz_broken.yaml"


def write_broken_programs(programs: Path) -> Path:
    """The sample programs plus BROKEN_FILE, whose `milestone` is outside its list."""
    shutil.copytree(SAMPLE_PROGRAMS_DIR, programs)
    source = (SAMPLE_PROGRAMS_DIR / "london.yaml").read_text()
    broken = source.replace("program_id: london_tea", "program_id: broken_club").replace(
        "milestone: spend", "milestone: distance"
    )
    assert broken != source and "milestone: distance" in broken
    (programs / BROKEN_FILE).write_text(broken)
    return programs


@pytest.fixture
def broken_programs_dir(tmp_path: Path) -> Path:
    return write_broken_programs(tmp_path / "programs")


def clean_env() -> dict[str, str]:
    """The environment without VIP_* / DAGSTER_HOME, so only explicit options count."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("VIP_") and key != "DAGSTER_HOME"
    }
    env["CI"] = "true"
    env["COLUMNS"] = "200"
    return env


def vip_tiers_command() -> list[str]:
    """The installed console script beside this Python, else the module."""
    script = Path(sys.executable).parent / "vip-tiers"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "orchestration.cli"]


def start_cli(args: Sequence[str]) -> subprocess.Popen[str]:
    """`vip-tiers ARGS` started in a subprocess: no stdin, no VIP_* variables."""
    return subprocess.Popen(
        [*vip_tiers_command(), *args],
        cwd=REPO_ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def finish_cli(
    process: subprocess.Popen[str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_cli(args: Sequence[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`vip-tiers ARGS` in a subprocess, output captured."""
    return finish_cli(start_cli(args), timeout)


@pytest.fixture(scope="session")
def vip_tiers() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


@pytest.fixture(scope="session")
def bi_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The BI marts' warehouse (tests/test_bi_marts.py build_bi_warehouse), built once per
    session and shared by the BI, dashboard and member-batch tests."""
    from tests.test_bi_marts import build_bi_warehouse

    return build_bi_warehouse(tmp_path_factory.getbasetemp() / "bi_warehouse")
