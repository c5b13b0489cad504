-- One row per tier of each program scenario, base tier rank 0. Incremental by program_id
-- (see _config__marts.yml): an invalid program keeps its last good rows.
with

tiers as (
    select * from {{ ref('stg_program_tiers') }}
),

scenarios as (
    select * from {{ ref('stg_program_scenarios') }}
),

final as (
    select
        tiers.program_id,
        tiers.scenario_id,
        tiers.tier_code,
        tiers.tier_name,
        tiers.tier_rank,
        tiers.threshold,
        scenarios.threshold_unit,
        tiers.next_tier_code,
        tiers.next_threshold,
        tiers.tier_rank = 0 as is_base_tier,
        tiers.next_tier_code is null as is_top_tier,
        tiers.entry_bonus_points,
        tiers.birthday_points,
        tiers.points_multiplier,
        tiers.perks
    from tiers
    inner join scenarios
        on scenarios.program_id = tiers.program_id
        and scenarios.scenario_id = tiers.scenario_id
)

select * from final
