-- Q(e, W(e)) for each spec, member and evaluation day e (tier-rules §3): every day on which
-- a contribution becomes known, and the member's eligibility start.
--
-- Set-based, cost in events: Q(e) = A(e) - B0(e) - B1(e) where
--   A(e)  = everything known by e (running sum by known date),
--   B0(e) = contributions known when attributed, attributed before the window start L(e)
--           (running sum by date, read at L(e) - 1),
--   B1(e) = the few late-known ones (refunds, cancellations, reversals) attributed before
--           L(e) and known by e (a small join).
-- Both running sums come from one sorted stream in which the query points sit after the
-- contributions of their own day.
with

specs as (
    select distinct spec_key, program_id, window_kind, counting_start_date
    from {{ ref('int_window_specs') }}
),

all_contributions as (
    select * from {{ ref('int_spec_contributions') }}
),

contributions as (
    select * from all_contributions
    where is_counted
),

members as (
    select * from {{ ref('int_customers__eligibility') }}
    where is_eligible_member
),

activity_days as (
    select
        spec_key,
        customer_key,
        known_date as day,
        true as has_activity,
        max(case when is_trigger and is_counted then 1 else 0 end) = 1 as has_trigger,
        max(case when is_reduction and is_counted then 1 else 0 end) = 1 as has_reduction
    from all_contributions
    group by spec_key, customer_key, known_date
),

eligibility_days as (
    select
        specs.spec_key,
        members.customer_key,
        members.eligible_from as day,
        false as has_activity,
        false as has_trigger,
        false as has_reduction
    from members
    inner join specs
        on specs.program_id = members.program_id
),

evaluation_days as (
    select
        spec_key,
        customer_key,
        day,
        max(case when has_activity then 1 else 0 end) = 1 as has_activity,
        max(case when has_trigger then 1 else 0 end) = 1 as has_trigger,
        max(case when has_reduction then 1 else 0 end) = 1 as has_reduction
    from (
        select * from activity_days
        union all
        select * from eligibility_days
    ) as days
    group by spec_key, customer_key, day
),

windowed_days as (
    select
        evaluation_days.*,
        greatest(
            specs.counting_start_date,
            coalesce({{ window_start('specs.window_kind', 'evaluation_days.day') }},
                specs.counting_start_date)
        ) as window_from
    from evaluation_days
    inner join specs
        on specs.spec_key = evaluation_days.spec_key
),

stream as (
    -- contributions first within a day (sort_order 0), then the query points
    select spec_key, customer_key, known_date as at_date, 0 as sort_order,
        amount, case when is_known_when_attributed then amount else 0 end as immediate_amount,
        cast(null as date) as day, cast(null as varchar) as query_kind
    from contributions
    union all
    select spec_key, customer_key, day, 1, 0, 0, day, 'known_by_day'
    from windowed_days
    union all
    select spec_key, customer_key, cast(window_from - 1 as date), 1, 0, 0, day, 'before_window'
    from windowed_days
),

running as (
    select
        spec_key,
        customer_key,
        day,
        query_kind,
        sum(amount) over running_window as known_total,
        sum(immediate_amount) over running_window as immediate_total
    from stream
    window running_window as (
        partition by spec_key, customer_key
        order by at_date, sort_order
        rows between unbounded preceding and current row
    )
),

read_points as (
    select
        spec_key,
        customer_key,
        day,
        sum(case when query_kind = 'known_by_day' then known_total else 0 end) as known_by_day,
        sum(case when query_kind = 'before_window' then immediate_total else 0 end)
            as immediate_before_window
    from running
    where query_kind is not null
    group by spec_key, customer_key, day
),

late_before_window as (
    select
        windowed_days.spec_key,
        windowed_days.customer_key,
        windowed_days.day,
        sum(contributions.amount) as late_before_window
    from windowed_days
    inner join contributions
        on contributions.spec_key = windowed_days.spec_key
        and contributions.customer_key = windowed_days.customer_key
        and not contributions.is_known_when_attributed
        and contributions.attribution_date < windowed_days.window_from
        and contributions.known_date <= windowed_days.day
    group by windowed_days.spec_key, windowed_days.customer_key, windowed_days.day
),

final as (
    select
        windowed_days.spec_key,
        windowed_days.customer_key,
        windowed_days.day,
        windowed_days.window_from,
        windowed_days.has_activity,
        windowed_days.has_trigger,
        windowed_days.has_reduction,
        cast(
            read_points.known_by_day
            - read_points.immediate_before_window
            - coalesce(late_before_window.late_before_window, 0)
            as decimal(18, 2)
        ) as window_total
    from windowed_days
    inner join read_points
        on read_points.spec_key = windowed_days.spec_key
        and read_points.customer_key = windowed_days.customer_key
        and read_points.day = windowed_days.day
    left join late_before_window
        on late_before_window.spec_key = windowed_days.spec_key
        and late_before_window.customer_key = windowed_days.customer_key
        and late_before_window.day = windowed_days.day
)

select * from final
