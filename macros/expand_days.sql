{#- A join clause giving one row per day from `start_day` to `end_day` (inclusive) as
    column `day_alias`: series generation differs by adapter. -#}
{% macro expand_days(start_day, end_day, day_alias) -%}
    {{ return(adapter.dispatch('expand_days', 'vip_tiers')(start_day, end_day, day_alias)) }}
{%- endmacro %}

{% macro default__expand_days(start_day, end_day, day_alias) -%}
    cross join unnest(generate_series({{ start_day }}, {{ end_day }}, interval 1 day)) as days_series({{ day_alias }})
{%- endmacro %}

{% macro spark__expand_days(start_day, end_day, day_alias) -%}
    lateral view explode(sequence({{ start_day }}, {{ end_day }}, interval 1 day)) days_series as {{ day_alias }}
{%- endmacro %}
