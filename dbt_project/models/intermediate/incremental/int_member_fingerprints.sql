-- One fingerprint per customer of a buildable program over everything of theirs the tier
-- engine reads, as of this build: enrolment dates, every contribution (orders, refunds,
-- cancellations, points, FX-converted amounts, as validated) and the accepted manual
-- assignments. A member whose fingerprint is unchanged since the last build has exactly
-- the inputs that build had (docs/operations.md "Incremental runs").
with

customers as (
    select * from {{ ref('int_customers__eligibility') }}
),

contributions as (
    select * from {{ ref('int_contributions') }}
),

assignments as (
    select * from {{ ref('stg_manual_tier_assignments') }}
    where rejection_reason is null
),

contribution_prints as (
    select
        customer_key,
        count(*) as contribution_count,
        {{ fingerprint(['milestone', 'source_table', 'source_id', 'activity',
            'attribution_date', 'known_date', 'amount']) }} as contribution_print
    from contributions
    group by customer_key
),

assignment_prints as (
    select
        program_id,
        customer_id,
        count(*) as assignment_count,
        {{ fingerprint(['assignment_id', 'tier_code', 'assigned_at', 'assigned_date']) }}
            as assignment_print
    from assignments
    group by program_id, customer_id
),

final as (
    select
        customers.program_id,
        customers.customer_id,
        customers.customer_key,
        coalesce(contribution_prints.contribution_count, 0) as contribution_count,
        {{ row_hash([
            'customers.enrolled_date', 'customers.unenrolled_date',
            'coalesce(contribution_prints.contribution_count, 0)',
            'coalesce(contribution_prints.contribution_print, 0)',
            'coalesce(assignment_prints.assignment_count, 0)',
            'coalesce(assignment_prints.assignment_print, 0)']) }} as inputs_fingerprint
    from customers
    left join contribution_prints
        on contribution_prints.customer_key = customers.customer_key
    left join assignment_prints
        on assignment_prints.program_id = customers.program_id
        and assignment_prints.customer_id = customers.customer_id
)

select * from final
