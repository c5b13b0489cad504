{#- The rows of `relation` with their duplicate flags (interfaces §1): key_rows (rows
    sharing the key), has_key_conflict (those rows differ in row_content), copy_number
    (1 for the copy kept) and the first copy's source_file / source_row.
    Repeated keys are rare, so the ordered window functions run only on the rows that
    `relation` marks `may_repeat_key` (macro marked_raw_rows_ctes, computed where the raw
    rows are read); every other row gets the trivial values. `key` is a comma-separated
    column list (nulls compare equal); `content_columns` are compared as one text
    (row_content) and order the copies after source_file and source_row. That text is built
    only for the rows of repeated keys, not for every staged row (docs/benchmarks.md).
    `relation` is read twice: in DuckDB it and the CTEs it reads must be declared
    {{ not_materialized() }}, so that each read keeps only its rows where the raw rows are
    read, rather than DuckDB storing every staged row first (docs/benchmarks.md). -#}
{% macro flag_duplicates(relation, key, content_columns) -%}
    {%- set content = row_content(content_columns) -%}
    {%- set copy_order = 'source_file, source_row, ' ~ content -%}
    select
        flagged_rows.*,
        1 as key_rows,
        false as has_key_conflict,
        1 as copy_number,
        flagged_rows.source_file as first_source_file,
        flagged_rows.source_row as first_source_row
    from {{ relation }} as flagged_rows
    where not flagged_rows.may_repeat_key

    union all

    select
        flagged_rows.*,
        count(*) over (partition by {{ key }}) as key_rows,
        min({{ content }}) over (partition by {{ key }})
            <> max({{ content }}) over (partition by {{ key }}) as has_key_conflict,
        row_number() over (partition by {{ key }} order by {{ copy_order }}) as copy_number,
        first_value(source_file) over (partition by {{ key }} order by {{ copy_order }})
            as first_source_file,
        first_value(source_row) over (partition by {{ key }} order by {{ copy_order }})
            as first_source_row
    from {{ relation }} as flagged_rows
    where flagged_rows.may_repeat_key
{%- endmacro %}

{#- The first two CTEs of a staging model: `repeated_raw_keys`, the key hashes that more
    than one raw row has (repeated_key_hashes of `key_expressions`), and `source`, every
    raw row of `relation` with `may_repeat_key` (its key hash is one of them), which
    flag_duplicates splits on. `source` is declared not materialized, like the CTEs
    between it and flag_duplicates. -#}
{% macro marked_raw_rows_ctes(relation, key_expressions) -%}
-- the raw keys that more than one row has (flag_duplicates)
repeated_raw_keys as (
    {{ repeated_key_hashes(relation, key_expressions) | indent(4) }}
),

-- every raw row, marked when its key may repeat
source as {{ not_materialized() }} (
    select
        raw_rows.*,
        {{ key_hash_sql(key_expressions) }} in (select key_hash from repeated_raw_keys)
            as may_repeat_key
    from {{ relation }} as raw_rows
),
{%- endmacro %}
