"""Mailchimp: the member's VIP tier as merge fields (or tags) of the audience member.

API: Mailchimp Marketing API 3.0 (https://mailchimp.com/developer/marketing/api/):
- "Add or update list member": `PUT /3.0/lists/{list_id}/members/{subscriber_hash}`,
  `subscriber_hash` = MD5 of the lower-cased email. Body `{"email_address": …,
  "status_if_new": "transactional", "merge_fields": {"VIPTIER": …, "VIPNAME": …,
  "VIPSINCE": …, "VIPPERKS": …}}`. `status_if_new: transactional` adds a member who is not
  on the audience without subscribing them to campaigns (no consent is assumed); an
  existing member's status is left as it is.
- With `use_tags: true`: the same PUT without merge fields (the member must exist), then
  "Add or remove member tags": `POST /3.0/lists/{list_id}/members/{subscriber_hash}/tags`
  with `{"tags": [{"name": "vip_tier:<new>", "status": "active"},
  {"name": "vip_tier:<old>", "status": "inactive"}]}` (204 No Content).
- Host `https://<dc>.api.mailchimp.com`, the datacenter `<dc>` being the API key's
  `-<dc>` suffix (`…-us6`); HTTP Basic auth `anystring:<api key>`.
- Limits: at most 10 simultaneous connections per key; requests here are sequential.
- The merge fields must exist on the audience (Audience → Settings → Audience fields and
  *|MERGE|* tags), as text fields; docs/exports.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from orchestration.exports.base import BatchResult, DestinationClient, ItemResult, join_url
from orchestration.exports.http import DeliveryError, HttpSender, json_body
from orchestration.exports.payload import TierChange
from orchestration.programs import MailchimpDestination

API_PREFIX = "/3.0"
STATUS_IF_NEW = "transactional"
TAG_PREFIX = "vip_tier:"
MERGE_FIELDS = ("VIPTIER", "VIPNAME", "VIPSINCE", "VIPPERKS")
_DATACENTER = re.compile(r"-([a-z]+[0-9]+)$")


class MailchimpKeyError(ValueError):
    """The API key does not end in `-<dc>` (and no base_url is set)."""


def datacenter(api_key: str) -> str:
    """`us6` from `…-us6`. The message never repeats the key."""
    match = _DATACENTER.search(api_key.strip())
    if not match:
        raise MailchimpKeyError(
            "the Mailchimp API key does not end in '-<datacenter>' (such as '-us6'); "
            "copy the whole key from Mailchimp (Profile → Extras → API keys)"
        )
    return match.group(1)


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()


def merge_fields(change: TierChange) -> dict[str, str]:
    return dict(
        zip(
            MERGE_FIELDS,
            (
                change.to_tier_code,
                change.to_tier_name,
                change.change_date.isoformat(),
                "; ".join(change.to_tier_perks),
            ),
            strict=True,
        )
    )


def member_body(change: TierChange, with_merge_fields: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email_address": change.normalized_email,
        "status_if_new": STATUS_IF_NEW,
    }
    if with_merge_fields:
        body["merge_fields"] = merge_fields(change)
    return body


def tags_body(change: TierChange) -> dict[str, Any]:
    tags = [{"name": f"{TAG_PREFIX}{change.to_tier_code}", "status": "active"}]
    if change.from_tier_code and change.from_tier_code != change.to_tier_code:
        tags.append({"name": f"{TAG_PREFIX}{change.from_tier_code}", "status": "inactive"})
    return {"tags": tags}


class MailchimpClient(DestinationClient):
    batch_size = 1

    def __init__(self, config: MailchimpDestination, api_key: str, sender: HttpSender) -> None:
        super().__init__(sender)
        base_url = config.base_url or f"https://{datacenter(api_key)}.api.mailchimp.com"
        self.members_url = join_url(
            base_url, f"{API_PREFIX}/lists/{quote(config.list_id, safe='')}/members"
        )
        self.use_tags = config.use_tags
        self.auth = ("anystring", api_key)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def send_batch(self, batch: Sequence[TierChange]) -> BatchResult:
        refused = self.without_email(batch)
        if refused:
            return BatchResult(refused, attempts=0)
        (change,) = batch
        member_url = f"{self.members_url}/{subscriber_hash(change.normalized_email)}"
        response, tries = self.sender.send(
            "PUT",
            member_url,
            headers=self.headers,
            content=json_body(member_body(change, with_merge_fields=not self.use_tags)),
            auth=self.auth,
        )
        if self.use_tags:
            try:
                _, tag_tries = self.sender.send(
                    "POST",
                    f"{member_url}/tags",
                    headers=self.headers,
                    content=json_body(tags_body(change)),
                    auth=self.auth,
                )
            except DeliveryError as exc:
                exc.attempts += tries
                raise
            tries += tag_tries
        try:
            member_id = response.json().get("id")
        except (ValueError, AttributeError):
            member_id = None
        ref = f"member {member_id}" if member_id else None
        return BatchResult([ItemResult(change.change_id, True, ref=ref)], attempts=tries)
