-- FX rates, typed, with the single-table checks (docs/raw-data.md): 1 unit of `currency`
-- = `rate` units of `quote_currency` on `rate_date`. Rates belong to no program and are not
-- cut at as_of: an order only ever uses a rate dated on or before its own (local) date.
{%- set required_columns = ['currency', 'quote_currency', 'rate_date', 'rate'] -%}
{%- set content_columns = ['rate'] -%}
{%- set key = 'currency, quote_currency, rate_date, basic_rejection' %}

with

{{ marked_raw_rows_ctes(source('raw', 'fx_rates'),
    ['upper(currency)', 'upper(quote_currency)', 'cast(rate_date as date)']) }}

renamed as {{ not_materialized() }} (
    select
        -- keys
        upper(currency) as currency,
        upper(quote_currency) as quote_currency,
        cast(rate_date as date) as rate_date,

        -- rate
        cast(rate as decimal(18, 8)) as rate,

        may_repeat_key,

        -- lineage
        _source_file as source_file,
        cast(_source_row as {{ dbt.type_bigint() }}) as source_row
    from source
),

checked as {{ not_materialized() }} (
    select
        *,
        case
            when {{ any_missing(required_columns) }} then 'missing_required_value'
        end as basic_rejection
    from renamed
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
            when rate <= 0 then 'non_positive_rate'
        end as rejection_reason
    from duplicates
),

final as (
    select
        currency,
        quote_currency,
        rate_date,
        rate,
        rejection_reason,
        case rejection_reason
            when 'missing_required_value' then {{ missing_required_detail(required_columns) }}
            when 'duplicate_key_conflict' then currency || '→' || quote_currency || ' on '
                || cast(rate_date as {{ dbt.type_string() }}) || ' appears '
                || cast(key_rows as {{ dbt.type_string() }}) || ' times with different rates'
            when 'exact_duplicate' then {{ exact_duplicate_detail() }}
            when 'non_positive_rate' then 'rate '
                || {{ decimal_text("rate", 8) }} || ' is not positive'
        end as rejection_detail,
        source_file,
        source_row
    from judged
)

select * from final
