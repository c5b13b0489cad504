{{ config(materialized='incremental', incremental_strategy='member_scope', unique_key=['program_id', 'customer_id']) }}
-- One row per tier change (the start of each history run), with a change_id that is the
-- same on every rebuild: a hash of what the change is (program, scenario, member, day,
-- from tier, to tier). Exports use it as their idempotency key.
with

history as (
    select * from {{ scoped_ref('fct_tier_history', ['program_id', 'customer_id']) }}
),

sequenced as (
    select
        history.*,
        lag(tier_code) over (
            partition by program_id, scenario_id, customer_id order by valid_from
        ) as from_tier_code,
        lag(tier_rank) over (
            partition by program_id, scenario_id, customer_id order by valid_from
        ) as from_tier_rank
    from history
),

final as (
    select
        {{ change_id([
            'program_id', 'scenario_id', 'customer_id', 'valid_from',
            'from_tier_code', 'tier_code']) }} as change_id,
        program_id,
        scenario_id,
        customer_id,
        valid_from as change_date,
        from_tier_code,
        tier_code as to_tier_code,
        case
            when from_tier_code is null then 'initial'
            when tier_rank > from_tier_rank then 'upgrade'
            else 'downgrade'
        end as direction,
        change_reason
    from sequenced
)

select * from final
