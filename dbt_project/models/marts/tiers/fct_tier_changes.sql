{{ config(incremental_strategy='member_scope', unique_key=['program_id', 'customer_id']) }}
-- depends_on: {{ ref('fct_tier_change_restatements') }}
-- One row per tier change (the start of each history run), with a change_id that is the
-- same on every rebuild (int_tier_changes). Built after fct_tier_change_restatements,
-- which compares these rows, as the last build left them, with the new ones.
with

changes as (
    select * from {{ scoped_ref('int_tier_changes', ['program_id', 'customer_id']) }}
),

final as (
    select
        change_id,
        program_id,
        scenario_id,
        customer_id,
        change_date,
        from_tier_code,
        to_tier_code,
        direction,
        change_reason
    from changes
)

select * from final
