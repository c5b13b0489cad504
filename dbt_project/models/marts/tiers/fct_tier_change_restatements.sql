{{ config(incremental_strategy='append', unique_key=none, full_refresh=false) }}
-- A log of restated tier changes (docs/operations.md "Restatements"): a change that an
-- earlier build published in fct_tier_changes and this build no longer finds, because
-- late data (an order or refund loaded after its date, a corrected row) rewrote the
-- member's history. `replaced_by_change_id` is the member's first new change on or after
-- the restated one's date (null when the history simply lost it). Exports use this log to
-- send a correction wherever the restated change had been delivered.
--
-- Runs before fct_tier_changes is rewritten and reads it as the last build left it. Never
-- rebuilt by --full-refresh: it is a record of what was published, not a function of
-- today's data.
{%- set published = none -%}
{%- if execute -%}
    {%- set published = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='fct_tier_changes') -%}
{%- endif %}

with

programs as (
    select * from {{ ref('stg_programs') }}
    where is_buildable
),

scope as (
    select * from {{ ref('int_rebuild_scope') }}
),

new_changes as (
    select changes.*
    from {{ ref('int_tier_changes') }} as changes
    inner join scope
        on scope.program_id = changes.program_id
        and scope.customer_id = changes.customer_id
),

old_changes as (
{%- if published is not none %}
    select changes.*
    from {{ published }} as changes
    inner join scope
        on scope.program_id = changes.program_id
        and scope.customer_id = changes.customer_id
{%- else %}
    select * from new_changes where false
{%- endif %}
),

restated as (
    select old_changes.*
    from old_changes
    where not exists (
        select 1 from new_changes where new_changes.change_id = old_changes.change_id
    )
),

replacements as (
    select new_changes.*
    from new_changes
    where not exists (
        select 1 from old_changes where old_changes.change_id = new_changes.change_id
    )
),

matched as (
    select
        restated.*,
        replacements.change_id as replaced_by_change_id,
        replacements.change_date as replaced_by_change_date,
        replacements.to_tier_code as replaced_by_to_tier_code,
        row_number() over (
            partition by restated.change_id
            order by replacements.change_date, replacements.change_id
        ) as replacement_rank
    from restated
    left join replacements
        on replacements.program_id = restated.program_id
        and replacements.scenario_id = restated.scenario_id
        and replacements.customer_id = restated.customer_id
        and replacements.change_date >= restated.change_date
),

final as (
    select
        matched.program_id,
        matched.scenario_id,
        matched.customer_id,
        matched.change_id as restated_change_id,
        matched.change_date as restated_change_date,
        matched.from_tier_code as restated_from_tier_code,
        matched.to_tier_code as restated_to_tier_code,
        matched.replaced_by_change_id,
        matched.replaced_by_change_date,
        matched.replaced_by_to_tier_code,
        programs.as_of_date as restated_as_of
    from matched
    inner join programs
        on programs.program_id = matched.program_id
    where matched.replacement_rank = 1
)

select * from final
