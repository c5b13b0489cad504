{{ config(materialized='incremental', incremental_strategy='member_scope', unique_key='customer_key') }}
-- Days on which step 2 (promotion) runs for a member and the tier their total reaches:
-- days with a positive contribution and the eligibility start (§4). Review days are
-- promotion days too; the state machine computes those itself. A day whose total reaches
-- only the base tier can never promote anyone, so only E keeps such a row.
-- Engine scenarios only, like int_tier_states (int_tier_scenarios).
with

members as (
    select * from {{ scoped_ref('int_tier_members') }}
    where scenario_key = engine_scenario_key
),

window_totals as (
    select * from {{ scoped_ref('int_window_totals') }}
),

bands as (
    select * from {{ ref('int_tier_bands') }}
),

candidate_days as (
    select
        members.scenario_key,
        members.customer_key,
        window_totals.day,
        window_totals.window_total,
        window_totals.day = members.eligible_from as is_eligibility_start
    from members
    inner join window_totals
        on window_totals.spec_key = members.spec_key
        and window_totals.customer_key = members.customer_key
        and window_totals.day between members.eligible_from and members.eligible_until
    where window_totals.has_trigger or window_totals.day = members.eligible_from
),

final as (
    select
        candidate_days.scenario_key,
        candidate_days.customer_key,
        candidate_days.day,
        candidate_days.window_total,
        bands.tier_rank as reach_rank
    from candidate_days
    inner join bands
        on bands.scenario_key = candidate_days.scenario_key
        and candidate_days.window_total >= bands.lower_bound
        and candidate_days.window_total < bands.upper_bound
    where bands.tier_rank > 0 or candidate_days.is_eligibility_start
)

select * from final
