-- One row per program scenario with what the tier state machine needs: an integer key,
-- its window spec and its refund policy.
with

scenarios as (
    select * from {{ ref('stg_program_scenarios') }}
),

specs as (
    select * from {{ ref('int_window_specs') }}
    where used_by = 'scenario'
),

final as (
    select
        {{ stable_key(['scenarios.program_id', 'scenarios.scenario_id']) }} as scenario_key,
        scenarios.program_id,
        scenarios.scenario_id,
        specs.spec_key,
        specs.milestone,
        specs.window_kind,
        specs.counting_start_date,
        specs.as_of_date,
        scenarios.refunds as refunds_policy
    from scenarios
    inner join specs
        on specs.program_id = scenarios.program_id
        and specs.scenario_id = scenarios.scenario_id
)

select * from final
