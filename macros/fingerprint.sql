{#- An order-independent aggregate fingerprint of a set of rows: the sum of a 64-bit hash of
    `columns` per row. Compared only with the fingerprint of an earlier build on the same
    engine, so the hash need not be stable across engine versions (a new version only
    makes the next build recompute every member once). -#}
{% macro fingerprint(columns) -%}
    {{ return(adapter.dispatch('fingerprint', 'vip_tiers')(columns)) }}
{%- endmacro %}

{% macro default__fingerprint(columns) -%}
    cast(coalesce(sum(cast(hash({{ columns | join(', ') }}) as hugeint)), 0) as hugeint)
{%- endmacro %}

{% macro spark__fingerprint(columns) -%}
    cast(coalesce(sum(cast(xxhash64({{ columns | join(', ') }}) as decimal(38, 0))), 0) as decimal(38, 0))
{%- endmacro %}

{#- One hash of a few scalar values (a row's own fingerprint). -#}
{% macro row_hash(columns) -%}
    {{ return(adapter.dispatch('row_hash', 'vip_tiers')(columns)) }}
{%- endmacro %}

{% macro default__row_hash(columns) -%}
    cast(hash({{ columns | join(', ') }}) as hugeint)
{%- endmacro %}

{% macro spark__row_hash(columns) -%}
    cast(xxhash64({{ columns | join(', ') }}) as decimal(38, 0))
{%- endmacro %}
