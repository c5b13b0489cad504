{#- Member batches: a per-member model computed a slice of its members at a time, so that its
    peak memory follows the batch, not the whole membership (docs/benchmarks.md, "At 1M
    members"). int_tier_states needs it on DuckDB: its recursion joins every input to every
    step, and DuckDB keeps those join tables in memory (~3 GB at 200k members, ~15 GB at 1M).

    A model opts in with
        materialized=member_batched_materialization(), incremental_strategy='member_scope',
        unique_key=..., batch_driver='<model counted to size the batches>'
    and filters each per-member input with `{{ member_batch('customer_key') }}`. The
    materialization counts the driver's rows in this build's scope, splits them into
    ceil(rows / var('member_batch_rows')) batches by `customer_key % batches`, and runs the
    model's SQL once per batch into one table; then it finishes as an incremental model does
    (a full build swaps that table in, an incremental one hands it to the member_scope
    strategy). Only DuckDB needs it: Spark spills joins to disk, so there the model stays a
    plain incremental model and member_batch() is `true`. -#}

{#- The materialization a member-batched model uses on this adapter. -#}
{% macro member_batched_materialization() -%}
    {{ return(adapter.dispatch('member_batched_materialization', 'vip_tiers')()) }}
{%- endmacro %}

{% macro default__member_batched_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro duckdb__member_batched_materialization() -%}
    {{ return('member_batched') }}
{%- endmacro %}

{#- The condition keeping one batch of members. It is written for one batch (`% 1 = 0`,
    always true), so the compiled SQL runs as is; the materialization rewrites the marked
    condition for each batch. `true` outside a member_batched build (e.g. dbt unit tests). -#}
{% macro member_batch(column) -%}
    {%- if this is not none and model.config.materialized == 'member_batched' -%}
        ({{ column }}{{ _member_batch_condition(0, 1) }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The marked part of member_batch()'s condition: the key's remainder is `batch`. -#}
{% macro _member_batch_condition(batch, batches) -%}
    {{ return(' % ' ~ batches ~ ' = ' ~ batch ~ ' /* vip:member_batch */') }}
{%- endmacro %}

{#- Whether this build of a member-scoped model computes only the members in scope: the
    table exists, this is not a full refresh, and the model is incremental (plain or
    member-batched). dbt's is_incremental() is false for any other materialization. -#}
{% macro member_scope_active() -%}
    {%- if not execute or this is none -%}{{ return(false) }}{%- endif -%}
    {%- if model.config.materialized not in ['incremental', 'member_batched'] -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.identifier) -%}
    {{ return(relation is not none and relation.type == 'table' and not should_full_refresh()) }}
{%- endmacro %}

{#- How many batches this build runs: the rows of the batch driver in scope, divided by
    var('member_batch_rows') (default 500,000; for int_tier_states, batches of ~400k rows
    ran inside a 1.6 GB limit), rounded up; at least 1. -#}
{% macro member_batch_count(full_refresh_mode) -%}
    {%- set driver = config.require('batch_driver') -%}
    {%- set batch_rows = var('member_batch_rows', 500000) | int -%}
    {%- if batch_rows < 1 -%}
        {% do exceptions.raise_compiler_error(
            "var member_batch_rows must be a positive number of rows, got " ~ batch_rows) %}
    {%- endif -%}
    {%- set source = ref(driver) if full_refresh_mode else scoped_ref(driver) -%}
    {%- set counted = run_query('select count(*) from ' ~ source) -%}
    {%- set rows = counted.columns[0].values()[0] | int -%}
    {{ return([1, ((rows + batch_rows - 1) // batch_rows)] | max) }}
{%- endmacro %}

{#- The model's SQL for batch `batch` of `batches`. -#}
{% macro member_batch_sql(sql, batch, batches) -%}
    {%- set one_batch = _member_batch_condition(0, 1) -%}
    {%- if batches > 1 and one_batch not in sql -%}
        {% do exceptions.raise_compiler_error(
            "Model " ~ this ~ " is member_batched but its SQL has no {{ member_batch(...) }} "
            ~ "filter: each batch would compute every member.") %}
    {%- endif -%}
    {{ return(sql.replace(one_batch, _member_batch_condition(batch, batches))) }}
{%- endmacro %}

{% materialization member_batched, adapter='duckdb' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set full_refresh_mode = existing_relation is none or existing_relation.is_view
        or should_full_refresh() -%}
    {%- set build_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table') -%}
    {{ drop_relation_if_exists(load_cached_relation(build_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set batches = member_batch_count(full_refresh_mode) -%}
    {%- for batch in range(batches) %}
        {%- set batch_sql = member_batch_sql(compiled_code, batch, batches) -%}
        {%- set statement_name = 'main' if full_refresh_mode and loop.last
            else 'member_batch_' ~ batch -%}
        {% call statement(statement_name) -%}
            {%- if loop.first -%}
                {{ create_table_as(False, build_relation, batch_sql) }}
            {%- else -%}
                insert into {{ build_relation }} {{ batch_sql }}
            {%- endif -%}
        {%- endcall %}
    {%- endfor %}
    {{ log(this.identifier ~ ": " ~ batches ~ " member batch(es)", info=True) }}

    {% if full_refresh_mode %}
        {% if existing_relation is not none %}
            {% do adapter.rename_relation(existing_relation, backup_relation) %}
        {% endif %}
        {% do adapter.rename_relation(build_relation, target_relation) %}
    {% else %}
        {% do adapter.expand_target_column_types(from_relation=build_relation,
            to_relation=target_relation) %}
        {%- set strategy_macro = adapter.get_incremental_strategy_macro(
            context, config.require('incremental_strategy')) -%}
        {% call statement('main') %}
            {{ strategy_macro({
                'target_relation': target_relation,
                'temp_relation': build_relation,
                'unique_key': config.require('unique_key'),
                'dest_columns': adapter.get_columns_in_relation(existing_relation),
                'incremental_predicates': none}) }}
        {% endcall %}
    {% endif %}

    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ drop_relation_if_exists(build_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
