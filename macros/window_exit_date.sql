{#- A day on or before the first day on which an amount attributed on `day` is no longer in
    the qualifying window of kind `kind` (tier-rules §4): the calendar's next change to a
    current total. Null for lifetime (never leaves). Never later than the true exit day,
    so an incremental build that waits for it never misses a change. -#}
{% macro window_exit_date(kind, day) -%}
    {{ return(adapter.dispatch('window_exit_date', 'vip_tiers')(kind, day)) }}
{%- endmacro %}

{% macro default__window_exit_date(kind, day) -%}
    case {{ kind }}
        when 'calendar_year' then make_date(year({{ day }}) + 1, 1, 1)
        when 'rolling_365_days' then cast({{ day }} + 365 as date)
        when 'rolling_12_months' then {{ add_months(day, 12) }}
    end
{%- endmacro %}

{% macro spark__window_exit_date(kind, day) -%}
    case {{ kind }}
        when 'calendar_year' then make_date(year({{ day }}) + 1, 1, 1)
        when 'rolling_365_days' then date_add({{ day }}, 365)
        when 'rolling_12_months' then {{ add_months(day, 12) }}
    end
{%- endmacro %}
