-- Per program, scenario and calendar month: how many members moved from which tier to
-- which (a migration matrix, Sankey-ready). movement_kind:
--   new        first tier of a member (from_tier_code null)
--   upgrade    to a higher rank
--   downgrade  to a lower rank (review, refund or manual assignment)
--   exit       unenrolment (to_tier_code null), in the month of the unenrolment date
-- Counted from fct_tier_movements. Every change counts (as in fct_tier_movements_monthly):
-- summed by to tier the rows give that model's ins, summed by from tier its outs.
with

programs as (
    select program_id, as_of_date from {{ ref('stg_programs') }}
    where is_buildable
),

movements as (
    select movements.*
    from {{ ref('fct_tier_movements') }} as movements
    inner join programs
        on programs.program_id = movements.program_id
),

tiers as (
    select tiers.program_id, tiers.scenario_id, tiers.tier_code, tiers.tier_rank
    from {{ ref('dim_program_tiers') }} as tiers
    inner join programs
        on programs.program_id = tiers.program_id
),

final as (
    select
        movements.program_id,
        movements.scenario_id,
        cast(date_trunc('month', movements.movement_date) as date) as month_start_date,
        movements.movement_kind,
        movements.from_tier_code,
        cast(from_tiers.tier_rank as integer) as from_tier_rank,
        movements.to_tier_code,
        cast(to_tiers.tier_rank as integer) as to_tier_rank,
        cast(count(*) as bigint) as movements,
        cast(count(distinct movements.customer_id) as bigint) as members
    from movements
    left join tiers as from_tiers
        on from_tiers.program_id = movements.program_id
        and from_tiers.scenario_id = movements.scenario_id
        and from_tiers.tier_code = movements.from_tier_code
    left join tiers as to_tiers
        on to_tiers.program_id = movements.program_id
        and to_tiers.scenario_id = movements.scenario_id
        and to_tiers.tier_code = movements.to_tier_code
    group by
        movements.program_id,
        movements.scenario_id,
        cast(date_trunc('month', movements.movement_date) as date),
        movements.movement_kind,
        movements.from_tier_code,
        from_tiers.tier_rank,
        movements.to_tier_code,
        to_tiers.tier_rank
)

select * from final
