{#- The per-step lookups of the tier state machine (int_tier_states), one formulation per
    adapter. They run inside the recursive CTE, once per state change, on that model's CTEs and
    aliases (`states`, `members`, `step`, `promotion_days`, `contributions`, `manual`):

    tier_states_next_days()  the candidates for a member's next step day after `states`:
        next_promotion.day   the next promotion day whose total reaches a tier above the current
        next_refund.day      the next day a reduction attributed inside W(p) becomes known
                             (provisional members under refunds: reevaluate only)
        next_manual.day      the next applied manual assignment
    tier_states_day_totals() the totals that day's steps read (`totals.*`): review_total
        Q(r - 1, W(r - 1)), day_total Q(e, W(e)), promotion_window_total Q(e, W(p)) and
        has_reduction_today, summed from the member's contributions only where needed.

    DuckDB (default): correlated LATERAL subqueries. Spark cannot decorrelate an aggregate whose
    arguments mix outer and inner columns, so its subqueries first flag each contribution (outer
    columns in a projection, or in the WHERE clause) and then aggregate only inner columns. -#}

{% macro tier_states_next_days() -%}
    {{ return(adapter.dispatch('tier_states_next_days', 'vip_tiers')()) }}
{%- endmacro %}

{% macro default__tier_states_next_days() -%}
    left join lateral (
        select min(promotion_days.day) as day
        from promotion_days
        where promotion_days.scenario_key = states.scenario_key
            and promotion_days.customer_key = states.customer_key
            and promotion_days.day > states.step_day
            and promotion_days.reach_rank > states.tier_rank
    ) as next_promotion on true
    left join lateral (
        select min(contributions.known_date) as day
        from contributions
        where contributions.spec_key = members.spec_key
            and contributions.customer_key = states.customer_key
            and contributions.is_reduction
            and contributions.known_date > states.step_day
            and states.is_provisional
            and members.refunds_policy = 'reevaluate'
            and contributions.attribution_date <= states.promoted_on
            and contributions.attribution_date >= greatest(
                members.counting_start_date,
                coalesce({{ window_start('members.window_kind', 'states.promoted_on') }},
                    members.counting_start_date))
    ) as next_refund on true
    left join lateral (
        select min(manual.assigned_date) as day
        from manual
        where manual.scenario_key = states.scenario_key
            and manual.customer_key = states.customer_key
            and manual.assigned_date > states.step_day
    ) as next_manual on true
{%- endmacro %}

{% macro spark__tier_states_next_days() -%}
    left join lateral (
        select min(promotion_days.day) as day
        from promotion_days
        where promotion_days.scenario_key = states.scenario_key
            and promotion_days.customer_key = states.customer_key
            and promotion_days.day > states.step_day
            and promotion_days.reach_rank > states.tier_rank
    ) as next_promotion on true
    left join lateral (
        select min(contributions.known_date) as day
        from contributions
        where contributions.spec_key = members.spec_key
            and contributions.customer_key = states.customer_key
            and contributions.is_reduction
            and contributions.known_date > states.step_day
            and states.is_provisional
            and members.refunds_policy = 'reevaluate'
            and contributions.attribution_date <= states.promoted_on
            and contributions.attribution_date >= greatest(
                members.counting_start_date,
                coalesce({{ window_start('members.window_kind', 'states.promoted_on') }},
                    members.counting_start_date))
    ) as next_refund on true
    left join lateral (
        select min(manual.assigned_date) as day
        from manual
        where manual.scenario_key = states.scenario_key
            and manual.customer_key = states.customer_key
            and manual.assigned_date > states.step_day
    ) as next_manual on true
{%- endmacro %}

{% macro tier_states_day_totals() -%}
    {{ return(adapter.dispatch('tier_states_day_totals', 'vip_tiers')()) }}
{%- endmacro %}

{% macro default__tier_states_day_totals() -%}
    left join lateral (
        -- the totals this day's steps read, computed only where needed
        select
            sum(case
                when contributions.known_date <= step.step_day - 1
                    and contributions.attribution_date <= step.step_day - 1
                    and contributions.attribution_date >= greatest(
                        step.counting_start_date,
                        coalesce({{ window_start('step.window_kind', 'cast(step.step_day - 1 as date)') }},
                            step.counting_start_date))
                then contributions.amount end) as review_total,
            sum(case
                when contributions.attribution_date >= greatest(
                        step.counting_start_date,
                        coalesce({{ window_start('step.window_kind', 'step.step_day') }},
                            step.counting_start_date))
                then contributions.amount end) as day_total,
            sum(case
                when contributions.attribution_date <= step.promoted_on_before
                    and contributions.attribution_date >= greatest(
                        step.counting_start_date,
                        coalesce({{ window_start('step.window_kind', 'step.promoted_on_before') }},
                            step.counting_start_date))
                then contributions.amount end) as promotion_window_total,
            max(case
                when contributions.is_reduction and contributions.known_date = step.step_day
                then true else false end) as has_reduction_today
        from contributions
        where contributions.spec_key = step.spec_key
            and contributions.customer_key = step.customer_key
            and contributions.known_date <= step.step_day
            and contributions.attribution_date <= step.step_day
            and (step.step_day = step.review_before or step.is_provisional_before)
    ) as totals on true
{%- endmacro %}

{% macro spark__tier_states_day_totals() -%}
    left join lateral (
        -- the totals this day's steps read, computed only where needed
        select
            sum(case when flagged.in_review_window then flagged.amount end) as review_total,
            sum(case when flagged.in_day_window then flagged.amount end) as day_total,
            sum(case when flagged.in_promotion_window then flagged.amount end)
                as promotion_window_total,
            max(flagged.is_reduction_today) as has_reduction_today
        from (
            select
                contributions.amount,
                contributions.known_date <= step.step_day - 1
                    and contributions.attribution_date <= step.step_day - 1
                    and contributions.attribution_date >= greatest(
                        step.counting_start_date,
                        coalesce({{ window_start('step.window_kind', 'cast(step.step_day - 1 as date)') }},
                            step.counting_start_date)) as in_review_window,
                contributions.attribution_date >= greatest(
                        step.counting_start_date,
                        coalesce({{ window_start('step.window_kind', 'step.step_day') }},
                            step.counting_start_date)) as in_day_window,
                contributions.attribution_date <= step.promoted_on_before
                    and contributions.attribution_date >= greatest(
                        step.counting_start_date,
                        coalesce({{ window_start('step.window_kind', 'step.promoted_on_before') }},
                            step.counting_start_date)) as in_promotion_window,
                coalesce(contributions.is_reduction and contributions.known_date = step.step_day,
                    false) as is_reduction_today
            from contributions
            where contributions.spec_key = step.spec_key
                and contributions.customer_key = step.customer_key
                and contributions.known_date <= step.step_day
                and contributions.attribution_date <= step.step_day
                and (step.step_day = step.review_before or step.is_provisional_before)
        ) as flagged
    ) as totals on true
{%- endmacro %}
