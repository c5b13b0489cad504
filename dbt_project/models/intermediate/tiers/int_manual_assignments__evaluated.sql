-- Manual tier assignments judged per scenario (tier-rules §6, §9): rejected when the tier
-- code is not one of the scenario's tiers or the customer is not an eligible member that
-- day; of the valid ones on one day the last (assigned_at, then assignment_id) is applied.
with

assignments as (
    select * from {{ ref('stg_manual_tier_assignments') }}
    where rejection_reason is null
),

scenarios as (
    select * from {{ ref('int_tier_scenarios') }}
),

tiers as (
    select * from {{ ref('int_tier_bands') }}
),

members as (
    select * from {{ ref('int_tier_members') }}
),

customers as (
    select * from {{ ref('int_customers__eligibility') }}
),

judged as (
    select
        scenarios.scenario_key,
        scenarios.program_id,
        scenarios.scenario_id,
        assignments.assignment_id,
        assignments.customer_id,
        customers.customer_key,
        assignments.tier_code,
        tiers.tier_rank,
        assignments.assigned_at,
        assignments.assigned_date,
        case
            when tiers.tier_rank is null then 'unknown_tier'
            when customers.customer_key is null then 'unknown_customer'
            when members.customer_key is null then 'not_eligible'
        end as rejection_reason
    from assignments
    inner join scenarios
        on scenarios.program_id = assignments.program_id
    left join tiers
        on tiers.scenario_key = scenarios.scenario_key
        and tiers.tier_code = assignments.tier_code
    left join customers
        on customers.program_id = assignments.program_id
        and customers.customer_id = assignments.customer_id
    left join members
        on members.scenario_key = scenarios.scenario_key
        and members.customer_key = customers.customer_key
        and assignments.assigned_date between members.eligible_from and members.eligible_until
),

ranked as (
    select
        judged.*,
        case when rejection_reason is null then row_number() over (
            partition by scenario_key, customer_key, assigned_date, rejection_reason is null
            order by assigned_at desc, assignment_id desc
        ) end as rank_in_day
    from judged
),

final as (
    select
        scenario_key,
        program_id,
        scenario_id,
        assignment_id,
        customer_id,
        customer_key,
        tier_code,
        tier_rank,
        assigned_at,
        assigned_date,
        case
            when rejection_reason is not null then 'rejected'
            when rank_in_day = 1 then 'applied'
            else 'superseded'
        end as status,
        rejection_reason
    from ranked
)

select * from final
