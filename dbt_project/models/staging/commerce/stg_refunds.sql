{{ config(
    materialized='incremental',
    incremental_strategy='key_scope',
    raw_table='refunds',
    on_schema_change='append_new_columns'
) }}
-- Refunds, typed, with local refund dates (tier-rules §1) and the single-table checks
-- (docs/raw-data.md). Checks against the refunded order (tier-rules §9 "Refund checks") are
-- in int_refunds__validated. Refunds dated after the program's as_of do not exist.
{%- set required_columns = ['program_id', 'refund_id', 'order_id', 'refunded_at', 'amount'] -%}
{%- set content_columns = ['order_id', 'refunded_at', 'amount'] -%}
{%- set key = 'program_id, refund_id, basic_rejection' %}

with

{{ marked_raw_rows_ctes(key_scoped_source('refunds'), ['program_id', 'refund_id']) }}

programs as (
    select * from {{ ref('stg_programs') }}
),

renamed as {{ not_materialized() }} (
    select
        -- keys
        program_id,
        refund_id,
        order_id,

        -- amounts (in the order's currency)
        cast(amount as decimal(18, 2)) as amount,

        -- instants (UTC)
        refunded_at,

        may_repeat_key,

        -- lineage
        _source_file as source_file,
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row,
        {{ raw_row_hash('refunds', 'source') }} as raw_row_hash
    from source
),

localized as {{ not_materialized() }} (
    select
        renamed.*,
        programs.program_id is not null as is_known_program,
        programs.as_of_date,
        programs.timezone as program_timezone,
        programs.as_of_ends_at,
        {{ to_local_date('renamed.refunded_at', 'programs.timezone') }} as refund_date
    from renamed
    left join programs
        on programs.program_id = renamed.program_id
),

-- as_of (tier-rules §1, §9): a refund dated after the program's as-of date does not exist
in_scope as {{ not_materialized() }} (
    select * from localized
    where not is_known_program
        or {{ local_date_at_most('refunded_at', 'refund_date', 'as_of_date', 'as_of_ends_at') }}
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
            when amount < 0 then 'negative_amount'
        end as rejection_reason
    from duplicates
),

final as (
    select
        program_id,
        refund_id,
        order_id,
        amount,
        refunded_at,
        refund_date,
        is_known_program,
        rejection_reason,
        case rejection_reason
            when 'missing_required_value' then {{ missing_required_detail(required_columns) }}
            when 'unknown_program' then 'program_id ' || program_id || ' is not a configured program'
            when 'duplicate_key_conflict' then 'refund_id ' || refund_id || ' appears '
                || cast(key_rows as {{ dbt.type_string() }}) || ' times with different contents'
            when 'exact_duplicate' then {{ exact_duplicate_detail() }}
            when 'negative_amount' then 'amount '
                || {{ decimal_text("amount", 2) }} || ' is negative'
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
