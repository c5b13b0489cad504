{#- The values of `key_columns` that occur on more than one row of `relation` (nulls compare
    equal) and on how many rows (`copies`), for the grain tests (the staging models mark
    their repeated raw keys with repeated_key_hashes, macros/flag_duplicates.sql). Repeated
    keys are rare and the keys are often text: DuckDB first groups one 64-bit hash of the
    key per row, which is cheaper than grouping the columns themselves, and groups the
    columns only on the rows whose hash repeats (a hash collision only adds a candidate
    that the second grouping drops). Spark reads the relation again for a second pass;
    there the columns are grouped once. -#}
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
