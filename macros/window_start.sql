{#- First attribution date of the qualifying window on day `day` for a window kind
    (tier-rules §4), before clipping to the counting start. Null for lifetime.
    `kind` is a SQL expression holding lifetime / calendar_year / rolling_365_days /
    rolling_12_months, so one query serves every mode. -#}
{% macro window_start(kind, day) -%}
    {{ return(adapter.dispatch('window_start', 'vip_tiers')(kind, day)) }}
{%- endmacro %}

{% macro default__window_start(kind, day) -%}
    case {{ kind }}
        when 'calendar_year' then make_date(year({{ day }}), 1, 1)
        when 'rolling_365_days' then cast({{ day }} - 364 as date)
        when 'rolling_12_months' then cast({{ add_months(day, -12) }} + 1 as date)
    end
{%- endmacro %}
