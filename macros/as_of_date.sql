{#- The build date for a program: var('as_of') when given, else the as_of of
    raw.build_parameters (written before each build), else yesterday in the program's time
    zone `tz` (tier-rules §1). -#}
{% macro as_of_date(tz) -%}
    {{ return(adapter.dispatch('as_of_date', 'vip_tiers')(tz)) }}
{%- endmacro %}

{% macro default__as_of_date(tz) -%}
    {%- if var('as_of', none) -%}
    cast('{{ var("as_of") }}' as date)
    {%- else -%}
    coalesce(
        (select max(as_of) from {{ source('raw', 'build_parameters') }}),
        cast(timezone({{ tz }}, now()) as date) - 1)
    {%- endif -%}
{%- endmacro %}

{% macro spark__as_of_date(tz) -%}
    {%- if var('as_of', none) -%}
    cast('{{ var("as_of") }}' as date)
    {%- else -%}
    coalesce(
        (select max(as_of) from {{ source('raw', 'build_parameters') }}),
        date_sub(to_date(from_utc_timestamp(current_timestamp(), {{ tz }})), 1))
    {%- endif -%}
{%- endmacro %}
