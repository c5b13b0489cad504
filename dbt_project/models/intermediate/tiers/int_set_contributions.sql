{{ config(
    materialized='incremental',
    incremental_strategy='member_scope',
    unique_key='customer_key',
    on_schema_change='sync_all_columns'
) }}
-- (on_schema_change: the column `is_counted`, which warehouses built before 2026-12-08 have,
-- is dropped on the first build.)
-- The contributions of each contribution set: the specs of a program with the same milestone
-- and qualifying activities (points), which differ only in their window kind or counting
-- start S (int_window_specs.set_key). Stored once per set rather than once per spec: the
-- bundled samples have 13 specs in 4 sets. Every contribution of the set is kept, also those
-- attributed before a spec's S: each reader keeps to attribution_date >= S itself (activity
-- before S never counts and never triggers anything, §3, §9), and every spec of a program
-- reports totals on the same activity days.
with

sets as (
    select distinct set_key, program_id, milestone, activities_key
    from {{ ref('int_window_specs') }}
),

contributions as (
    select * from {{ scoped_ref('int_contributions') }}
),

final as (
    select
        sets.set_key,
        contributions.customer_key,
        contributions.attribution_date,
        contributions.known_date,
        contributions.amount,
        contributions.is_trigger,
        contributions.is_reduction,
        contributions.attribution_date = contributions.known_date as is_known_when_attributed
    from contributions
    inner join sets
        on sets.program_id = contributions.program_id
        and sets.milestone = contributions.milestone
    where (
            sets.milestone = 'spend'
            or position(',' || contributions.activity || ',' in sets.activities_key) > 0
        )
)

select * from final
