-- One row per tier of each scenario of a buildable program, with the tier above it.
with

tiers as (
    select * from {{ source('raw', 'program_scenario_tiers') }}
),

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

typed as (
    select
        cast(program_id as {{ dbt.type_string() }}) as program_id,
        cast(scenario_id as {{ dbt.type_string() }}) as scenario_id,
        cast(tier_code as {{ dbt.type_string() }}) as tier_code,
        cast(tier_name as {{ dbt.type_string() }}) as tier_name,
        cast(tier_rank as integer) as tier_rank,
        cast(threshold as decimal(18, 2)) as threshold,
        cast(entry_bonus_points as bigint) as entry_bonus_points,
        cast(birthday_points as bigint) as birthday_points,
        cast(points_multiplier as decimal(9, 4)) as points_multiplier,
        cast(perks as {{ dbt.type_string() }}) as perks
    from tiers
),

final as (
    select
        typed.program_id,
        typed.scenario_id,
        typed.tier_code,
        typed.tier_name,
        typed.tier_rank,
        typed.threshold,
        lead(typed.tier_code) over scenario_tiers as next_tier_code,
        lead(typed.threshold) over scenario_tiers as next_threshold,
        typed.entry_bonus_points,
        typed.birthday_points,
        typed.points_multiplier,
        typed.perks
    from typed
    inner join programs
        on programs.program_id = typed.program_id
    window scenario_tiers as (
        partition by typed.program_id, typed.scenario_id order by typed.tier_rank
    )
)

select * from final
