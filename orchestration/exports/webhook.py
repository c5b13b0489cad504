"""Signed webhooks: one `POST` of a JSON document per tier change.

- Body: `{"type": "vip_tier.changed", "delivery_id": <change_id>, "data": {…}}`, compact
  JSON with sorted keys (`payload.webhook_body`): the same change always gives the same
  bytes.
- Headers: `Content-Type: application/json`, `X-VIP-Delivery-Id: <change_id>` (the
  idempotency key: a receiver that saw it already answers 2xx and does nothing),
  `X-VIP-Event: vip_tier.changed`, `X-VIP-Signature: sha256=<hex HMAC-SHA256 of the raw
  body, keyed with the secret>`.
- Any 2xx is success; 408, 429 and 5xx are retried (honouring `Retry-After`); other 4xx
  and redirects are dead letters. Each try waits at most the destination's `timeout_s`.

docs/exports.md has a receiver that verifies the signature and dedupes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from orchestration.exports.base import BatchResult, DestinationClient, ItemResult
from orchestration.exports.http import HttpSender
from orchestration.exports.payload import WEBHOOK_EVENT, TierChange, webhook_body
from orchestration.programs import WebhookDestination

DELIVERY_ID_HEADER = "X-VIP-Delivery-Id"
SIGNATURE_HEADER = "X-VIP-Signature"
EVENT_HEADER = "X-VIP-Event"


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the raw body with the shared secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does (constant-time comparison)."""
    return header is not None and hmac.compare_digest(signature(secret, body), header)


class WebhookClient(DestinationClient):
    batch_size = 1

    def __init__(self, config: WebhookDestination, secret: str, sender: HttpSender) -> None:
        super().__init__(sender)
        self.url = config.url
        self._secret = secret

    def send_batch(self, batch: Sequence[TierChange]) -> BatchResult:
        (change,) = batch
        body = webhook_body(change)
        headers = {
            "Content-Type": "application/json",
            DELIVERY_ID_HEADER: change.change_id,
            EVENT_HEADER: WEBHOOK_EVENT,
            SIGNATURE_HEADER: signature(self._secret, body),
        }
        response, tries = self.sender.send("POST", self.url, headers=headers, content=body)
        ref = f"HTTP {response.status_code}"
        return BatchResult([ItemResult(change.change_id, True, ref=ref)], attempts=tries)
