"""What every HTTP destination client implements, and what one send reports back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from orchestration.exports.http import HttpSender
from orchestration.exports.payload import TierChange

NO_EMAIL = "the member has no email address in customers: this destination keys members by email"


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one change within a send: delivered, or refused with a reason."""

    change_id: str
    delivered: bool
    error: str | None = None
    ref: str | None = None
    """What the destination calls it (profile / contact id, file name), when known."""
    sent: bool = True
    """False when no request was made for it (refused before sending, e.g. no email)."""


@dataclass(frozen=True)
class BatchResult:
    items: list[ItemResult]
    attempts: int
    """HTTP tries the batch took (retries included)."""


def delivered(batch: Sequence[TierChange], refs: dict[str, str] | None = None) -> list[ItemResult]:
    return [ItemResult(c.change_id, True, ref=(refs or {}).get(c.change_id)) for c in batch]


class DestinationClient(ABC):
    """A vendor client: splits pending changes into requests and sends one batch at a time.

    `send_batch` returns one `ItemResult` per change of the batch, or raises a
    `DeliveryError` (from `http.py`) that applies to the whole batch.
    """

    batch_size: int = 1
    """Changes per request (the vendor's documented maximum or less)."""
    min_interval_s: float = 0.0
    """Pause between requests to stay under the vendor's documented rate limit."""

    def __init__(self, sender: HttpSender) -> None:
        self.sender = sender

    def batches(self, changes: Sequence[TierChange]) -> Iterator[list[TierChange]]:
        """In order, at most `batch_size` changes each."""
        for start in range(0, len(changes), self.batch_size):
            yield list(changes[start : start + self.batch_size])

    def without_email(self, batch: Sequence[TierChange]) -> list[ItemResult]:
        """Results for the changes that cannot be sent for want of an email (no request)."""
        return [
            ItemResult(change.change_id, False, NO_EMAIL, sent=False)
            for change in batch
            if not change.has_email
        ]

    @abstractmethod
    def send_batch(self, batch: Sequence[TierChange]) -> BatchResult: ...

    def close(self) -> None:
        self.sender.close()


def join_url(base_url: str, path: str) -> str:
    """`base_url` replaces scheme and host; the documented path keeps its prefix."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")
