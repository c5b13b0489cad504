{#- Calendar month arithmetic clamped to month end (29 Feb 2024 - 12 months = 28 Feb 2023). -#}
{% macro add_months(day, months) -%}
    {{ return(adapter.dispatch('add_months', 'vip_tiers')(day, months)) }}
{%- endmacro %}

{% macro default__add_months(day, months) -%}
    cast({{ day }} + to_months({{ months }}) as date)
{%- endmacro %}

{% macro spark__add_months(day, months) -%}
    add_months({{ day }}, {{ months }})
{%- endmacro %}
