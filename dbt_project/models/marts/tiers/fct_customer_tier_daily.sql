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

requested_rows as (
    select
        history.program_id,
        history.customer_id,
        requested_days.tier_date,
        history.tier_code
    from requested_days
    inner join history
        on history.program_id = requested_days.program_id
        and history.valid_from <= requested_days.tier_date
        and (history.valid_to is null or history.valid_to > requested_days.tier_date)
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

restated_rows as (
    select
        history.program_id,
        history.customer_id,
        filled_days.tier_date,
        history.tier_code
    from filled_days
    inner join history
        on history.program_id = filled_days.program_id
        and history.valid_from <= filled_days.tier_date
        and (history.valid_to is null or history.valid_to > filled_days.tier_date)
    inner join scope
        on scope.program_id = history.program_id
        and scope.customer_id = history.customer_id
),

{%- endif %}

final as (
    select
        program_id,
        'live' as scenario_id,
        customer_id,
        tier_date,
        tier_code
    from requested_rows
{%- if is_incremental() %}
    union all
    select
        program_id,
        'live' as scenario_id,
        customer_id,
        tier_date,
        tier_code
    from restated_rows
{%- endif %}
)

select * from final
