{#- Key-scoped incremental staging (docs/operations.md "Incremental runs").

    The raw tables are snapshots: each load replaces them whole, so a daily run sees every
    row again. A staging row depends only on the raw rows sharing its key (the duplicate
    checks), on its program's time zone and on its as_of (rows dated after it do not exist,
    a cancellation or unenrolment dated after it has not happened). So a staging model
    configured with
        materialized='incremental', incremental_strategy='key_scope',
        raw_table=<raw table name>, unique_key=['program_id', <id column>]
    recomputes, on an incremental run, only the keys listed for its table in
    `stg_raw__changed_keys`, and the strategy replaces exactly those keys' rows: delete
    every staged row of a listed key (also when none is left in raw), then append the new
    ones. The model reads raw through `key_scoped_source` and stores, per row, what the
    comparison needs: `raw_row_hash` (macro `raw_row_hash`), `staged_as_of` and
    `staged_timezone`. -#}

{#- The raw columns of each key-scoped table, as the loader writes them (lineage included:
    two copies of a row differ by file and row). -#}
{% macro key_scoped_tables() -%}
    {{ return({
        'customers': {
            'id': 'customer_id',
            'columns': ['program_id', 'customer_id', 'email', 'first_name', 'last_name',
                        'birthday', 'enrolled_at', 'unenrolled_at'],
            'instants': ['enrolled_at', 'unenrolled_at']},
        'orders': {
            'id': 'order_id',
            'columns': ['program_id', 'order_id', 'customer_id', 'ordered_at', 'currency',
                        'total_amount', 'cancelled_at'],
            'instants': ['ordered_at', 'cancelled_at']},
        'refunds': {
            'id': 'refund_id',
            'columns': ['program_id', 'refund_id', 'order_id', 'refunded_at', 'amount'],
            'instants': ['refunded_at']},
        'points_ledger': {
            'id': 'entry_id',
            'columns': ['program_id', 'entry_id', 'customer_id', 'occurred_at', 'activity',
                        'points', 'order_id'],
            'instants': ['occurred_at']},
    }) }}
{%- endmacro %}

{#- A hash of one raw row of `table` (every column and its lineage), read from `alias`. -#}
{% macro raw_row_hash(table, alias) -%}
    {%- set spec = key_scoped_tables()[table] -%}
    hash({% for column in spec['columns'] + ['_source_file', '_source_row'] %}{{ alias }}.{{ column }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- The block of rows a raw row belongs to within its file (by row number):
    stg_raw__changed_keys compares raw and staged rows block by block first, and row by row
    only inside the blocks that differ. -#}
{% macro row_block(source_row) -%}
    cast(floor({{ source_row }} / 8192.0) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- The raw table `table`, or on an incremental run only its rows whose key is listed in
    stg_raw__changed_keys. Always refs the list, so that dbt knows the dependency. -#}
{% macro key_scoped_source(table) -%}
    {%- set changed = ref('stg_raw__changed_keys') -%}
    {%- set relation = source('raw', table) -%}
    {%- if member_scope_active() -%}
    {%- set listed = run_query(
        "select count(*) from " ~ changed ~ " where source_table = '_invocation' and row_id = '"
        ~ invocation_id ~ "'") -%}
    {%- if listed.columns[0].values()[0] | int != 1 -%}
        {% do exceptions.raise_compiler_error(
            this.identifier ~ " is built incrementally from the list of changed raw keys, but "
            ~ changed ~ " was not built by this dbt invocation: build it together "
            ~ "(dbt build -s stg_raw__changed_keys+) or use --full-refresh") %}
    {%- endif -%}
    (
        select raw_rows.* from {{ relation }} as raw_rows
        where exists (
            select 1 from {{ changed }} as changed
            where changed.source_table = '{{ table }}'
                and changed.program_id is not distinct from raw_rows.program_id
                and changed.row_id is not distinct from raw_rows.{{ key_scoped_tables()[table]['id'] }}
        )
    )
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- The dbt custom incremental strategy 'key_scope'. -#}
{% macro get_incremental_key_scope_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set table = config.require('raw_table') -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} as target
    where exists (
        select 1 from {{ ref('stg_raw__changed_keys') }} as changed
        where changed.source_table = '{{ table }}'
            and changed.program_id is not distinct from target.program_id
            and changed.row_id is not distinct from target.{{ key_scoped_tables()[table]['id'] }}
    );

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
