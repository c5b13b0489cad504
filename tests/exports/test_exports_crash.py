"""A run killed (SIGKILL) in the middle of sending, then started again: no change lost, no
webhook delivery id accepted twice, the outbox says exactly what happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from orchestration.settings import REPO_ROOT

from .export_fakes import ENV_NAMES, SECRET, FakeWarehouse, destination, fake_api, kill

KILL_AT = 6  # the exporter is killed when the server receives its 6th request


def _export_process(warehouse: FakeWarehouse) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("VIP_")}
    env |= {name: SECRET for name in ENV_NAMES.values()}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestration.exports",
            "export",
            "--warehouse",
            str(warehouse.path),
            "--pacing",
            "0",
            "--backoff",
            "0.01",
            "--timeout",
            "2",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def test_killed_run_resumes_without_loss_or_duplicate(warehouse: FakeWarehouse) -> None:
    with fake_api("webhook") as api:
        warehouse.add_program(
            "acme",
            members=100,
            exports={"max_change_share": 1.0, "destinations": [destination("webhook", api)]},
        )
        ids = warehouse.add_changes("acme", range(1, 16))
        api.faults = {KILL_AT: kill()}

        first = _export_process(warehouse)
        api.kill_pid = first.pid
        out, err = first.communicate(timeout=60)
        assert first.returncode == -signal.SIGKILL, (out, err)
        assert SECRET not in out + err

        # Killed mid-way: what the server acknowledged is delivered, the rest is pending.
        acknowledged = [r.headers["x-vip-delivery-id"] for r in api.applied]
        assert len(acknowledged) == KILL_AT - 1
        rows = warehouse.deliveries()
        delivered = {r["change_id"] for r in rows if r["status"] == "delivered"}
        assert delivered == set(acknowledged)
        assert {r["status"] for r in rows if r["change_id"] not in delivered} == {"pending"}

        second = _export_process(warehouse)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, out + err
        assert SECRET not in out + err

    assert api.problems == []
    accepted = [r.headers["x-vip-delivery-id"] for r in api.applied]
    assert sorted(accepted) == sorted(ids), "a change was lost or accepted twice"
    received = [r.headers["x-vip-delivery-id"] for r in api.requests]
    repeated = {i for i in received if received.count(i) > 1}
    # Only the request in flight when the process died reached the server twice, and its
    # first copy was never acknowledged (the process died before it could hear back).
    assert repeated == {api.requests[KILL_AT - 1].headers["x-vip-delivery-id"]}
    assert not api.requests[KILL_AT - 1].applied
    assert warehouse.statuses() == {"delivered": 15}
