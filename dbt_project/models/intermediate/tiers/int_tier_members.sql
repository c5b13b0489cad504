-- Eligible members × scenarios of their program. The tier state machine runs on the rows
-- whose scenario is its own engine scenario (int_tier_scenarios).
with

members as (
    select * from {{ ref('int_customers__eligibility') }}
    where is_eligible_member
),

scenarios as (
    select * from {{ ref('int_tier_scenarios') }}
),

final as (
    select
        scenarios.scenario_key,
        scenarios.engine_scenario_key,
        members.customer_key,
        scenarios.program_id,
        scenarios.scenario_id,
        members.customer_id,
        scenarios.spec_key,
        scenarios.set_key,
        scenarios.window_kind,
        scenarios.counting_start_date,
        scenarios.refunds_policy,
        members.eligible_from,
        members.eligible_until,
        members.unenrolled_date,
        members.as_of_date
    from members
    inner join scenarios
        on scenarios.program_id = members.program_id
)

select * from final
