-- Per program, scenario, calendar month and tier: members at the start and the end of the
-- month and every movement in between (interfaces §4). For every row
--   opening_members + new_members + upgrades_in + downgrades_in
--     - upgrades_out - downgrades_out - exits = closing_members
-- (tests/dbt/assert_movements_balance.sql).
--
--   opening_members  holding the tier at the end of the day before the month starts
--   closing_members  holding the tier at the end of the month's last day (as_of for the
--                    current month, see month_end_date)
--   new_members      first tier of a member (the initial assignment), on the eligibility day
--   upgrades_in/out  changes to a higher rank into / out of the tier
--   downgrades_in/out changes to a lower rank (review, refund, manual) into / out of the tier
--   exits            members whose last run ends in the month: unenrolment
-- Every change counts, so a member who goes silver -> gold -> silver within one month is
-- one upgrade out of and one downgrade into silver, and one upgrade into and one downgrade
-- out of gold. Stocks come from fct_tier_distribution_daily, flows from fct_tier_movements
-- (changes and exits): the identity checks that the two agree.
with

programs as (
    select program_id, as_of_date from {{ ref('stg_programs') }}
    where is_buildable
),

distribution as (
    select distribution.*
    from {{ ref('fct_tier_distribution_daily') }} as distribution
    inner join programs
        on programs.program_id = distribution.program_id
),

movements as (
    select movements.*
    from {{ ref('fct_tier_movements') }} as movements
    inner join programs
        on programs.program_id = movements.program_id
),

tiers as (
    select distinct program_id, scenario_id, tier_code, tier_name, tier_rank
    from distribution
),

months as (
    select distinct
        distribution.program_id,
        cast(date_trunc('month', distribution.calendar_date) as date) as month_start_date,
        programs.as_of_date
    from distribution
    inner join programs
        on programs.program_id = distribution.program_id
),

month_bounds as (
    select
        program_id,
        month_start_date,
        least(cast(last_day(month_start_date) as date), as_of_date) as month_end_date,
        cast(last_day(month_start_date) as date) <= as_of_date as is_complete_month
    from months
),

flows as (
    select
        program_id, scenario_id, to_tier_code as tier_code,
        cast(date_trunc('month', movement_date) as date) as month_start_date,
        case movement_kind
            when 'new' then 'new_members'
            when 'upgrade' then 'upgrades_in'
            else 'downgrades_in'
        end as flow
    from movements
    where movement_kind <> 'exit'
    union all
    select
        program_id, scenario_id, from_tier_code,
        cast(date_trunc('month', movement_date) as date),
        case movement_kind
            when 'upgrade' then 'upgrades_out'
            when 'downgrade' then 'downgrades_out'
            else 'exits'
        end
    from movements
    where movement_kind <> 'new'
),

flow_counts as (
    select
        program_id,
        scenario_id,
        tier_code,
        month_start_date,
        count(*) filter (where flow = 'new_members') as new_members,
        count(*) filter (where flow = 'upgrades_in') as upgrades_in,
        count(*) filter (where flow = 'downgrades_in') as downgrades_in,
        count(*) filter (where flow = 'upgrades_out') as upgrades_out,
        count(*) filter (where flow = 'downgrades_out') as downgrades_out,
        count(*) filter (where flow = 'exits') as exits
    from flows
    group by program_id, scenario_id, tier_code, month_start_date
),

grid as (
    select
        month_bounds.program_id,
        tiers.scenario_id,
        month_bounds.month_start_date,
        month_bounds.month_end_date,
        month_bounds.is_complete_month,
        tiers.tier_code,
        tiers.tier_name,
        tiers.tier_rank
    from month_bounds
    inner join tiers
        on tiers.program_id = month_bounds.program_id
),

final as (
    select
        grid.program_id,
        grid.scenario_id,
        grid.month_start_date,
        grid.month_end_date,
        grid.is_complete_month,
        grid.tier_code,
        grid.tier_name,
        grid.tier_rank,
        cast(coalesce(opening.members, 0) as bigint) as opening_members,
        cast(coalesce(flow_counts.upgrades_in, 0) as bigint) as upgrades_in,
        cast(coalesce(flow_counts.downgrades_in, 0) as bigint) as downgrades_in,
        cast(coalesce(flow_counts.new_members, 0) as bigint) as new_members,
        cast(coalesce(flow_counts.upgrades_out, 0) as bigint) as upgrades_out,
        cast(coalesce(flow_counts.downgrades_out, 0) as bigint) as downgrades_out,
        cast(coalesce(flow_counts.exits, 0) as bigint) as exits,
        cast(coalesce(closing.members, 0) as bigint) as closing_members,
        cast(coalesce(flow_counts.downgrades_out, 0) + coalesce(flow_counts.exits, 0) as bigint)
            as churned_members,
        cast(case when coalesce(opening.members, 0) > 0 then
            (coalesce(flow_counts.downgrades_out, 0) + coalesce(flow_counts.exits, 0))
            / opening.members
        end as decimal(9, 4)) as churn_rate
    from grid
    left join distribution as opening
        on opening.program_id = grid.program_id
        and opening.scenario_id = grid.scenario_id
        and opening.tier_code = grid.tier_code
        and opening.calendar_date = cast(grid.month_start_date - 1 as date)
    left join distribution as closing
        on closing.program_id = grid.program_id
        and closing.scenario_id = grid.scenario_id
        and closing.tier_code = grid.tier_code
        and closing.calendar_date = grid.month_end_date
    left join flow_counts
        on flow_counts.program_id = grid.program_id
        and flow_counts.scenario_id = grid.scenario_id
        and flow_counts.tier_code = grid.tier_code
        and flow_counts.month_start_date = grid.month_start_date
)

select * from final
