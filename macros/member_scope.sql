{#- Member-scoped incremental builds (docs/operations.md "Incremental runs").

    A per-member model is configured with
        materialized='incremental', incremental_strategy='member_scope', unique_key=<keys>
    where <keys> are the member columns of its rows (`customer_key`, or `program_id` and
    `customer_id` in the marts). On an incremental run it reads its per-member inputs
    through `scoped_ref`, so it computes only the members of `int_rebuild_scope`, and the
    strategy replaces exactly those members' rows: delete every row of a member in scope
    (also when the member now has no rows at all), then append the new ones.
    On a full refresh, or when the table does not exist yet, every member is computed.
    Config `also_replace` names a macro giving a further delete condition on `target`
    (fct_customer_tier_daily: the whole days it fills). -#}

{#- The rows of model `name` for the members in this build's scope. Always refs the scope
    model, so that dbt knows the dependency at parse time. -#}
{% macro scoped_ref(name, keys=['customer_key']) -%}
    {%- set scope = ref('int_rebuild_scope') -%}
    {%- set relation = ref(name) -%}
    {#- (false in a dbt unit test, which always runs as a full build) -#}
    {%- if member_scope_active() -%}
    (
        select scoped.* from {{ relation }} as scoped
        where exists (
            select 1 from {{ scope }} as scope
            where {% for key in keys %}scope.{{ key }} = scoped.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
        )
    )
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- The dbt custom incremental strategy 'member_scope'. -#}
{% macro get_incremental_member_scope_sql(arg_dict) -%}
    {{ return(adapter.dispatch('member_scope_sql', 'vip_tiers')(arg_dict)) }}
{%- endmacro %}

{% macro default__member_scope_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set keys = arg_dict['unique_key'] -%}
    {%- if keys is string -%}{%- set keys = [keys] -%}{%- endif -%}
    {%- set also_replace = config.get('also_replace') -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} as target
    where exists (
        select 1 from {{ ref('int_rebuild_scope') }} as scope
        where {% for key in keys %}scope.{{ key }} = target.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
    )
    {%- if also_replace %}
        or {{ context[also_replace]('target') }}
    {%- endif %};

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
{%- endmacro %}
