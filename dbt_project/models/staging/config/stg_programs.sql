-- One row per program stored in `raw.programs` (its last good config). A program is
-- buildable only when every program file naming it was valid at the last config load.
with

programs as (
    select * from {{ source('raw', 'programs') }}
),

config_status as (
    select * from {{ source('raw', 'program_config_status') }}
),

status_by_program as (
    select
        program_id,
        bool_and(status = 'ok') as is_ok
    from config_status
    where program_id is not null
    group by program_id
),

final as (
    select
        programs.program_id,
        programs.name as program_name,
        programs.currency,
        programs.timezone,
        programs.start_date,
        programs.back_date,
        programs.launch_date,
        coalesce(programs.back_date, programs.start_date) as counting_start_date,
        {{ as_of_date('programs.timezone') }} as as_of_date,
        programs.compare_period_modes,
        programs.config_hash,
        coalesce(status_by_program.is_ok, false) as is_buildable
    from programs
    left join status_by_program
        on status_by_program.program_id = programs.program_id
)

select * from final
