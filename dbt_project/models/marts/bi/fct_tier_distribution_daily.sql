-- Members holding each tier on each local day, per program and scenario (interfaces §4),
-- from the program's first tier day to as_of. Every tier of the scenario has a row every
-- day, zero included, so each series is contiguous and a day's rows add up to the members
-- holding a tier that day (eligible members: tier-rules §2).
--
-- Set-based, cost in runs + days × tiers (never runs × days): each history run adds 1 to its
-- tier on valid_from and takes 1 away on valid_to (exclusive end: the next change, or the
-- unenrolment date); a running sum of those daily deltas over a date spine gives the count.
with

programs as (
    select program_id, as_of_date from {{ ref('stg_programs') }}
    where is_buildable
),

history as (
    select history.*
    from {{ ref('fct_tier_history') }} as history
    inner join programs
        on programs.program_id = history.program_id
),

tiers as (
    select tiers.program_id, tiers.scenario_id, tiers.tier_code, tiers.tier_name, tiers.tier_rank
    from {{ ref('dim_program_tiers') }} as tiers
    inner join programs
        on programs.program_id = tiers.program_id
),

spans as (
    -- one day range per program, shared by its scenarios (they have the same members)
    select
        programs.program_id,
        min(history.valid_from) as first_date,
        programs.as_of_date as last_date
    from history
    inner join programs
        on programs.program_id = history.program_id
    group by programs.program_id, programs.as_of_date
),

run_edges as (
    select program_id, scenario_id, tier_code, valid_from as edge_date, 1 as delta
    from history
    union all
    select history.program_id, history.scenario_id, history.tier_code, history.valid_to, -1
    from history
    inner join spans
        on spans.program_id = history.program_id
    where history.valid_to is not null
        and history.valid_to <= spans.last_date
),

daily_deltas as (
    select program_id, scenario_id, tier_code, edge_date, sum(delta) as delta
    from run_edges
    group by program_id, scenario_id, tier_code, edge_date
),

days as (
    select
        spans.program_id,
        cast(spine_day as date) as calendar_date
    from spans
    {{ expand_days('spans.first_date', 'spans.last_date', 'spine_day') }}
),

grid as (
    select
        days.program_id,
        tiers.scenario_id,
        days.calendar_date,
        tiers.tier_code,
        tiers.tier_name,
        tiers.tier_rank
    from days
    inner join tiers
        on tiers.program_id = days.program_id
),

final as (
    select
        grid.program_id,
        grid.scenario_id,
        grid.calendar_date,
        grid.tier_code,
        grid.tier_name,
        cast(grid.tier_rank as integer) as tier_rank,
        cast(sum(coalesce(daily_deltas.delta, 0)) over (
            partition by grid.program_id, grid.scenario_id, grid.tier_code
            order by grid.calendar_date
            rows between unbounded preceding and current row
        ) as bigint) as members
    from grid
    left join daily_deltas
        on daily_deltas.program_id = grid.program_id
        and daily_deltas.scenario_id = grid.scenario_id
        and daily_deltas.tier_code = grid.tier_code
        and daily_deltas.edge_date = grid.calendar_date
)

select * from final
