"""Test doubles for the exports: a small warehouse with the marts the exports read, and
local HTTP servers (127.0.0.1 only) that check each request the way the vendor documents
it and misbehave on cue (429 with Retry-After, 500, slow answers, dropped connections,
killing the exporting process)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb

SECRET = "vipSECRET-7f3c9a2e5b1d4e68-us6"  # one value for every destination (a Mailchimp key shape)
ENV_NAMES = {
    "klaviyo": "TEST_KLAVIYO_KEY",
    "hubspot": "TEST_HUBSPOT_TOKEN",
    "mailchimp": "TEST_MAILCHIMP_KEY",
    "webhook": "TEST_HOOK_SECRET",
}
LIST_ID = "abc123"
WEBHOOK_PATH = "/hooks/vip"

# --- the warehouse --------------------------------------------------------------------------

TIERS = (
    ("member", "Member", 0, []),
    ("silver", "Silver", 1, ["Free shipping"]),
    ("gold", "Gold", 2, ["Free shipping", "Birthday gift"]),
)


class FakeWarehouse:
    """The relations the exports read, with the columns the dbt project gives them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._next_change = 0
        with self.connect() as con:
            con.execute("create schema if not exists staging")
            con.execute("create schema if not exists raw")
            con.execute(
                """create table main.fct_tier_changes (
                    change_id varchar, program_id varchar, scenario_id varchar,
                    customer_id varchar, change_date date, from_tier_code varchar,
                    to_tier_code varchar, direction varchar, change_reason varchar)"""
            )
            con.execute(
                """create table main.fct_tier_history (
                    program_id varchar, scenario_id varchar, customer_id varchar,
                    tier_code varchar, tier_rank integer, valid_from date, valid_to date,
                    change_reason varchar)"""
            )
            con.execute(
                """create table main.fct_tier_change_restatements (
                    program_id varchar, scenario_id varchar, customer_id varchar,
                    restated_change_id varchar, restated_change_date date,
                    restated_from_tier_code varchar, restated_to_tier_code varchar,
                    replaced_by_change_id varchar, replaced_by_change_date date,
                    replaced_by_to_tier_code varchar, restated_as_of date)"""
            )
            con.execute(
                """create table main.dim_program_tiers (
                    program_id varchar, scenario_id varchar, tier_code varchar,
                    tier_name varchar, tier_rank integer, perks varchar)"""
            )
            con.execute(
                """create table main.dim_customer_tier_current (
                    program_id varchar, scenario_id varchar, customer_id varchar,
                    tier_code varchar, tier_rank integer)"""
            )
            con.execute(
                """create table staging.stg_customers (
                    program_id varchar, customer_id varchar, email varchar,
                    rejection_reason varchar)"""
            )
            con.execute(
                "create table raw.programs (program_id varchar, name varchar, exports_json varchar)"
            )

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(str(self.path))
        try:
            yield con
        finally:
            con.close()

    def add_program(self, program_id: str, members: int, exports: Mapping[str, Any]) -> None:
        from orchestration.programs import ExportsConfig

        config = ExportsConfig.model_validate(exports)
        with self.connect() as con:
            con.execute(
                "insert into raw.programs values (?, ?, ?)",
                [program_id, program_id, config.model_dump_json()],
            )
            for code, name, rank, perks in TIERS:
                for scenario in ("live", "mode_lifetime"):
                    con.execute(
                        "insert into main.dim_program_tiers values (?, ?, ?, ?, ?, ?)",
                        [program_id, scenario, code, name, rank, json.dumps(perks)],
                    )
            con.execute(
                "insert into staging.stg_customers select ?, printf('C%05d', range), "
                "printf('Member.%d@Example.test', range), null from range(1, ? + 1)",
                [program_id, members],
            )
            con.execute(
                "insert into main.dim_customer_tier_current select ?, 'live', "
                "printf('C%05d', range), 'member', 0 from range(1, ? + 1)",
                [program_id, members],
            )

    def set_exports(self, program_id: str, exports: Mapping[str, Any]) -> None:
        from orchestration.programs import ExportsConfig

        config = ExportsConfig.model_validate(exports)
        with self.connect() as con:
            con.execute(
                "update raw.programs set exports_json = ? where program_id = ?",
                [config.model_dump_json(), program_id],
            )

    def add_changes(
        self,
        program_id: str,
        customers: Sequence[int],
        *,
        direction: str = "upgrade",
        day: dt.date = dt.date(2024, 6, 1),
        scenario: str = "live",
    ) -> list[str]:
        """One change per customer number (upgrades member→silver, downgrades gold→silver,
        initial →member); returns the change ids in order."""
        tiers = {
            "upgrade": ("member", "silver", "promotion"),
            "downgrade": ("gold", "silver", "review"),
            "initial": (None, "member", "initial"),
        }
        from_tier, to_tier, reason = tiers[direction]
        ids = []
        customer_ids = []
        for number in customers:
            self._next_change += 1
            ids.append(
                hashlib.md5(
                    f"{program_id}|{scenario}|{number}|{self._next_change}".encode()
                ).hexdigest()
            )
            customer_ids.append(f"C{number:05d}")
        with self.connect() as con:
            con.execute(
                "insert into main.fct_tier_changes "
                "select unnest(?), ?, ?, unnest(?), ?, ?, ?, ?, ?",
                [
                    ids,
                    program_id,
                    scenario,
                    customer_ids,
                    day,
                    from_tier,
                    to_tier,
                    direction,
                    reason,
                ],
            )
            con.execute(
                "insert into main.fct_tier_history select ?, ?, unnest(?), ?, null, ?, null, ?",
                [program_id, scenario, customer_ids, to_tier, day, reason],
            )
        return ids

    def restate(self, change_ids: Sequence[str], tier_now: str, day: dt.date) -> None:
        """What a build does when late data rewrites history: the changes are gone from
        fct_tier_changes, logged in fct_tier_change_restatements, and each member's history
        now ends in `tier_now` since `day`."""
        with self.connect() as con:
            for change_id in change_ids:
                program_id, scenario, customer_id, change_date, to_tier = con.execute(
                    "select program_id, scenario_id, customer_id, change_date, to_tier_code "
                    "from main.fct_tier_changes where change_id = ?",
                    [change_id],
                ).fetchone()
                con.execute("delete from main.fct_tier_changes where change_id = ?", [change_id])
                con.execute(
                    "insert into main.fct_tier_change_restatements "
                    "values (?, ?, ?, ?, ?, null, ?, null, null, null, ?)",
                    [program_id, scenario, customer_id, change_id, change_date, to_tier, day],
                )
                con.execute(
                    "delete from main.fct_tier_history where program_id = ? "
                    "and scenario_id = ? and customer_id = ? and valid_from >= ?",
                    [program_id, scenario, customer_id, day],
                )
                con.execute(
                    "insert into main.fct_tier_history values (?, ?, ?, ?, null, ?, null, ?)",
                    [program_id, scenario, customer_id, tier_now, day, "refund"],
                )

    def remove_changes(self, change_ids: Sequence[str]) -> None:
        with self.connect() as con:
            for change_id in change_ids:
                con.execute("delete from main.fct_tier_changes where change_id = ?", [change_id])

    def clear_email(self, program_id: str, customer: int) -> None:
        with self.connect() as con:
            con.execute(
                "update staging.stg_customers set email = null "
                "where program_id = ? and customer_id = ?",
                [program_id, f"C{customer:05d}"],
            )

    def deliveries(self, destination_id: str | None = None) -> list[dict[str, Any]]:
        with self.connect() as con:
            cursor = con.execute(
                "select * from exports.export_deliveries "
                "where cast(? as varchar) is null or destination_id = ? order by change_id",
                [destination_id, destination_id],
            )
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def statuses(self, destination_id: str | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.deliveries(destination_id):
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts

    def dump_outbox(self) -> str:
        """Every row of every table of schema `exports`, as text."""
        with self.connect() as con:
            tables = [
                row[0]
                for row in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = 'exports'"
                ).fetchall()
            ]
            return "\n".join(
                repr(con.execute(f"select * from exports.{table}").fetchall()) for table in tables
            )


# --- the servers ----------------------------------------------------------------------------


@dataclass
class Fault:
    """What the server does instead of answering normally."""

    kind: str  # status | slow | drop | kill
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0


def status(code: int, retry_after: str | None = None, body: Any = None) -> Fault:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    payload = json.dumps(body).encode() if body is not None else b""
    return Fault("status", status=code, headers=headers, body=payload)


def slow(seconds: float) -> Fault:
    return Fault("slow", seconds=seconds)


def drop() -> Fault:
    return Fault("drop")


def kill() -> Fault:
    return Fault("kill")


@dataclass
class Request:
    number: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    problems: list[str]
    applied: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


Validator = Callable[[Request], list[str]]
Responder = Callable[[Request], tuple[int, Any]]


class FakeApi:
    """A local HTTP server; faults by request number (1-based); records every request."""

    def __init__(self, validate: Validator, respond: Responder) -> None:
        self.validate = validate
        self.respond = respond
        self.faults: dict[int, Fault] = {}
        self.fault_for: Callable[[Request], Fault | None] | None = None
        self.requests: list[Request] = []
        self.kill_pid: int | None = None
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with api._lock:
                    number = len(api.requests) + 1
                    request = Request(
                        number,
                        self.command,
                        self.path,
                        {key.lower(): value for key, value in self.headers.items()},
                        body,
                        [],
                    )
                    api.requests.append(request)
                fault = api.faults.get(number)
                if fault is None and api.fault_for is not None:
                    fault = api.fault_for(request)
                if fault is not None and fault.kind in ("drop", "kill"):
                    if fault.kind == "kill" and api.kill_pid:
                        os.kill(api.kill_pid, signal.SIGKILL)
                        time.sleep(0.2)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault is not None and fault.kind == "slow":
                    time.sleep(fault.seconds)
                    self.close_connection = True
                    with suppress(OSError):
                        self._send(504, {}, b"")
                    return
                if fault is not None and fault.kind == "status":
                    self._send(fault.status, fault.headers, fault.body)
                    return
                request.problems = api.validate(request)
                if request.problems:
                    self._send(400, {}, json.dumps({"detail": request.problems}).encode())
                    return
                code, document = api.respond(request)
                request.applied = 200 <= code < 300
                payload = json.dumps(document).encode() if document is not None else b""
                self._send(code, {}, payload)

            def _send(self, code: int, headers: Mapping[str, str], body: bytes) -> None:
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                if body:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def applied(self) -> list[Request]:
        return [request for request in self.requests if request.applied]

    @property
    def problems(self) -> list[str]:
        return [problem for request in self.requests for problem in request.problems]


# --- what each vendor documents -------------------------------------------------------------

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _json(request: Request, problems: list[str]) -> Any:
    try:
        return json.loads(request.body)
    except ValueError:
        problems.append("body is not JSON")
        return None


def klaviyo_validate(request: Request) -> list[str]:
    problems: list[str] = []
    if (request.method, request.path) != ("POST", "/api/profile-import"):
        problems.append(f"unexpected {request.method} {request.path}")
    if request.headers.get("authorization") != f"Klaviyo-API-Key {SECRET}":
        problems.append("Authorization is not 'Klaviyo-API-Key <key>'")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.pre)?", request.headers.get("revision", "")):
        problems.append("missing revision header YYYY-MM-DD")
    for header in ("content-type", "accept"):
        if request.headers.get(header) != "application/vnd.api+json":
            problems.append(f"{header} is not application/vnd.api+json")
    document = _json(request, problems)
    data = (document or {}).get("data") or {}
    attributes = data.get("attributes") or {}
    properties = attributes.get("properties") or {}
    if data.get("type") != "profile":
        problems.append("data.type is not 'profile'")
    if "@" not in str(attributes.get("email")):
        problems.append("data.attributes.email missing")
    for key in ("vip_tier", "vip_tier_name", "vip_tier_since"):
        if key not in properties:
            problems.append(f"properties.{key} missing")
    if not ISO_DATE.match(str(properties.get("vip_tier_since"))):
        problems.append("vip_tier_since is not YYYY-MM-DD")
    return problems


def klaviyo_respond(request: Request) -> tuple[int, Any]:
    email = request.json()["data"]["attributes"]["email"]
    profile_id = "01" + hashlib.md5(email.encode()).hexdigest()[:24].upper()
    return 200, {"data": {"type": "profile", "id": profile_id, "attributes": {"email": email}}}


def hubspot_validate(request: Request) -> list[str]:
    problems: list[str] = []
    if (request.method, request.path) != ("POST", "/crm/v3/objects/contacts/batch/upsert"):
        problems.append(f"unexpected {request.method} {request.path}")
    if request.headers.get("authorization") != f"Bearer {SECRET}":
        problems.append("Authorization is not 'Bearer <token>'")
    if not request.headers.get("content-type", "").startswith("application/json"):
        problems.append("content-type is not application/json")
    document = _json(request, problems) or {}
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
        problems.append("inputs must hold 1 to 100 items")
        return problems
    ids = [item.get("id") for item in inputs]
    if len(set(ids)) != len(ids):
        problems.append("an id appears twice in one batch")
    for item in inputs:
        if item.get("idProperty") != "email" or "@" not in str(item.get("id")):
            problems.append("idProperty must be 'email' with the email as id")
        properties = item.get("properties") or {}
        if not all(isinstance(value, str) for value in properties.values()):
            problems.append("property values must be strings")
        for key in ("vip_tier", "vip_tier_name", "vip_tier_since"):
            if key not in properties:
                problems.append(f"properties.{key} missing")
    return problems


def hubspot_respond(request: Request) -> tuple[int, Any]:
    results = [
        {
            "id": str(1000 + int(hashlib.md5(item["id"].encode()).hexdigest()[:6], 16)),
            "properties": {**item["properties"], "email": item["id"]},
            "new": False,
        }
        for item in request.json()["inputs"]
    ]
    return 200, {"status": "COMPLETE", "results": results}


def mailchimp_validate(request: Request) -> list[str]:
    problems: list[str] = []
    expected_auth = "Basic " + base64.b64encode(f"anystring:{SECRET}".encode()).decode()
    if request.headers.get("authorization") != expected_auth:
        problems.append("Authorization is not Basic anystring:<key>")
    match = re.fullmatch(rf"/3\.0/lists/{LIST_ID}/members/([0-9a-f]{{32}})(/tags)?", request.path)
    if not match:
        problems.append(f"unexpected path {request.path}")
        return problems
    member_hash, tags = match.groups()
    document = _json(request, problems) or {}
    if tags:
        if request.method != "POST":
            problems.append("tags must be POSTed")
        items = document.get("tags")
        if not items or any(t.get("status") not in ("active", "inactive") for t in items):
            problems.append("tags must be [{name, status: active|inactive}]")
        return problems
    if request.method != "PUT":
        problems.append("members must be PUT")
    email = str(document.get("email_address", ""))
    if hashlib.md5(email.lower().encode()).hexdigest() != member_hash:
        problems.append("subscriber_hash is not md5 of the lower-cased email")
    if document.get("status_if_new") not in ("subscribed", "pending", "transactional"):
        problems.append("status_if_new missing")
    return problems


def mailchimp_respond(request: Request) -> tuple[int, Any]:
    if request.path.endswith("/tags"):
        return 204, None
    document = request.json()
    member_hash = request.path.rsplit("/", 1)[-1]
    return 200, {"id": member_hash, "email_address": document["email_address"], **document}


def webhook_validate(request: Request) -> list[str]:
    problems: list[str] = []
    if (request.method, request.path) != ("POST", WEBHOOK_PATH):
        problems.append(f"unexpected {request.method} {request.path}")
    if request.headers.get("content-type") != "application/json":
        problems.append("content-type is not application/json")
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    if request.headers.get("x-vip-signature") != expected:
        problems.append("X-VIP-Signature does not verify")
    document = _json(request, problems) or {}
    delivery_id = request.headers.get("x-vip-delivery-id")
    if not delivery_id or document.get("delivery_id") != delivery_id:
        problems.append("X-VIP-Delivery-Id missing or not the body's delivery_id")
    data = document.get("data") or {}
    for key in ("change_id", "program_id", "customer_id", "to_tier_code", "change_date"):
        if key not in data:
            problems.append(f"data.{key} missing")
    return problems


def webhook_respond(request: Request) -> tuple[int, Any]:
    return 202, {"received": request.headers.get("x-vip-delivery-id")}


VENDORS: dict[str, tuple[Validator, Responder]] = {
    "klaviyo": (klaviyo_validate, klaviyo_respond),
    "hubspot": (hubspot_validate, hubspot_respond),
    "mailchimp": (mailchimp_validate, mailchimp_respond),
    "webhook": (webhook_validate, webhook_respond),
}


def fake_api(destination_type: str) -> FakeApi:
    validate, respond = VENDORS[destination_type]
    return FakeApi(validate, respond)


def destination(destination_type: str, api: FakeApi | None, **extra: Any) -> dict[str, Any]:
    """A destination block of `exports.destinations` pointing at a fake server."""
    base: dict[str, Any] = {"id": f"{destination_type}_main", "type": destination_type}
    if destination_type == "klaviyo":
        base |= {"api_key_env": ENV_NAMES["klaviyo"], "base_url": api.base_url}
    elif destination_type == "hubspot":
        base |= {"token_env": ENV_NAMES["hubspot"], "base_url": api.base_url}
    elif destination_type == "mailchimp":
        base |= {
            "api_key_env": ENV_NAMES["mailchimp"],
            "list_id": LIST_ID,
            "base_url": api.base_url,
        }
    elif destination_type == "webhook":
        base |= {"url": api.base_url + WEBHOOK_PATH, "secret_env": ENV_NAMES["webhook"]}
    return base | extra


def applied_change_ids(api: FakeApi, destination_type: str) -> list[str]:
    """The change ids each applied request carried, in order (one per HubSpot input)."""
    ids: list[str] = []
    for request in api.applied:
        document = request.json() if request.body else {}
        if destination_type == "klaviyo":
            ids.append(document["data"]["attributes"]["properties"]["vip_tier_change_id"])
        elif destination_type == "hubspot":
            ids += [item["properties"]["vip_tier_change_id"] for item in document["inputs"]]
        elif destination_type == "mailchimp":
            if not request.path.endswith("/tags"):
                ids.append(document["email_address"])
        elif destination_type == "webhook":
            ids.append(request.headers["x-vip-delivery-id"])
    return ids
