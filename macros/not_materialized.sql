{#- `name as {{ not_materialized() }} (…)`: a CTE that the query reads several times is
    recomputed where it is read instead of being stored. DuckDB stores such a CTE whole
    before the first read; over a big table that copy costs more than reading the table
    again, since each reader then keeps only what it needs (columns, filters, joins pushed
    into the scan). Spark has no such keyword and inlines CTEs anyway. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'vip_tiers')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}
    {{ return('') }}
{%- endmacro %}

{% macro duckdb__not_materialized() -%}
    {{ return('not materialized') }}
{%- endmacro %}
