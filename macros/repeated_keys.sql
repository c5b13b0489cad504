{#- The values of `key_columns` that occur on more than one row of `relation` (nulls compare
    equal) and on how many rows (`copies`), for the grain tests. Repeated keys are rare and
    the keys are often text: DuckDB first finds the 64-bit key hashes that repeat
    (repeated_key_hashes), which is cheaper than grouping the columns themselves, and groups
    the columns only on the rows with such a hash (a hash collision only adds a candidate
    that the second grouping drops). Spark would read the relation twice for that; it
    groups the columns once. -#}
{% macro repeated_keys(relation, key_columns) -%}
    {{ return(adapter.dispatch('repeated_keys', 'vip_tiers')(relation, key_columns)) }}
{%- endmacro %}

{% macro default__repeated_keys(relation, key_columns) -%}
    {%- set columns = key_columns | join(', ') -%}
    select {{ columns }}, count(*) as copies
    from {{ relation }}
    where {{ key_hash_sql(key_columns) }} in (
        {{ repeated_key_hashes(relation, key_columns) | indent(8) }}
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

{#- The hashes of the values of `key_expressions` that more than one row of `relation` has:
    one 64-bit hash per row, cheaper to compare than the key columns. For repeated_keys, and
    for the duplicate flags of the staging models (macros/flag_duplicates.sql): a staging
    model keeps them in a CTE of its own (a few rows, which DuckDB stores once) and marks
    each raw row with `may_repeat_key` (marked_raw_rows_ctes) where it reads it, so that DuckDB
    sends each row to one branch of flag_duplicates before anything else is computed for
    it. There the expressions are read from the raw rows and must be equal whenever the
    staged duplicate key is (the key column itself, or the expression that types it): every
    row whose staged key repeats is marked, and a hash collision only marks more rows, which
    the window of flag_duplicates then finds unique. -#}
{% macro repeated_key_hashes(relation, key_expressions) -%}
    {{ return(adapter.dispatch('repeated_key_hashes', 'vip_tiers')(relation, key_expressions)) }}
{%- endmacro %}

{#- DuckDB sorts the hashes and keeps those equal to the one before: at 1M members this took
    1.5 s where grouping them took 3.3 to 5.5 s (25.7M ledger rows, docs/benchmarks.md). -#}
{% macro default__repeated_key_hashes(relation, key_expressions) -%}
    select distinct key_hash
    from (
        select key_hash, lag(key_hash) over (order by key_hash) as previous_hash
        from (
            select {{ key_hash_sql(key_expressions) }} as key_hash
            from {{ relation }}
        ) as hashed
    ) as sorted_hashes
    where key_hash = previous_hash
{%- endmacro %}

{#- Spark would sort every row in one partition for a window without one: it groups. -#}
{% macro spark__repeated_key_hashes(relation, key_expressions) -%}
    select {{ key_hash_sql(key_expressions) }} as key_hash
    from {{ relation }}
    group by 1
    having count(*) > 1
{%- endmacro %}

{#- A 64-bit hash of the values of `expressions` (nulls hash alike). -#}
{% macro key_hash_sql(expressions) -%}
    {{ return(adapter.dispatch('key_hash_sql', 'vip_tiers')(expressions)) }}
{%- endmacro %}

{% macro default__key_hash_sql(expressions) -%}
    hash({{ expressions | join(', ') }})
{%- endmacro %}

{% macro spark__key_hash_sql(expressions) -%}
    xxhash64({{ expressions | join(', ') }})
{%- endmacro %}
