{#- A deterministic id from the values of `columns` (nulls and separators kept apart so
    ('a', null) and (null, 'a') differ): same change, same id, on every rebuild. -#}
{% macro change_id(columns) -%}
    {{ return(adapter.dispatch('change_id', 'vip_tiers')(columns)) }}
{%- endmacro %}

{% macro default__change_id(columns) -%}
    md5(concat_ws('|'
    {%- for column in columns %},
        coalesce(cast({{ column }} as varchar), '<null>')
    {%- endfor %}
    ))
{%- endmacro %}

{% macro spark__change_id(columns) -%}
    md5(concat_ws('|'
    {%- for column in columns %},
        coalesce(cast({{ column }} as string), '<null>')
    {%- endfor %}
    ))
{%- endmacro %}
