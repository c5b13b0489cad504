{{ config(
    materialized='incremental',
    incremental_strategy='validation_scope',
    validation_scope='order',
    scope_key='order_id'
) }}
-- depends_on: {{ ref('int_validation_scope') }}
-- Refunds that passed every check (stg_refunds, int_refunds__validated), with their order's
-- customer, local order date and currency: a refund's amount is in its order's currency and
-- is attributed to the order's local date, known from its own (tier-rules §3, §7).
with

-- on an incremental run, the refunds of the orders int_validation_scope lists
validated as (
    select * from {{ ref('int_refunds__validated') }} as validated
    where rejection_reason is null
        and {{ in_validation_scope('order', 'validated', 'order_id') }}
),

orders as (
    select * from {{ ref('int_orders__accepted') }} as orders
    where {{ in_validation_scope('order', 'orders', 'order_id') }}
),

final as (
    select
        validated.program_id,
        validated.refund_id,
        validated.order_id,
        validated.customer_id,
        orders.is_known_customer,
        validated.order_date,
        validated.refund_date,
        validated.refunded_at,
        validated.currency,
        validated.amount,
        validated.refund_seq,
        validated.remaining_after
    from validated
    inner join orders
        on orders.program_id = validated.program_id
        and orders.order_id = validated.order_id
)

select * from final
