-- One row per program scenario with what the tier state machine needs: an integer key,
-- its window spec and its refund policy, and the scenario the state machine actually runs
-- for it (`engine_scenario_key`). Scenarios of a program with the same window spec, refund
-- policy and tier ladder (codes, ranks, thresholds) have the same states: live and the
-- mode_* scenario of its own period always do. The state machine runs once for them, for
-- the first of them in scenario order; int_tier_current, fct_tier_history and
-- int_tier_changes read those states for each of them.
with

scenarios as (
    select * from {{ ref('stg_program_scenarios') }}
),

specs as (
    select * from {{ ref('int_window_specs') }}
    where used_by = 'scenario'
),

ladders as (
    select
        program_id,
        scenario_id,
        {{ sorted_string_agg(
            "cast(tier_rank as " ~ dbt.type_string() ~ ") || ':' || tier_code || ':'"
            ~ " || coalesce(cast(threshold as " ~ dbt.type_string() ~ "), '')",
            "'|'") }} as ladder
    from {{ ref('stg_program_tiers') }}
    group by program_id, scenario_id
),

keyed as (
    select
        {{ stable_key(['scenarios.program_id', 'scenarios.scenario_id']) }} as scenario_key,
        scenarios.program_id,
        scenarios.scenario_id,
        scenarios.scenario_order,
        specs.spec_key,
        specs.set_key,
        specs.milestone,
        specs.window_kind,
        specs.counting_start_date,
        specs.as_of_date,
        scenarios.refunds as refunds_policy,
        ladders.ladder
    from scenarios
    inner join specs
        on specs.program_id = scenarios.program_id
        and specs.scenario_id = scenarios.scenario_id
    left join ladders
        on ladders.program_id = scenarios.program_id
        and ladders.scenario_id = scenarios.scenario_id
),

final as (
    select
        scenario_key,
        first_value(scenario_key) over same_rules as engine_scenario_key,
        program_id,
        scenario_id,
        first_value(scenario_id) over same_rules as engine_scenario_id,
        spec_key,
        set_key,
        milestone,
        window_kind,
        counting_start_date,
        as_of_date,
        refunds_policy
    from keyed
    window same_rules as (
        partition by program_id, spec_key, refunds_policy, ladder
        order by scenario_order, scenario_id
    )
)

select * from final
