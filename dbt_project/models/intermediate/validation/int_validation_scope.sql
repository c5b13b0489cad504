{{ config(pre_hook="{{ prepare_validation_scope_uses() }}") }}
-- The keys whose validated rows this build recomputes (macros/validation_scope.sql,
-- docs/operations.md "Incremental runs"), from the staging keys it restaged
-- (stg_raw__changed_keys) and what each validated row depends on:
-- * `order` (program_id, order_id): an order is validated with its copies, its customer and
--   every refund of it (the refund walk, refunded and cancellation amounts), and converted
--   at its day's FX rate. So: every restaged order; the order of every restaged refund, as
--   staged now and as validated last time (a refund moved to another order changes both);
--   every order of a restaged customer; every order whose rate is no longer the one it was
--   converted at (a late or corrected rate).
-- * `ledger_entry` (program_id, entry_id): an entry is validated with its customer and, for
--   a purchase reversal, the earliest purchase entry of its order_id. So: every restaged
--   entry; every entry of a restaged customer; every entry of an order_id that a restaged
--   entry has now or had last time.
-- * `member` (program_id, customer_id): int_contributions recomputes a member whole. So:
--   every restaged customer, and the customer of every listed order or ledger entry, as
--   staged now and as in the last build's contributions (an order moved to another customer
--   changes both).
-- Old values come from the tables as the last build left them (read here, before this
-- build's validation models rewrite them; they ref this model, so they run after it).
-- A row `_all` asks for everything when there is no such list: a full refresh, a first
-- build, a staging table rebuilt whole, a change in the buildable programs or their
-- currencies (each build keeps them here as `_program` rows, to compare with the next), or
-- when the last list (or the last restaged keys) did not reach every model that uses it. A
-- row `_invocation` names the dbt invocation that wrote the list: a validation model refuses
-- a list from another one.
-- depends_on: {{ ref('stg_customers') }}
-- depends_on: {{ ref('stg_orders') }}
-- depends_on: {{ ref('stg_refunds') }}
-- depends_on: {{ ref('stg_points_ledger') }}
-- depends_on: {{ ref('int_fx_rates__daily') }}
{%- set tables = ['customers', 'orders', 'refunds', 'points_ledger'] %}
{%- set validated = {} %}
{%- set complete = namespace(value=false) %}
{%- if execute and not flags.FULL_REFRESH %}
    {%- set built = ['int_refunds__validated', 'int_points_ledger__accepted',
        'int_orders__accepted', 'int_contributions', this.identifier] %}
    {%- for name in built %}
        {%- set relation = adapter.get_relation(this.database, this.schema, name) %}
        {%- if relation is not none %}{%- do validated.update({name: relation}) %}{%- endif %}
    {%- endfor %}
    {#- int_orders__accepted converts the orders since 2026-12-07 (int_orders__converted did
        before): a table from before, without `fx_rate`, cannot be compared with, and the
        model must recompute every order (it appends the new columns) -#}
    {%- if 'int_orders__accepted' in validated and 'fx_rate' not in (
        adapter.get_columns_in_relation(validated['int_orders__accepted'])
        | map(attribute='name') | map('lower') | list) %}
        {%- do validated.pop('int_orders__accepted') %}
    {%- endif %}
    {%- set markers = run_query(
        "select count(distinct row_id) from " ~ ref('stg_raw__changed_keys')
        ~ " where source_table = '_incremental' and row_id in ('" ~ tables | join("', '") ~ "')") %}
    {%- set uses = adapter.get_relation(this.database, this.schema, 'validation_scope_uses') %}
    {%- set complete.value = markers.columns[0].values()[0] | int == tables | length
        and validated | length == built | length and uses is not none %}
{%- endif %}

with

programs as (
    select program_id, currency from {{ ref('stg_programs') }}
    where is_buildable
),

changed as (
    select source_table, program_id, row_id
    from {{ ref('stg_raw__changed_keys') }}
    where source_table in ('{{ tables | join("', '") }}')
),

{%- if complete.value %}

changed_customers as (
    select distinct program_id, row_id as customer_id from changed where source_table = 'customers'
),

changed_entries as (
    select program_id, row_id as entry_id from changed where source_table = 'points_ledger'
),

scoped_orders as (
    select program_id, row_id as order_id from changed where source_table = 'orders'

    union all

    select refunds.program_id, refunds.order_id
    from {{ ref('stg_refunds') }} as refunds
    inner join changed
        on changed.source_table = 'refunds'
        and changed.program_id = refunds.program_id
        and changed.row_id = refunds.refund_id

    union all

    select validated.program_id, validated.order_id
    from {{ validated['int_refunds__validated'] }} as validated
    inner join changed
        on changed.source_table = 'refunds'
        and changed.program_id = validated.program_id
        and changed.row_id = validated.refund_id

    union all

    select orders.program_id, orders.order_id
    from {{ ref('stg_orders') }} as orders
    inner join changed_customers
        on changed_customers.program_id = orders.program_id
        and changed_customers.customer_id = orders.customer_id
),

-- converted last time at a rate that is no longer the day's (same currency as the program:
-- rate 1; a program's currency change asks for everything, below)
rate_changed_orders as (
    select converted.program_id, converted.order_id
    from {{ validated['int_orders__accepted'] }} as converted
    inner join programs
        on programs.program_id = converted.program_id
    left join {{ ref('int_fx_rates__daily') }} as rates
        on rates.currency = converted.currency
        and rates.quote_currency = programs.currency
        and rates.rate_day = converted.order_date
    where converted.currency <> programs.currency
        and (converted.fx_rate <> rates.rate
            or (converted.fx_rate is null) <> (rates.rate is null))
),

listed_orders as (
    select program_id, order_id from scoped_orders
    union
    select program_id, order_id from rate_changed_orders
),

-- order_ids whose purchase entries decide a reversal's attribution date
ledger_orders as (
    select distinct entries.program_id, entries.order_id
    from {{ ref('stg_points_ledger') }} as entries
    inner join changed_entries
        on changed_entries.program_id = entries.program_id
        and changed_entries.entry_id = entries.entry_id
    where entries.order_id is not null

    union

    select accepted.program_id, accepted.order_id
    from {{ validated['int_points_ledger__accepted'] }} as accepted
    inner join changed_entries
        on changed_entries.program_id = accepted.program_id
        and changed_entries.entry_id = accepted.entry_id
    where accepted.order_id is not null
),

scoped_entries as (
    select program_id, entry_id from changed_entries

    union all

    select entries.program_id, entries.entry_id
    from {{ ref('stg_points_ledger') }} as entries
    inner join changed_customers
        on changed_customers.program_id = entries.program_id
        and changed_customers.customer_id = entries.customer_id

    union all

    select entries.program_id, entries.entry_id
    from {{ ref('stg_points_ledger') }} as entries
    inner join ledger_orders
        on ledger_orders.program_id = entries.program_id
        and ledger_orders.order_id = entries.order_id
),

listed_entries as (
    select distinct program_id, entry_id from scoped_entries
),

-- the customers of listed rows, now (staged) and in the last build's contributions
listed_members as (
    select program_id, customer_id from changed_customers

    union

    select orders.program_id, orders.customer_id
    from {{ ref('stg_orders') }} as orders
    inner join listed_orders
        on listed_orders.program_id = orders.program_id
        and listed_orders.order_id = orders.order_id

    union

    select entries.program_id, entries.customer_id
    from {{ ref('stg_points_ledger') }} as entries
    inner join listed_entries
        on listed_entries.program_id = entries.program_id
        and listed_entries.entry_id = entries.entry_id

    union

    select contributions.program_id, contributions.customer_id
    from {{ validated['int_contributions'] }} as contributions
    inner join (
        select 'orders' as source_table, program_id, order_id as source_id from listed_orders
        union all
        select 'points_ledger' as source_table, program_id, entry_id as source_id
        from listed_entries
    ) as sources
        on sources.source_table = contributions.source_table
        and sources.program_id = contributions.program_id
        and sources.source_id = contributions.source_id
),

previous_programs as (
    select program_id, key_id as currency from {{ validated[this.identifier] }}
    where scope = '_program'
),

changed_programs as (
    select program_id from (
        select program_id, currency from programs
        except
        select program_id, currency from previous_programs
    ) as added
    union all
    select program_id from (
        select program_id, currency from previous_programs
        except
        select program_id, currency from programs
    ) as removed
),

-- the last list was not used by every model that reads it (a build that stopped early or
-- selected some of them), or the last list of restaged keys never reached this model: the
-- keys they named may not all have been recomputed
unfinished as (
    select count(*) as models from {{ uses }} as uses
    where uses.model_name in ('{{ validation_scope_models() | join("', '") }}')
        and uses.invocation_id = (
            select max(key_id) from {{ validated[this.identifier] }} where scope = '_invocation')
    having count(*) < {{ validation_scope_models() | length }}

    union all

    select 1 from {{ ref('stg_raw__changed_keys') }} where source_table = '_unconsumed'
),

listed as (
    select 'order' as scope, program_id, order_id as key_id from listed_orders
    union all
    select 'ledger_entry' as scope, program_id, entry_id as key_id from listed_entries
    union all
    select 'member' as scope, program_id, customer_id as key_id from listed_members
    union all
    select '_all' as scope, cast(null as {{ dbt.type_string() }}) as program_id,
        cast(null as {{ dbt.type_string() }}) as key_id
    from (
        select (select count(*) from changed_programs) + (select count(*) from unfinished)
            as reasons
    ) as changes
    where changes.reasons > 0
    union all
{%- else %}

listed as (
    select '_all' as scope, cast(null as {{ dbt.type_string() }}) as program_id,
        cast(null as {{ dbt.type_string() }}) as key_id
    union all
{%- endif %}
    select '_program' as scope, program_id, currency as key_id from programs
    union all
    select '_invocation' as scope, cast(null as {{ dbt.type_string() }}) as program_id,
        '{{ invocation_id }}' as key_id
)

select * from listed
