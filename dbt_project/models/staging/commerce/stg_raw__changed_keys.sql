-- The keys whose staging rows this build recomputes, per raw table (macros/key_scope.sql,
-- docs/operations.md "Incremental runs"), compared with what the staging tables hold from
-- the last build:
-- * `changed`: a raw row that no staged row came from (new, corrected, moved in its file),
--   or a staged row whose raw row is gone (the hash covers every column and the lineage).
--   Rows are compared in blocks first (8,192 rows of a file, by row number: a count and a
--   sum of hashes each side), then one by one only in the blocks that differ: a day's new
--   parts and the blocks a correction touched, not every row of every file;
-- * `as_of`: a raw row with an instant (order, cancellation, enrolment, …) on or after the
--   day before the last build's as_of: whether it exists yet, or has been cancelled yet,
--   may have changed (a local date is at most a day from its UTC date);
-- * `program`: every row of a program whose time zone changed, that became known or
--   unknown, or whose as_of moved back.
-- The last build's as_of is the latest `staged_as_of` of the program's rows: every row a
-- build recomputes carries its as_of, and rows it keeps carry an earlier one (a wider
-- zone, never a narrower one), because a build whose as_of moves back recomputes them all.
-- A staging table that does not exist yet, or on a full refresh, is rebuilt whole and
-- needs no list; a row `_incremental` names each table that is not. The row `_invocation`
-- says which dbt invocation wrote the list: a staging model refuses a list from another
-- one (built without it, it would miss changes). A row `_unconsumed` says that the last
-- list never reached int_validation_scope (the build stopped between them, or did not
-- select it): the keys it restaged then were never revalidated, so the next validation
-- list asks for everything.
{%- set tables = key_scoped_tables() %}
{%- set staged = {} %}
{%- set previous = namespace(list=none, validation=none) %}
{%- if execute and not flags.FULL_REFRESH %}
    {%- set previous.list = adapter.get_relation(this.database, this.schema, this.identifier) %}
    {%- set previous.validation = built_model_relation('int_validation_scope') %}
    {%- for table in tables %}
        {%- set relation = adapter.get_relation(this.database, this.schema, 'stg_' ~ table) %}
        {%- if relation is not none %}
            {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
            {%- do staged.update({table: {'relation': relation, 'current': 'raw_row_hash' in columns}}) %}
        {%- endif %}
    {%- endfor %}
{%- endif %}

with

programs as (
    select * from {{ ref('stg_programs') }}
),

{%- for table, spec in tables.items() if table in staged %}
{%- set relation = staged[table]['relation'] %}

-- raw_ and staged_ rows are read four times each: recomputed, not stored (at 1M members
-- DuckDB's stored copies took 10 GB and half the query's CPU; docs/benchmarks.md)
raw_{{ table }} as {{ not_materialized() }} (
    select
        program_id,
        {{ spec['id'] }} as row_id,
        {{ raw_row_hash(table, 'raw_rows') }} as row_hash,
        _source_file as source_file,
        {{ row_block('_source_row') }} as source_block,
        {{ spec['instants'] | join(', ') }}
    from {{ source('raw', table) }} as raw_rows
),

{%- if staged[table]['current'] %}

staged_{{ table }} as {{ not_materialized() }} (
    select
        program_id,
        {{ spec['id'] }} as row_id,
        raw_row_hash as row_hash,
        source_file,
        {{ row_block('source_row') }} as source_block,
        staged_as_of,
        staged_timezone
    from {{ relation }}
),

{#- Blocks of rows (a file's rows by row number) whose raw and staged rows differ: a count
    and a sum of row hashes each side. Only their rows are compared one by one. #}
{%- for side in ['raw', 'staged'] %}

{{ side }}_blocks_{{ table }} as (
    select source_file, source_block, count(*) as block_rows, sum(row_hash) as hash_sum
    from {{ side }}_{{ table }}
    group by source_file, source_block
),
{%- endfor %}

changed_blocks_{{ table }} as (
    select
        coalesce(raw_blocks.source_file, staged_blocks.source_file) as source_file,
        coalesce(raw_blocks.source_block, staged_blocks.source_block) as source_block
    from raw_blocks_{{ table }} as raw_blocks
    full outer join staged_blocks_{{ table }} as staged_blocks
        on staged_blocks.source_file is not distinct from raw_blocks.source_file
        and staged_blocks.source_block is not distinct from raw_blocks.source_block
    where raw_blocks.block_rows is distinct from staged_blocks.block_rows
        or raw_blocks.hash_sum is distinct from staged_blocks.hash_sum
),
{%- for side in ['raw', 'staged'] %}

compared_{{ side }}_{{ table }} as (
    select {{ side }}_rows.program_id, {{ side }}_rows.row_id, {{ side }}_rows.row_hash
    from {{ side }}_{{ table }} as {{ side }}_rows
    inner join changed_blocks_{{ table }} as blocks
        on blocks.source_file is not distinct from {{ side }}_rows.source_file
        and blocks.source_block is not distinct from {{ side }}_rows.source_block
),
{%- endfor %}

staged_programs_{{ table }} as (
    select
        program_id,
        max(staged_as_of) as staged_as_of,
        min(staged_timezone) as min_timezone,
        max(staged_timezone) as max_timezone,
        count(staged_timezone) as rows_with_timezone,
        count(*) as staged_rows
    from staged_{{ table }}
    group by program_id
),

whole_programs_{{ table }} as (
    select staged_programs.program_id
    from staged_programs_{{ table }} as staged_programs
    left join programs
        on programs.program_id = staged_programs.program_id
    where staged_programs.min_timezone is distinct from programs.timezone
        or staged_programs.max_timezone is distinct from programs.timezone
        or (programs.timezone is not null and staged_programs.rows_with_timezone < staged_programs.staged_rows)
        or programs.as_of_date < staged_programs.staged_as_of
),

changed_{{ table }} as (
    -- a raw row no staged row came from, or a staged row whose raw row is gone
    select
        coalesce(raw_rows.program_id, staged_rows.program_id) as program_id,
        coalesce(raw_rows.row_id, staged_rows.row_id) as row_id,
        'changed' as reason
    from compared_raw_{{ table }} as raw_rows
    full outer join compared_staged_{{ table }} as staged_rows
        on staged_rows.row_hash = raw_rows.row_hash
        and staged_rows.program_id is not distinct from raw_rows.program_id
        and staged_rows.row_id is not distinct from raw_rows.row_id
    where raw_rows.row_hash is null or staged_rows.row_hash is null

    union all

    select raw_rows.program_id, raw_rows.row_id, 'as_of' as reason
    from raw_{{ table }} as raw_rows
    inner join programs
        on programs.program_id = raw_rows.program_id
    left join staged_programs_{{ table }} as staged_programs
        on staged_programs.program_id = raw_rows.program_id
    where {% for instant in spec['instants'] %}raw_rows.{{ instant }} >= cast(
            coalesce(staged_programs.staged_as_of, programs.as_of_date) - interval 1 day
            as timestamp){% if not loop.last %}
        or {% endif %}{% endfor %}

    union all

    select raw_rows.program_id, raw_rows.row_id, 'program' as reason
    from raw_{{ table }} as raw_rows
    inner join whole_programs_{{ table }} as whole_programs
        on whole_programs.program_id = raw_rows.program_id

    union all

    select staged_rows.program_id, staged_rows.row_id, 'program' as reason
    from staged_{{ table }} as staged_rows
    inner join whole_programs_{{ table }} as whole_programs
        on whole_programs.program_id is not distinct from staged_rows.program_id
),

{%- else %}

{#- a staging table from before these columns existed: every key, once -#}
changed_{{ table }} as (
    select program_id, row_id, 'program' as reason from raw_{{ table }}
    union all
    select program_id, {{ spec['id'] }} as row_id, 'program' as reason from {{ relation }}
),

{%- endif %}
{%- endfor %}

listed as (
    {%- for table in tables if table in staged %}
    select distinct '{{ table }}' as source_table, program_id, row_id from changed_{{ table }}
    union all
    select '_incremental' as source_table, cast(null as {{ dbt.type_string() }}) as program_id,
        '{{ table }}' as row_id
    union all
    {%- endfor %}
    {%- if previous.list is not none and previous.validation is not none %}
    select '_unconsumed' as source_table, cast(null as {{ dbt.type_string() }}) as program_id,
        cast(null as {{ dbt.type_string() }}) as row_id
    from {{ previous.list }} as previous_list
    where previous_list.source_table = '_invocation'
        and not exists (
            select 1 from {{ previous.validation }} as validation
            where validation.scope = '_invocation' and validation.key_id = previous_list.row_id
        )
    union all
    {%- endif %}
    select '_invocation' as source_table, cast(null as {{ dbt.type_string() }}) as program_id,
        '{{ invocation_id }}' as row_id
)

select * from listed
