{{ config(
    materialized='incremental',
    incremental_strategy='validation_scope',
    validation_scope='ledger_entry',
    scope_key='entry_id'
) }}
-- depends_on: {{ ref('int_validation_scope') }}
-- Points ledger entries that passed the checks of stg_points_ledger, with the date each is
-- attributed to (tier-rules §3, §9 "Points"): a `purchase_reversal` counts on the local
-- date of the earliest `purchase` entry with the same order_id in the program, else on its
-- own date; every other entry on its own date.
with

-- on an incremental run, the entries int_validation_scope lists
entries as (
    select * from {{ ref('stg_points_ledger') }} as entries
    where rejection_reason is null
        and {{ in_validation_scope('ledger_entry', 'entries', 'entry_id') }}
),

-- every purchase entry, also outside the scope: the scope holds every entry of an order_id
-- whose purchases changed, not every purchase of the order_ids it holds
purchases as (
    select * from {{ ref('stg_points_ledger') }}
    where rejection_reason is null
        and activity = 'purchase'
        and order_id is not null
),

customers as (
    select * from {{ ref('stg_customers') }}
    where rejection_reason is null
),

-- the orders of the reversals among those entries: only a reversal reads its order's first
-- purchase, so only their purchases are grouped (a few percent of all purchases). Read from
-- the table, not from `entries`: a CTE read twice is materialised whole by DuckDB.
reversed_orders as (
    select program_id, order_id from {{ ref('stg_points_ledger') }} as reversals
    where rejection_reason is null
        and activity = 'purchase_reversal'
        and order_id is not null
        and {{ in_validation_scope('ledger_entry', 'reversals', 'entry_id') }}
),

-- local dates are monotonic in the instant, so the earliest purchase has the minimum date
first_purchases as (
    select
        program_id,
        order_id,
        min(entry_date) as purchase_date
    from purchases
    where exists (
        select 1 from reversed_orders
        where reversed_orders.program_id = purchases.program_id
            and reversed_orders.order_id = purchases.order_id
    )
    group by program_id, order_id
),

final as (
    select
        entries.program_id,
        entries.entry_id,
        entries.customer_id,
        customers.customer_id is not null as is_known_customer,
        entries.activity,
        entries.points,
        entries.occurred_at,
        entries.entry_date,
        entries.order_id,
        case
            when entries.activity = 'purchase_reversal'
                then coalesce(first_purchases.purchase_date, entries.entry_date)
            else entries.entry_date
        end as attribution_date
    from entries
    left join customers
        on customers.program_id = entries.program_id
        and customers.customer_id = entries.customer_id
    left join first_purchases
        on first_purchases.program_id = entries.program_id
        and first_purchases.order_id = entries.order_id
)

select * from final
