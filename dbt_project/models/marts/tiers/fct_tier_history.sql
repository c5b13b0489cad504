{{ config(incremental_strategy='member_scope', unique_key=['program_id', 'customer_id']) }}
-- One row per member, scenario and maximal run of days in one tier (tier-rules §8).
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

runs as (
    select
        states.scenario_key,
        states.customer_key,
        states.tier_rank,
        states.step_day as valid_from,
        lead(states.step_day) over (
            partition by states.scenario_key, states.customer_key order by states.step_day
        ) as next_change_day,
        states.change_reason
    from states
),

final as (
    select
        members.program_id,
        members.scenario_id,
        members.customer_id,
        bands.tier_code,
        cast(runs.tier_rank as integer) as tier_rank,
        runs.valid_from,
        -- a run ends at the next change, or on the local unenrolment date (the day after the
        -- last eligible day); null while the member is still in it on as_of
        coalesce(runs.next_change_day, members.unenrolled_date) as valid_to,
        runs.change_reason
    from runs
    -- each scenario reads the states of its engine scenario (int_tier_scenarios)
    inner join members
        on members.engine_scenario_key = runs.scenario_key
        and members.customer_key = runs.customer_key
    inner join bands
        on bands.scenario_key = members.scenario_key
        and bands.tier_rank = runs.tier_rank
)

select * from final
