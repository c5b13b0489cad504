{#- The days a build fills in fct_customer_tier_daily, as SQL over a `programs` row of
    stg_programs: vars daily_from / daily_to, else those of raw.build_parameters (a Dagster
    partition range, a backfill), else the program's as_of; never after as_of, never
    before launch. -#}
{% macro daily_partition_from(programs='programs') -%}
    greatest(
        {%- if var('daily_from', none) %} cast('{{ var("daily_from") }}' as date)
        {%- else %} coalesce((select max(daily_from) from {{ source('raw', 'build_parameters') }}),
            {{ programs }}.as_of_date){% endif %}, {{ programs }}.launch_date)
{%- endmacro %}

{% macro daily_partition_to(programs='programs') -%}
    least(
        {%- if var('daily_to', none) %} cast('{{ var("daily_to") }}' as date)
        {%- else %} coalesce((select max(daily_to) from {{ source('raw', 'build_parameters') }}),
            {{ programs }}.as_of_date){% endif %}, {{ programs }}.as_of_date)
{%- endmacro %}

{#- For the member_scope strategy (config also_replace): target rows on a requested day. -#}
{% macro daily_partitions_replaced(target) -%}
    exists (
        select 1 from {{ ref('stg_programs') }} as programs
        where programs.is_buildable
            and programs.program_id = {{ target }}.program_id
            and {{ target }}.tier_date between {{ daily_partition_from() }} and {{ daily_partition_to() }}
    )
{%- endmacro %}
