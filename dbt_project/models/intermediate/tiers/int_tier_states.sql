{{ config(
    materialized=member_batched_materialization(),
    incremental_strategy='member_scope',
    unique_key='customer_key',
    batch_driver='int_tier_members',
) }}
-- The tier state machine (tier-rules §1-§6, §9). One row per member, scenario and day on
-- which something could change their state; the recursion jumps from one such day to the
-- next (next review, next promotion the totals reach, next refund that can undo the
-- provisional promotion, next manual assignment), so its depth is the number of state
-- changes per member, never the number of days or orders.
-- It runs for engine scenarios only: a scenario with the same rules as an earlier one of
-- its program reads that one's states (int_tier_scenarios.engine_scenario_key).
--
-- Each step applies the four steps of that day in order: (1) review, (2) promotion,
-- (3) refund re-evaluation, (4) manual assignment.
with recursive

all_members as (
    select * from {{ scoped_ref('int_tier_members') }}
    where scenario_key = engine_scenario_key and {{ member_batch('customer_key') }}
),

all_promotion_days as (
    select * from {{ scoped_ref('int_tier_promotion_days') }}
    where {{ member_batch('customer_key') }}
),

-- every contribution of the member's set: each lookup keeps to those attributed on or after
-- the scenario's counting start (a window never starts before it)
all_contributions as (
    select * from {{ scoped_ref('int_set_contributions') }}
    where {{ member_batch('customer_key') }}
),

bands as (
    select * from {{ ref('int_tier_bands') }}
),

manual as (
    select * from {{ ref('int_manual_assignments__evaluated') }}
    where status = 'applied' and {{ member_batch('customer_key') }}
),

-- Every step of the recursion reads the whole of these inputs, however few states still
-- move (docs/benchmarks.md, 2026-12-07), so the steps read only what can move a state.
-- A member starting at base with no promotion day above base and no manual assignment has
-- no next day: no review (base), no promotion, no provisional tier for a refund to undo.
-- Promotion days at base are only ever E, read by the first step alone. At 200k members
-- the steps read 35 % fewer contributions and 14 % fewer promotion days.
movers as (
    select scenario_key, customer_key from all_promotion_days where reach_rank > 0
    union
    select scenario_key, customer_key from manual
),

members as (
    select * from all_members
    where exists (
        select 1 from movers
        where movers.scenario_key = all_members.scenario_key
            and movers.customer_key = all_members.customer_key
    )
),

promotion_days as (
    select * from all_promotion_days
    where reach_rank > 0
),

contributions as (
    select * from all_contributions
    where exists (
        select 1 from members
        where members.set_key = all_contributions.set_key
            and members.customer_key = all_contributions.customer_key
    )
),

initial_states as (
    -- day E: the total reached so far gives the first tier; above base it counts as a
    -- promotion from base (provisional, reviewed as a promotion on E); a manual assignment
    -- on E comes last.
    select
        all_members.scenario_key,
        all_members.customer_key,
        all_members.eligible_from as step_day,
        coalesce(manual.tier_rank, all_promotion_days.reach_rank) as tier_rank,
        case
            when coalesce(manual.tier_rank, all_promotion_days.reach_rank) > 0
                then {{ next_review_date('all_members.window_kind', 'all_members.eligible_from', 'true') }}
        end as review_on,
        manual.tier_rank is null and all_promotion_days.reach_rank > 0 as is_provisional,
        all_members.eligible_from as promoted_on,
        0 as prior_rank,
        'initial' as change_reason,
        true as is_tier_change,
        1 as step_number
    from all_members
    inner join all_promotion_days
        on all_promotion_days.scenario_key = all_members.scenario_key
        and all_promotion_days.customer_key = all_members.customer_key
        and all_promotion_days.day = all_members.eligible_from
    left join manual
        on manual.scenario_key = all_members.scenario_key
        and manual.customer_key = all_members.customer_key
        and manual.assigned_date = all_members.eligible_from
),

states as (
    select * from initial_states

    union all

    select
        scenario_key,
        customer_key,
        step_day,
        tier_after_manual as tier_rank,
        review_after_manual as review_on,
        is_provisional_after_manual as is_provisional,
        promoted_on_after as promoted_on,
        prior_rank_after as prior_rank,
        case
            when has_manual and tier_after_manual <> tier_after_refund then 'manual'
            when tier_after_refund <> tier_after_promotion then 'refund'
            when is_promoted then 'promotion'
            when tier_after_review <> tier_before then 'review'
        end as change_reason,
        tier_after_manual <> tier_before as is_tier_change,
        step_number
    from (
        select
            refunded.*,
            manual.tier_rank is not null as has_manual,
            coalesce(manual.tier_rank, refunded.tier_after_refund) as tier_after_manual,
            case
                when manual.tier_rank is null then refunded.review_after_refund
                when manual.tier_rank > 0
                    then {{ next_review_date('refunded.window_kind', 'refunded.step_day', 'true') }}
            end as review_after_manual,
            manual.tier_rank is null and refunded.is_provisional_after_promotion
                as is_provisional_after_manual
        from (
            select
                promoted.*,
                least(promoted.tier_after_promotion, promoted.refund_rank) as tier_after_refund,
                case
                    when least(promoted.tier_after_promotion, promoted.refund_rank) = 0 then null
                    else promoted.review_after_promotion
                end as review_after_refund
            from (
                select
                    reviewed.*,
                    reviewed.reach_rank > reviewed.tier_after_review as is_promoted,
                    greatest(reviewed.reach_rank, reviewed.tier_after_review) as tier_after_promotion,
                    case
                        when reviewed.reach_rank > reviewed.tier_after_review
                            then {{ next_review_date('reviewed.window_kind', 'reviewed.step_day', 'true') }}
                        else reviewed.review_after_review
                    end as review_after_promotion,
                    reviewed.reach_rank > reviewed.tier_after_review
                        or reviewed.is_provisional_after_review as is_provisional_after_promotion,
                    case
                        when reviewed.reach_rank > reviewed.tier_after_review then reviewed.step_day
                        else reviewed.promoted_on_before
                    end as promoted_on_after,
                    case
                        when reviewed.reach_rank > reviewed.tier_after_review
                            then reviewed.tier_after_review
                        else reviewed.prior_rank_before
                    end as prior_rank_after,
                    -- step 3 only when a reduction became known today and the tier is still
                    -- the provisional one of promoted_on (a promotion today already saw it)
                    case
                        when reviewed.reach_rank <= reviewed.tier_after_review
                            and reviewed.is_provisional_after_review
                            and reviewed.refunds_policy = 'reevaluate'
                            and reviewed.has_reduction_today
                            then greatest(
                                {{ tier_states_rank_reached('reviewed.scenario_key',
                                    'reviewed.promotion_window_total', 'reviewed.scenario_bands')
                                    | indent(32) }},
                                reviewed.prior_rank_before
                            )
                        else 99999
                    end as refund_rank
                from (
                    select
                        day_totals.*,
                        coalesce(day_totals.review_rank, day_totals.tier_before) as tier_after_review,
                        case
                            when day_totals.review_rank is null then day_totals.review_before
                            when day_totals.review_rank > 0
                                then {{ next_review_date('day_totals.window_kind', 'day_totals.step_day', 'false') }}
                        end as review_after_review,
                        day_totals.review_rank is null and day_totals.is_provisional_before
                            as is_provisional_after_review,
                        coalesce(promotion_days.reach_rank, day_totals.review_day_reach_rank, -1)
                            as reach_rank
                    from (
                        select
                            step.*,{{ tier_states_carried_columns() }}
                            totals.promotion_window_total,
                            coalesce(totals.has_reduction_today, false) as has_reduction_today,
                            -- on a review day: the tier the ended period reached (step 1) and
                            -- the tier today's total reaches (step 2 runs on review days too)
                            case when step.step_day = step.review_before then {{
                                tier_states_rank_reached('step.scenario_key', 'totals.review_total',
                                    'scenario_bands.bands')
                                | indent(28) }} end as review_rank,
                            case when step.step_day = step.review_before then {{
                                tier_states_rank_reached('step.scenario_key', 'totals.day_total',
                                    'scenario_bands.bands')
                                | indent(28) }} end as review_day_reach_rank
                        from (
                            select
                                states.scenario_key,
                                states.customer_key,
                                states.tier_rank as tier_before,
                                states.review_on as review_before,
                                states.is_provisional as is_provisional_before,
                                states.promoted_on as promoted_on_before,
                                states.prior_rank as prior_rank_before,
                                states.step_number + 1 as step_number,
                                members.set_key,
                                members.window_kind,
                                members.counting_start_date,
                                members.refunds_policy,
                                members.eligible_until,
                                least(
                                    coalesce(states.review_on, date '9999-12-31'),
                                    coalesce(next_promotion.day, date '9999-12-31'),
                                    coalesce(next_refund.day, date '9999-12-31'),
                                    coalesce(next_manual.day, date '9999-12-31')
                                ) as step_day
                            from states
                            inner join members
                                on members.scenario_key = states.scenario_key
                                and members.customer_key = states.customer_key
                            {{ tier_states_next_days() }}
                        ) as step
                        {{ tier_states_day_totals() }}
                        where step.step_day <= step.eligible_until
                    ) as day_totals
                    left join promotion_days
                        on promotion_days.scenario_key = day_totals.scenario_key
                        and promotion_days.customer_key = day_totals.customer_key
                        and promotion_days.day = day_totals.step_day
                ) as reviewed
            ) as promoted
        ) as refunded
        left join manual
            on manual.scenario_key = refunded.scenario_key
            and manual.customer_key = refunded.customer_key
            and manual.assigned_date = refunded.step_day
    ) as applied
)

select * from states
