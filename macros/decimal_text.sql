{#- A decimal as plain text with all its `scale` digits ('0.00000000', '-12.50'), for
    rejection details. DuckDB's cast already does that. Spark's cast can print a decimal in
    Java's scientific notation ('0E-8') when the value is small and the scale above 6;
    format_number never does, and its grouping commas are taken out. -#}
{% macro decimal_text(expression, scale) -%}
    {{ return(adapter.dispatch('decimal_text')(expression, scale)) }}
{%- endmacro %}

{% macro default__decimal_text(expression, scale) -%}
    cast({{ expression }} as {{ dbt.type_string() }})
{%- endmacro %}

{% macro spark__decimal_text(expression, scale) -%}
    replace(format_number({{ expression }}, {{ scale }}), ',', '')
{%- endmacro %}
