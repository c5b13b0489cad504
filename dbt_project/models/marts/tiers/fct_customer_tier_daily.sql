{{ config(
    incremental_strategy='member_scope',
    unique_key=['program_id', 'customer_id'],
    also_replace='daily_partitions_replaced'
) }}
-- The live tier of every member on each day of the partitions filled so far (interfaces §4):
-- one partition per day, filled by the daily schedule and by backfills. A build replaces the
-- days it was asked for, and restates the members it recomputed on every day already
-- filled (late data moves history, and the days already published follow it).
with

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

history as (
    select * from {{ ref('fct_tier_history') }}
    where scenario_id = 'live'
),

scope as (
    select * from {{ ref('int_rebuild_scope') }}
),

requested_days as (
    select
        programs.program_id,
        cast(days_series.tier_date as date) as tier_date
    from programs
    {{ expand_days(daily_partition_from(), daily_partition_to(), 'tier_date') }}
),

{%- if is_incremental() %}

filled_days as (
    -- days already filled, except those being replaced whole
    select distinct filled.program_id, filled.tier_date
    from {{ this }} as filled
    where not exists (
        select 1 from requested_days
        where requested_days.program_id = filled.program_id
            and requested_days.tier_date = filled.tier_date
    )
),

{%- endif %}

days_to_fill as (
    -- requested days for every member; days already filled for the members recomputed
    select program_id, tier_date, true as is_whole_day from requested_days
{%- if is_incremental() %}
    union all
    select program_id, tier_date, false as is_whole_day from filled_days
{%- endif %}
),

final as (
    select
        history.program_id,
        'live' as scenario_id,
        history.customer_id,
        days_to_fill.tier_date,
        history.tier_code
    from days_to_fill
    inner join history
        on history.program_id = days_to_fill.program_id
        and history.valid_from <= days_to_fill.tier_date
        and (history.valid_to is null or history.valid_to > days_to_fill.tier_date)
    where days_to_fill.is_whole_day
        or exists (
            select 1 from scope
            where scope.program_id = history.program_id
                and scope.customer_id = history.customer_id
        )
)

select * from final
