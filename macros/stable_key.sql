{#- A bigint key from the values of `columns` that is the same on every build (the first 60
    bits of their md5), so rows kept by an incremental build still join to new ones. -#}
{% macro stable_key(columns) -%}
    {{ return(adapter.dispatch('stable_key', 'vip_tiers')(columns)) }}
{%- endmacro %}

{% macro default__stable_key(columns) -%}
    cast(('0x' || substr({{ change_id(columns) }}, 1, 15)) as bigint)
{%- endmacro %}

{% macro spark__stable_key(columns) -%}
    cast(conv(substr({{ change_id(columns) }}, 1, 15), 16, 10) as bigint)
{%- endmacro %}
