-- Per program, scenario and tier, as of as_of: how many members each what-if puts in the
-- tier, how that differs from `live`, and what the tier's perks would cost (where the
-- config gives them). A manager reads one scenario's rows to see what a threshold or period
-- change would do.
--   members_changed_vs_live  members of this tier whose live tier is another tier
--   members_up_vs_live       ... whose live tier has a lower rank (the scenario lifts them)
--   members_down_vs_live     ... whose live tier has a higher rank (the scenario lowers them)
-- Summed over a scenario's tiers these give how many members the scenario moves, up and
-- down. Ranks compare tiers across scenarios; a scenario with its own tier list is compared
-- by rank too (changed counts a different tier code at the same rank, up/down do not).
-- Perk cost:
--   entry_bonus_points_held  members above base x the tier's entry bonus (what today's
--                            holders were given for reaching it)
--   tier_entries_to_date     entries into the tier up to as_of (upgrades, and initial
--                            assignments above base, re-entries too)
--   entry_bonus_points_to_date  tier_entries_to_date x entry bonus (each entry pays once)
--   birthday_points_per_year members x the tier's birthday points
--   multiplier_exposure      members x (points_multiplier - 1): extra points paid per point
--                            earned by every member of the tier (40 members at 1.25x -> 10)
with

programs as (
    select program_id, as_of_date from {{ ref('stg_programs') }}
    where is_buildable
),

scenarios as (
    select scenarios.program_id, scenarios.scenario_id, scenarios.is_live
    from {{ ref('dim_scenarios') }} as scenarios
    inner join programs
        on programs.program_id = scenarios.program_id
),

tiers as (
    select tiers.*
    from {{ ref('dim_program_tiers') }} as tiers
    inner join programs
        on programs.program_id = tiers.program_id
),

current_tiers as (
    select current_tiers.program_id, current_tiers.scenario_id, current_tiers.customer_id,
        current_tiers.tier_code, current_tiers.tier_rank
    from {{ ref('dim_customer_tier_current') }} as current_tiers
    inner join programs
        on programs.program_id = current_tiers.program_id
),

changes as (
    select changes.*
    from {{ ref('fct_tier_changes') }} as changes
    inner join programs
        on programs.program_id = changes.program_id
    where changes.change_date <= programs.as_of_date
),

live_tiers as (
    select program_id, customer_id, tier_code as live_tier_code, tier_rank as live_tier_rank
    from current_tiers
    where scenario_id = 'live'
),

compared as (
    select
        current_tiers.program_id,
        current_tiers.scenario_id,
        current_tiers.tier_code,
        count(*) as members,
        count(*) filter (
            where live_tiers.live_tier_code is distinct from current_tiers.tier_code
        ) as members_changed_vs_live,
        count(*) filter (
            where current_tiers.tier_rank > live_tiers.live_tier_rank
        ) as members_up_vs_live,
        count(*) filter (
            where current_tiers.tier_rank < live_tiers.live_tier_rank
        ) as members_down_vs_live
    from current_tiers
    left join live_tiers
        on live_tiers.program_id = current_tiers.program_id
        and live_tiers.customer_id = current_tiers.customer_id
    group by current_tiers.program_id, current_tiers.scenario_id, current_tiers.tier_code
),

live_counts as (
    select program_id, live_tier_code as tier_code, count(*) as live_members
    from live_tiers
    group by program_id, live_tier_code
),

scenario_totals as (
    select program_id, scenario_id, count(*) as scenario_members
    from current_tiers
    group by program_id, scenario_id
),

entries as (
    select
        changes.program_id,
        changes.scenario_id,
        changes.to_tier_code as tier_code,
        count(*) as tier_entries
    from changes
    inner join tiers
        on tiers.program_id = changes.program_id
        and tiers.scenario_id = changes.scenario_id
        and tiers.tier_code = changes.to_tier_code
    where changes.direction = 'upgrade'
        or (changes.direction = 'initial' and tiers.tier_rank > 0)
    group by changes.program_id, changes.scenario_id, changes.to_tier_code
),

final as (
    select
        tiers.program_id,
        tiers.scenario_id,
        scenarios.is_live,
        programs.as_of_date,
        tiers.tier_code,
        tiers.tier_name,
        cast(tiers.tier_rank as integer) as tier_rank,
        tiers.threshold,
        tiers.threshold_unit,
        cast(coalesce(compared.members, 0) as bigint) as members,
        cast(case when coalesce(scenario_totals.scenario_members, 0) > 0
            then coalesce(compared.members, 0) / scenario_totals.scenario_members
        end as decimal(9, 4)) as share_of_members,
        cast(case when live_codes.tier_code is not null
            then coalesce(live_counts.live_members, 0) end as bigint) as live_members,
        cast(coalesce(compared.members, 0) - coalesce(live_counts.live_members, 0) as bigint)
            as members_vs_live,
        cast(coalesce(compared.members_changed_vs_live, 0) as bigint) as members_changed_vs_live,
        cast(coalesce(compared.members_up_vs_live, 0) as bigint) as members_up_vs_live,
        cast(coalesce(compared.members_down_vs_live, 0) as bigint) as members_down_vs_live,
        tiers.entry_bonus_points,
        tiers.birthday_points,
        tiers.points_multiplier,
        cast(case when tiers.tier_rank > 0
            then coalesce(compared.members, 0) * tiers.entry_bonus_points else 0
        end as bigint) as entry_bonus_points_held,
        cast(coalesce(entries.tier_entries, 0) as bigint) as tier_entries_to_date,
        cast(coalesce(entries.tier_entries, 0) * tiers.entry_bonus_points as bigint)
            as entry_bonus_points_to_date,
        cast(coalesce(compared.members, 0) * tiers.birthday_points as bigint)
            as birthday_points_per_year,
        cast(coalesce(compared.members, 0) * (tiers.points_multiplier - 1) as decimal(18, 4))
            as multiplier_exposure
    from tiers
    inner join programs
        on programs.program_id = tiers.program_id
    inner join scenarios
        on scenarios.program_id = tiers.program_id
        and scenarios.scenario_id = tiers.scenario_id
    left join compared
        on compared.program_id = tiers.program_id
        and compared.scenario_id = tiers.scenario_id
        and compared.tier_code = tiers.tier_code
    left join scenario_totals
        on scenario_totals.program_id = tiers.program_id
        and scenario_totals.scenario_id = tiers.scenario_id
    left join tiers as live_codes
        on live_codes.program_id = tiers.program_id
        and live_codes.scenario_id = 'live'
        and live_codes.tier_code = tiers.tier_code
    left join live_counts
        on live_counts.program_id = tiers.program_id
        and live_counts.tier_code = tiers.tier_code
    left join entries
        on entries.program_id = tiers.program_id
        and entries.scenario_id = tiers.scenario_id
        and entries.tier_code = tiers.tier_code
)

select * from final
