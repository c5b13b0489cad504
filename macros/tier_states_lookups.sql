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

    DuckDB (default): correlated LATERAL subqueries. Spark (no aggregates over the recursive
    reference; LATERAL only where it decorrelates well): interval joins for the next promotion
    and manual assignment (see spark__tier_states_next_days), and for the totals a subquery
    that first flags each contribution (outer columns in a projection) and then aggregates
    inner columns only (Spark cannot decorrelate an aggregate mixing outer and inner ones). -#}

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
    {#- Spark decorrelates a lookup such as "the first promotion day after the state's day"
        by joining every promotion day to every distinct (day, rank) of the states, keys
        aside: quadratic. Promotions and manual assignments are therefore looked up as
        intervals instead: each candidate day with the previous candidate day, so the next
        one after day d is the single row with previous <= d < day (an equi-join on the
        member). The refund lookup keeps its correlation on the member's keys. -#}
    left join (
        select
            above.scenario_key,
            above.customer_key,
            above.above_rank,
            above.day,
            lag(above.day) over (
                partition by above.scenario_key, above.customer_key, above.above_rank
                order by above.day
            ) as previous_day
        from (
            -- the promotion days whose total reaches a tier above rank `above_rank`
            select
                promotion_days.scenario_key,
                promotion_days.customer_key,
                bands.tier_rank as above_rank,
                promotion_days.day
            from promotion_days
            inner join bands
                on bands.scenario_key = promotion_days.scenario_key
                and promotion_days.reach_rank > bands.tier_rank
        ) as above
    ) as next_promotion
        on next_promotion.scenario_key = states.scenario_key
        and next_promotion.customer_key = states.customer_key
        and next_promotion.above_rank = states.tier_rank
        and states.step_day >= coalesce(next_promotion.previous_day, date '0001-01-01')
        and states.step_day < next_promotion.day
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
    left join (
        select
            manual.scenario_key,
            manual.customer_key,
            manual.assigned_date as day,
            lag(manual.assigned_date) over (
                partition by manual.scenario_key, manual.customer_key
                order by manual.assigned_date
            ) as previous_day
        from manual
    ) as next_manual
        on next_manual.scenario_key = states.scenario_key
        and next_manual.customer_key = states.customer_key
        and states.step_day >= coalesce(next_manual.previous_day, date '0001-01-01')
        and states.step_day < next_manual.day
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
