{{ config(incremental_strategy='member_scope', unique_key=['program_id', 'customer_id']) }}
-- Per program, milestone, customer and day with activity: the qualifying total of each
-- period mode as known that day (interfaces §4), with the program's live milestone and
-- qualifying activities. The same totals drive the tier engine.
with

specs as (
    select * from {{ ref('int_window_specs') }}
    where used_by = 'qualifying_windows'
),

window_totals as (
    select * from {{ scoped_ref('int_window_totals') }}
    where has_activity
),

customers as (
    select * from {{ ref('int_customers__eligibility') }}
),

final as (
    select
        specs.program_id,
        specs.milestone,
        customers.customer_id,
        window_totals.day as activity_date,
        max(case when specs.window_kind = 'lifetime' then window_totals.window_total end)
            as lifetime_total,
        max(case when specs.window_kind = 'calendar_year' then window_totals.window_total end)
            as calendar_year_total,
        max(case when specs.window_kind = 'rolling_365_days' then window_totals.window_total end)
            as rolling_365_days_total,
        max(case when specs.window_kind = 'rolling_12_months' then window_totals.window_total end)
            as rolling_12_months_total
    from window_totals
    inner join specs
        on specs.spec_key = window_totals.spec_key
    inner join customers
        on customers.customer_key = window_totals.customer_key
    group by specs.program_id, specs.milestone, customers.customer_id, window_totals.day
)

select * from final
