{#- The values of `key_columns` that occur on more than one row of `relation` (nulls compare
    equal) and on how many rows (`copies`), for the duplicate flags of staging and the grain
    tests. Repeated keys are rare and the keys are often text: DuckDB first groups one 64-bit
    hash of the key per row, which is cheaper than grouping the columns themselves, and
    groups the columns only on the rows whose hash repeats (a hash collision only adds a
    candidate that the second grouping drops). Spark inlines CTEs, so a second pass over a
    staging CTE would compute it again; there the columns are grouped once. -#}
{% macro repeated_keys(relation, key_columns) -%}
    {{ return(adapter.dispatch('repeated_keys', 'vip_tiers')(relation, key_columns)) }}
{%- endmacro %}

{% macro default__repeated_keys(relation, key_columns) -%}
    {%- set columns = key_columns | join(', ') -%}
    select {{ columns }}, count(*) as copies
    from {{ relation }}
    where hash({{ columns }}) in (
        select hash({{ columns }}) as key_hash
        from {{ relation }}
        group by key_hash
        having count(*) > 1
    )
    group by {{ columns }}
    having count(*) > 1
{%- endmacro %}

{% macro spark__repeated_keys(relation, key_columns) -%}
    {%- set columns = key_columns | join(', ') -%}
    select {{ columns }}, count(*) as copies
    from {{ relation }}
    group by {{ columns }}
    having count(*) > 1
{%- endmacro %}
