"""The outbox and the guard: what is planned, held, released, withdrawn; files; claims."""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from orchestration.exports import file as file_drop
from orchestration.exports import outbox
from orchestration.exports.runner import (
    ExportConfigError,
    ExportOptions,
    release_held,
    run_exports,
)

from .export_fakes import FakeWarehouse, destination, fake_api


def _exports(*destinations: dict, **settings: object) -> dict:
    return {"max_change_share": 0.2, **settings, "destinations": list(destinations)}


def test_mass_downgrade_is_held_until_released(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    with fake_api("webhook") as api:
        warehouse.add_program("acme", members=50, exports=_exports(destination("webhook", api)))
        # A normal day: 3 changes of 50 members (limit 0.2 x 50 = 10) go out.
        warehouse.add_changes("acme", [1, 2, 3], day=dt.date(2024, 6, 1))
        assert run_exports(warehouse.path, options=fast_options).delivered == 3
        # A bad load downgrades 30 members: nothing is sent, everything is held.
        bad = warehouse.add_changes(
            "acme", range(10, 40), direction="downgrade", day=dt.date(2024, 6, 2)
        )
        report = run_exports(warehouse.path, options=fast_options)
        assert report.delivered == 0 and report.held == 30 and len(api.requests) == 3
        reason = report.destinations[0].hold_reason or ""
        assert "30 new tier changes" in reason and "max_change_share 0.2" in reason
        assert "50 eligible members" in reason and "exports release --program acme" in reason
        assert warehouse.statuses() == {"delivered": 3, "held": 30}
        # Later runs keep them held (and still send the normal changes of later days).
        warehouse.add_changes("acme", [45], day=dt.date(2024, 6, 3))
        later = run_exports(warehouse.path, options=fast_options)
        assert later.delivered == 1 and warehouse.statuses() == {"delivered": 4, "held": 30}
        # A person releases them: the next export sends each once.
        assert release_held(warehouse.path, "acme") == {"held": 30}
        released = run_exports(warehouse.path, options=fast_options)
        assert released.delivered == 30 and released.held == 0
        sent = [r.headers["x-vip-delivery-id"] for r in api.requests]
        assert len(sent) == len(set(sent)) == 34 and set(bad) <= set(sent)


def test_fixed_data_withdraws_held_changes(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    with fake_api("webhook") as api:
        warehouse.add_program("acme", members=20, exports=_exports(destination("webhook", api)))
        bad = warehouse.add_changes("acme", range(1, 15), direction="downgrade")
        assert run_exports(warehouse.path, options=fast_options).held == 14
        warehouse.remove_changes(bad)  # the data is fixed and rebuilt: the changes are gone
        report = run_exports(warehouse.path, options=fast_options)
        assert report.destinations[0].withdrawn == 14
        assert release_held(warehouse.path, "acme") == {"held": 0}
        assert run_exports(warehouse.path, options=fast_options).delivered == 0
        assert api.requests == [] and warehouse.statuses() == {"withdrawn": 14}


def test_since_and_send_initial(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    with fake_api("webhook") as api:
        hook = destination("webhook", api)
        warehouse.add_program("acme", members=100, exports=_exports(hook, since="2024-03-01"))
        old = warehouse.add_changes("acme", [1], day=dt.date(2024, 2, 28))
        initial = warehouse.add_changes("acme", [2], direction="initial", day=dt.date(2024, 3, 5))
        due = warehouse.add_changes("acme", [3], day=dt.date(2024, 3, 1))
        run_exports(warehouse.path, options=fast_options)
        assert [r.headers["x-vip-delivery-id"] for r in api.requests] == due
        warehouse.set_exports("acme", _exports(hook, since="2024-03-01", send_initial=True))
        run_exports(warehouse.path, options=fast_options)
        sent = [r.headers["x-vip-delivery-id"] for r in api.requests]
        assert sent == due + initial and old[0] not in sent


def test_dry_run_writes_and_sends_nothing(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions, tmp_path: Path
) -> None:
    with fake_api("webhook") as api:
        files = {"id": "drop", "type": "file", "path": str(tmp_path / "drops")}
        warehouse.add_program(
            "acme", members=10, exports=_exports(destination("webhook", api), files)
        )
        warehouse.add_changes("acme", range(1, 5))
        report = run_exports(warehouse.path, options=fast_options, dry_run=True)
        assert report.held == 8  # 4 changes > 0.2 x 10 for each destination
        assert api.requests == [] and not (tmp_path / "drops").exists()
        assert warehouse.deliveries() == []


def test_selection_errors(warehouse: FakeWarehouse, fast_options: ExportOptions) -> None:
    warehouse.add_program(
        "acme", members=5, exports=_exports({"id": "f", "type": "file", "path": "x"})
    )
    with pytest.raises(ExportConfigError, match="program 'nope' is not in the warehouse"):
        run_exports(warehouse.path, program_id="nope", options=fast_options)
    with pytest.raises(ExportConfigError, match=r"destination 'crm' is not configured.*acme/f"):
        run_exports(warehouse.path, destination_id="crm", options=fast_options)


def test_warehouse_not_built(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(outbox.WarehouseNotBuiltError, match="build it first"):
        run_exports(path)


def test_file_per_run_never_rewritten(
    warehouse: FakeWarehouse, fast_options: ExportOptions
) -> None:
    csv_dest = {"id": "nightly", "type": "file", "path": "exports/tier_changes"}
    pq_dest = {"id": "lake", "type": "file", "path": "exports/lake", "format": "parquet"}
    warehouse.add_program("acme", members=100, exports=_exports(csv_dest, pq_dest))
    first = warehouse.add_changes("acme", [1, 2])
    run_exports(warehouse.path, options=fast_options, run_id="run1")
    second = warehouse.add_changes("acme", [3], day=dt.date(2024, 6, 2))
    run_exports(warehouse.path, options=fast_options, run_id="run2")
    run_exports(warehouse.path, options=fast_options, run_id="run3")  # nothing new: no file

    folder = warehouse.path.parent / "exports" / "tier_changes" / "acme"
    files = sorted(folder.iterdir())
    assert [f.name.split("_")[-1] for f in files] == ["run1.csv", "run2.csv"]
    assert all(f.name.startswith("tier_changes_") for f in files)
    rows = [list(csv.DictReader(f.open())) for f in files]
    assert [r["change_id"] for r in rows[0]] == first
    assert [r["change_id"] for r in rows[1]] == second
    assert rows[0][0]["to_tier_perks"] == '["Free shipping"]'
    assert rows[0][0]["email"] == "Member.1@Example.test"
    lake = sorted((warehouse.path.parent / "exports" / "lake" / "acme").iterdir())
    table = pq.read_table(lake[0])
    assert table.column("change_id").to_pylist() == first
    assert table.column("to_tier_perks").to_pylist()[0] == ["Free shipping"]
    refs = {row["delivery_ref"] for row in warehouse.deliveries("nightly")}
    assert refs == {f.name for f in files}


def test_file_crash_after_commit_is_published_not_duplicated(
    warehouse: FakeWarehouse, fast_options: ExportOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse.add_program(
        "acme", members=100, exports=_exports({"id": "f", "type": "file", "path": "out"})
    )
    ids = warehouse.add_changes("acme", [1, 2])
    folder = warehouse.path.parent / "out" / "acme"

    def crash(partial: Path, final: Path) -> None:
        raise KeyboardInterrupt("killed between commit and rename")

    monkeypatch.setattr(file_drop, "publish", crash)
    with pytest.raises(KeyboardInterrupt):
        run_exports(warehouse.path, options=fast_options, run_id="crashed")
    monkeypatch.undo()
    assert next(p.name for p in folder.iterdir()).endswith(".partial")
    assert warehouse.statuses() == {"delivered": 2}

    run_exports(warehouse.path, options=fast_options, run_id="next")
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 1 and names[0].endswith("_crashed.csv")
    assert [r["change_id"] for r in csv.DictReader((folder / names[0]).open())] == ids


def test_file_crash_before_commit_is_discarded_and_rewritten_once(
    warehouse: FakeWarehouse, fast_options: ExportOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse.add_program(
        "acme", members=100, exports=_exports({"id": "f", "type": "file", "path": "out"})
    )
    ids = warehouse.add_changes("acme", [1, 2])
    folder = warehouse.path.parent / "out" / "acme"

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed before the commit")

    monkeypatch.setattr(outbox, "record_results", crash)
    with pytest.raises(KeyboardInterrupt):
        run_exports(warehouse.path, options=fast_options, run_id="crashed")
    monkeypatch.undo()
    assert warehouse.statuses() == {"pending": 2}

    run_exports(warehouse.path, options=fast_options, run_id="next")
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 1 and names[0].endswith("_next.csv")
    assert [r["change_id"] for r in csv.DictReader((folder / names[0]).open())] == ids


def test_a_live_claim_blocks_a_second_exporter(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    with fake_api("webhook") as api:
        warehouse.add_program("acme", members=100, exports=_exports(destination("webhook", api)))
        warehouse.add_changes("acme", [1])
        with outbox.connect(warehouse.path) as con:
            outbox.ensure_schema(con)
            holder = outbox.claim(con, "acme", "webhook_main", "other-run", 900, outbox.utcnow())
            assert holder is None  # this process (alive) holds it for "other-run"
        report = run_exports(warehouse.path, options=fast_options)
        assert "is exporting this destination right now" in report.errors[0]
        assert api.requests == []
        # A claim of a process that is gone does not block.
        with outbox.connect(warehouse.path) as con:
            con.execute("update exports.export_claims set pid = ?", [_dead_pid()])
        assert run_exports(warehouse.path, options=fast_options).delivered == 1


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_restated_delivered_change_gets_a_correction(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    """Late data restated a change already sent: the destination gets the member's tier now,
    once; a restated change that was never sent is not sent, and not corrected."""
    with fake_api("webhook") as api:
        warehouse.add_program("acme", members=50, exports=_exports(destination("webhook", api)))
        sent_first, sent_second = warehouse.add_changes("acme", [1, 2], day=dt.date(2024, 6, 1))
        assert run_exports(warehouse.path, options=fast_options).delivered == 2
        (unsent,) = warehouse.add_changes("acme", [3], day=dt.date(2024, 6, 2))
        # a late refund: customer 1 never reached silver, and customer 3's change is gone
        warehouse.restate([sent_first, unsent], tier_now="member", day=dt.date(2024, 6, 1))
        report = run_exports(warehouse.path, options=fast_options)
        assert report.delivered == 1, report
        body = api.requests[-1].json()["data"]
        assert body["customer_id"] == "C00001"
        assert (body["from_tier_code"], body["to_tier_code"]) == ("silver", "member")
        assert (body["direction"], body["reason"]) == ("correction", "restatement")
        statuses = {row["change_id"]: row["status"] for row in warehouse.deliveries()}
        assert statuses[sent_first] == statuses[sent_second] == "delivered"
        assert unsent not in statuses and len(statuses) == 3
        # exactly once: another run sends nothing more
        assert run_exports(warehouse.path, options=fast_options).delivered == 0
        assert len(api.requests) == 3
