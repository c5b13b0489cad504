-- What became of each manual tier assignment in each scenario: applied, superseded by a
-- later one the same day, or rejected with a reason (tier-rules §6, §9). Rejections are
-- reported here, never silently applied.
with

evaluated as (
    select * from {{ ref('int_manual_assignments__evaluated') }}
),

final as (
    select
        program_id,
        scenario_id,
        assignment_id,
        customer_id,
        tier_code,
        assigned_at,
        assigned_date,
        status,
        rejection_reason
    from evaluated
)

select * from final
