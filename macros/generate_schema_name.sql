{#- Custom schemas are used as named (staging, intermediate, reference), not prefixed with
    the target schema: BI tools read marts from the target schema, the rest stays apart. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
