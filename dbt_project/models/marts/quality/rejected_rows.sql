-- One row per rejected source row (interfaces §1): rows the loader could not type
-- (raw.load_rejections) and rows a staging or validation model rejected, with the table,
-- the row's key, a short reason code, a human explanation and where the row came from.
-- Rejected rows are never counted; accepted rows never appear here.
-- A plain table, not incremental by program: it reports the current raw data, so a fixed
-- row must disappear and fx_rates rows have no program.
{{ config(materialized="table") }}
{%- set staged = [
    ('customers', 'stg_customers', "'customer_id=' || coalesce(customer_id, '(missing)')"),
    ('orders', 'stg_orders', "'order_id=' || coalesce(order_id, '(missing)')"),
    ('refunds', 'stg_refunds', "'refund_id=' || coalesce(refund_id, '(missing)')"),
    ('points_ledger', 'stg_points_ledger', "'entry_id=' || coalesce(entry_id, '(missing)')"),
    ('manual_tier_assignments', 'stg_manual_tier_assignments',
        "'assignment_id=' || coalesce(assignment_id, '(missing)')"),
    ('refunds', 'int_refunds__validated', "'refund_id=' || refund_id"),
] %}

with

load_rejections as (
    select * from {{ source('raw', 'load_rejections') }}
),

{% for source_table, model, row_key in staged %}
{{ model }} as (
    select
        program_id,
        '{{ source_table }}' as source_table,
        {{ row_key }} as row_key,
        rejection_reason as reason,
        rejection_detail as reason_detail,
        source_file,
        source_row
    from {{ ref(model) }}
    where rejection_reason is not null
),
{% endfor %}

fx_rates as (
    select
        cast(null as {{ dbt.type_string() }}) as program_id,
        'fx_rates' as source_table,
        'currency=' || coalesce(currency, '(missing)')
            || ',quote_currency=' || coalesce(quote_currency, '(missing)')
            || ',rate_date=' || coalesce(cast(rate_date as {{ dbt.type_string() }}), '(missing)')
            as row_key,
        rejection_reason as reason,
        rejection_detail as reason_detail,
        source_file,
        source_row
    from {{ ref('stg_fx_rates') }}
    where rejection_reason is not null
),

-- the loader's reason text starts with its first problem: `missing required <column>`
-- or `unparseable <column>: '<value>'`
loaded as (
    select
        program_id,
        source_table,
        row_key,
        case
            when reason like 'missing required%' then 'missing_required_value'
            else 'unparseable_value'
        end as reason,
        reason as reason_detail,
        _source_file as source_file,
        _source_row as source_row
    from load_rejections
),

unioned as (
    select * from loaded
    {% for _, model, _ in staged %}
    union all
    select * from {{ model }}
    {% endfor %}
    union all
    select * from fx_rates
),

final as (
    select
        cast(program_id as {{ dbt.type_string() }}) as program_id,
        cast(source_table as {{ dbt.type_string() }}) as source_table,
        cast(row_key as {{ dbt.type_string() }}) as row_key,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(reason_detail as {{ dbt.type_string() }}) as reason_detail,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(source_row as {{ dbt.type_bigint() }}) as source_row
    from unioned
)

select * from final
