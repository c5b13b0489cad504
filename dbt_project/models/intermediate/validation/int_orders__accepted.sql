{{ config(
    materialized='incremental',
    incremental_strategy='validation_scope',
    validation_scope='order',
    scope_key='order_id',
    on_schema_change='append_new_columns'
) }}
-- depends_on: {{ ref('int_validation_scope') }}
-- Orders that passed the checks of stg_orders, with whether their customer is known to the
-- program and what their accepted refunds and cancellation took off them (tier-rules §3, §9):
-- a cancellation refunds what was left when it happened (maybe nothing), in order currency.
-- Orders of a buildable program also get their amount in program currency, converted at the
-- rate of the order's local date (latest earlier rate when that day has none, §7); an order
-- with no usable rate keeps a null amount: it never counts at face value and is reported
-- in fct_uncounted_activity. (Validation and conversion were two tables of every order
-- until 2026-12-07; one copy less to write and read, docs/benchmarks.md.)
with

-- on an incremental run, the orders int_validation_scope lists
orders as (
    select * from {{ ref('stg_orders') }} as orders
    where rejection_reason is null
        and {{ in_validation_scope('order', 'orders', 'order_id') }}
),

customers as (
    select * from {{ ref('stg_customers') }}
    where rejection_reason is null
),

refunds as (
    select * from {{ ref('int_refunds__validated') }} as refunds
    where rejection_reason is null
        and {{ in_validation_scope('order', 'refunds', 'order_id') }}
),

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

daily_rates as (
    select * from {{ ref('int_fx_rates__daily') }}
),

refund_totals as (
    select
        program_id,
        order_id,
        count(*) as refund_count,
        sum(amount) as refunded_amount
    from refunds
    group by program_id, order_id
),

with_rate as (
    select
        orders.program_id,
        orders.order_id,
        orders.customer_id,
        customers.customer_id is not null as is_known_customer,
        orders.ordered_at,
        orders.order_date,
        orders.currency,
        orders.total_amount,
        coalesce(refund_totals.refund_count, 0) as refund_count,
        cast(coalesce(refund_totals.refunded_amount, 0) as decimal(18, 2)) as refunded_amount,
        orders.cancelled_at,
        orders.cancelled_date,
        cast(case
            when orders.cancelled_at is not null
                then orders.total_amount - coalesce(refund_totals.refunded_amount, 0)
            else 0
        end as decimal(18, 2)) as cancellation_amount,
        programs.currency as program_currency,
        case
            when orders.currency = programs.currency then cast(1 as decimal(18, 8))
            else daily_rates.rate
        end as fx_rate
    from orders
    left join customers
        on customers.program_id = orders.program_id
        and customers.customer_id = orders.customer_id
    left join refund_totals
        on refund_totals.program_id = orders.program_id
        and refund_totals.order_id = orders.order_id
    left join programs
        on programs.program_id = orders.program_id
    left join daily_rates
        on daily_rates.currency = orders.currency
        and daily_rates.quote_currency = programs.currency
        and daily_rates.rate_day = orders.order_date
),

converted as (
    select
        with_rate.*,
        cast(round(total_amount * fx_rate, 2) as decimal(18, 2)) as amount
    from with_rate
)

select * from converted
