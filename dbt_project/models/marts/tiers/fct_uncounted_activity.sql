-- Accepted rows that count for no one, with why (tier-rules §2, §7): orders and ledger
-- entries of customers unknown to the program (orphans, e.g. guest checkouts), and orders
-- in a currency with no usable rate to the program currency (never counted at face value).
with

-- the orders of buildable programs (only those are converted)
orders as (
    select orders.* from {{ ref('int_orders__accepted') }} as orders
    inner join {{ ref('stg_programs') }} as programs
        on programs.program_id = orders.program_id
    where programs.is_buildable
),

ledger as (
    select * from {{ ref('int_points_ledger__accepted') }}
),

customers as (
    select * from {{ ref('int_customers__eligibility') }}
),

unknown_customer_orders as (
    select
        program_id, 'orders' as source_table, 'order_id=' || order_id as row_key,
        customer_id, order_date as activity_date, 'orphan_customer' as reason
    from orders
    where not is_known_customer
),

unconvertible_orders as (
    select
        program_id, 'orders' as source_table, 'order_id=' || order_id as row_key,
        customer_id, order_date as activity_date, 'no_fx_rate' as reason
    from orders
    where is_known_customer and amount is null
),

unknown_customer_entries as (
    select
        ledger.program_id, 'points_ledger' as source_table, 'entry_id=' || ledger.entry_id as row_key,
        ledger.customer_id, ledger.entry_date as activity_date, 'orphan_customer' as reason
    from ledger
    left join customers
        on customers.program_id = ledger.program_id
        and customers.customer_id = ledger.customer_id
    where customers.customer_key is null
),

final as (
    select * from unknown_customer_orders
    union all
    select * from unconvertible_orders
    union all
    select * from unknown_customer_entries
)

select * from final
