-- One row per program scenario: the settings it evaluates tiers with. Incremental by
-- program_id (see _config__marts.yml): an invalid program keeps its last good rows.
with

scenarios as (
    select * from {{ ref('stg_program_scenarios') }}
),

programs as (
    select * from {{ ref('stg_programs') }}
),

tiers as (
    select * from {{ ref('stg_program_tiers') }}
),

activities as (
    select * from {{ ref('stg_program_activities') }}
),

tier_counts as (
    select
        program_id,
        scenario_id,
        count(*) as tier_count
    from tiers
    group by program_id, scenario_id
),

activity_lists as (
    select
        program_id,
        scenario_id,
        {{ sorted_string_agg('activity', "','") }} as qualifying_activities
    from activities
    group by program_id, scenario_id
),

final as (
    select
        scenarios.program_id,
        scenarios.scenario_id,
        scenarios.scenario_kind,
        scenarios.scenario_order,
        scenarios.description,
        scenarios.is_live,
        scenarios.is_custom,
        scenarios.milestone,
        scenarios.period,
        scenarios.rolling_window,
        scenarios.refunds,
        scenarios.window_kind,
        scenarios.counting_start_date,
        activity_lists.qualifying_activities,
        scenarios.threshold_unit,
        cast(tier_counts.tier_count as integer) as tier_count,
        programs.config_hash
    from scenarios
    inner join programs
        on programs.program_id = scenarios.program_id
    left join tier_counts
        on tier_counts.program_id = scenarios.program_id
        and tier_counts.scenario_id = scenarios.scenario_id
    left join activity_lists
        on activity_lists.program_id = scenarios.program_id
        and activity_lists.scenario_id = scenarios.scenario_id
)

select * from final
