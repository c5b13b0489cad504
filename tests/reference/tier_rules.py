"""A plain, day-by-day reference of the VIP tier rules (spec: tier-rules.md).

This module is written to be *read*: it walks one member of one scenario day by day, from the
first eligible day ``E`` to the member's last day, and applies the four steps of each day in
the contract's order (§1): (1) review, (2) promotion, (3) refund re-evaluation, (4) manual
assignment. It is not fast and does not try to be; it exists so that the SQL tier engine can
be compared with it row for row.

Inputs are already cleaned: dates are local program dates, amounts are in program currency
(spend) or points, and invalid raw rows (refunds before their order, refunds larger than what
is left, refunds at/after the cancellation, orphans, unusable FX, ...) have already been
rejected by the caller. Time zones, FX and row validation are the SQL side's job (§1, §7, §9).

Choices made where the contract is silent are marked ``CHOICE:`` below and listed in
docs/tier-rules-reference.md.

Standard library only.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple

ONE_DAY = timedelta(days=1)

# §3: these activities never count, even when a program lists them as qualifying.
NEVER_QUALIFYING = frozenset({"redemption", "expiration", "tier_bonus"})

REJECT_UNKNOWN_TIER = "unknown_tier"
REJECT_NOT_ELIGIBLE = "not_eligible"


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    """One tier. Scenario.tiers is ordered base first (threshold 0); the rank is the index."""

    code: str
    threshold: Decimal


@dataclass(frozen=True)
class Scenario:
    """One program scenario (one set of tier settings)."""

    milestone: Literal["spend", "points"]
    period: Literal["lifetime", "calendar_year", "rolling"]
    rolling_window: Literal["365_days", "12_months"] | None
    refunds: Literal["reevaluate", "keep"]
    tiers: tuple[Tier, ...]
    start_date: date
    back_date: date | None
    launch_date: date
    qualifying_activities: frozenset[str] = frozenset()  # points milestone only


@dataclass(frozen=True)
class Order:
    """An order of the member (spend milestone), already converted to program currency.

    ``cancelled_seq`` is accepted for compatibility but has no effect. CHOICE: on the
    cancellation day the refunds dated that day are walked first. This is not a
    simplification: §9 rejects every refund at or after ``cancelled_at``, so every valid
    refund comes before the cancellation, and the cancellation is always walked last.
    """

    order_id: str
    order_date: date
    amount: Decimal
    cancelled_date: date | None = None
    cancelled_seq: int = 0


@dataclass(frozen=True)
class Refund:
    """A valid refund of one of the member's orders. Walk order: (refund_date, refund_id)."""

    refund_id: str
    order_id: str
    refund_date: date
    amount: Decimal


@dataclass(frozen=True)
class LedgerEntry:
    """A points-ledger entry of the member (points milestone); points are signed."""

    entry_id: str
    entry_date: date
    activity: str
    points: int
    order_id: str | None = None


@dataclass(frozen=True)
class ManualAssignment:
    """A manual tier assignment. Same-day ones apply in (assigned_seq, assignment_id) order."""

    assignment_id: str
    assigned_date: date
    assigned_seq: int
    tier_code: str


@dataclass(frozen=True)
class Member:
    """One customer of the program. ``enrolled_date`` None = pending member."""

    customer_id: str
    enrolled_date: date | None
    unenrolled_date: date | None
    orders: tuple[Order, ...] = ()
    refunds: tuple[Refund, ...] = ()
    ledger: tuple[LedgerEntry, ...] = ()
    manual: tuple[ManualAssignment, ...] = ()


# --------------------------------------------------------------------------------------------
# Outputs (interfaces.md §4)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    """A row of fct_tier_history: one maximal run of days in one tier.

    ``valid_to`` is exclusive. None means the member is still in this tier on as_of and still
    eligible. CHOICE: when the member unenrols, the last row ends on the local unenrolment
    date, i.e. the day after the last eligible day.
    """

    tier_code: str
    tier_rank: int
    valid_from: date
    valid_to: date | None
    change_reason: str  # initial | promotion | review | refund | manual


@dataclass(frozen=True)
class ChangeRow:
    """A row of fct_tier_changes. There is one for each history row, dated at its valid_from."""

    change_date: date
    from_tier_code: str | None
    to_tier_code: str
    direction: str  # initial | upgrade | downgrade
    change_reason: str


@dataclass(frozen=True)
class CurrentRow:
    """A row of dim_customer_tier_current. It exists only if the member is eligible on as_of."""

    tier_code: str
    tier_since: date
    review_on: date | None
    is_provisional: bool
    window_total: Decimal
    next_tier_code: str | None
    amount_to_next_tier: Decimal | None
    amount_to_keep_tier: Decimal | None


@dataclass
class MemberResult:
    history: list[HistoryRow] = field(default_factory=list)
    changes: list[ChangeRow] = field(default_factory=list)
    current: CurrentRow | None = None
    rejected_manual: list[tuple[str, str]] = field(default_factory=list)


class Contribution(NamedTuple):
    """One signed amount that counts toward the qualifying total (§3).

    attribution_date: the day the amount belongs to. Windows select on this date.
    known_date: the first day the amount is known. Q(e, W) only sees known_date <= e.
    is_trigger: a positive order or a positive qualifying points entry, attributed on or after
        the counting start S. Its known_date is a promotion day (step 2).
    is_reduction: a refund, a cancellation or a points purchase_reversal. Its known_date is a
        refund re-evaluation day (step 3).
    """

    attribution_date: date
    known_date: date
    amount: Decimal
    is_trigger: bool
    is_reduction: bool


# --------------------------------------------------------------------------------------------
# Calendar helpers
# --------------------------------------------------------------------------------------------


def add_months(d: date, months: int) -> date:
    """Calendar month arithmetic. The day is clamped to the last day of the target month.

    Examples: 29 Feb 2024 - 12 months = 28 Feb 2023; 29 Feb 2024 + 12 months = 28 Feb 2025.
    """
    month_index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(month_index, 12)
    month = month0 + 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(d.day, last_day))


def days(first: date, last: date):
    """Every date from first to last, both included."""
    d = first
    while d <= last:
        yield d
        d += ONE_DAY


# --------------------------------------------------------------------------------------------
# §3: counting start and contributions
# --------------------------------------------------------------------------------------------


def counting_start(scenario: Scenario) -> date:
    """S: back_date if set, else start_date. calendar_year also applies the launch-year clamp.

    In calendar_year mode S = max(S, 1 January of the launch year). Example: launched
    March 2023 with start 1 Nov 2021 gives 1 Jan 2023, and start 1 Feb 2023 stays 1 Feb 2023.
    """
    s = scenario.back_date if scenario.back_date is not None else scenario.start_date
    if scenario.period == "calendar_year":
        s = max(s, date(scenario.launch_date.year, 1, 1))
    return s


def contributions(scenario: Scenario, member: Member, as_of: date) -> list[Contribution]:
    """Every contribution of the member that exists on as_of (nothing dated after as_of exists).

    Contributions attributed before S are still listed here, with is_trigger False, so that the
    list is easy to read. qualifying_total() leaves them out.
    """
    if scenario.milestone == "spend":
        return _spend_contributions(scenario, member, as_of)
    return _points_contributions(scenario, member, as_of)


def _spend_contributions(scenario: Scenario, member: Member, as_of: date) -> list[Contribution]:
    s = counting_start(scenario)
    result: list[Contribution] = []
    for order in sorted(member.orders, key=lambda o: o.order_id):
        if order.order_date > as_of:
            continue
        result.append(
            Contribution(
                attribution_date=order.order_date,
                known_date=order.order_date,
                amount=order.amount,
                is_trigger=order.amount > 0 and order.order_date >= s,
                is_reduction=False,
            )
        )
        result.extend(_walk_refunds(order, member.refunds, as_of))
    return result


def _walk_refunds(order: Order, all_refunds: tuple[Refund, ...], as_of: date) -> list[Contribution]:
    """Walk an order's refunds in (refund_date, refund_id) order, then its cancellation.

    Each refund takes off what it says, but never more than what is left of the order. CHOICE:
    the input refunds are assumed valid, so the cap never bites; it is only a guard. The
    cancellation refunds whatever is left, which may be nothing (it is still listed, as a
    zero reduction). It is walked after the refunds dated on or before the cancellation
    day. Every refund is attributed to the order date and known from its own date.
    """
    refunds = sorted(
        (r for r in all_refunds if r.order_id == order.order_id and r.refund_date <= as_of),
        key=lambda r: (r.refund_date, r.refund_id),
    )
    # Walk positions: (date, 0 = refund / 1 = cancellation, refund_id).
    steps: list[tuple[date, int, str, Refund | None]] = [
        (r.refund_date, 0, r.refund_id, r) for r in refunds
    ]
    if order.cancelled_date is not None and order.cancelled_date <= as_of:
        steps.append((order.cancelled_date, 1, "", None))
    steps.sort(key=lambda step: step[:3])

    left = order.amount
    result: list[Contribution] = []
    for known, _kind, _refund_id, refund in steps:
        taken = left if refund is None else min(refund.amount, left)
        left -= taken
        result.append(
            Contribution(
                attribution_date=order.order_date,
                known_date=known,
                amount=-taken,
                is_trigger=False,
                is_reduction=True,
            )
        )
    return result


def _points_contributions(scenario: Scenario, member: Member, as_of: date) -> list[Contribution]:
    s = counting_start(scenario)
    qualifying = scenario.qualifying_activities - NEVER_QUALIFYING
    ledger = sorted(
        (e for e in member.ledger if e.entry_date <= as_of),
        key=lambda e: (e.entry_date, e.entry_id),
    )
    # The earliest `purchase` entry of each order_id. CHOICE: it is searched in this member's
    # ledger only, because the reference gets one member at a time.
    purchase_date_of_order: dict[str, date] = {}
    for entry in ledger:
        if entry.activity == "purchase" and entry.order_id is not None:
            purchase_date_of_order.setdefault(entry.order_id, entry.entry_date)

    reversal_counts = "purchase" in qualifying or "purchase_reversal" in qualifying
    result: list[Contribution] = []
    for entry in ledger:
        points = Decimal(entry.points)
        if entry.activity == "purchase_reversal":
            if not reversal_counts:
                continue
            attributed = purchase_date_of_order.get(entry.order_id or "", entry.entry_date)
            # The points counterpart of a refund: it never triggers a promotion, whatever its
            # sign, and it is a reduction (step 3).
            result.append(Contribution(attributed, entry.entry_date, points, False, True))
        elif entry.activity in qualifying:
            # A negative qualifying entry (e.g. a listed manual_adjustment) counts but
            # triggers nothing: neither a promotion nor a refund re-evaluation.
            is_trigger = points > 0 and entry.entry_date >= s
            result.append(
                Contribution(entry.entry_date, entry.entry_date, points, is_trigger, False)
            )
    return result


def qualifying_total(
    contribs: list[Contribution], s: date, known_on: date, window: tuple[date, date]
) -> Decimal:
    """Q(e, W) of §3: the sum of the contributions attributed in W (and not before S) that are
    known on or before day e."""
    start, end = window
    total = Decimal(0)
    for c in contribs:
        if c.attribution_date < s:
            continue  # activity before the counting start never counts, in any mode
        if start <= c.attribution_date <= end and c.known_date <= known_on:
            total += c.amount
    return total


# --------------------------------------------------------------------------------------------
# §4: windows, holding periods and review days
# --------------------------------------------------------------------------------------------


def window(scenario: Scenario, e: date) -> tuple[date, date]:
    """W(e), the window of attribution dates for day e (§4 table).

    For the rolling windows the start is the table's start. qualifying_total() also clips at S.
    """
    s = counting_start(scenario)
    if scenario.period == "lifetime":
        return (s, e)
    if scenario.period == "calendar_year":
        return (max(s, date(e.year, 1, 1)), e)
    if scenario.rolling_window == "12_months":
        return (add_months(e, -12) + ONE_DAY, e)
    return (e - timedelta(days=364), e)  # 365_days (the default)


def held_until(scenario: Scenario, p: date) -> date | None:
    """The last day a promotion on day p is held (§4 table). None means forever (lifetime)."""
    if scenario.period == "lifetime":
        return None
    if scenario.period == "calendar_year":
        return date(p.year + 1, 12, 31)
    if scenario.rolling_window == "12_months":
        return add_months(p, 12) - ONE_DAY
    return p + timedelta(days=364)


def review_day_after_promotion(scenario: Scenario, p: date) -> date | None:
    """The review day set by a promotion (or manual assignment) on day p.

    lifetime: none. calendar_year: 1 Jan two years after p's year. 365_days: p + 365.
    12_months: p + 12 months. This is always the day after held_until(p).
    """
    if scenario.period == "lifetime":
        return None
    if scenario.period == "calendar_year":
        return date(p.year + 2, 1, 1)
    if scenario.rolling_window == "12_months":
        return add_months(p, 12)
    return p + timedelta(days=365)


def review_day_after_review(scenario: Scenario, r: date) -> date | None:
    """The next review day set by a review on day r.

    lifetime: none. calendar_year: 1 Jan of the year after r's year. 365_days: r + 365.
    12_months: r + 12 months.
    """
    if scenario.period == "lifetime":
        return None
    if scenario.period == "calendar_year":
        return date(r.year + 1, 1, 1)
    if scenario.rolling_window == "12_months":
        return add_months(r, 12)
    return r + timedelta(days=365)


def tier_of(scenario: Scenario, x: Decimal) -> int:
    """The rank of the highest tier whose threshold is <= x.

    CHOICE: a negative total (possible with negative points adjustments) gives the base tier.
    """
    rank = 0
    for i, tier in enumerate(scenario.tiers):
        if tier.threshold <= x:
            rank = i
    return rank


# --------------------------------------------------------------------------------------------
# §2 and §6: eligibility and manual assignments
# --------------------------------------------------------------------------------------------


def eligible_days(scenario: Scenario, member: Member, as_of: date) -> tuple[date, date] | None:
    """(E, last day) of the member in this run, or None if the member has no eligible day.

    E = max(launch_date, enrolled_date). The member is eligible until the day before the
    unenrolment date. An enrolment or unenrolment dated after as_of does not exist yet. The
    last simulated day is as_of, or the day before the unenrolment if that is earlier.
    """
    if member.enrolled_date is None or member.enrolled_date > as_of:
        return None
    first = max(scenario.launch_date, member.enrolled_date)
    last = as_of
    if member.unenrolled_date is not None and member.unenrolled_date <= as_of:
        last = min(last, member.unenrolled_date - ONE_DAY)
    if first > last:
        return None
    return (first, last)


def split_manual(
    scenario: Scenario, member: Member, as_of: date
) -> tuple[dict[date, list[ManualAssignment]], list[tuple[str, str]]]:
    """Validate the manual assignments that exist on as_of.

    Returns the accepted ones grouped by day in application order, and the rejected ones as
    (assignment_id, reason). CHOICE: an assignment with an unknown tier code on a day the member
    is not eligible is reported once, as unknown_tier (the tier check comes first).
    """
    codes = {t.code for t in scenario.tiers}
    span = eligible_days(scenario, member, as_of)
    accepted: dict[date, list[ManualAssignment]] = {}
    rejected: list[tuple[str, str]] = []
    for m in sorted(
        member.manual, key=lambda m: (m.assigned_date, m.assigned_seq, m.assignment_id)
    ):
        if m.assigned_date > as_of:
            continue  # does not exist yet
        if m.tier_code not in codes:
            rejected.append((m.assignment_id, REJECT_UNKNOWN_TIER))
        elif span is None or not (span[0] <= m.assigned_date <= span[1]):
            rejected.append((m.assignment_id, REJECT_NOT_ELIGIBLE))
        else:
            accepted.setdefault(m.assigned_date, []).append(m)
    return accepted, rejected


# --------------------------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------------------------


@dataclass
class _State:
    """The member's state between days."""

    rank: int = 0
    review_on: date | None = None
    provisional: bool = False
    prior_rank: int | None = None  # tier held just before the provisional promotion
    promotion_day: date | None = None  # p of the provisional promotion


def simulate(scenario: Scenario, member: Member, as_of: date) -> MemberResult:
    """Simulate one member of one scenario day by day, from E to the member's last day."""
    result = MemberResult()
    manual_by_day, result.rejected_manual = split_manual(scenario, member, as_of)
    span = eligible_days(scenario, member, as_of)
    if span is None:
        return result  # pending, enrolled after as_of, or unenrolled on or before E
    first_day, last_day = span

    s = counting_start(scenario)
    contribs = contributions(scenario, member, as_of)
    promotion_days = {c.known_date for c in contribs if c.is_trigger}
    reduction_days = {c.known_date for c in contribs if c.is_reduction}

    def q(e: date, w: tuple[date, date]) -> Decimal:
        return qualifying_total(contribs, s, e, w)

    state = _State()
    rows: list[list] = []  # [rank, valid_from, reason], closed later

    for d in days(first_day, last_day):
        rank_before = state.rank  # on day E this is the base tier
        reason: str | None = None  # the reason of the last step that changed the tier today
        is_review_day = state.review_on == d

        # Step 1: review. It knows what was known on d - 1, over W(d - 1).
        if is_review_day:
            if state.rank > 0:
                t = tier_of(scenario, q(d - ONE_DAY, window(scenario, d - ONE_DAY)))
                if t != state.rank:
                    state.rank = t
                    reason = "review"
                state.review_on = None if t == 0 else review_day_after_review(scenario, d)
            else:
                state.review_on = None  # base is never reviewed (not reached in practice)
            state.provisional = False
            state.prior_rank = None
            state.promotion_day = None

        # Step 2: promotion, on E, on a review day, and on a day with a positive contribution.
        if d == first_day or is_review_day or d in promotion_days:
            t = tier_of(scenario, q(d, window(scenario, d)))
            if t > state.rank:
                state.prior_rank = state.rank
                state.promotion_day = d
                state.rank = t
                state.review_on = review_day_after_promotion(scenario, d)
                state.provisional = True
                reason = "promotion"

        # Step 3: refund re-evaluation, on a day a refund, cancellation or reversal is known.
        if scenario.refunds == "reevaluate" and state.provisional and d in reduction_days:
            p = state.promotion_day
            assert p is not None and state.prior_rank is not None
            t = max(tier_of(scenario, q(d, window(scenario, p))), state.prior_rank)
            if t < state.rank:
                state.rank = t
                reason = "refund"
                if t == 0:
                    state.review_on = None
                # The review day set at p is kept otherwise. The tier stays provisional, with
                # the same p and prior tier.

        # Step 4: manual assignments, in assigned_at order; the last one wins.
        for m in manual_by_day.get(d, []):
            t = next(i for i, tier in enumerate(scenario.tiers) if tier.code == m.tier_code)
            if t != state.rank:
                state.rank = t
                reason = "manual"
            state.review_on = None if t == 0 else review_day_after_promotion(scenario, d)
            state.provisional = False
            state.prior_rank = None
            state.promotion_day = None

        # The tier on day d is the tier after the four steps.
        if d == first_day:
            rows.append([state.rank, d, "initial"])  # the first row is always `initial`
        elif state.rank != rank_before:
            assert reason is not None
            rows.append([state.rank, d, reason])

    eligible_on_as_of = last_day == as_of
    for i, (rank, valid_from, reason) in enumerate(rows):
        if i + 1 < len(rows):
            valid_to = rows[i + 1][1]
        else:
            valid_to = None if eligible_on_as_of else last_day + ONE_DAY
        tier = scenario.tiers[rank]
        result.history.append(HistoryRow(tier.code, rank, valid_from, valid_to, reason))

    previous: HistoryRow | None = None
    for row in result.history:
        if previous is None:
            direction = "initial"
        else:
            direction = "upgrade" if row.tier_rank > previous.tier_rank else "downgrade"
        result.changes.append(
            ChangeRow(
                change_date=row.valid_from,
                from_tier_code=None if previous is None else previous.tier_code,
                to_tier_code=row.tier_code,
                direction=direction,
                change_reason=row.change_reason,
            )
        )
        previous = row

    if eligible_on_as_of:
        result.current = _current_row(scenario, state, result.history[-1], contribs, s, as_of)
    return result


def _current_row(
    scenario: Scenario,
    state: _State,
    last_row: HistoryRow,
    contribs: list[Contribution],
    s: date,
    as_of: date,
) -> CurrentRow:
    """The current state on as_of (§8, §9).

    window_total = Q(as_of, W(as_of)).
    amount_to_next_tier = next threshold - window_total, never below 0; None on the top tier.
    amount_to_keep_tier = current threshold - the total so far in the window that the next
        review will look at, never below 0; None without a review day. That window is
        W(review_on - 1). "So far" means Q(as_of, W(review_on - 1) cut at as_of). The window
        may still lie in the future (calendar_year, before the review year has started). Then
        the total so far is 0 and the whole threshold is still needed.
    """
    tier = scenario.tiers[state.rank]
    window_total = qualifying_total(contribs, s, as_of, window(scenario, as_of))

    next_code: str | None = None
    to_next: Decimal | None = None
    if state.rank + 1 < len(scenario.tiers):
        next_tier = scenario.tiers[state.rank + 1]
        next_code = next_tier.code
        to_next = max(Decimal(0), next_tier.threshold - window_total)

    to_keep: Decimal | None = None
    if state.review_on is not None:
        start, end = window(scenario, state.review_on - ONE_DAY)
        so_far = qualifying_total(contribs, s, as_of, (start, min(end, as_of)))
        to_keep = max(Decimal(0), tier.threshold - so_far)

    return CurrentRow(
        tier_code=tier.code,
        tier_since=last_row.valid_from,
        review_on=state.review_on,
        is_provisional=state.provisional,
        window_total=window_total,
        next_tier_code=next_code,
        amount_to_next_tier=to_next,
        amount_to_keep_tier=to_keep,
    )
