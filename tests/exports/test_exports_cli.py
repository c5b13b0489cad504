"""`export` / `exports release|status` commands, the documented webhook receiver, and the
HTTP helpers (Retry-After, scrubbing)."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.exports.cli import standalone_app
from orchestration.exports.http import (
    HttpSender,
    RetryPolicy,
    Scrubber,
    parse_retry_after,
)
from orchestration.exports.payload import TierChange
from orchestration.exports.webhook import WebhookClient, verify_signature
from orchestration.programs import WebhookDestination
from orchestration.settings import REPO_ROOT

from .export_fakes import SECRET, FakeWarehouse, destination, fake_api, status

FAST_CLI = ["--pacing", "0", "--backoff", "0.01", "--timeout", "1"]


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(standalone_app, list(args))
    return result.exit_code, result.output


def test_export_commands(warehouse: FakeWarehouse, secrets_env: str) -> None:
    wh = ["--warehouse", str(warehouse.path)]
    with fake_api("webhook") as api:
        warehouse.add_program(
            "acme",
            members=10,
            exports={"max_change_share": 0.5, "destinations": [destination("webhook", api)]},
        )
        warehouse.add_changes("acme", [1, 2])
        code, out = _invoke("export", "--dry-run", *wh)
        assert code == 0 and "Dry run" in out and "2 would send" in out
        assert api.requests == []

        code, out = _invoke("export", "--program", "acme", *wh, *FAST_CLI)
        assert code == 0, out
        assert "acme/webhook_main (webhook): 2 new, 2 delivered" in out

        warehouse.add_changes("acme", range(3, 10), direction="downgrade")
        code, out = _invoke("export", *wh, *FAST_CLI)
        assert code == 1 and "7 held" in out and "exports release --program acme" in out

        code, out = _invoke("exports", "status", *wh)
        assert code == 0 and "held: 7" in out and "delivered: 2" in out

        code, out = _invoke("exports", "release", "--program", "acme", *wh)
        assert code == 0 and "Released 7 held" in out
        code, out = _invoke("export", *wh, *FAST_CLI)
        assert code == 0 and "7 delivered" in out
        assert SECRET not in out

        code, out = _invoke("export", "--destination", "nope", *wh)
        assert code == 2 and "destination 'nope' is not configured" in out
        code, out = _invoke("export", "--program", "nope", *wh)
        assert code == 2 and "program 'nope' is not in the warehouse" in out


def test_release_dead_letters(warehouse: FakeWarehouse, secrets_env: str) -> None:
    wh = ["--warehouse", str(warehouse.path)]
    with fake_api("webhook") as api:
        warehouse.add_program(
            "acme",
            members=10,
            exports={"max_change_share": 1.0, "destinations": [destination("webhook", api)]},
        )
        warehouse.add_changes("acme", [1])
        api.faults = {1: status(422, body={"message": "unknown customer"})}
        code, out = _invoke("export", *wh, *FAST_CLI)
        assert code == 1 and "Dead letter" in out and "unknown customer" in out
        code, out = _invoke("exports", "release", "--program", "acme", "--dead-letters", *wh)
        assert "1 dead-letter" in out
        code, out = _invoke("export", *wh, *FAST_CLI)
        assert code == 0 and warehouse.statuses() == {"delivered": 1}


def test_missing_warehouse(tmp_path: Path) -> None:
    code, out = _invoke("export", "--warehouse", str(tmp_path / "none.duckdb"))
    assert code == 2 and "does not exist" in out


def test_documented_receiver_verifies_and_dedupes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver of docs/exports.md, run as written, against the webhook client."""
    text = (REPO_ROOT / "docs" / "exports.md").read_text()
    code = next(
        block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "Receiver" in block
    )
    monkeypatch.setenv("VIP_HOOK_SECRET", SECRET)
    monkeypatch.setenv("RECEIVER_DB", str(tmp_path / "receiver.sqlite"))
    namespace: dict = {"__name__": "receiver"}
    exec(compile(code, "docs/exports.md", "exec"), namespace)
    applied: list[dict] = []
    namespace["apply_change"] = applied.append

    server = ThreadingHTTPServer(("127.0.0.1", 0), namespace["Receiver"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        change = TierChange(
            "c1",
            "acme",
            "C1",
            "a@b.test",
            "member",
            "Member",
            "gold",
            "Gold",
            ("Gift",),
            dt.date(2024, 6, 1),
            "upgrade",
            "promotion",
        )
        policy = RetryPolicy(attempts=1, timeout_s=2)
        config = WebhookDestination(type="webhook", id="h", url=url, secret_env="X")
        good = WebhookClient(config, SECRET, HttpSender(policy, Scrubber([SECRET])))
        for _ in range(2):  # the same delivery twice: applied once, acknowledged twice
            assert good.send_batch([change]).items[0].delivered
        good.close()
        assert [item["change_id"] for item in applied] == ["c1"]

        forged = WebhookClient(config, "another-secret-value", HttpSender(policy, Scrubber()))
        with pytest.raises(Exception, match="HTTP 401"):
            forged.send_batch([change])
        forged.close()
    finally:
        server.shutdown()
        server.server_close()
        namespace["DB"].close()


def test_signature_helper() -> None:
    body = b'{"a":1}'
    from orchestration.exports.webhook import signature

    assert verify_signature("k" * 10, body, signature("k" * 10, body))
    assert not verify_signature("k" * 10, body, signature("j" * 10, body))


def test_parse_retry_after() -> None:
    now = dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("7", now) == 7
    assert parse_retry_after("Sat, 01 Jun 2024 12:00:30 GMT", now) == 30
    assert parse_retry_after("Sat, 01 Jun 2024 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_retry_after_http_date_is_honoured() -> None:
    with fake_api("webhook") as api:
        when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
        api.faults = {1: status(503, retry_after=when.strftime("%a, %d %b %Y %H:%M:%S GMT"))}
        api.validate = lambda request: []
        sender = HttpSender(RetryPolicy(attempts=3, backoff_initial_s=0.01, jitter_s=0), Scrubber())
        started = time.monotonic()
        response, tries = sender.send("POST", api.base_url + "/x", content=b"{}")
        sender.close()
        assert response.status_code == 202 and tries == 2
        assert time.monotonic() - started >= 0.9  # waited until the date (1-2 s)


def test_scrubber_masks_encoded_forms() -> None:
    import base64
    import urllib.parse

    scrub = Scrubber([SECRET])
    basic = base64.b64encode(f"anystring:{SECRET}".encode()).decode()
    text = f"{SECRET} {urllib.parse.quote(SECRET + '/')} Basic {basic}"
    assert SECRET not in scrub(text) and basic not in scrub(text)
