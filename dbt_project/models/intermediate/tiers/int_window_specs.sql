-- A qualifying window is data, not a copy of a query per mode: each distinct
-- (milestone, window kind, counting start, qualifying activities) of a program is one spec.
-- Scenarios point at their spec; fct_qualifying_windows uses the four kinds of the live
-- milestone. Scenarios sharing a spec share its totals (live and its mode_* twin do).
-- Specs that differ only in their window kind or counting start count the same
-- contributions (each from its own start): they form one contribution set (set_key), whose
-- contributions and running sums are kept once.
with

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

scenarios as (
    select * from {{ ref('stg_program_scenarios') }}
),

activity_sets as (
    select
        program_id,
        scenario_id,
        -- a purchase reversal counts when purchase or purchase_reversal qualifies (§9)
        ',' || {{ sorted_string_agg('activity', "','") }} || ','
            || case when sum(case when activity in ('purchase', 'purchase_reversal') then 1 else 0 end) > 0
                then 'purchase_reversal,' else '' end as activities_key
    from {{ ref('stg_program_activities') }}
    group by program_id, scenario_id
),

scenario_windows as (
    select
        scenarios.program_id,
        scenarios.scenario_id,
        'scenario' as used_by,
        scenarios.milestone,
        scenarios.window_kind,
        case when scenarios.milestone = 'points' then activity_sets.activities_key else '' end
            as activities_key
    from scenarios
    left join activity_sets
        on activity_sets.program_id = scenarios.program_id
        and activity_sets.scenario_id = scenarios.scenario_id
),

qualifying_windows as (
    select
        live.program_id,
        cast(null as {{ dbt.type_string() }}) as scenario_id,
        'qualifying_windows' as used_by,
        live.milestone,
        kinds.window_kind,
        live.activities_key
    from scenario_windows as live
    cross join (
        values ('lifetime'), ('calendar_year'), ('rolling_365_days'), ('rolling_12_months')
    ) as kinds (window_kind)
    where live.scenario_id = 'live'
),

all_windows as (
    select * from scenario_windows
    union all
    select * from qualifying_windows
),

with_counting_start as (
    select
        all_windows.*,
        programs.as_of_date,
        {{ counting_start_date('all_windows.window_kind', 'programs.counting_start_date',
            'programs.launch_date') }} as counting_start_date
    from all_windows
    inner join programs
        on programs.program_id = all_windows.program_id
),

final as (
    select
        {{ stable_key(['program_id', 'milestone', 'window_kind', 'counting_start_date',
            'activities_key']) }} as spec_key,
        {{ stable_key(['program_id', 'milestone', 'activities_key']) }} as set_key,
        program_id,
        scenario_id,
        used_by,
        milestone,
        window_kind,
        counting_start_date,
        activities_key,
        as_of_date
    from with_counting_start
)

select * from final
