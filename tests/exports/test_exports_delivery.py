"""Each HTTP destination against a local server that checks the documented request shape:
every change delivered exactly once while the server answers 429 with Retry-After, 500,
answers too slowly and drops connections; refusals dead-letter with the reason."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from orchestration.exports.runner import ExportOptions, run_exports

from .export_fakes import (
    SECRET,
    FakeWarehouse,
    applied_change_ids,
    destination,
    drop,
    fake_api,
    slow,
    status,
)

HTTP_TYPES = ["klaviyo", "hubspot", "mailchimp", "webhook"]


def _exports(*destinations: dict) -> dict:
    return {"since": "2024-01-01", "max_change_share": 1.0, "destinations": list(destinations)}


@pytest.mark.parametrize("destination_type", HTTP_TYPES)
def test_every_change_once_through_faults(
    destination_type: str,
    warehouse: FakeWarehouse,
    secrets_env: str,
    fast_options: ExportOptions,
) -> None:
    with fake_api(destination_type) as api:
        dest = destination(
            destination_type, api, **({"timeout_s": 0.5} if destination_type == "webhook" else {})
        )
        warehouse.add_program("acme", members=40, exports=_exports(dest))
        ids = warehouse.add_changes("acme", range(1, 8))
        api.faults = {
            1: status(429, retry_after="1"),
            2: status(500, body={"message": "internal"}),
            4: slow(0.9),
            6: drop(),
        }
        started = time.monotonic()
        report = run_exports(warehouse.path, options=fast_options)
        elapsed = time.monotonic() - started

        assert api.problems == []
        assert report.delivered == 7 and report.dead_lettered == 0 and report.ok
        assert elapsed >= 1.0, "Retry-After: 1 was not honoured"
        rows = warehouse.deliveries()
        assert {row["change_id"] for row in rows} == set(ids)
        assert {row["status"] for row in rows} == {"delivered"}
        assert sum(row["attempts"] for row in rows) > len(rows)  # retries were counted
        applied = applied_change_ids(api, destination_type)
        assert len(applied) == len(set(applied)) == 7, "a change was applied twice or lost"
        if destination_type == "webhook":
            assert set(applied) == set(ids)

        # A rerun sends nothing.
        before = len(api.requests)
        again = run_exports(warehouse.path, options=fast_options)
        assert again.delivered == 0 and len(api.requests) == before


def test_hubspot_batches_at_most_100_and_one_email_per_batch(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    with fake_api("hubspot") as api:
        warehouse.add_program("acme", members=300, exports=_exports(destination("hubspot", api)))
        first = warehouse.add_changes("acme", range(1, 31), day=dt.date(2024, 6, 1))
        # Customer 5 changes again the next day: that change must wait for the next batch.
        second = warehouse.add_changes("acme", [5], direction="downgrade", day=dt.date(2024, 6, 2))
        third = warehouse.add_changes("acme", range(31, 231), day=dt.date(2024, 6, 3))
        report = run_exports(warehouse.path, options=fast_options)
        assert api.problems == []
        sizes = [len(request.json()["inputs"]) for request in api.requests]
        assert sizes == [30, 100, 100, 1]
        assert report.delivered == 231
        applied = applied_change_ids(api, "hubspot")
        assert applied == first + second + third


def test_mailchimp_tags_and_datacenter(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    from orchestration.exports.http import HttpSender, Scrubber
    from orchestration.exports.mailchimp import MailchimpClient, subscriber_hash
    from orchestration.programs import MailchimpDestination

    config = MailchimpDestination(type="mailchimp", id="m", api_key_env="K", list_id="abc123")
    client = MailchimpClient(
        config, "0123456789abcdef-us6", HttpSender(fast_options.retry, Scrubber())
    )
    assert client.members_url == "https://us6.api.mailchimp.com/3.0/lists/abc123/members"
    client.close()
    assert subscriber_hash(" Member.1@Example.test ") == subscriber_hash("member.1@example.test")

    with fake_api("mailchimp") as api:
        dest = destination("mailchimp", api, use_tags=True)
        warehouse.add_program("acme", members=10, exports=_exports(dest))
        warehouse.add_changes("acme", [1, 2])
        report = run_exports(warehouse.path, options=fast_options)
        assert api.problems == [] and report.delivered == 2
        methods = [(r.method, r.path.endswith("/tags")) for r in api.requests]
        assert methods == [("PUT", False), ("POST", True)] * 2
        assert "merge_fields" not in api.requests[0].json()
        tags = api.requests[1].json()["tags"]
        assert {"name": "vip_tier:silver", "status": "active"} in tags
        assert {"name": "vip_tier:member", "status": "inactive"} in tags


def test_mailchimp_merge_fields(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    with fake_api("mailchimp") as api:
        warehouse.add_program("acme", members=5, exports=_exports(destination("mailchimp", api)))
        warehouse.add_changes("acme", [3])
        run_exports(warehouse.path, options=fast_options)
        body = api.requests[0].json()
        assert body["email_address"] == "member.3@example.test"
        assert body["status_if_new"] == "transactional"
        assert body["merge_fields"] == {
            "VIPTIER": "silver",
            "VIPNAME": "Silver",
            "VIPSINCE": "2024-06-01",
            "VIPPERKS": "Free shipping",
        }


@pytest.mark.parametrize("destination_type", HTTP_TYPES)
def test_refusal_dead_letters_with_reason_not_secret(
    destination_type: str,
    warehouse: FakeWarehouse,
    secrets_env: str,
    fast_options: ExportOptions,
) -> None:
    """A 400 that echoes the credentials: dead letter with the reason, secret masked."""
    with fake_api(destination_type) as api:
        warehouse.add_program(
            "acme", members=10, exports=_exports(destination(destination_type, api))
        )
        warehouse.add_changes("acme", [1, 2, 3])
        echo = {
            "errors": [{"detail": f"invalid property vip_tier for key {SECRET}"}],
            "message": f"Authorization Bearer {SECRET} refused",
        }
        api.faults = {1: status(400, body=echo)}
        report = run_exports(warehouse.path, options=fast_options)
        rows = warehouse.deliveries()
        dead = [row for row in rows if row["status"] == "dead_letter"]
        if destination_type == "hubspot":  # one batch: all three refused together
            assert len(dead) == 3
        else:
            assert len(dead) == 1 and report.delivered == 2
        assert dead[0]["attempts"] == 1
        assert "HTTP 400" in dead[0]["last_error"]
        assert "invalid property vip_tier" in dead[0]["last_error"]
        assert SECRET not in warehouse.dump_outbox()
        assert SECRET not in repr(report)


def test_dead_letter_after_last_retry_and_stop_on_outage(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    with fake_api("webhook") as api:
        warehouse.add_program("acme", members=10, exports=_exports(destination("webhook", api)))
        warehouse.add_changes("acme", range(1, 6))
        api.fault_for = lambda request: status(503)
        report = run_exports(warehouse.path, options=fast_options)
        statuses = warehouse.statuses()
        # Three changes fail after every retry, then the destination stops for this run.
        assert statuses == {"dead_letter": 3, "pending": 2}
        assert len(api.requests) == 3 * fast_options.retry.attempts
        dead = [row for row in warehouse.deliveries() if row["status"] == "dead_letter"]
        assert all(row["attempts"] == fast_options.retry.attempts for row in dead)
        assert all("gave up after 5 attempt(s): HTTP 503" in row["last_error"] for row in dead)
        assert report.errors and "stay pending" in report.errors[0]

        # The outage ends: the pending ones go out; dead letters wait for a person.
        api.fault_for = None
        again = run_exports(warehouse.path, options=fast_options)
        assert again.delivered == 2
        assert warehouse.statuses() == {"dead_letter": 3, "delivered": 2}


def test_long_retry_after_keeps_pending(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    with fake_api("klaviyo") as api:
        warehouse.add_program("acme", members=10, exports=_exports(destination("klaviyo", api)))
        warehouse.add_changes("acme", [1, 2, 3])
        api.faults = {2: status(429, retry_after="3600")}
        report = run_exports(warehouse.path, options=fast_options)
        assert warehouse.statuses() == {"delivered": 1, "pending": 2}
        assert len(api.requests) == 2
        assert "rate limited" in (report.destinations[0].error or "")
        pending = [row for row in warehouse.deliveries() if row["status"] == "pending"]
        assert any("Retry-After 3600" in (row["last_error"] or "") for row in pending)
        again = run_exports(warehouse.path, options=fast_options)
        assert again.delivered == 2 and warehouse.statuses() == {"delivered": 3}


def test_member_without_email(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    with fake_api("hubspot") as hub, fake_api("webhook") as hook:
        warehouse.add_program(
            "acme",
            members=10,
            exports=_exports(destination("hubspot", hub), destination("webhook", hook)),
        )
        warehouse.add_changes("acme", [1, 2])
        warehouse.clear_email("acme", 2)
        run_exports(warehouse.path, options=fast_options)
        assert warehouse.statuses("hubspot_main") == {"delivered": 1, "dead_letter": 1}
        dead = [r for r in warehouse.deliveries("hubspot_main") if r["status"] == "dead_letter"]
        assert "no email" in dead[0]["last_error"] and dead[0]["attempts"] == 0
        assert len(hub.requests[0].json()["inputs"]) == 1
        # A webhook does not need the email.
        assert warehouse.statuses("webhook_main") == {"delivered": 2}


def test_missing_secret_keeps_pending(
    warehouse: FakeWarehouse, fast_options: ExportOptions
) -> None:
    with fake_api("webhook") as api:
        warehouse.add_program("acme", members=10, exports=_exports(destination("webhook", api)))
        warehouse.add_changes("acme", [1])
        report = run_exports(warehouse.path, options=fast_options, secrets=lambda name: None)
        assert "TEST_HOOK_SECRET" in report.errors[0] and "not set" in report.errors[0]
        assert warehouse.statuses() == {"pending": 1} and api.requests == []


def test_hubspot_multi_status_dead_letters_only_the_refused(
    warehouse: FakeWarehouse, secrets_env: str, fast_options: ExportOptions
) -> None:
    """207: HubSpot upserted some inputs and refused others; results are matched by email."""
    with fake_api("hubspot") as api:
        original = api.respond

        def partial(request):  # type: ignore[no-untyped-def]
            _, document = original(request)
            refused = "member.2@example.test"
            document["results"] = [
                r for r in document["results"] if r["properties"]["email"] != refused
            ]
            document["errors"] = [
                {"status": "error", "category": "VALIDATION_ERROR", "message": "Email invalid"}
            ]
            return 207, document

        api.respond = partial
        warehouse.add_program("acme", members=10, exports=_exports(destination("hubspot", api)))
        warehouse.add_changes("acme", [1, 2, 3])
        report = run_exports(warehouse.path, options=fast_options)
        assert report.delivered == 2 and report.dead_lettered == 1
        rows = {row["change_id"]: row for row in warehouse.deliveries()}
        dead = [row for row in rows.values() if row["status"] == "dead_letter"]
        assert len(dead) == 1 and "Email invalid" in dead[0]["last_error"]
        assert all(
            row["delivery_ref"].startswith("contact ")
            for row in rows.values()
            if row["status"] == "delivered"
        )
