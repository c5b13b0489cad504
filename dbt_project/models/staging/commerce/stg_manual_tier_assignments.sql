-- Manual tier assignments, typed, with local assignment dates (tier-rules §1, §6) and the
-- single-table checks (docs/raw-data.md). Whether the tier exists and the customer is
-- eligible is judged per scenario by the tier engine. Assignments dated after the program's
-- as_of do not exist.
{%- set required_columns = ['program_id', 'assignment_id', 'customer_id', 'tier_code', 'assigned_at'] -%}
{%- set content_columns = ['customer_id', 'tier_code', 'assigned_at', 'reason', 'assigned_by'] -%}
{%- set key = 'program_id, assignment_id, basic_rejection' %}

with

{{ marked_raw_rows_ctes(source('raw', 'manual_tier_assignments'),
    ['program_id', 'assignment_id']) }}

programs as (
    select * from {{ ref('stg_programs') }}
),

renamed as {{ not_materialized() }} (
    select
        -- keys
        program_id,
        assignment_id,
        customer_id,

        -- assignment
        tier_code,
        reason,
        assigned_by,

        -- instants (UTC)
        assigned_at,

        may_repeat_key,

        -- lineage
        _source_file as source_file,
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row
    from source
),

localized as {{ not_materialized() }} (
    select
        renamed.*,
        programs.program_id is not null as is_known_program,
        programs.as_of_date,
        programs.as_of_ends_at,
        {{ to_local_date('renamed.assigned_at', 'programs.timezone') }} as assigned_date
    from renamed
    left join programs
        on programs.program_id = renamed.program_id
),

-- as_of (tier-rules §9): an assignment dated after the program's as-of date does not exist
in_scope as {{ not_materialized() }} (
    select * from localized
    where not is_known_program
        or {{ local_date_at_most('assigned_at', 'assigned_date', 'as_of_date', 'as_of_ends_at') }}
),

checked as {{ not_materialized() }} (
    select
        *,
        case
            when {{ any_missing(required_columns) }} then 'missing_required_value'
            when not is_known_program then 'unknown_program'
        end as basic_rejection
    from in_scope
),

duplicates as (
    {{ flag_duplicates('checked', key, content_columns) }}
),

judged as (
    select
        *,
        case
            when basic_rejection is not null then basic_rejection
            when has_key_conflict then 'duplicate_key_conflict'
            when copy_number > 1 then 'exact_duplicate'
        end as rejection_reason
    from duplicates
),

final as (
    select
        program_id,
        assignment_id,
        customer_id,
        tier_code,
        reason,
        assigned_by,
        assigned_at,
        assigned_date,
        is_known_program,
        rejection_reason,
        case rejection_reason
            when 'missing_required_value' then {{ missing_required_detail(required_columns) }}
            when 'unknown_program' then 'program_id ' || program_id || ' is not a configured program'
            when 'duplicate_key_conflict' then 'assignment_id ' || assignment_id || ' appears '
                || cast(key_rows as {{ dbt.type_string() }}) || ' times with different contents'
            when 'exact_duplicate' then {{ exact_duplicate_detail() }}
        end as rejection_detail,
        source_file,
        source_row
    from judged
)

select * from final
