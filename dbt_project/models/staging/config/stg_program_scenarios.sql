-- One row per resolved scenario of a buildable program: live, mode_*, custom (resolved in
-- Python, docs/data-model.md), with its window kind and counting start (tier-rules §3).
with

scenarios as (
    select * from {{ source('raw', 'program_scenarios') }}
),

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

typed as (
    select
        cast(program_id as {{ dbt.type_string() }}) as program_id,
        cast(scenario_id as {{ dbt.type_string() }}) as scenario_id,
        cast(scenario_kind as {{ dbt.type_string() }}) as scenario_kind,
        cast(scenario_order as integer) as scenario_order,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(is_live as boolean) as is_live,
        cast(milestone as {{ dbt.type_string() }}) as milestone,
        cast(period as {{ dbt.type_string() }}) as period,
        case when period = 'rolling' then cast(rolling_window as {{ dbt.type_string() }}) end as rolling_window,
        cast(refunds as {{ dbt.type_string() }}) as refunds
    from scenarios
),

final as (
    select
        typed.program_id,
        typed.scenario_id,
        typed.scenario_kind,
        typed.scenario_order,
        typed.description,
        typed.is_live,
        typed.scenario_kind = 'custom' as is_custom,
        typed.milestone,
        typed.period,
        typed.rolling_window,
        typed.refunds,
        case when typed.milestone = 'points' then 'points' else programs.currency end
            as threshold_unit,
        case
            when typed.period = 'rolling' then 'rolling_' || typed.rolling_window
            else typed.period
        end as window_kind,
        {{ counting_start_date(
            "case when typed.period = 'rolling' then 'rolling_' || typed.rolling_window"
            ~ " else typed.period end",
            'programs.counting_start_date', 'programs.launch_date') }} as counting_start_date
    from typed
    inner join programs
        on programs.program_id = typed.program_id
)

select * from final
