{#- Shared pieces of the staging row checks (docs/raw-data.md). -#}

{#- True when any of `columns` is null (a required value is missing). -#}
{% macro any_missing(columns) -%}
    ({% for column in columns %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %})
{%- endmacro %}

{#- The row's contents as one comparable string: rows sharing a key conflict when it differs. -#}
{% macro row_content(columns) -%}
    concat_ws('|'{% for column in columns %},
        coalesce(cast({{ column }} as {{ dbt.type_string() }}), '~'){% endfor %})
{%- endmacro %}

{#- Reason detail for a missing required value: which of `columns` are empty. -#}
{% macro missing_required_detail(columns) -%}
    'missing required value in ' || concat_ws(', '
        {%- for column in columns %},
        case when {{ column }} is null then '{{ column }}' end{% endfor %})
{%- endmacro %}

{#- Reason detail for an exact duplicate: where the copy that was kept came from. -#}
{% macro exact_duplicate_detail() -%}
    'exact copy of ' || coalesce(first_source_file, '?')
        || ' row ' || coalesce(cast(first_source_row as {{ dbt.type_string() }}), '?')
{%- endmacro %}
