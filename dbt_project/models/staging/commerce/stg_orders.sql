{{ config(
    materialized='incremental',
    incremental_strategy='key_scope',
    raw_table='orders',
    on_schema_change='append_new_columns'
) }}
-- Orders, typed, with local dates (tier-rules §1) and the single-table checks
-- (docs/raw-data.md). `rejection_reason` is null for accepted rows; rejected rows stay here
-- so that `rejected_rows` can report them. Orders dated after the program's as_of do not
-- exist; a cancellation dated after it has not happened yet.
{%- set required_columns = ['program_id', 'order_id', 'customer_id', 'ordered_at', 'currency', 'total_amount'] -%}
{%- set content_columns = ['customer_id', 'ordered_at', 'currency', 'total_amount', 'raw_cancelled_at'] -%}
{%- set key = 'program_id, order_id, basic_rejection' %}

with

{{ marked_raw_rows_ctes(key_scoped_source('orders'), ['program_id', 'order_id']) }}

programs as (
    select * from {{ ref('stg_programs') }}
),

renamed as {{ not_materialized() }} (
    select
        -- keys
        program_id,
        order_id,
        customer_id,

        -- amounts
        upper(currency) as currency,
        cast(total_amount as decimal(18, 2)) as total_amount,

        -- instants (UTC)
        ordered_at,
        cancelled_at as raw_cancelled_at,

        may_repeat_key,

        -- lineage
        _source_file as source_file,
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row,
        {{ raw_row_hash('orders', 'source') }} as raw_row_hash
    from source
),

localized as {{ not_materialized() }} (
    select
        renamed.*,
        programs.program_id is not null as is_known_program,
        programs.as_of_date,
        programs.timezone as program_timezone,
        programs.as_of_ends_at,
        {{ to_local_date('renamed.ordered_at', 'programs.timezone') }} as order_date,
        {{ to_local_date('renamed.raw_cancelled_at', 'programs.timezone') }} as raw_cancelled_date
    from renamed
    left join programs
        on programs.program_id = renamed.program_id
),

-- as_of (tier-rules §1, §9): an order dated after the program's as-of date does not exist
in_scope as {{ not_materialized() }} (
    select * from localized
    where not is_known_program
        or {{ local_date_at_most('ordered_at', 'order_date', 'as_of_date', 'as_of_ends_at') }}
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
            when total_amount < 0 then 'negative_amount'
            when raw_cancelled_at < ordered_at then 'cancelled_before_ordered'
        end as rejection_reason
    from duplicates
),

final as (
    select
        program_id,
        order_id,
        customer_id,
        currency,
        total_amount,
        ordered_at,
        order_date,
        case when raw_cancelled_date <= as_of_date then raw_cancelled_at end as cancelled_at,
        case when raw_cancelled_date <= as_of_date then raw_cancelled_date end as cancelled_date,
        is_known_program,
        rejection_reason,
        case rejection_reason
            when 'missing_required_value' then {{ missing_required_detail(required_columns) }}
            when 'unknown_program' then 'program_id ' || program_id || ' is not a configured program'
            when 'duplicate_key_conflict' then 'order_id ' || order_id || ' appears '
                || cast(key_rows as {{ dbt.type_string() }}) || ' times with different contents'
            when 'exact_duplicate' then {{ exact_duplicate_detail() }}
            when 'negative_amount' then 'total_amount '
                || {{ decimal_text("total_amount", 2) }} || ' is negative'
            when 'cancelled_before_ordered' then 'cancelled_at '
                || cast(raw_cancelled_at as {{ dbt.type_string() }}) || ' is before ordered_at '
                || cast(ordered_at as {{ dbt.type_string() }})
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
