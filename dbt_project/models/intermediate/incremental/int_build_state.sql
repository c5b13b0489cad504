{{ config(materialized='incremental', incremental_strategy='member_scope', unique_key='customer_key') }}
-- depends_on: {{ ref('fct_qualifying_windows') }}
-- depends_on: {{ ref('fct_tier_history') }}
-- depends_on: {{ ref('fct_tier_changes') }}
-- depends_on: {{ ref('dim_customer_tier_current') }}
-- depends_on: {{ ref('fct_customer_tier_daily') }}
-- The state an incremental build starts from (docs/operations.md "Incremental runs"): per
-- member, the fingerprint of the inputs the last build used, the as_of and config it was
-- built with, and the next day on which the calendar alone can change their outputs
-- (`next_event_date`: a review, an amount leaving a current window, the eligibility start).
-- Built last, after every per-member model: when any of them fails, the state stays where
-- it was and the next build recomputes the same members again.
with

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

fingerprints as (
    select * from {{ scoped_ref('int_member_fingerprints') }}
),

customers as (
    select * from {{ scoped_ref('int_customers__eligibility') }}
),

current_tiers as (
    select * from {{ scoped_ref('int_tier_current') }}
),

calendar_events as (
    select
        customer_key,
        least(min(review_on), min(totals_change_on)) as next_event_date
    from current_tiers
    group by customer_key
),

final as (
    select
        fingerprints.program_id,
        fingerprints.customer_id,
        fingerprints.customer_key,
        fingerprints.inputs_fingerprint,
        least(
            calendar_events.next_event_date,
            -- enrolled, but the program has not launched yet
            case when customers.enrolled_date is not null
                and customers.eligible_from > programs.as_of_date
                then customers.eligible_from end
        ) as next_event_date,
        programs.as_of_date as built_as_of,
        programs.config_hash
    from fingerprints
    inner join programs
        on programs.program_id = fingerprints.program_id
    inner join customers
        on customers.customer_key = fingerprints.customer_key
    left join calendar_events
        on calendar_events.customer_key = fingerprints.customer_key
)

select * from final
