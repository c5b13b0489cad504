{{ config(materialized='incremental', incremental_strategy='member_scope', unique_key='customer_key') }}
-- The contributions of each window spec: its milestone and its qualifying activities
-- (points). Only those attributed on or after its counting start count (`is_counted`):
-- activity before S never counts and never triggers anything (§3, §9); the others are kept
-- so that every spec of a program reports totals on the same activity days.
with

specs as (
    select distinct
        spec_key, program_id, milestone, counting_start_date, activities_key
    from {{ ref('int_window_specs') }}
),

contributions as (
    select * from {{ scoped_ref('int_contributions') }}
),

final as (
    select
        specs.spec_key,
        contributions.customer_key,
        contributions.attribution_date,
        contributions.known_date,
        contributions.amount,
        contributions.is_trigger,
        contributions.is_reduction,
        contributions.attribution_date = contributions.known_date as is_known_when_attributed,
        contributions.attribution_date >= specs.counting_start_date as is_counted
    from contributions
    inner join specs
        on specs.program_id = contributions.program_id
        and specs.milestone = contributions.milestone
    where (
            specs.milestone = 'spend'
            or position(',' || contributions.activity || ',' in specs.activities_key) > 0
        )
)

select * from final
