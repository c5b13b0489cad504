{{ config(
    materialized='incremental',
    incremental_strategy='validation_scope',
    validation_scope='order',
    scope_key='order_id'
) }}
-- depends_on: {{ ref('int_validation_scope') }}
-- Accepted orders in program currency, converted at the rate of the order's local date
-- (latest earlier rate when that day has none). Orders with no usable rate keep a null amount: they never
-- count at face value (tier-rules §7) and are reported in fct_uncounted_activity.
-- Key-scoped like validation: an incremental build converts the orders int_validation_scope
-- lists (revalidated, or whose rate changed).
with

orders as (
    select * from {{ ref('int_orders__accepted') }} as orders
    where {{ in_validation_scope('order', 'orders', 'order_id') }}
),

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

daily_rates as (
    select * from {{ ref('int_fx_rates__daily') }}
),

with_rate as (
    select
        orders.program_id,
        orders.order_id,
        orders.customer_id,
        orders.is_known_customer,
        orders.order_date,
        orders.cancelled_date,
        orders.currency,
        orders.total_amount,
        programs.currency as program_currency,
        case
            when orders.currency = programs.currency then cast(1 as decimal(18, 8))
            else daily_rates.rate
        end as fx_rate
    from orders
    inner join programs
        on programs.program_id = orders.program_id
    left join daily_rates
        on daily_rates.currency = orders.currency
        and daily_rates.quote_currency = programs.currency
        and daily_rates.rate_day = orders.order_date
),

final as (
    select
        with_rate.*,
        cast(round(total_amount * fx_rate, 2) as decimal(18, 2)) as amount
    from with_rate
)

select * from final
