-- Every accepted customer of a buildable program, with a stable integer key and, for enrolled
-- members, the eligibility window (tier-rules §2): E = max(launch, enrolment date) through
-- the day before unenrolment, capped at as_of.
with

customers as (
    select * from {{ ref('stg_customers') }}
    where rejection_reason is null
),

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

bounded as (
    select
        customers.program_id,
        customers.customer_id,
        customers.enrolled_date,
        customers.unenrolled_date,
        programs.as_of_date,
        greatest(programs.launch_date, customers.enrolled_date) as eligible_from,
        least(
            coalesce(cast(customers.unenrolled_date - 1 as date), programs.as_of_date),
            programs.as_of_date
        ) as eligible_until
    from customers
    inner join programs
        on programs.program_id = customers.program_id
),

final as (
    select
        {{ stable_key(['program_id', 'customer_id']) }} as customer_key,
        program_id,
        customer_id,
        enrolled_date,
        unenrolled_date,
        as_of_date,
        eligible_from,
        eligible_until,
        coalesce(enrolled_date is not null and eligible_from <= eligible_until, false)
            as is_eligible_member
    from bounded
)

select * from final
