-- The members this build recomputes (docs/operations.md "Incremental runs"): compared with
-- the state the last successful build left in `int_build_state`, every member of a
-- buildable program whose engine inputs changed (new, late or corrected rows, enrolment
-- changes, manual assignments now dated on or before as_of), whose next calendar event
-- (a review, an amount leaving the current window, the eligibility start) is now due,
-- who is new, or who is gone. A program is recomputed whole on a full refresh, on its
-- first build, when its config changed, or when as_of moved back.
--
-- `int_build_state` is read as this build's starting point, not as a dependency: it is
-- written at the end of the build, only when every per-member model succeeded.
{%- set previous = none -%}
{%- if execute and not flags.FULL_REFRESH -%}
    {%- set previous = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='int_build_state') -%}
{%- endif %}

with

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

current_members as (
    select * from {{ ref('int_member_fingerprints') }}
),

{%- if previous is not none %}

previous_members as (
    select state.*
    from {{ previous }} as state
    inner join programs
        on programs.program_id = state.program_id
),

previous_programs as (
    select
        program_id,
        max(built_as_of) as built_as_of,
        min(config_hash) as min_config_hash,
        max(config_hash) as max_config_hash
    from previous_members
    group by program_id
),

whole_programs as (
    select programs.program_id
    from programs
    left join previous_programs
        on previous_programs.program_id = programs.program_id
    where previous_programs.program_id is null
        or previous_programs.built_as_of > programs.as_of_date
        or previous_programs.min_config_hash <> programs.config_hash
        or previous_programs.max_config_hash <> programs.config_hash
),

candidates as (
    select current_members.program_id, current_members.customer_id,
        current_members.customer_key, 'program' as reason
    from current_members
    inner join whole_programs
        on whole_programs.program_id = current_members.program_id

    union all

    select previous_members.program_id, previous_members.customer_id,
        previous_members.customer_key, 'program' as reason
    from previous_members
    inner join whole_programs
        on whole_programs.program_id = previous_members.program_id

    union all

    select
        coalesce(current_members.program_id, previous_members.program_id),
        coalesce(current_members.customer_id, previous_members.customer_id),
        coalesce(current_members.customer_key, previous_members.customer_key),
        case
            when previous_members.customer_key is null then 'new_member'
            when current_members.customer_key is null then 'removed'
            when current_members.inputs_fingerprint <> previous_members.inputs_fingerprint
                then 'new_data'
            else 'calendar'
        end as reason
    from current_members
    full outer join previous_members
        on previous_members.customer_key = current_members.customer_key
    inner join programs
        on programs.program_id = coalesce(current_members.program_id, previous_members.program_id)
    where previous_members.customer_key is null
        or current_members.customer_key is null
        or current_members.inputs_fingerprint <> previous_members.inputs_fingerprint
        or previous_members.next_event_date <= programs.as_of_date
),

{%- else %}

candidates as (
    select program_id, customer_id, customer_key, 'program' as reason
    from current_members
),

{%- endif %}

final as (
    -- one row per member; 'program' wins, then data changes, then the calendar
    select
        program_id,
        customer_id,
        customer_key,
        min(case reason
            when 'program' then '1 program'
            when 'new_member' then '2 new_member'
            when 'removed' then '3 removed'
            when 'new_data' then '4 new_data'
            else '5 calendar'
        end) as reason_rank
    from candidates
    group by program_id, customer_id, customer_key
)

select
    program_id,
    customer_id,
    customer_key,
    substr(reason_rank, 3) as reason
from final
