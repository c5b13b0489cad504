"""HubSpot: the member's VIP tier as contact properties, upserted by email.

API: HubSpot CRM API v3, "Create or update a batch of contacts by unique property values":
`POST https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert`
(https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/upsert-contacts;
the date-versioned twin is `/crm/objects/2026-03/contacts/batch/upsert`, same body).

- Header `Authorization: Bearer <private app token>`, `Content-Type: application/json`.
- Body `{"inputs": [{"idProperty": "email", "id": <email>, "properties": {...}}]}`, at most
  100 inputs per request (the documented batch limit). An email appears at most once per
  request: a member's later change goes in a later request, so the contact ends with
  their latest change.
- 200: every input upserted. 207 (multi-status): `results` hold the upserted contacts and
  `errors` the refused inputs; results are matched back by email, the rest dead-lettered
  with HubSpot's message.
- Rate limit: 100 requests per 10 s for private apps on Free/Starter (190 on
  Professional/Enterprise): requests are paced at 10 per second.
- The properties (`vip_tier`, `vip_tier_name`, `vip_tier_since`, `vip_tier_perks`, …)
  must exist on the contact object (Settings → Properties); HubSpot refuses unknown ones
  with a 400, which dead-letters the batch with that reason (docs/exports.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from orchestration.exports.base import BatchResult, DestinationClient, ItemResult, join_url
from orchestration.exports.http import HttpSender, json_body
from orchestration.exports.payload import TierChange
from orchestration.programs import HubspotDestination

DEFAULT_BASE_URL = "https://api.hubapi.com"
BATCH_UPSERT_PATH = "/crm/v3/objects/contacts/batch/upsert"
MAX_BATCH = 100
REQUESTS_PER_10_S = 100


def contact_properties(change: TierChange) -> dict[str, str]:
    """HubSpot property values are strings; a date property takes YYYY-MM-DD."""
    return {
        "email": change.normalized_email,
        "vip_program": change.program_id,
        "vip_tier": change.to_tier_code,
        "vip_tier_name": change.to_tier_name,
        "vip_tier_since": change.change_date.isoformat(),
        "vip_tier_perks": "; ".join(change.to_tier_perks),
        "vip_tier_previous": change.from_tier_code or "",
        "vip_tier_direction": change.direction,
        "vip_tier_change_id": change.change_id,
    }


def request_body(batch: Sequence[TierChange]) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "idProperty": "email",
                "id": change.normalized_email,
                "properties": contact_properties(change),
            }
            for change in batch
        ]
    }


def _error_messages(document: Any) -> str:
    errors = document.get("errors") if isinstance(document, dict) else None
    messages = [
        str(error.get("message"))
        for error in errors or []
        if isinstance(error, dict) and error.get("message")
    ]
    return "; ".join(messages[:3]) or "not in HubSpot's results"


class HubspotClient(DestinationClient):
    batch_size = MAX_BATCH
    min_interval_s = 10.0 / REQUESTS_PER_10_S

    def __init__(self, config: HubspotDestination, token: str, sender: HttpSender) -> None:
        super().__init__(sender)
        self.url = join_url(config.base_url or DEFAULT_BASE_URL, BATCH_UPSERT_PATH)
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def batches(self, changes: Sequence[TierChange]) -> Iterator[list[TierChange]]:
        """At most 100 changes, each email once; a repeated email starts the next batch."""
        batch: list[TierChange] = []
        emails: set[str] = set()
        for change in changes:
            email = change.normalized_email
            if len(batch) >= self.batch_size or (change.has_email and email in emails):
                yield batch
                batch, emails = [], set()
            batch.append(change)
            if change.has_email:
                emails.add(email)
        if batch:
            yield batch

    def send_batch(self, batch: Sequence[TierChange]) -> BatchResult:
        refused = self.without_email(batch)
        sendable = [change for change in batch if change.has_email]
        if not sendable:
            return BatchResult(refused, attempts=0)
        response, tries = self.sender.send(
            "POST", self.url, headers=self.headers, content=json_body(request_body(sendable))
        )
        try:
            document = response.json()
        except ValueError:
            document = {}
        if not isinstance(document, dict):
            document = {}
        ids_by_email: dict[str, str] = {}
        for result in document.get("results") or []:
            email = str((result.get("properties") or {}).get("email") or "").strip().lower()
            if email:
                ids_by_email[email] = str(result.get("id"))
        if response.status_code != 207:
            items = [
                ItemResult(
                    c.change_id,
                    True,
                    ref=f"contact {ids_by_email[c.normalized_email]}"
                    if c.normalized_email in ids_by_email
                    else None,
                )
                for c in sendable
            ]
            return BatchResult(refused + items, attempts=tries)
        reason = f"HubSpot refused this contact (207 multi-status): {_error_messages(document)}"
        items = [
            ItemResult(c.change_id, True, ref=f"contact {ids_by_email[c.normalized_email]}")
            if c.normalized_email in ids_by_email
            else ItemResult(c.change_id, False, self.sender.scrub(reason))
            for c in sendable
        ]
        return BatchResult(refused + items, attempts=tries)
