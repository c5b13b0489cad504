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

-- the four totals of a member's day, grouped by the integer member key: the qualifying
-- specs are those of the program's live milestone, so one member is one program, milestone
-- and customer (grouping by those strings made the model half as slow again at 200k
-- members, docs/benchmarks.md)
daily_totals as (
    select
        window_totals.customer_key,
        window_totals.day,
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
    group by window_totals.customer_key, window_totals.day
),

program_milestones as (
    select distinct program_id, milestone from specs
),

final as (
    select
        customers.program_id,
        program_milestones.milestone,
        customers.customer_id,
        daily_totals.day as activity_date,
        daily_totals.lifetime_total,
        daily_totals.calendar_year_total,
        daily_totals.rolling_365_days_total,
        daily_totals.rolling_12_months_total
    from daily_totals
    inner join customers
        on customers.customer_key = daily_totals.customer_key
    inner join program_milestones
        on program_milestones.program_id = customers.program_id
)

select * from final
