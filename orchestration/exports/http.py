"""The HTTP side shared by every vendor client: one httpx client, retries, secret scrubbing.

- `HttpSender.send` makes one logical request and retries it (tenacity) on timeouts, dropped
  or refused connections, 408, 429 and 5xx, waiting `Retry-After` when the server sends
  one (seconds or an HTTP date), else exponential back-off with jitter. It raises
  `PermanentError` for any other 4xx (and 3xx: redirects are not followed), with the
  response's reason; `RetriesExhausted` after the last attempt; `RateLimitedTooLong` when
  the server asks to wait longer than `RetryPolicy.max_retry_after_s` (the caller stops
  this destination for the run and keeps its deliveries pending).
- Every message these errors carry has gone through a `Scrubber`, which removes the
  secrets of the run (and their Basic-auth / URL-quoted forms): an error text is safe to
  log, to store in the outbox and to put in Dagster metadata.
- `min_interval_s` paces requests to stay under a vendor's documented rate limit.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import random
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity

USER_AGENT = "vip-tiers-exports/0.1 (+https://github.com/vip-tiers)"
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request. Tests shrink the back-off; `Retry-After` is always honoured."""

    attempts: int = 6
    """Tries per request, the first included."""
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    jitter_s: float = 0.5
    max_retry_after_s: float = 300.0
    """A longer `Retry-After` stops the destination for this run (deliveries stay pending)."""
    timeout_s: float = 30.0
    """Connect / read / write timeout of one try (a webhook uses its own `timeout_s`)."""

    def backoff(self, attempt: int) -> float:
        """Wait after failed try number `attempt` (1-based) when the server gave no hint."""
        base = min(self.backoff_max_s, self.backoff_initial_s * (2 ** (attempt - 1)))
        return base + (random.uniform(0, self.jitter_s) if self.jitter_s > 0 else 0.0)


class Scrubber:
    """Replaces every known secret (and its encoded forms) by `***` in a text."""

    MASK = "***"

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._needles: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < 4:
            # A 1-3 character "secret" would mask half of every message; it is refused
            # upstream (`secrets.require`), nothing to hide here.
            return
        forms = {
            secret,
            urllib.parse.quote(secret, safe=""),
            urllib.parse.quote_plus(secret),
            base64.b64encode(f"anystring:{secret}".encode()).decode(),
            base64.b64encode(secret.encode()).decode(),
        }
        self._needles |= {form for form in forms if form}

    def __call__(self, text: object) -> str:
        result = str(text)
        for needle in sorted(self._needles, key=len, reverse=True):
            result = result.replace(needle, self.MASK)
        return result


class DeliveryError(Exception):
    """A failed delivery; `message` is scrubbed and safe to store and show."""

    def __init__(self, message: str, attempts: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class PermanentError(DeliveryError):
    """The destination refused the request (4xx other than 408/429): dead letter, no retry."""

    def __init__(self, message: str, attempts: int = 0, status: int | None = None) -> None:
        super().__init__(message, attempts)
        self.status = status


class TransientError(DeliveryError):
    """Worth another try: timeout, connection error, 408, 429, 5xx."""

    def __init__(self, message: str, attempts: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message, attempts)
        self.retry_after = retry_after


class RetriesExhausted(DeliveryError):
    """Transient failures until the last try: dead letter."""


class RateLimitedTooLong(DeliveryError):
    """The server asked to come back later than we wait within one run."""

    def __init__(self, message: str, attempts: int = 0, retry_after: float = 0.0) -> None:
        super().__init__(message, attempts)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delay-seconds or an HTTP date (RFC 9110)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())


def _error_details(document: Any) -> list[str]:
    """Human-readable parts of the vendors' documented error bodies."""
    if not isinstance(document, Mapping):
        return []
    details: list[str] = []
    errors = document.get("errors")
    if isinstance(errors, list):  # Klaviyo JSON:API errors, HubSpot batch errors
        for error in errors[:3]:
            if isinstance(error, Mapping):
                text = error.get("detail") or error.get("message") or error.get("title")
                if text:
                    details.append(str(text))
    for key in ("detail", "message", "title", "error"):  # Mailchimp problem+json, HubSpot
        value = document.get(key)
        if isinstance(value, str) and value and value not in details:
            details.append(value)
            break
    return details


def response_reason(response: httpx.Response, scrub: Scrubber) -> str:
    """`HTTP 400 Bad Request: <the vendor's explanation>`, scrubbed and shortened."""
    head = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    try:
        details = _error_details(response.json())
    except (ValueError, UnicodeDecodeError):
        text = response.text.strip() if response.content else ""
        details = [" ".join(text.split())[:MAX_REASON_CHARS]] if text else []
    reason = f"{head}: {'; '.join(details)}" if details else head
    reason = scrub(reason)
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


def json_body(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class HttpSender:
    """One httpx client for one destination, with the retry policy and request pacing."""

    def __init__(
        self,
        policy: RetryPolicy,
        scrub: Scrubber,
        min_interval_s: float = 0.0,
        timeout_s: float | None = None,
    ) -> None:
        self.policy = policy
        self.scrub = scrub
        self.min_interval_s = max(0.0, min_interval_s)
        self.timeout_s = timeout_s if timeout_s is not None else policy.timeout_s
        self._last_request = 0.0
        self.requests_made = 0
        self.client = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )

    def __enter__(self) -> HttpSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def _pace(self) -> None:
        if self.min_interval_s:
            wait = self._last_request + self.min_interval_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last_request = time.monotonic()

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return error.retry_after
        return self.policy.backoff(state.attempt_number)

    def _classify(self, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = response_reason(response, self.scrub)
        if status in (408, 429) or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.policy.max_retry_after_s:
                raise RateLimitedTooLong(
                    f"{reason} (Retry-After {retry_after:.0f} s is longer than the "
                    f"{self.policy.max_retry_after_s:.0f} s a run waits)",
                    retry_after=retry_after,
                )
            raise TransientError(reason, retry_after=retry_after)
        if 300 <= status < 400:
            location = self.scrub(response.headers.get("Location", "?"))
            raise PermanentError(
                f"{reason} (redirect to {location}: configure the final URL)", status=status
            )
        raise PermanentError(reason, status=status)

    def _one_try(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self._pace()
        self.requests_made += 1
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"no response within {self.timeout_s:g} s ({type(exc).__name__})"
            ) from None
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise PermanentError(f"cannot send: {type(exc).__name__}: {self.scrub(exc)}") from None
        except httpx.TransportError as exc:
            raise TransientError(
                f"connection failed: {type(exc).__name__}: {self.scrub(exc)}"
            ) from None
        self._classify(response)
        return response

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        auth: tuple[str, str] | None = None,
    ) -> tuple[httpx.Response, int]:
        """(the 2xx response, tries made); raises a `DeliveryError` subclass otherwise."""
        tries = 0

        def attempt() -> httpx.Response:
            nonlocal tries
            tries += 1
            return self._one_try(method, url, headers=headers, content=content, auth=auth)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, self.policy.attempts)),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(TransientError),
            reraise=True,
        )
        try:
            response = retrying(attempt)
        except TransientError as exc:
            raise RetriesExhausted(
                f"gave up after {tries} attempt(s): {exc.message}", attempts=tries
            ) from None
        except DeliveryError as exc:
            exc.attempts = tries
            raise
        return response, tries
