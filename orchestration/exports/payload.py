"""What a tier change carries to a destination (interfaces §5).

One `TierChange` per row of `fct_tier_changes` (scenario `live`), or per correction of a
delivered change that late data restated (direction `correction`: the member's tier now,
see `outbox._outgoing_sql`), with the member's email
from `stg_customers` and the names and perks of the tiers from `dim_program_tiers`. It is
read from the warehouse when it is sent (`outbox.pending_changes`), so a renamed tier or a
corrected email goes out as it is now; the change itself (who, from, to, when) is fixed by
its `change_id`, the idempotency key every destination receives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

# Columns of the file destination, in order (also the keys of `TierChange.as_dict`).
FIELDS: tuple[str, ...] = (
    "change_id",
    "program_id",
    "customer_id",
    "email",
    "from_tier_code",
    "from_tier_name",
    "to_tier_code",
    "to_tier_name",
    "to_tier_perks",
    "change_date",
    "direction",
    "reason",
)
WEBHOOK_EVENT = "vip_tier.changed"


@dataclass(frozen=True)
class TierChange:
    """One tier change of one member, as every destination receives it."""

    change_id: str
    program_id: str
    customer_id: str
    email: str | None
    from_tier_code: str | None
    from_tier_name: str | None
    to_tier_code: str
    to_tier_name: str
    to_tier_perks: tuple[str, ...]
    change_date: date
    direction: str  # initial | upgrade | downgrade | correction
    reason: str  # initial | promotion | review | refund | manual | restatement

    @property
    def has_email(self) -> bool:
        return bool(self.email and "@" in self.email)

    @property
    def normalized_email(self) -> str:
        """The email as vendors key members: trimmed and lower-cased."""
        return (self.email or "").strip().lower()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the date as YYYY-MM-DD, perks as a list."""
        return {
            "change_id": self.change_id,
            "program_id": self.program_id,
            "customer_id": self.customer_id,
            "email": self.email,
            "from_tier_code": self.from_tier_code,
            "from_tier_name": self.from_tier_name,
            "to_tier_code": self.to_tier_code,
            "to_tier_name": self.to_tier_name,
            "to_tier_perks": list(self.to_tier_perks),
            "change_date": self.change_date.isoformat(),
            "direction": self.direction,
            "reason": self.reason,
        }

    def as_row(self) -> dict[str, Any]:
        """A flat row for CSV / Parquet: perks as a JSON list text."""
        row = self.as_dict()
        row["to_tier_perks"] = json.dumps(list(self.to_tier_perks), ensure_ascii=False)
        return row


def parse_perks(value: Any) -> tuple[str, ...]:
    """`dim_program_tiers.perks` is a JSON list text (or null)."""
    if value is None or value == "":
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return (str(value),)
    return tuple(str(item) for item in parsed) if isinstance(parsed, list) else (str(parsed),)


def webhook_body(change: TierChange) -> bytes:
    """The exact bytes POSTed (and signed): the same change always gives the same body."""
    document = {
        "type": WEBHOOK_EVENT,
        "delivery_id": change.change_id,
        "data": change.as_dict(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )
