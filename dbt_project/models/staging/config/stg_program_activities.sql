-- The qualifying points activities of each points scenario of a buildable program
-- (a spend scenario has none).
with

activities as (
    select * from {{ source('raw', 'program_scenario_activities') }}
),

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

final as (
    select
        cast(activities.program_id as {{ dbt.type_string() }}) as program_id,
        cast(activities.scenario_id as {{ dbt.type_string() }}) as scenario_id,
        cast(activities.activity as {{ dbt.type_string() }}) as activity
    from activities
    inner join programs
        on programs.program_id = activities.program_id
)

select * from final
