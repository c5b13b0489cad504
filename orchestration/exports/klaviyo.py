"""Klaviyo: the member's VIP tier as custom properties of their profile.

API: Klaviyo REST API, revision `2026-04-15` (header `revision`), endpoint
"Create or Update Profile": `POST https://a.klaviyo.com/api/profile-import`
(https://developers.klaviyo.com/en/reference/create_or_update_profile). It upserts the
profile matched by `email` and answers 201 (created) or 200 (updated) with the profile.

- Headers: `Authorization: Klaviyo-API-Key <private key>`, `revision: 2026-04-15`,
  `accept` / `content-type: application/vnd.api+json`.
- Body (JSON:API): `{"data": {"type": "profile", "attributes": {"email": …,
  "properties": {"vip_tier": …, "vip_tier_name": …, "vip_tier_since": …, …}}}}`.
- One change per request, in change order, so a member's properties end as their latest
  change. Rate limit of the endpoint: 75/s burst, 700/min steady: requests are paced at
  700/min (`min_interval_s`). 429 answers carry `Retry-After`, which `http.py` honours.
- The bulk import job (`POST /api/profile-bulk-import-jobs`) is asynchronous and reports
  per-profile errors only after polling; the synchronous endpoint gives each change its
  own answer, which is what exactly-once bookkeeping needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestration.exports.base import BatchResult, DestinationClient, ItemResult, join_url
from orchestration.exports.http import HttpSender, json_body
from orchestration.exports.payload import TierChange
from orchestration.programs import KlaviyoDestination

API_REVISION = "2026-04-15"
DEFAULT_BASE_URL = "https://a.klaviyo.com"
PROFILE_IMPORT_PATH = "/api/profile-import"
JSON_API = "application/vnd.api+json"
STEADY_LIMIT_PER_MINUTE = 700


def profile_properties(change: TierChange) -> dict[str, Any]:
    """Custom profile properties (nulls left out: an omitted property keeps its value)."""
    properties: dict[str, Any] = {
        "vip_program": change.program_id,
        "vip_tier": change.to_tier_code,
        "vip_tier_name": change.to_tier_name,
        "vip_tier_since": change.change_date.isoformat(),
        "vip_tier_perks": list(change.to_tier_perks),
        "vip_tier_previous": change.from_tier_code,
        "vip_tier_previous_name": change.from_tier_name,
        "vip_tier_direction": change.direction,
        "vip_tier_change_reason": change.reason,
        "vip_tier_change_id": change.change_id,
    }
    return {key: value for key, value in properties.items() if value is not None}


def request_body(change: TierChange) -> dict[str, Any]:
    return {
        "data": {
            "type": "profile",
            "attributes": {
                "email": change.normalized_email,
                "properties": profile_properties(change),
            },
        }
    }


class KlaviyoClient(DestinationClient):
    batch_size = 1
    min_interval_s = 60.0 / STEADY_LIMIT_PER_MINUTE

    def __init__(self, config: KlaviyoDestination, api_key: str, sender: HttpSender) -> None:
        super().__init__(sender)
        self.url = join_url(config.base_url or DEFAULT_BASE_URL, PROFILE_IMPORT_PATH)
        self.headers = {
            "Authorization": f"Klaviyo-API-Key {api_key}",
            "revision": API_REVISION,
            "accept": JSON_API,
            "content-type": JSON_API,
        }

    def send_batch(self, batch: Sequence[TierChange]) -> BatchResult:
        refused = self.without_email(batch)
        if refused:
            return BatchResult(refused, attempts=0)
        (change,) = batch
        response, tries = self.sender.send(
            "POST", self.url, headers=self.headers, content=json_body(request_body(change))
        )
        try:
            profile_id = response.json()["data"]["id"]
        except (ValueError, KeyError, TypeError):
            profile_id = None
        ref = f"profile {profile_id}" if profile_id else None
        return BatchResult([ItemResult(change.change_id, True, ref=ref)], attempts=tries)
