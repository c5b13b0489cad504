-- fct_tier_distribution_daily: on every day and in every scenario, the members over all
-- tiers equal the members eligible that day (every eligible member holds exactly one tier,
-- tier-rules §2), counted independently of the tier history from the eligibility windows
-- [eligible_from, eligible_until]; and no count is negative. Cost in members + days.
-- Programs not built by this run (invalid config) keep their last rows and are skipped.
with

programs as (
    select program_id from {{ ref('stg_programs') }}
    where is_buildable
),

distribution as (
    select distribution.*
    from {{ ref('fct_tier_distribution_daily') }} as distribution
    inner join programs
        on programs.program_id = distribution.program_id
),

members as (
    select * from {{ ref('int_customers__eligibility') }}
    where is_eligible_member
),

eligibility_edges as (
    select program_id, eligible_from as edge_date, 1 as delta from members
    union all
    select program_id, cast(eligible_until + 1 as date), -1 from members
),

days as (
    select program_id, calendar_date as edge_date, 0 as delta from distribution
    union all
    select program_id, edge_date, delta from eligibility_edges
),

eligible as (
    select
        program_id,
        edge_date as calendar_date,
        sum(sum(delta)) over (
            partition by program_id order by edge_date
            rows between unbounded preceding and current row
        ) as eligible_members
    from days
    group by program_id, edge_date
),

totals as (
    select
        program_id,
        scenario_id,
        calendar_date,
        sum(members) as tier_members,
        min(members) as smallest_count
    from distribution
    group by program_id, scenario_id, calendar_date
)

select
    totals.program_id,
    totals.scenario_id,
    totals.calendar_date,
    totals.tier_members,
    eligible.eligible_members,
    totals.smallest_count
from totals
left join eligible
    on eligible.program_id = totals.program_id
    and eligible.calendar_date = totals.calendar_date
where totals.tier_members <> coalesce(eligible.eligible_members, 0)
    or totals.smallest_count < 0
