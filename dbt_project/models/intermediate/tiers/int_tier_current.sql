{{ config(materialized='incremental', incremental_strategy='member_scope', unique_key='customer_key') }}
-- Each member still eligible on as_of, per scenario: where they stand and what it takes to
-- move up or to stay (tier-rules §8, §9 "Current state"), kept per member between builds.
-- `totals_change_on` is the next day on which the calendar alone changes these totals (an
-- amount leaves the current window); an incremental build recomputes the member then.
--   window_total        = Q(as_of, W(as_of)), the total of the current window
--   amount_to_next_tier = next threshold - window_total, never below 0 (null at the top)
--   amount_to_keep_tier = current threshold - what the window the next review will look at,
--                         W(review_on - 1), holds so far; never below 0; null without a
--                         review day (base tier, lifetime)
with

members as (
    select * from {{ scoped_ref('int_tier_members') }}
    where unenrolled_date is null
),

states as (
    select * from {{ scoped_ref('int_tier_states') }}
),

-- both windows start on or after the spec's counting start, so what they sum counts
contributions as (
    select * from {{ scoped_ref('int_set_contributions') }}
),

bands as (
    select * from {{ ref('int_tier_bands') }}
),

last_states as (
    select
        states.*,
        max(case when is_tier_change then step_day end) over (
            partition by scenario_key, customer_key
        ) as tier_since,
        row_number() over (
            partition by scenario_key, customer_key order by step_day desc
        ) as recency
    from states
),

current_states as (
    select
        members.*,
        last_states.tier_rank,
        last_states.tier_since,
        last_states.review_on,
        last_states.is_provisional,
        greatest(members.counting_start_date, coalesce(
            {{ window_start('members.window_kind', 'members.as_of_date') }},
            members.counting_start_date)) as window_from,
        case when last_states.review_on is not null then greatest(
            members.counting_start_date, coalesce(
                {{ window_start('members.window_kind', 'cast(last_states.review_on - 1 as date)') }},
                members.counting_start_date))
        end as review_window_from
    from members
    inner join last_states
        on last_states.scenario_key = members.engine_scenario_key
        and last_states.customer_key = members.customer_key
        and last_states.recency = 1
),

-- The windows to sum, once each: scenarios sharing a spec (live and its mode_* twin, custom
-- scenarios that change only thresholds) share window_from, and review_window_from too
-- whenever their reviews fall on the same day (always for twins; base-tier members have
-- none). At 200k members this sums a third fewer windows (docs/benchmarks.md). A spec sums
-- the contributions of its contribution set (set_key).
windows as (
    select distinct
        spec_key, set_key, customer_key, window_kind, as_of_date, window_from,
        review_window_from
    from current_states
),

totals as (
    select
        windows.spec_key,
        windows.customer_key,
        windows.window_from,
        windows.review_window_from,
        sum(case when contributions.attribution_date >= windows.window_from
            then contributions.amount else 0 end) as window_total,
        sum(case when contributions.attribution_date >= windows.review_window_from
            then contributions.amount else 0 end) as review_window_total,
        min(case when contributions.attribution_date >= windows.window_from
            then {{ window_exit_date('windows.window_kind', 'contributions.attribution_date') }}
            end) as first_exit_date
    from windows
    inner join contributions
        on contributions.set_key = windows.set_key
        and contributions.customer_key = windows.customer_key
        and contributions.attribution_date <= windows.as_of_date
        -- older amounts are in neither window: they would only be summed as zeros
        and contributions.attribution_date >= least(
            windows.window_from, coalesce(windows.review_window_from, windows.window_from))
    group by
        windows.spec_key, windows.customer_key, windows.window_from, windows.review_window_from
),

final as (
    select
        current_states.scenario_key,
        current_states.customer_key,
        current_states.program_id,
        current_states.scenario_id,
        current_states.customer_id,
        bands.tier_code,
        cast(current_states.tier_rank as integer) as tier_rank,
        current_states.tier_since,
        current_states.review_on,
        current_states.is_provisional,
        cast(coalesce(totals.window_total, 0) as decimal(18, 2)) as window_total,
        bands.next_tier_code,
        cast(case when bands.next_threshold is not null then greatest(
            bands.next_threshold - coalesce(totals.window_total, 0), 0) end as decimal(18, 2))
            as amount_to_next_tier,
        cast(case when current_states.review_on is not null then greatest(
            bands.threshold - coalesce(totals.review_window_total, 0), 0) end as decimal(18, 2))
            as amount_to_keep_tier,
        -- the calendar's next change to window_total (the exit day of the earliest amount
        -- still in the window; never on or before the day it was computed for)
        case when totals.first_exit_date is not null then
            greatest(totals.first_exit_date, cast(current_states.as_of_date + 1 as date))
        end as totals_change_on
    from current_states
    inner join bands
        on bands.scenario_key = current_states.scenario_key
        and bands.tier_rank = current_states.tier_rank
    left join totals
        on totals.spec_key = current_states.spec_key
        and totals.customer_key = current_states.customer_key
        and totals.window_from = current_states.window_from
        and totals.review_window_from is not distinct from current_states.review_window_from
)

select * from final
