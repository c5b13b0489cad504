{{ config(incremental_strategy='member_scope', unique_key=['program_id', 'customer_id']) }}
-- One row per member movement: every tier change (fct_tier_changes) and every exit, the
-- end of a member's last history run on the unenrolment date. Per member, so an
-- incremental build rewrites only the members it recomputed; the monthly BI marts count
-- these rows instead of looking for exits over all history on every build.
with

changes as (
    select * from {{ scoped_ref('fct_tier_changes', ['program_id', 'customer_id']) }}
),

history as (
    select * from {{ scoped_ref('fct_tier_history', ['program_id', 'customer_id']) }}
),

last_runs as (
    select
        program_id,
        scenario_id,
        customer_id,
        tier_code,
        valid_to,
        lead(valid_from) over (
            partition by program_id, scenario_id, customer_id order by valid_from
        ) as next_valid_from
    from history
),

exits as (
    select program_id, scenario_id, customer_id, tier_code, valid_to as exit_date
    from last_runs
    where valid_to is not null
        and next_valid_from is null
),

final as (
    select
        program_id,
        scenario_id,
        customer_id,
        change_date as movement_date,
        case direction when 'initial' then 'new' else direction end as movement_kind,
        from_tier_code,
        to_tier_code,
        change_id
    from changes
    union all
    select
        program_id,
        scenario_id,
        customer_id,
        exit_date,
        'exit',
        tier_code,
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }})
    from exits
)

select * from final
