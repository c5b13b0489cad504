{#- The values of `column` in a group, sorted, joined with `separator` (a SQL string):
    DuckDB's ordered string_agg; Spark collects, sorts and joins. -#}
{% macro sorted_string_agg(column, separator) -%}
    {{ return(adapter.dispatch('sorted_string_agg', 'vip_tiers')(column, separator)) }}
{%- endmacro %}

{% macro default__sorted_string_agg(column, separator) -%}
    string_agg({{ column }}, {{ separator }} order by {{ column }})
{%- endmacro %}

{% macro spark__sorted_string_agg(column, separator) -%}
    array_join(array_sort(collect_list({{ column }})), {{ separator }})
{%- endmacro %}
