{#- The counting start S of a window kind (tier-rules §3): back date, else start date; in
    calendar-year mode a start from a year before the launch year moves to 1 Jan of it. -#}
{% macro counting_start_date(window_kind, counting_start, launch_date) -%}
    case
        when {{ window_kind }} = 'calendar_year'
            then greatest({{ counting_start }}, make_date(year({{ launch_date }}), 1, 1))
        else {{ counting_start }}
    end
{%- endmacro %}
