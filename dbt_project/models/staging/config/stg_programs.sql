-- One row per program stored in `raw.programs` (its last good config). A program is
-- buildable (built by this build) when every program file naming it was valid at the last
-- config load and the build was asked for it (raw.build_parameters.programs, null = all).
with

programs as (
    select
        *,
        {{ as_of_date('timezone') }} as as_of_date
    from {{ source('raw', 'programs') }}
),

config_status as (
    select * from {{ source('raw', 'program_config_status') }}
),

build_parameters as (
    select max(programs) as programs from {{ source('raw', 'build_parameters') }}
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
        programs.as_of_date,
        -- where the staging models' "on or before as_of" filters start (local_date_at_most)
        {{ local_day_end_utc('programs.as_of_date', 'programs.timezone') }} as as_of_ends_at,
        programs.compare_period_modes,
        programs.config_hash,
        coalesce(status_by_program.is_ok, false)
            and (
                build_parameters.programs is null
                or position(',' || programs.program_id || ',' in ',' || build_parameters.programs || ',') > 0
            ) as is_buildable
    from programs
    left join status_by_program
        on status_by_program.program_id = programs.program_id
    cross join build_parameters
)

select * from final
