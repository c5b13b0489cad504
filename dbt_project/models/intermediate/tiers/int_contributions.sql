{{ config(
    materialized='incremental',
    incremental_strategy='validation_scope',
    validation_scope='member',
    scope_key='customer_id'
) }}
-- depends_on: {{ ref('int_validation_scope') }}
-- Every contribution to a qualifying total (tier-rules §3), for both milestones: the date
-- it is attributed to, the date it becomes known, and its signed amount in program currency
-- (spend) or points. Attribution ≠ known only for refunds, cancellations and points
-- reversals. Scenario filters (activities, counting start) are applied downstream.
-- An incremental build recomputes whole the members int_validation_scope lists (those with
-- a revalidated order, refund or ledger entry, now or before, and restaged customers).
with

members as (
    select * from {{ ref('int_customers__eligibility') }} as members
    where {{ in_validation_scope('member', 'members', 'customer_id') }}
),

orders as (
    select * from {{ ref('int_orders__accepted') }} as orders
    where amount is not null and is_known_customer
        and {{ in_validation_scope('member', 'orders', 'customer_id') }}
),

refunds as (
    select * from {{ ref('int_refunds__accepted') }}
),

ledger as (
    select * from {{ ref('int_points_ledger__accepted') }} as ledger
    where {{ in_validation_scope('member', 'ledger', 'customer_id') }}
),

order_contributions as (
    select
        program_id, customer_id, 'spend' as milestone, 'orders' as source_table,
        order_id as source_id, 'purchase' as activity,
        order_date as attribution_date, order_date as known_date, amount
    from orders
),

converted_refunds as (
    -- refunds convert at their order's rate (§9 Currency)
    select
        orders.program_id,
        orders.customer_id,
        orders.order_id,
        orders.order_date,
        refunds.refund_id,
        refunds.refund_date,
        cast(round(refunds.amount * orders.fx_rate, 2) as decimal(18, 2)) as amount
    from refunds
    inner join orders
        on orders.program_id = refunds.program_id
        and orders.order_id = refunds.order_id
),

refunded_per_order as (
    select program_id, order_id, sum(amount) as refunded_amount
    from converted_refunds
    group by program_id, order_id
),

refund_contributions as (
    select
        program_id, customer_id, 'spend' as milestone, 'refunds' as source_table,
        refund_id as source_id, 'refund' as activity,
        order_date as attribution_date, refund_date as known_date, -amount as amount
    from converted_refunds
),

cancellation_contributions as (
    -- a cancellation refunds what is left of the order, in program currency, never below 0;
    -- every accepted refund precedes it (later ones are rejected, §9)
    select
        orders.program_id, orders.customer_id, 'spend' as milestone, 'orders' as source_table,
        orders.order_id as source_id, 'cancellation' as activity,
        orders.order_date as attribution_date, orders.cancelled_date as known_date,
        -- decimal(18, 2) like every other amount: the sum of the refunds would widen the
        -- union's amounts to decimal(38, 2), a 128-bit integer in every later join and sum
        cast(-greatest(orders.amount - coalesce(refunded_per_order.refunded_amount, 0), 0)
            as decimal(18, 2)) as amount
    from orders
    left join refunded_per_order
        on refunded_per_order.program_id = orders.program_id
        and refunded_per_order.order_id = orders.order_id
    where orders.cancelled_date is not null
        and orders.amount - coalesce(refunded_per_order.refunded_amount, 0) > 0
),

ledger_contributions as (
    select
        program_id, customer_id, 'points' as milestone, 'points_ledger' as source_table,
        entry_id as source_id, activity,
        attribution_date, entry_date as known_date,
        cast(points as decimal(18, 2)) as amount
    from ledger
    -- redemptions, expirations and tier bonuses never count, even when listed (§3)
    where points <> 0
        and activity not in ('redemption', 'expiration', 'tier_bonus')
),

unioned as (
    select * from order_contributions
    union all
    select * from refund_contributions
    union all
    select * from cancellation_contributions
    union all
    select * from ledger_contributions
),

final as (
    select
        members.customer_key,
        unioned.program_id,
        unioned.customer_id,
        unioned.milestone,
        unioned.source_table,
        unioned.source_id,
        unioned.activity,
        unioned.attribution_date,
        -- a reversal dated before its purchase counts from the purchase date on: Q(e, W)
        -- needs attribution <= e, so it is in effect known on its attribution date
        greatest(unioned.known_date, unioned.attribution_date) as known_date,
        unioned.amount,
        -- a positive order or points entry can trigger a promotion; a points reversal never
        unioned.amount > 0 and unioned.activity not in ('refund', 'cancellation', 'purchase_reversal')
            as is_trigger,
        -- refunds, cancellations and reversals trigger the refund re-evaluation (step 3)
        unioned.activity in ('refund', 'cancellation', 'purchase_reversal') as is_reduction
    from unioned
    inner join members
        on members.program_id = unioned.program_id
        and members.customer_id = unioned.customer_id
)

select * from final
