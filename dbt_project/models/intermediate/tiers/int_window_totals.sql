{{ config(
    materialized='incremental',
    incremental_strategy='member_scope',
    unique_key='customer_key',
    on_schema_change='sync_all_columns'
) }}
-- (on_schema_change: the column `has_reduction`, which warehouses built before 2026-12-08 have,
-- is dropped on the first build.)
-- Q(e, W(e)) for each spec, member and evaluation day e (tier-rules §3): every day on which
-- a contribution becomes known, and the member's eligibility start.
--
-- Set-based, cost in events: Q(e) = A(e) - B0(e) - B1(e) where
--   A(e)  = everything known by e (running sum over the member's days),
--   B0(e) = contributions known when attributed, attributed before the window start L(e)
--           (the same kind of running sum, read on the member's last day before L(e)),
--   B1(e) = the few late-known ones (refunds, cancellations, reversals) attributed before
--           L(e) and known by e (a small join).
-- L(e) = max(S, window start on e) is never before the spec's counting start S, so the sums
-- run over every contribution of the set, also those before S; on a day before S the window
-- is empty (L(e) > e) and Q is 0.
with

-- Specs that differ only in their window kind or counting start form one contribution set
-- (int_window_specs set_key): the running sums are computed once per set and member; each
-- spec then reads them with its own window start. (The bundled samples have 13 specs in 4
-- sets: the window sorts less than a third of the rows it sorted per spec,
-- docs/benchmarks.md.)
specs as (
    select distinct spec_key, set_key, program_id, window_kind, counting_start_date
    from {{ ref('int_window_specs') }}
),

sets as (
    select distinct set_key, program_id from specs
),

set_contributions as (
    select * from {{ scoped_ref('int_set_contributions') }}
),

-- read from the table again rather than from set_contributions: a CTE used twice is
-- materialised by DuckDB (a copy of every contribution), and this filter keeps few rows
late_contributions as (
    select * from {{ scoped_ref('int_set_contributions') }}
    where not is_known_when_attributed
),

members as (
    select * from {{ scoped_ref('int_customers__eligibility') }}
    where is_eligible_member
),

-- One row per contribution of each set and per eligibility start (the member's first
-- evaluation day).
activity_rows as (
    select
        set_key,
        customer_key,
        known_date as day,
        true as has_activity,
        coalesce(is_trigger, false) as has_trigger,
        amount as known_amount,
        case when is_known_when_attributed then amount else 0 end as immediate_amount
    from set_contributions

    union all

    select
        sets.set_key,
        members.customer_key,
        members.eligible_from as day,
        false as has_activity,
        false as has_trigger,
        0 as known_amount,
        0 as immediate_amount
    from members
    inner join sets
        on sets.program_id = members.program_id
),

-- The member's days and running sums in one sort, no aggregation first: a day's totals are
-- those of its last row (range frames take in a row's same-day peers), and the first row
-- of each day is kept. Grouping the rows by day first cost as much as this window again
-- (docs/benchmarks.md); sums are kept in decimal(18, 2).
running_rows as (
    select
        set_key,
        customer_key,
        day,
        bool_or(has_activity) over same_day as has_activity,
        bool_or(has_trigger) over same_day as has_trigger,
        cast(sum(known_amount) over through_day as decimal(18, 2)) as known_by_day,
        cast(sum(immediate_amount) over through_day as decimal(18, 2)) as immediate_through_day,
        lag(day) over member_rows as previous_row_day
    from activity_rows
    window
        member_rows as (partition by set_key, customer_key order by day),
        same_day as (
            partition by set_key, customer_key order by day
            range between current row and current row
        ),
        through_day as (
            partition by set_key, customer_key order by day
            range between unbounded preceding and current row
        )
),

running_days as (
    select
        set_key,
        customer_key,
        day,
        has_activity,
        has_trigger,
        known_by_day,
        immediate_through_day
    from running_rows
    where previous_row_day is null or previous_row_day <> day
),

-- each spec of the set on each of those days, with its window start on that day. A trigger
-- (a positive order or points entry) is known on the day it is attributed to, so the day
-- has a trigger counted by the spec when it has one and is not before the spec's S.
spec_days as (
    select
        specs.spec_key,
        running_days.set_key,
        running_days.customer_key,
        running_days.day,
        running_days.has_activity,
        running_days.has_trigger and running_days.day >= specs.counting_start_date
            as has_trigger,
        running_days.known_by_day,
        running_days.immediate_through_day,
        greatest(
            specs.counting_start_date,
            coalesce({{ window_start('specs.window_kind', 'running_days.day') }},
                specs.counting_start_date)
        ) as window_from
    from running_days
    inner join specs
        on specs.set_key = running_days.set_key
),

before_window as (
    select
        spec_days.*,
        coalesce(previous_day.immediate_through_day, 0) as immediate_before_window
    from spec_days
    {{ join_latest_before('running_days', 'previous_day', 'spec_days',
        ['set_key', 'customer_key'], 'day', 'spec_days.window_from') }}
),

late_before_window as (
    select
        spec_days.spec_key,
        spec_days.customer_key,
        spec_days.day,
        sum(late_contributions.amount) as late_before_window
    from spec_days
    inner join late_contributions
        on late_contributions.set_key = spec_days.set_key
        and late_contributions.customer_key = spec_days.customer_key
        and late_contributions.attribution_date < spec_days.window_from
        and late_contributions.known_date <= spec_days.day
    group by spec_days.spec_key, spec_days.customer_key, spec_days.day
),

final as (
    select
        before_window.spec_key,
        before_window.customer_key,
        before_window.day,
        before_window.window_from,
        before_window.has_activity,
        before_window.has_trigger,
        cast(case
            when before_window.window_from > before_window.day then 0
            else before_window.known_by_day
                - before_window.immediate_before_window
                - coalesce(late_before_window.late_before_window, 0)
        end as decimal(18, 2)) as window_total
    from before_window
    left join late_before_window
        on late_before_window.spec_key = before_window.spec_key
        and late_before_window.customer_key = before_window.customer_key
        and late_before_window.day = before_window.day
)

select * from final
