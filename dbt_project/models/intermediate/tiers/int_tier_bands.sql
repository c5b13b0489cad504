-- Each scenario tier as a band of totals [lower, upper): tierOf(x) is an equi-join on the
-- scenario plus a range test. The base band starts at minus infinity: every eligible member
-- holds at least the base tier, even with a negative points total.
with

tiers as (
    select * from {{ ref('stg_program_tiers') }}
),

scenarios as (
    select * from {{ ref('int_tier_scenarios') }}
),

final as (
    select
        scenarios.scenario_key,
        tiers.program_id,
        tiers.scenario_id,
        tiers.tier_code,
        tiers.tier_rank,
        tiers.threshold,
        case when tiers.tier_rank = 0 then cast(-1e15 as decimal(18, 2)) else tiers.threshold end
            as lower_bound,
        coalesce(tiers.next_threshold, cast(1e15 as decimal(18, 2))) as upper_bound,
        tiers.next_tier_code,
        tiers.next_threshold
    from tiers
    inner join scenarios
        on scenarios.program_id = tiers.program_id
        and scenarios.scenario_id = tiers.scenario_id
)

select * from final
