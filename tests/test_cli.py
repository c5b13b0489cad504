"""`vip-tiers` end to end in a subprocess: exit codes, summary, readable errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import AS_OF, BROKEN_FILE, finish_cli, start_cli, write_broken_programs

from orchestration.project import ensure_manifest
from orchestration.settings import SAMPLE_PROGRAMS_DIR

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _output(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def _sample_program_ids() -> set[str]:
    return {
        yaml.safe_load(path.read_text())["program_id"]
        for path in SAMPLE_PROGRAMS_DIR.glob("*.yaml")
    }


def _run_args(raw_dir: Path, programs_dir: Path, warehouse: Path) -> list[str]:
    return [
        "run",
        "--raw-dir",
        str(raw_dir),
        "--programs-dir",
        str(programs_dir),
        "--warehouse",
        str(warehouse),
        "--as-of",
        AS_OF.isoformat(),
    ]


@dataclass(frozen=True)
class Build:
    done: subprocess.CompletedProcess[str]
    warehouse: Path

    @property
    def out(self) -> str:
        return _output(self.done)


@pytest.fixture(scope="module")
def builds(small_raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Build]:
    """Three `vip-tiers run`s started together (each dbt build takes a while on its own):
    `ok` on the samples, `broken` with one invalid program file, `no_orders` without orders.
    """
    ensure_manifest()  # parsed once here, not by three processes at the same time
    base = tmp_path_factory.mktemp("cli")
    no_orders = base / "no_orders_raw"
    shutil.copytree(small_raw_dir, no_orders)
    removed = [p for p in no_orders.iterdir() if p.name.split(".")[0] == "orders"]
    assert removed
    for path in removed:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    inputs = {
        "ok": (small_raw_dir, SAMPLE_PROGRAMS_DIR),
        "broken": (small_raw_dir, write_broken_programs(base / "broken_programs")),
        "no_orders": (no_orders, SAMPLE_PROGRAMS_DIR),
    }
    started = {
        name: (start_cli(_run_args(raw, programs, base / name / "wh.duckdb")), base / name)
        for name, (raw, programs) in inputs.items()
    }
    return {
        name: Build(finish_cli(process), folder / "wh.duckdb")
        for name, (process, folder) in started.items()
    }


def test_run_builds_and_prints_summary(builds: dict[str, Build]) -> None:
    build = builds["ok"]
    out = build.out
    assert build.done.returncode == 0, out
    # progress lines, then the summary
    assert "✓ raw/orders" in out and "✓ raw/programs" in out
    assert "✓ dim_program_tiers" in out
    assert "Rows per table" in out and "dim_program_tiers" in out
    assert "Rejected rows" in out
    assert "Total time:" in out
    assert "Traceback" not in out
    with duckdb.connect(str(build.warehouse), read_only=True) as con:
        built = con.execute("select distinct program_id from main.dim_program_tiers").fetchall()
    assert {row[0] for row in built} == _sample_program_ids()


def test_run_with_an_invalid_program_builds_the_others_and_exits_1(
    builds: dict[str, Build],
) -> None:
    build = builds["broken"]
    out = build.out
    assert build.done.returncode == 1, out
    assert BROKEN_FILE in out and "milestone" in out
    assert "Traceback" not in out
    with duckdb.connect(str(build.warehouse), read_only=True) as con:
        status = con.execute("select source_file, status from raw.program_config_status")
        statuses = dict(status.fetchall())
        tiers = con.execute("select program_id, count(*) from main.dim_program_tiers group by 1")
        tier_rows = dict(tiers.fetchall())
        windows = con.execute("select distinct program_id from main.fct_qualifying_windows")
        window_programs = {row[0] for row in windows.fetchall()}
    assert [s for f, s in statuses.items() if f.endswith(BROKEN_FILE)] == ["invalid"]
    # every valid program was built; the broken one (never valid) has no rows
    assert set(tier_rows) == _sample_program_ids()
    assert all(count > 0 for count in tier_rows.values())
    assert window_programs == _sample_program_ids()


def test_run_without_orders_exits_2_with_a_readable_message(builds: dict[str, Build]) -> None:
    build = builds["no_orders"]
    out = build.out
    assert build.done.returncode == 2, out
    assert "orders" in out and "Error:" in out
    assert "Traceback" not in out


def test_run_with_a_missing_raw_dir_exits_2(vip_tiers: Cli, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    done = vip_tiers(_run_args(tmp_path / "nowhere", SAMPLE_PROGRAMS_DIR, warehouse))
    assert done.returncode == 2, _output(done)
    assert "nowhere" in _output(done) and "Traceback" not in _output(done)


def test_run_on_a_locked_warehouse_exits_2(vip_tiers: Cli, tmp_path: Path) -> None:
    warehouse = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(warehouse)!r})\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        done = vip_tiers(_run_args(tmp_path, SAMPLE_PROGRAMS_DIR, warehouse))
    finally:
        holder.communicate("")
    out = _output(done)
    assert done.returncode == 2, out
    assert "in use by another process" in out and "Traceback" not in out


def test_validate(vip_tiers: Cli, broken_programs_dir: Path) -> None:
    good = vip_tiers(["validate", "--programs-dir", str(SAMPLE_PROGRAMS_DIR)])
    assert good.returncode == 0, _output(good)
    bad = vip_tiers(["validate", "--programs-dir", str(broken_programs_dir)])
    assert bad.returncode == 1, _output(bad)
    assert BROKEN_FILE in _output(bad) and "milestone" in _output(bad)


def test_generate(vip_tiers: Cli, tmp_path: Path) -> None:
    out_dir = tmp_path / "generated"
    done = vip_tiers(
        ["generate", "--out", str(out_dir), "--members", "5", "--format", "csv", "--seed", "1"]
    )
    assert done.returncode == 0, _output(done)
    names = {p.name.split(".")[0] for p in out_dir.iterdir()}
    assert {"customers", "orders"} <= names


def test_bad_as_of_is_a_usage_error(vip_tiers: Cli) -> None:
    done = vip_tiers(["run", "--as-of", "30/06/2024"])
    assert done.returncode == 2
    assert "YYYY-MM-DD" in _output(done)
