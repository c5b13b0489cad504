{{ config(materialized='incremental', incremental_strategy='member_scope', unique_key=['program_id', 'customer_id']) }}
-- One row per tier change (the start of each fct_tier_history run), with a change_id that
-- is the same on every rebuild: a hash of what the change is (program, scenario, member,
-- day, from tier, to tier). Exports use it as their idempotency key.
-- Read from the states, like fct_tier_history, rather than from it: the previous tier is
-- found once per engine scenario on integer keys (int_tier_scenarios), and this model no
-- longer waits for fct_tier_history.
with

states as (
    select * from {{ scoped_ref('int_tier_states') }}
    where is_tier_change
),

members as (
    select * from {{ scoped_ref('int_tier_members') }}
),

bands as (
    select * from {{ ref('int_tier_bands') }}
),

sequenced as (
    select
        scenario_key,
        customer_key,
        step_day,
        tier_rank,
        lag(tier_rank) over (
            partition by scenario_key, customer_key order by step_day
        ) as from_tier_rank,
        change_reason
    from states
),

named as (
    select
        members.program_id,
        members.scenario_id,
        members.customer_id,
        sequenced.step_day as change_date,
        from_bands.tier_code as from_tier_code,
        to_bands.tier_code as to_tier_code,
        sequenced.tier_rank,
        sequenced.from_tier_rank,
        sequenced.change_reason
    from sequenced
    -- each scenario reads the states of its engine scenario, with its own tier codes
    inner join members
        on members.engine_scenario_key = sequenced.scenario_key
        and members.customer_key = sequenced.customer_key
    inner join bands as to_bands
        on to_bands.scenario_key = members.scenario_key
        and to_bands.tier_rank = sequenced.tier_rank
    left join bands as from_bands
        on from_bands.scenario_key = members.scenario_key
        and from_bands.tier_rank = sequenced.from_tier_rank
),

final as (
    select
        {{ change_id([
            'program_id', 'scenario_id', 'customer_id', 'change_date',
            'from_tier_code', 'to_tier_code']) }} as change_id,
        program_id,
        scenario_id,
        customer_id,
        change_date,
        from_tier_code,
        to_tier_code,
        case
            when from_tier_rank is null then 'initial'
            when tier_rank > from_tier_rank then 'upgrade'
            else 'downgrade'
        end as direction,
        change_reason
    from named
)

select * from final
