{#- Key-scoped incremental validation (docs/operations.md "Incremental runs").

    A validation model configured with
        materialized='incremental', incremental_strategy='validation_scope',
        validation_scope=<'order' or 'ledger_entry'>, scope_key=<its key column>
    recomputes, on an incremental run, only the rows whose key int_validation_scope lists
    for its scope (what depends on the staging rows this build restaged), and the strategy
    replaces exactly those keys' rows: delete every row of a listed key, then append the
    recomputed ones. The model filters what it reads with `in_validation_scope`, so the
    rows it recomputes see every input they depend on. -#}

{#- True on an incremental run of a validation model; then the scope must be this
    invocation's and, unless it asks for everything (`_all`), is used. -#}
{% macro validation_scope_active() -%}
    {%- if not member_scope_active() -%}{{ return(false) }}{%- endif -%}
    {%- set scope = ref('int_validation_scope') -%}
    {%- set rows = run_query(
        "select count(*) filter (where scope = '_invocation' and key_id = '" ~ invocation_id ~ "'), "
        ~ "count(*) filter (where scope = '_all') from " ~ scope) -%}
    {%- if rows.columns[0].values()[0] | int != 1 -%}
        {% do exceptions.raise_compiler_error(
            this.identifier ~ " is built incrementally from the list of keys to revalidate, but "
            ~ scope ~ " was not built by this dbt invocation: build it together "
            ~ "(dbt build -s stg_raw__changed_keys+) or use --full-refresh") %}
    {%- endif -%}
    {{ return(rows.columns[1].values()[0] | int == 0) }}
{%- endmacro %}

{#- SQL true for the rows of `alias` whose `column` is a key of `scope` in this build's list,
    or `true` when the whole table is recomputed. -#}
{% macro in_validation_scope(scope, alias, column) -%}
    {%- if validation_scope_active() -%}
    exists (
        select 1 from {{ ref('int_validation_scope') }} as listed
        where listed.scope = '{{ scope }}'
            and listed.program_id = {{ alias }}.program_id
            and listed.key_id = {{ alias }}.{{ column }}
    )
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{#- The dbt custom incremental strategy 'validation_scope'. -#}
{% macro get_incremental_validation_scope_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} as target
    where {{ in_validation_scope(config.require('validation_scope'), 'target', config.require('scope_key')) }};

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#- Post-hook of every intermediate model (dbt_project.yml): a validation-scoped model that
    succeeded records which dbt invocation's list it used, in `validation_scope_uses`. The
    next build's int_validation_scope reads it: a list that some model did not use (a
    build that failed or was cut short, a partial selection) asks for everything (`_all`),
    since the keys it named may not all have been recomputed. Appends only: these models
    run in parallel, and DuckDB refuses concurrent changes to one table's catalog entry. -#}
{% macro record_validation_scope_use() -%}
    {%- if model.config.get('incremental_strategy') != 'validation_scope' -%}{{ return('') }}{%- endif -%}
    {{ return(adapter.dispatch('record_validation_scope_use', 'vip_tiers')()) }}
{%- endmacro %}

{% macro default__record_validation_scope_use() -%}
    insert into {{ validation_scope_uses_relation() }} (model_name, invocation_id)
    values ('{{ this.identifier }}', '{{ invocation_id }}')
{%- endmacro %}

{#- Spark builds every table whole (docs/spark.md): no list, nothing to record. -#}
{% macro spark__record_validation_scope_use() -%}
{%- endmacro %}

{#- Pre-hook of int_validation_scope, which every validation-scoped model waits for: the
    table exists before they append to it, and keeps the uses of the last list only (the
    one this build checks). -#}
{% macro prepare_validation_scope_uses() -%}
    {{ return(adapter.dispatch('prepare_validation_scope_uses', 'vip_tiers')()) }}
{%- endmacro %}

{% macro default__prepare_validation_scope_uses() -%}
    {%- set uses = validation_scope_uses_relation() -%}
    {%- set previous = adapter.get_relation(this.database, this.schema, this.identifier)
        if execute else none -%}
    create table if not exists {{ uses }} (
        model_name {{ dbt.type_string() }},
        invocation_id {{ dbt.type_string() }}
    );
    {%- if previous is not none %}
    delete from {{ uses }}
    where invocation_id not in (
        select key_id from {{ previous }} where scope = '_invocation' and key_id is not null)
    {%- endif %}
{%- endmacro %}

{% macro spark__prepare_validation_scope_uses() -%}
{%- endmacro %}

{% macro validation_scope_uses_relation() -%}
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema, identifier='validation_scope_uses')) }}
{%- endmacro %}

{#- The models that use int_validation_scope's list (incremental strategy
    validation_scope). -#}
{% macro validation_scope_models() -%}
    {%- set names = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model'
        and node.config.get('incremental_strategy') == 'validation_scope' -%}
        {%- do names.append(node.name) -%}
    {%- endfor -%}
    {{ return(names | sort) }}
{%- endmacro %}
