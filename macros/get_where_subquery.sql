{#- The relation a generic data test reads (dbt's hook for the test config `where`).

    A `dbt build` that continues a warehouse rewrites, in each member-scoped model, only the
    rows of the members in `int_rebuild_scope` (macros/member_scope.sql), and in each
    key-scoped staging model only the keys in `stg_raw__changed_keys` (macros/key_scope.sql),
    in each key-scoped validation model only the keys in `int_validation_scope`
    (macros/validation_scope.sql);
    every other row was written, and tested, by an earlier build. So a generic test on such
    a model reads only the rows this build rewrote: a daily run's tests cost what its models
    cost, not what the whole table costs (docs/operations.md "Incremental runs").

    The test reads the whole table when:
    - the command is not `dbt build` (`dbt test` checks everything);
    - the build is a full refresh, or every member in scope is there because their whole
      program is rebuilt (a first build, a config change), or the staging table was built
      whole;
    - the model is not member- or key-scoped, or also replaces rows outside its members
      (config `also_replace`, e.g. fct_customer_tier_daily's requested days).
    A member-scoped model's member keys are its `unique_key`, as for the strategy. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scoped = rebuilt_members_condition('tested') if execute else none -%}
    {%- if where or scoped -%}
        {%- set filtered -%}
            (select * from {{ relation }} as tested where {{ where or 'true' }}{% if scoped %} and {{ scoped }}{% endif %}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{#- SQL keeping the rows of `alias` that this build rewrote, or none when the test at hand
    must read every row (see above). -#}
{% macro rebuilt_members_condition(alias) -%}
    {%- if flags.WHICH != 'build' or flags.FULL_REFRESH -%}{{ return(none) }}{%- endif -%}
    {%- set tested = graph.nodes.get(model.get('attached_node') or '') -%}
    {%- if tested is none or tested.config.get('also_replace')
        or tested.config.get('full_refresh') is sameas true -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set strategy = tested.config.get('incremental_strategy') -%}
    {%- if strategy == 'member_scope' -%}
        {{ return(_rebuilt_members_condition(tested, alias)) }}
    {%- elif strategy == 'key_scope' -%}
        {{ return(_rebuilt_keys_condition(tested, alias)) }}
    {%- elif strategy == 'validation_scope' -%}
        {{ return(_revalidated_keys_condition(tested, alias)) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{% macro _rebuilt_members_condition(tested, alias) -%}
    {%- set scope = built_model_relation('int_rebuild_scope') -%}
    {%- if scope is none -%}{{ return(none) }}{%- endif -%}
    {%- set whole = run_query(
        "select count(*) from " ~ scope ~ " where reason <> 'program'") -%}
    {%- if whole.columns[0].values()[0] | int == 0 -%}{{ return(none) }}{%- endif -%}
    {%- set keys = tested.config.get('unique_key') -%}
    {%- if keys is string -%}{%- set keys = [keys] -%}{%- endif -%}
    {%- set condition -%}
        exists (
            select 1 from {{ scope }} as scope
            where {% for key in keys %}scope.{{ key }} = {{ alias }}.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
        )
    {%- endset -%}
    {{ return(condition) }}
{%- endmacro %}

{#- A key-scoped staging model (macros/key_scope.sql): the keys stg_raw__changed_keys lists
    for its raw table, when the list says the table was built incrementally. -#}
{% macro _rebuilt_keys_condition(tested, alias) -%}
    {%- set changed = built_model_relation('stg_raw__changed_keys') -%}
    {%- if changed is none -%}{{ return(none) }}{%- endif -%}
    {%- set table = tested.config.get('raw_table') -%}
    {%- set incremental = run_query(
        "select count(*) from " ~ changed ~ " where source_table = '_incremental' and row_id = '"
        ~ table ~ "'") -%}
    {%- if incremental.columns[0].values()[0] | int == 0 -%}{{ return(none) }}{%- endif -%}
    {%- set condition -%}
        exists (
            select 1 from {{ changed }} as changed
            where changed.source_table = '{{ table }}'
                and changed.program_id is not distinct from {{ alias }}.program_id
                and changed.row_id is not distinct from {{ alias }}.{{ key_scoped_tables()[table]['id'] }}
        )
    {%- endset -%}
    {{ return(condition) }}
{%- endmacro %}

{#- A key-scoped validation model (macros/validation_scope.sql): the keys of its scope that
    int_validation_scope lists, unless it lists `_all`. -#}
{% macro _revalidated_keys_condition(tested, alias) -%}
    {%- set scope = built_model_relation('int_validation_scope') -%}
    {%- if scope is none -%}{{ return(none) }}{%- endif -%}
    {%- set whole = run_query("select count(*) from " ~ scope ~ " where scope = '_all'") -%}
    {%- if whole.columns[0].values()[0] | int > 0 -%}{{ return(none) }}{%- endif -%}
    {%- set condition -%}
        exists (
            select 1 from {{ scope }} as listed
            where listed.scope = '{{ tested.config.get('validation_scope') }}'
                and listed.program_id = {{ alias }}.program_id
                and listed.key_id = {{ alias }}.{{ tested.config.get('scope_key') }}
        )
    {%- endset -%}
    {{ return(condition) }}
{%- endmacro %}

{#- The table of model `name` as built, found through the graph rather than `ref` so that a
    test does not depend on it (a test of a staging model must not wait for
    int_rebuild_scope, which is built from staging). None when it does not exist. -#}
{% macro built_model_relation(name) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == name -%}
        {{ return(adapter.get_relation(node.database, node.schema, node.alias or node.name)) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}
