-- Each member still eligible on as_of, per scenario: where they stand and what it takes to
-- move up or to stay (tier-rules §8, §9 "Current state"); see int_tier_current.
--   window_total        = Q(as_of, W(as_of)), the total of the current window
--   amount_to_next_tier = next threshold - window_total, never below 0 (null at the top)
--   amount_to_keep_tier = current threshold - what the window the next review will look at,
--                         W(review_on - 1), holds so far; never below 0; null without a
--                         review day (base tier, lifetime)
with

current_tiers as (
    select * from {{ ref('int_tier_current') }}
),

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

final as (
    select
        current_tiers.program_id,
        current_tiers.scenario_id,
        current_tiers.customer_id,
        current_tiers.tier_code,
        current_tiers.tier_rank,
        current_tiers.tier_since,
        current_tiers.review_on,
        current_tiers.is_provisional,
        current_tiers.window_total,
        current_tiers.next_tier_code,
        current_tiers.amount_to_next_tier,
        current_tiers.amount_to_keep_tier,
        programs.as_of_date
    from current_tiers
    inner join programs
        on programs.program_id = current_tiers.program_id
)

select * from final
