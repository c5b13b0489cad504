"""The worked examples of tier-rules.md (§2-§6, §9) and of the vendor articles, run through the
plain day-by-day reference. Unless a test says otherwise the thresholds are those of the spec's
examples: base 0, silver 500, gold 1000.

Every expected row below was worked out by hand from the contract, not copied from output.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from .tier_rules import (
    REJECT_NOT_ELIGIBLE,
    REJECT_UNKNOWN_TIER,
    ChangeRow,
    Contribution,
    LedgerEntry,
    ManualAssignment,
    Member,
    Order,
    Refund,
    Scenario,
    Tier,
    add_months,
    contributions,
    counting_start,
    held_until,
    review_day_after_promotion,
    review_day_after_review,
    simulate,
    window,
)

D = date.fromisoformat
TIERS = (Tier("base", Decimal(0)), Tier("silver", Decimal(500)), Tier("gold", Decimal(1000)))


def scenario(
    period="rolling",
    rolling_window="365_days",
    refunds="reevaluate",
    milestone="spend",
    start="2023-01-01",
    back=None,
    launch="2023-01-01",
    activities=(),
):
    return Scenario(
        milestone=milestone,
        period=period,
        rolling_window=rolling_window if period == "rolling" else None,
        refunds=refunds,
        tiers=TIERS,
        start_date=D(start),
        back_date=D(back) if back else None,
        launch_date=D(launch),
        qualifying_activities=frozenset(activities),
    )


def member(enrolled="2023-01-01", unenrolled=None, orders=(), refunds=(), ledger=(), manual=()):
    return Member(
        customer_id="c1",
        enrolled_date=D(enrolled) if enrolled else None,
        unenrolled_date=D(unenrolled) if unenrolled else None,
        orders=tuple(orders),
        refunds=tuple(refunds),
        ledger=tuple(ledger),
        manual=tuple(manual),
    )


def order(order_id, day, amount, cancelled=None):
    return Order(order_id, D(day), Decimal(amount), D(cancelled) if cancelled else None)


def refund(refund_id, order_id, day, amount):
    return Refund(refund_id, order_id, D(day), Decimal(amount))


def entry(entry_id, day, activity, points, order_id=None):
    return LedgerEntry(entry_id, D(day), activity, points, order_id)


def manual(assignment_id, day, tier_code, seq=0):
    return ManualAssignment(assignment_id, D(day), seq, tier_code)


def rows(result):
    """History as (tier, valid_from, valid_to, reason) with ISO strings, for short asserts."""
    return [
        (
            r.tier_code,
            r.valid_from.isoformat(),
            r.valid_to.isoformat() if r.valid_to else None,
            r.change_reason,
        )
        for r in result.history
    ]


def run(sc, mb, as_of):
    return simulate(sc, mb, D(as_of))


# --------------------------------------------------------------------------------------------
# Calendar helpers and §4 table
# --------------------------------------------------------------------------------------------


def test_twelve_months_arithmetic_clamps_to_month_end():
    assert add_months(D("2024-02-29"), -12) == D("2023-02-28")
    assert add_months(D("2024-02-29"), 12) == D("2025-02-28")
    assert add_months(D("2023-03-31"), -1) == D("2023-02-28")
    assert add_months(D("2023-01-31"), 1) == D("2023-02-28")
    assert add_months(D("2023-12-15"), 1) == D("2024-01-15")
    assert add_months(D("2023-01-15"), -1) == D("2022-12-15")


def test_windows_per_period_mode():
    assert window(scenario("lifetime", start="2022-05-01"), D("2024-06-01")) == (
        D("2022-05-01"),
        D("2024-06-01"),
    )
    assert window(scenario("calendar_year"), D("2024-06-01")) == (D("2024-01-01"), D("2024-06-01"))
    # calendar year in the first year: clipped at S
    assert window(scenario("calendar_year", start="2023-02-01"), D("2023-06-01")) == (
        D("2023-02-01"),
        D("2023-06-01"),
    )
    assert window(scenario("rolling", "365_days"), D("2024-02-28")) == (
        D("2023-03-01"),
        D("2024-02-28"),
    )
    assert window(scenario("rolling", "12_months"), D("2024-02-29")) == (
        D("2023-03-01"),
        D("2024-02-29"),
    )
    assert window(scenario("rolling", "12_months"), D("2025-02-28")) == (
        D("2024-02-29"),
        D("2025-02-28"),
    )


def test_holding_periods_and_review_days_per_period_mode():
    p = D("2023-03-01")
    lifetime = scenario("lifetime")
    assert held_until(lifetime, p) is None
    assert review_day_after_promotion(lifetime, p) is None
    assert review_day_after_review(lifetime, p) is None

    cal = scenario("calendar_year")
    assert held_until(cal, D("2023-11-10")) == D("2024-12-31")
    assert review_day_after_promotion(cal, D("2023-11-10")) == D("2025-01-01")
    assert review_day_after_review(cal, D("2025-01-01")) == D("2026-01-01")

    r365 = scenario("rolling", "365_days")
    assert held_until(r365, p) == D("2024-02-28")
    assert review_day_after_promotion(r365, p) == D("2024-02-29")
    assert review_day_after_review(r365, D("2024-02-29")) == D("2025-02-28")

    r12 = scenario("rolling", "12_months")
    assert held_until(r12, p) == D("2024-02-29")
    assert review_day_after_promotion(r12, p) == D("2024-03-01")
    assert review_day_after_review(r12, D("2024-02-29")) == D("2025-02-28")


# --------------------------------------------------------------------------------------------
# §3 counting start
# --------------------------------------------------------------------------------------------


def test_counting_start_calendar_year_moves_earlier_year_start_to_launch_year():
    def s(start, back=None):
        return counting_start(
            scenario("calendar_year", start=start, back=back, launch="2023-03-15")
        )

    # AiTrillion: set up March 2023 with start 1 Nov 2021 -> counting from 1 Jan 2023.
    assert s("2021-11-01") == D("2023-01-01")
    # ... with start 1 Feb 2023 it stays 1 Feb 2023.
    assert s("2023-02-01") == D("2023-02-01")
    # a back date from an earlier year is clamped too
    assert s("2023-02-01", back="2022-07-01") == D("2023-01-01")


def test_counting_start_other_modes_use_back_date_else_start_date():
    rolling = scenario("rolling", start="2021-11-01", launch="2023-03-15")
    assert counting_start(rolling) == D("2021-11-01")
    lifetime = scenario("lifetime", start="2023-01-01", back="2022-07-01", launch="2023-01-15")
    assert counting_start(lifetime) == D("2022-07-01")


def test_back_date_counts_activity_from_back_date_and_nothing_before():
    orders = [order("o0", "2022-06-30", 900), order("o1", "2022-07-01", 600)]
    mb = member(enrolled="2023-01-15", orders=orders)
    with_back = scenario("lifetime", start="2023-01-01", back="2022-07-01", launch="2023-01-15")
    result = run(with_back, mb, "2023-02-01")
    assert rows(result) == [("silver", "2023-01-15", None, "initial")]
    assert result.current.window_total == Decimal(600)

    without_back = scenario("lifetime", start="2023-01-01", launch="2023-01-15")
    assert rows(run(without_back, mb, "2023-02-01")) == [("base", "2023-01-15", None, "initial")]


def test_order_before_counting_start_never_counts_nor_triggers():
    # Launched before the start date: an order between E and S is ignored entirely.
    sc = scenario("lifetime", start="2023-06-01", launch="2023-01-01")
    mb = member(
        orders=[order("o1", "2023-03-01", 1000), order("o2", "2023-07-01", 10)],
        refunds=[refund("r1", "o1", "2023-08-01", 500)],
    )
    result = run(sc, mb, "2023-09-01")
    assert rows(result) == [("base", "2023-01-01", None, "initial")]
    assert result.current.window_total == Decimal(10)
    pre_s = [
        c for c in contributions(sc, mb, D("2023-09-01")) if c.attribution_date < D("2023-06-01")
    ]
    assert pre_s and not any(c.is_trigger for c in pre_s)


# --------------------------------------------------------------------------------------------
# §4 worked examples
# --------------------------------------------------------------------------------------------


CALENDAR_ORDERS = [
    order("o1", "2023-06-01", 400),
    order("o2", "2023-11-10", 600),  # reaches 1000 on 10 Nov 2023
    order("o3", "2024-03-01", 300),
    order("o4", "2024-09-01", 300),  # 600 in 2024
]


def test_aitrillion_calendar_year_gold_held_through_next_year_then_review_gives_silver():
    sc = scenario("calendar_year")
    result = run(sc, member(orders=CALENDAR_ORDERS), "2025-03-01")
    assert rows(result) == [
        ("base", "2023-01-01", "2023-11-10", "initial"),
        ("gold", "2023-11-10", "2025-01-01", "promotion"),
        ("silver", "2025-01-01", None, "review"),
    ]
    cur = result.current
    assert (cur.tier_code, cur.tier_since, cur.review_on, cur.is_provisional) == (
        "silver",
        D("2025-01-01"),
        D("2026-01-01"),
        False,
    )
    assert cur.window_total == 0  # nothing yet in 2025
    assert (cur.next_tier_code, cur.amount_to_next_tier) == ("gold", Decimal(1000))
    assert cur.amount_to_keep_tier == Decimal(500)  # window of the next review: 2025


def test_calendar_year_current_state_during_the_holding_year():
    sc = scenario("calendar_year")
    cur = run(sc, member(orders=CALENDAR_ORDERS), "2024-09-15").current
    assert (cur.tier_code, cur.review_on, cur.is_provisional) == ("gold", D("2025-01-01"), True)
    assert cur.window_total == Decimal(600)
    assert cur.next_tier_code is None and cur.amount_to_next_tier is None  # top tier
    # the 2025 review looks at 2024; 600 of the 1000 is already there
    assert cur.amount_to_keep_tier == Decimal(400)
    # in the promotion year itself the review window (2024) has not started: all is needed
    cur_2023 = run(sc, member(orders=CALENDAR_ORDERS), "2023-12-01").current
    assert cur_2023.window_total == Decimal(1000)
    assert cur_2023.amount_to_keep_tier == Decimal(1000)


LEAP_ORDERS = [
    order("o1", "2023-02-01", 600),
    order("o2", "2023-03-01", 400),  # gold on 1 Mar 2023
    order("o3", "2023-12-01", 100),
    order("o4", "2024-02-29", 500),
]


def test_aitrillion_365_days_gold_on_1_mar_2023_reviewed_on_29_feb_2024():
    sc = scenario("rolling", "365_days")
    result = run(sc, member(orders=LEAP_ORDERS), "2024-06-01")
    # review on 29 Feb 2024 over 1 Mar 2023 - 28 Feb 2024: 400 + 100 = 500 -> silver; the
    # same day's promotion check over 2 Mar 2023 - 29 Feb 2024 (600) keeps silver.
    assert rows(result) == [
        ("base", "2023-01-01", "2023-02-01", "initial"),
        ("silver", "2023-02-01", "2023-03-01", "promotion"),
        ("gold", "2023-03-01", "2024-02-29", "promotion"),
        ("silver", "2024-02-29", None, "review"),
    ]
    cur = result.current
    assert cur.review_on == D("2025-02-28")
    assert cur.is_provisional is False
    assert cur.window_total == Decimal(600)  # 2 Jun 2023 - 1 Jun 2024: o3 + o4
    assert cur.amount_to_next_tier == Decimal(400)
    assert cur.amount_to_keep_tier == Decimal(0)  # o4 (500) already in 29 Feb 2024 - 27 Feb 2025


def test_twelve_months_review_on_1_mar_2024_includes_29_feb():
    sc = scenario("rolling", "12_months")
    result = run(sc, member(orders=LEAP_ORDERS), "2024-06-01")
    # review on 1 Mar 2024 over 1 Mar 2023 - 29 Feb 2024: 400 + 100 + 500 = 1000 -> gold kept
    assert rows(result) == [
        ("base", "2023-01-01", "2023-02-01", "initial"),
        ("silver", "2023-02-01", "2023-03-01", "promotion"),
        ("gold", "2023-03-01", None, "promotion"),
    ]
    cur = result.current
    assert cur.review_on == D("2025-03-01")  # the review kept the tier and moved the day
    assert cur.is_provisional is False  # the review ended provisional status
    assert cur.window_total == Decimal(600)
    # the next review looks at W(28 Feb 2025) = 29 Feb 2024 - 28 Feb 2025: o4 (500) is in it
    assert cur.amount_to_keep_tier == Decimal(500)


def okendo_member(first_order, promotion_order, later_order):
    return member(
        enrolled="2022-05-01",
        orders=[
            order("o1", "2022-06-01", first_order),
            order("o2", "2023-05-10", promotion_order),  # gold: 12 months total reaches 1000
            order("o3", "2023-09-01", later_order),
        ],
    )


def test_okendo_rolling_year_anniversary_with_700_demotes_gold_to_silver():
    sc = scenario("rolling", "12_months", start="2022-01-01", launch="2022-01-01")
    result = run(sc, okendo_member(500, 500, 200), "2024-06-01")
    assert rows(result) == [
        ("base", "2022-05-01", "2022-06-01", "initial"),
        ("silver", "2022-06-01", "2023-05-10", "promotion"),
        ("gold", "2023-05-10", "2024-05-10", "promotion"),
        ("silver", "2024-05-10", None, "review"),  # 10 May 2023 - 9 May 2024: 700
    ]
    assert result.current.review_on == D("2025-05-10")


def test_okendo_rolling_year_anniversary_with_300_demotes_gold_to_base():
    sc = scenario("rolling", "12_months", start="2022-01-01", launch="2022-01-01")
    result = run(sc, okendo_member(800, 200, 100), "2024-06-01")
    assert rows(result)[-2:] == [
        ("gold", "2023-05-10", "2024-05-10", "promotion"),
        ("base", "2024-05-10", None, "review"),
    ]
    cur = result.current
    assert cur.review_on is None  # base is never reviewed
    assert cur.amount_to_keep_tier is None


def test_okendo_lifetime_gold_forever():
    sc = scenario("lifetime")
    result = run(sc, member(orders=[order("o1", "2023-02-01", 1000)]), "2026-01-01")
    assert rows(result) == [
        ("base", "2023-01-01", "2023-02-01", "initial"),
        ("gold", "2023-02-01", None, "promotion"),
    ]
    cur = result.current
    assert cur.review_on is None and cur.amount_to_keep_tier is None
    assert cur.is_provisional is True  # never reviewed: a refund can still undo it


def test_okendo_lifetime_demoted_only_through_a_refund():
    sc = scenario("lifetime")
    mb = member(
        orders=[order("o1", "2023-02-01", 1000)],
        refunds=[refund("r1", "o1", "2024-05-01", 400)],
    )
    assert rows(run(sc, mb, "2026-01-01")) == [
        ("base", "2023-01-01", "2023-02-01", "initial"),
        ("gold", "2023-02-01", "2024-05-01", "promotion"),
        ("silver", "2024-05-01", None, "refund"),
    ]


# --------------------------------------------------------------------------------------------
# §2 who gets a tier, first day
# --------------------------------------------------------------------------------------------


def test_initial_tier_above_base_counts_as_promotion_from_base():
    sc = scenario("rolling", "365_days", start="2023-01-01", launch="2023-06-01")
    mb = member(
        orders=[order("o1", "2023-02-01", 1200)],  # history before E counts
        refunds=[refund("r1", "o1", "2023-08-01", 800)],
    )
    before_refund = run(sc, mb, "2023-07-01")
    assert rows(before_refund) == [("gold", "2023-06-01", None, "initial")]
    cur = before_refund.current
    assert cur.is_provisional is True
    assert cur.review_on == D("2024-05-31")  # 1 Jun 2023 + 365
    # the prior tier is base: a refund can take the member down to base
    assert rows(run(sc, mb, "2023-09-01")) == [
        ("gold", "2023-06-01", "2023-08-01", "initial"),
        ("base", "2023-08-01", None, "refund"),
    ]
    assert run(sc, mb, "2023-09-01").current.review_on is None


def test_first_row_is_initial_whatever_happened_on_e():
    sc = scenario("rolling", "365_days")
    mb = member(
        orders=[order("o1", "2023-01-01", 1000)], manual=[manual("m1", "2023-01-01", "silver")]
    )
    result = run(sc, mb, "2023-02-01")
    assert rows(result) == [("silver", "2023-01-01", None, "initial")]
    assert result.changes == [ChangeRow(D("2023-01-01"), None, "silver", "initial", "initial")]
    assert result.current.is_provisional is False


def test_pending_member_gets_no_rows():
    sc = scenario()
    result = run(sc, member(enrolled=None, orders=[order("o1", "2023-02-01", 2000)]), "2024-01-01")
    assert result.history == [] and result.changes == [] and result.current is None


def test_enrolment_after_as_of_does_not_exist_yet():
    result = run(scenario(), member(enrolled="2024-02-01"), "2024-01-31")
    assert result.history == [] and result.current is None


def test_unenrolment_on_or_before_e_gives_no_rows():
    sc = scenario(launch="2023-06-01")
    assert (
        run(sc, member(enrolled="2023-01-01", unenrolled="2023-06-01"), "2024-01-01").history == []
    )
    assert (
        run(sc, member(enrolled="2023-01-01", unenrolled="2023-05-01"), "2024-01-01").history == []
    )


def test_unenrolment_ends_history_on_unenrolment_date_and_no_current_row():
    sc = scenario("rolling", "365_days")
    mb = member(unenrolled="2023-04-01", orders=[order("o1", "2023-02-01", 600)])
    result = run(sc, mb, "2024-01-01")
    assert rows(result) == [
        ("base", "2023-01-01", "2023-02-01", "initial"),
        ("silver", "2023-02-01", "2023-04-01", "promotion"),
    ]
    assert result.current is None
    # an unenrolment dated after as_of does not exist yet
    still_member = run(sc, mb, "2023-03-31")
    assert rows(still_member)[-1] == ("silver", "2023-02-01", None, "promotion")
    assert still_member.current.tier_code == "silver"


# --------------------------------------------------------------------------------------------
# §4 review step details, §9 reasons
# --------------------------------------------------------------------------------------------


def test_same_day_review_to_base_then_promotion_to_silver_is_one_promotion_row():
    sc = scenario("rolling", "365_days")
    mb = member(
        orders=[
            order("o1", "2023-02-21", 600),
            order("o2", "2023-03-01", 400),  # gold, review on 29 Feb 2024
            order("o3", "2024-02-29", 500),  # review gives base (400), then this lifts to silver
        ]
    )
    result = run(sc, mb, "2024-03-10")
    assert rows(result) == [
        ("base", "2023-01-01", "2023-02-21", "initial"),
        ("silver", "2023-02-21", "2023-03-01", "promotion"),
        ("gold", "2023-03-01", "2024-02-29", "promotion"),
        ("silver", "2024-02-29", None, "promotion"),
    ]
    # direction compares ranks, whatever the reason
    assert result.changes[-1] == ChangeRow(
        D("2024-02-29"), "gold", "silver", "downgrade", "promotion"
    )
    cur = result.current
    assert (cur.review_on, cur.is_provisional) == (D("2025-02-28"), True)


def test_review_can_raise_after_manual_below_totals_and_next_tier_amount_never_negative():
    sc = scenario("rolling", "365_days")
    mb = member(
        orders=[order("o1", "2023-03-01", 1200), order("o2", "2023-04-01", 1000)],
        manual=[manual("m1", "2023-04-01", "silver")],  # step 4, after the day's promotion check
    )
    early = run(sc, mb, "2023-05-01")
    assert rows(early) == [
        ("base", "2023-01-01", "2023-03-01", "initial"),
        ("gold", "2023-03-01", "2023-04-01", "promotion"),
        ("silver", "2023-04-01", None, "manual"),
    ]
    cur = early.current
    assert cur.review_on == D("2024-03-31")  # as if promoted on 1 Apr 2023
    assert cur.is_provisional is False
    assert cur.window_total == Decimal(2200)
    assert (cur.next_tier_code, cur.amount_to_next_tier) == ("gold", Decimal(0))
    assert cur.amount_to_keep_tier == Decimal(0)
    # review on 31 Mar 2024 over 1 Apr 2023 - 30 Mar 2024: o2 (1000) -> gold, reason review
    later = run(sc, mb, "2024-04-15")
    assert rows(later)[-1] == ("gold", "2024-03-31", None, "review")
    assert later.changes[-1].direction == "upgrade"
    assert later.current.review_on == D("2025-03-31")


# --------------------------------------------------------------------------------------------
# §5 refunds and cancellations
# --------------------------------------------------------------------------------------------


def test_refund_reevaluate_never_below_prior_tier_and_keeps_review_day():
    sc = scenario("rolling", "365_days")
    mb = member(
        orders=[order("o1", "2023-02-01", 600), order("o2", "2023-03-01", 500)],
        refunds=[refund("r1", "o1", "2023-04-01", 600), refund("r2", "o2", "2023-05-01", 500)],
    )
    result = run(sc, mb, "2023-06-01")
    assert rows(result) == [
        ("base", "2023-01-01", "2023-02-01", "initial"),
        ("silver", "2023-02-01", "2023-03-01", "promotion"),
        ("gold", "2023-03-01", "2023-04-01", "promotion"),
        # Q(1 Apr, W(1 Mar)) = 500 -> silver; r2 then leaves 0, but prior tier silver is the floor
        ("silver", "2023-04-01", None, "refund"),
    ]
    cur = result.current
    assert cur.review_on == D("2024-02-29")  # set at the gold promotion, kept
    assert cur.is_provisional is True
    assert cur.window_total == Decimal(0)
    assert cur.amount_to_keep_tier == Decimal(500)


def test_refund_of_an_order_after_the_promotion_cannot_undo_it():
    sc = scenario("rolling", "365_days")
    mb = member(
        orders=[order("o1", "2023-03-01", 1000), order("o2", "2023-04-01", 300)],
        refunds=[refund("r2", "o2", "2023-04-10", 300), refund("r1", "o1", "2023-05-01", 100)],
    )
    assert rows(run(sc, mb, "2023-04-30")) == [
        ("base", "2023-01-01", "2023-03-01", "initial"),
        ("gold", "2023-03-01", None, "promotion"),
    ]
    # a refund of the promotion's own window does undo it
    assert rows(run(sc, mb, "2023-06-01"))[-1] == ("silver", "2023-05-01", None, "refund")


def test_cancellation_refunds_what_is_left_and_base_has_no_review_day():
    sc = scenario("rolling", "365_days")
    mb = member(
        orders=[order("o1", "2023-03-01", 1000, cancelled="2023-03-10")],
        refunds=[refund("r1", "o1", "2023-03-05", 300)],
    )
    result = run(sc, mb, "2023-04-01")
    assert rows(result) == [
        ("base", "2023-01-01", "2023-03-01", "initial"),
        ("gold", "2023-03-01", "2023-03-05", "promotion"),
        ("silver", "2023-03-05", "2023-03-10", "refund"),
        ("base", "2023-03-10", None, "refund"),
    ]
    cur = result.current
    assert cur.review_on is None and cur.amount_to_keep_tier is None
    assert cur.window_total == Decimal(0)


def test_refund_walk_same_day_refunds_before_cancellation_and_never_below_zero():
    sc = scenario("rolling", "365_days")
    mb = member(
        orders=[order("o1", "2023-03-01", 1000, cancelled="2023-03-10")],
        refunds=[
            refund("r2", "o1", "2023-03-10", 200),
            refund("r1", "o1", "2023-03-05", 300),
            refund("r0", "o1", "2023-03-10", 100),
        ],
    )
    got = sorted(contributions(sc, mb, D("2023-04-01")))
    d = D("2023-03-01")
    assert got == sorted(
        [
            Contribution(d, d, Decimal(1000), True, False),
            Contribution(d, D("2023-03-05"), Decimal(-300), False, True),
            Contribution(d, D("2023-03-10"), Decimal(-100), False, True),  # r0 before r2
            Contribution(d, D("2023-03-10"), Decimal(-200), False, True),
            Contribution(d, D("2023-03-10"), Decimal(-400), False, True),  # cancellation: the rest
        ]
    )
    # a cancellation after everything was refunded refunds nothing
    full = member(
        orders=[order("o1", "2023-03-01", 1000, cancelled="2023-03-10")],
        refunds=[refund("r1", "o1", "2023-03-05", 1000)],
    )
    amounts = [c.amount for c in contributions(sc, full, D("2023-04-01"))]
    assert sorted(amounts) == [Decimal(-1000), Decimal(0), Decimal(1000)]
    # a cancellation dated after as_of does not exist yet
    early = [c.amount for c in contributions(sc, mb, D("2023-03-09"))]
    assert sorted(early) == [Decimal(-300), Decimal(1000)]


def test_keep_policy_refunds_only_lower_future_totals():
    sc = scenario("rolling", "365_days", refunds="keep")
    mb = member(
        orders=[order("o1", "2023-03-01", 1000, cancelled="2023-03-10")],
        refunds=[refund("r1", "o1", "2023-03-05", 300)],
    )
    mid = run(sc, mb, "2023-04-01")
    assert rows(mid) == [
        ("base", "2023-01-01", "2023-03-01", "initial"),
        ("gold", "2023-03-01", None, "promotion"),
    ]
    assert mid.current.window_total == Decimal(0)
    assert mid.current.amount_to_keep_tier == Decimal(1000)
    assert rows(run(sc, mb, "2024-03-01"))[-1] == ("base", "2024-02-29", None, "review")


REVIEW_DAY_ORDERS = [
    order("o1", "2023-02-01", 500),
    order("o2", "2023-03-01", 500),  # gold, review on 1 Mar 2024 (12 months)
    order("o3", "2023-12-01", 500),
]


def test_review_does_not_see_a_refund_known_on_the_review_day():
    sc = scenario("rolling", "12_months")
    mb = member(orders=REVIEW_DAY_ORDERS, refunds=[refund("r3", "o3", "2024-03-01", 400)])
    result = run(sc, mb, "2024-03-10")
    # the review of 1 Mar 2024 sees o2 + o3 = 1000 (r3 unknown on 29 Feb) -> gold kept; it ended
    # provisional status, so r3 cannot undo the promotion either
    assert rows(result) == [
        ("base", "2023-01-01", "2023-02-01", "initial"),
        ("silver", "2023-02-01", "2023-03-01", "promotion"),
        ("gold", "2023-03-01", None, "promotion"),
    ]
    cur = result.current
    assert (cur.review_on, cur.is_provisional) == (D("2025-03-01"), False)
    assert cur.window_total == Decimal(100)  # r3 lowers later totals like any refund


def test_refund_known_the_day_before_the_review_is_in_the_review_total():
    sc = scenario("rolling", "12_months")
    mb = member(orders=REVIEW_DAY_ORDERS, refunds=[refund("r3", "o3", "2024-02-29", 400)])
    # o3 lies outside W(p) so the re-evaluation keeps gold; the review then sees 500 + 100
    assert rows(run(sc, mb, "2024-03-10"))[-2:] == [
        ("gold", "2023-03-01", "2024-03-01", "promotion"),
        ("silver", "2024-03-01", None, "review"),
    ]


# --------------------------------------------------------------------------------------------
# §6 manual assignments
# --------------------------------------------------------------------------------------------


def test_manual_naming_current_tier_adds_no_row_resets_review_and_ends_provisional():
    sc = scenario("rolling", "365_days")
    orders = [order("o1", "2023-03-01", 1000)]
    refunds = [refund("r1", "o1", "2023-07-01", 600)]
    mb = member(orders=orders, refunds=refunds, manual=[manual("m1", "2023-06-01", "gold")])
    result = run(sc, mb, "2023-08-01")
    assert rows(result) == [
        ("base", "2023-01-01", "2023-03-01", "initial"),
        ("gold", "2023-03-01", None, "promotion"),
    ]
    cur = result.current
    assert cur.review_on == D("2024-05-31")  # 1 Jun 2023 + 365 instead of 29 Feb 2024
    assert cur.is_provisional is False  # so r1 could not undo the promotion
    assert cur.window_total == Decimal(400)
    # without the manual assignment r1 takes the member down to base
    assert rows(run(sc, member(orders=orders, refunds=refunds), "2023-08-01"))[-1] == (
        "base",
        "2023-07-01",
        None,
        "refund",
    )


def test_several_manual_assignments_on_one_day_last_wins():
    sc = scenario("rolling", "365_days")
    by_seq = member(
        manual=[
            manual("m2", "2023-04-01", "gold", seq=2),
            manual("m1", "2023-04-01", "silver", seq=1),
        ]
    )
    result = run(sc, by_seq, "2023-05-01")
    assert rows(result) == [
        ("base", "2023-01-01", "2023-04-01", "initial"),
        ("gold", "2023-04-01", None, "manual"),
    ]
    assert result.current.review_on == D("2024-03-31")
    # same assigned_at: ties by assignment_id
    by_id = member(manual=[manual("b", "2023-04-01", "silver"), manual("a", "2023-04-01", "gold")])
    assert rows(run(sc, by_id, "2023-05-01"))[-1] == ("silver", "2023-04-01", None, "manual")


def test_manual_to_base_sets_no_review_day():
    sc = scenario("rolling", "365_days")
    mb = member(
        orders=[order("o1", "2023-03-01", 1000)], manual=[manual("m1", "2023-04-01", "base")]
    )
    result = run(sc, mb, "2023-05-01")
    assert rows(result)[-1] == ("base", "2023-04-01", None, "manual")
    assert result.current.review_on is None


def test_rejected_manual_assignments_unknown_tier_and_not_eligible():
    sc = scenario("rolling", "365_days", launch="2023-02-01")
    mb = member(
        enrolled="2023-01-01",
        unenrolled="2023-06-01",
        manual=[
            manual("m_unknown", "2023-03-01", "platinum"),
            manual("m_before_e", "2023-01-15", "gold"),
            manual("m_unenrolled", "2023-06-01", "gold"),
            manual("m_ok", "2023-04-01", "silver"),
            manual("m_future", "2024-01-02", "platinum"),  # after as_of: does not exist
        ],
    )
    result = run(sc, mb, "2024-01-01")
    assert result.rejected_manual == [
        ("m_before_e", REJECT_NOT_ELIGIBLE),
        ("m_unknown", REJECT_UNKNOWN_TIER),
        ("m_unenrolled", REJECT_NOT_ELIGIBLE),
    ]
    assert rows(result) == [
        ("base", "2023-02-01", "2023-04-01", "initial"),
        ("silver", "2023-04-01", "2023-06-01", "manual"),
    ]
    pending = member(enrolled=None, manual=[manual("m1", "2023-04-01", "gold")])
    assert run(sc, pending, "2024-01-01").rejected_manual == [("m1", REJECT_NOT_ELIGIBLE)]


# --------------------------------------------------------------------------------------------
# §3 / §9 points milestone
# --------------------------------------------------------------------------------------------


def test_points_reversal_undoes_promotion_and_redemptions_bonuses_never_count():
    activities = {"purchase", "signup", "redemption", "tier_bonus", "expiration"}
    sc = scenario("rolling", "365_days", milestone="points", activities=activities)
    mb = member(
        ledger=[
            entry("l1", "2023-01-01", "signup", 100),
            entry("l2", "2023-02-01", "purchase", 500, "A"),  # 600 -> silver
            entry("l3", "2023-02-05", "redemption", -300),  # never counts
            entry("l4", "2023-02-06", "tier_bonus", 500),  # never counts (would reach gold)
            entry("l5", "2023-03-01", "purchase", 400, "B"),  # 1000 -> gold
            entry("l6", "2023-03-10", "purchase_reversal", -400, "B"),  # attributed to 1 Mar
            entry("l7", "2023-04-01", "expiration", -100),  # never counts
        ],
    )
    result = run(sc, mb, "2023-05-01")
    assert rows(result) == [
        ("base", "2023-01-01", "2023-02-01", "initial"),
        ("silver", "2023-02-01", "2023-03-01", "promotion"),
        ("gold", "2023-03-01", "2023-03-10", "promotion"),
        ("silver", "2023-03-10", None, "refund"),
    ]
    cur = result.current
    assert cur.window_total == Decimal(600)
    assert (cur.review_on, cur.is_provisional) == (D("2024-02-29"), True)


def test_points_purchase_reversal_attribution_and_when_it_counts():
    def contribs(activities, ledger):
        sc = scenario("lifetime", milestone="points", activities=activities)
        return contributions(sc, member(ledger=ledger), D("2023-12-31"))

    ledger = [
        entry("p2", "2023-03-01", "purchase", 300, "X"),
        entry("p1", "2023-02-01", "purchase", 200, "X"),  # the earliest purchase of X
        entry("rv", "2023-04-01", "purchase_reversal", -200, "X"),
        entry("rz", "2023-04-02", "purchase_reversal", -50, "Z"),  # no purchase: own date
        entry("rn", "2023-04-03", "purchase_reversal", -10),  # no order id: own date
    ]
    reversals = [c for c in contribs({"purchase"}, ledger) if c.is_reduction]
    assert sorted(reversals) == sorted(
        [
            Contribution(D("2023-02-01"), D("2023-04-01"), Decimal(-200), False, True),
            Contribution(D("2023-04-02"), D("2023-04-02"), Decimal(-50), False, True),
            Contribution(D("2023-04-03"), D("2023-04-03"), Decimal(-10), False, True),
        ]
    )
    # counts when only purchase_reversal is listed; the purchases themselves then do not count
    only_reversal = contribs({"purchase_reversal", "signup"}, ledger)
    assert len(only_reversal) == 3 and all(c.is_reduction for c in only_reversal)
    # neither listed: nothing counts
    assert contribs({"signup"}, ledger) == []


def test_points_positive_reversal_never_triggers_a_promotion():
    sc = scenario("rolling", "365_days", milestone="points", activities={"purchase"})
    mb = member(
        ledger=[
            entry("l1", "2023-02-01", "purchase", 900),
            entry("l2", "2023-03-01", "purchase_reversal", 200, "Q"),  # counts, triggers nothing
            entry("l3", "2023-04-01", "purchase", 1),
        ]
    )
    assert rows(run(sc, mb, "2023-05-01")) == [
        ("base", "2023-01-01", "2023-02-01", "initial"),
        ("silver", "2023-02-01", "2023-04-01", "promotion"),
        ("gold", "2023-04-01", None, "promotion"),
    ]


def test_points_negative_adjustment_counts_but_triggers_nothing():
    sc = scenario(
        "rolling", "365_days", milestone="points", activities={"purchase", "manual_adjustment"}
    )
    mb = member(
        ledger=[
            entry("l1", "2023-01-10", "manual_adjustment", -300),
            entry("l2", "2023-02-01", "purchase", 700),  # 400: still base
            # 11 Jan 2024: the adjustment leaves the window (700), but no positive contribution
            entry("l3", "2024-01-20", "purchase", 10),  # 710 -> silver
        ]
    )
    assert rows(run(sc, mb, "2024-02-01")) == [
        ("base", "2023-01-01", "2024-01-20", "initial"),
        ("silver", "2024-01-20", None, "promotion"),
    ]
    adj = contributions(sc, mb, D("2024-02-01"))[0]
    assert adj == Contribution(D("2023-01-10"), D("2023-01-10"), Decimal(-300), False, False)


# --------------------------------------------------------------------------------------------
# §8 determinism
# --------------------------------------------------------------------------------------------


def test_result_does_not_depend_on_input_row_order_and_future_rows_do_not_exist():
    sc = scenario("rolling", "365_days")
    orders = [*LEAP_ORDERS, order("o9", "2024-07-01", 5000)]
    refunds = [refund("r1", "o2", "2023-04-01", 100), refund("r2", "o2", "2023-04-01", 50)]
    base = run(sc, member(orders=orders, refunds=refunds), "2024-06-01")
    rng = random.Random(7)
    for _ in range(5):
        o, r = orders[:], refunds[:]
        rng.shuffle(o)
        rng.shuffle(r)
        assert run(sc, member(orders=o, refunds=r), "2024-06-01") == base
    # o9 is dated after as_of: the same as not having it
    assert run(sc, member(orders=orders[:-1], refunds=refunds), "2024-06-01") == base
