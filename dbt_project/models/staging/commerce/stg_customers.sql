{{ config(
    materialized='incremental',
    incremental_strategy='key_scope',
    raw_table='customers',
    on_schema_change='append_new_columns'
) }}
-- Loyalty customers, typed, with local enrolment dates (tier-rules §1, §2) and the
-- single-table checks (docs/raw-data.md). `rejection_reason` is null for accepted rows.
-- An enrolment or unenrolment dated after the program's as_of has not happened yet (null):
-- a customer enrolled after as_of is a pending member in this build.
{%- set required_columns = ['program_id', 'customer_id'] -%}
{%- set content_columns = ['email', 'first_name', 'last_name', 'birthday', 'raw_enrolled_at', 'raw_unenrolled_at'] -%}
{%- set key = 'program_id, customer_id, basic_rejection' %}

with

{{ marked_raw_rows_ctes(key_scoped_source('customers'), ['program_id', 'customer_id']) }}

programs as (
    select * from {{ ref('stg_programs') }}
),

renamed as {{ not_materialized() }} (
    select
        -- keys
        program_id,
        customer_id,

        -- profile
        email,
        first_name,
        last_name,
        cast(birthday as date) as birthday,

        -- instants (UTC)
        enrolled_at as raw_enrolled_at,
        unenrolled_at as raw_unenrolled_at,

        may_repeat_key,

        -- lineage
        _source_file as source_file,
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row,
        {{ raw_row_hash('customers', 'source') }} as raw_row_hash
    from source
),

localized as {{ not_materialized() }} (
    select
        renamed.*,
        programs.program_id is not null as is_known_program,
        programs.as_of_date,
        programs.timezone as program_timezone,
        {{ to_local_date('renamed.raw_enrolled_at', 'programs.timezone') }} as raw_enrolled_date,
        {{ to_local_date('renamed.raw_unenrolled_at', 'programs.timezone') }} as raw_unenrolled_date
    from renamed
    left join programs
        on programs.program_id = renamed.program_id
),

checked as {{ not_materialized() }} (
    select
        *,
        case
            when {{ any_missing(required_columns) }} then 'missing_required_value'
            when not is_known_program then 'unknown_program'
        end as basic_rejection
    from localized
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
        customer_id,
        email,
        first_name,
        last_name,
        birthday,
        case when raw_enrolled_date <= as_of_date then raw_enrolled_at end as enrolled_at,
        case when raw_enrolled_date <= as_of_date then raw_enrolled_date end as enrolled_date,
        case when raw_unenrolled_date <= as_of_date then raw_unenrolled_at end as unenrolled_at,
        case when raw_unenrolled_date <= as_of_date then raw_unenrolled_date end as unenrolled_date,
        is_known_program,
        rejection_reason,
        case rejection_reason
            when 'missing_required_value' then {{ missing_required_detail(required_columns) }}
            when 'unknown_program' then 'program_id ' || program_id || ' is not a configured program'
            when 'duplicate_key_conflict' then 'customer_id ' || customer_id || ' appears '
                || cast(key_rows as {{ dbt.type_string() }}) || ' times with different contents'
            when 'exact_duplicate' then {{ exact_duplicate_detail() }}
        end as rejection_detail,
        source_file,
        source_row,
        -- what stg_raw__changed_keys compares with the next build's raw rows
        raw_row_hash,
        as_of_date as staged_as_of,
        program_timezone as staged_timezone
    from judged
)

select * from final
