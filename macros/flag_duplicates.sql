{#- The rows of `relation` with their duplicate flags (interfaces §1): key_rows (rows
    sharing the key), has_key_conflict (those rows differ in row_content), copy_number
    (1 for the copy kept) and the first copy's source_file / source_row.
    Repeated keys are rare, so the ordered window functions run only on their rows; every
    other row gets the trivial values. `key` is a comma-separated column list (nulls
    compare equal); `content_columns` are compared as one text (row_content) and order the
    copies after source_file and source_row. That text is built only for the rows of
    repeated keys, not for every staged row (docs/benchmarks.md). -#}
{% macro flag_duplicates(relation, key, content_columns) -%}
    {%- set key_columns = key.split(',') | map('trim') | list -%}
    {%- set content = row_content(content_columns) -%}
    {%- set copy_order = 'source_file, source_row, ' ~ content -%}
    {%- set matches_repeated_key -%}
        exists (
            select 1 from repeated_keys
            where {% for column in key_columns %}repeated_keys.{{ column }} is not distinct from flagged_rows.{{ column }}{% if not loop.last %}
                and {% endif %}{% endfor %}
        )
    {%- endset -%}
    select * from (
        with repeated_keys as (
            {{ repeated_keys(relation, key_columns) | indent(12) }}
        )

        select
            flagged_rows.*,
            1 as key_rows,
            false as has_key_conflict,
            1 as copy_number,
            flagged_rows.source_file as first_source_file,
            flagged_rows.source_row as first_source_row
        from {{ relation }} as flagged_rows
        where not {{ matches_repeated_key }}

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
        where {{ matches_repeated_key }}
    ) as flagged
{%- endmacro %}
