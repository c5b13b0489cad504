{{ config(materialized='incremental', incremental_strategy='member_scope', unique_key='customer_key') }}
-- The contributions of each contribution set: the specs of a program with the same milestone,
-- qualifying activities (points) and counting start S, which differ only in their window
-- kind (int_window_specs.set_key). Stored once per set rather than once per spec: the
-- bundled samples have 13 specs in 6 sets. Only those attributed on or after S count
-- (`is_counted`): activity before S never counts and never triggers anything (§3, §9); the
-- others are kept so that every spec of a program reports totals on the same activity days.
with

sets as (
    select distinct
        set_key, program_id, milestone, counting_start_date, activities_key
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
        contributions.attribution_date = contributions.known_date as is_known_when_attributed,
        contributions.attribution_date >= sets.counting_start_date as is_counted
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
