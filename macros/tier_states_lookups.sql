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

    tier_states_rank_reached(), tier_states_carried_columns()  the tier a total reaches.

    DuckDB (default): correlated LATERAL subqueries. Spark forbids aggregates (and windows,
    sorts) over the recursive reference, and decorrelates every correlated subquery into
    joins against a copy of the recursion step, so each level used to re-read the previous
    one dozens of times. The Spark formulation reads it once: interval joins (equi-joins on
    the member) for the next promotion and manual assignment; the member's contributions and
    the scenario's bands as arrays joined by equality, filtered and folded with higher-order
    functions inside a FROM-less LATERAL (which Spark turns into a plain projection). -#}

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
        where contributions.set_key = members.set_key
            and contributions.customer_key = states.customer_key
            and {{ _tier_states_undoing_reduction('contributions') }}
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
        member). The next refund is the least known date among the member's contributions
        (one array per member, see _tier_states_member_contributions) that pass the filter.
        Spark forbids aggregates over the recursive reference, and a correlated aggregate
        would be decorrelated into joins against copies of the recursion step. -#}
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
    left join ({{ _tier_states_member_contributions() }}) as member_contributions
        on member_contributions.set_key = members.set_key
        and member_contributions.customer_key = states.customer_key
    cross join lateral (
        select array_min(transform(
            filter(member_contributions.items, reduction ->
                {{ _tier_states_undoing_reduction('reduction') }}),
            reduction -> reduction.known_date)) as day
    ) as next_refund
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

{#- Whether contribution `item` (a row alias or a lambda variable) is a reduction that
    becomes known after the state's day and was attributed inside the window of the state's
    provisional promotion, so that it can undo that promotion (refunds: reevaluate). -#}
{% macro _tier_states_undoing_reduction(item) -%}
    {{ item }}.is_reduction
            and {{ item }}.known_date > states.step_day
            and states.is_provisional
            and members.refunds_policy = 'reevaluate'
            and {{ item }}.attribution_date <= states.promoted_on
            and {{ item }}.attribution_date >= greatest(
                members.counting_start_date,
                coalesce({{ window_start('members.window_kind', 'states.promoted_on') }},
                    members.counting_start_date))
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
                    and contributions.attribution_date >= step.counting_start_date
                then true else false end) as has_reduction_today
        from contributions
        where contributions.set_key = step.set_key
            and contributions.customer_key = step.customer_key
            and contributions.known_date <= step.step_day
            and contributions.attribution_date <= step.step_day
            and (step.step_day = step.review_before or step.is_provisional_before)
    ) as totals on true
{%- endmacro %}

{% macro spark__tier_states_day_totals() -%}
    {#- The member's contributions as one array per member, joined once to the step rows;
        the totals are folds over that array (higher-order functions), so the step rows are
        read once and nothing aggregates over the recursive reference. -#}
    left join ({{ _tier_states_member_contributions() }}) as step_contributions
        on step_contributions.set_key = step.set_key
        and step_contributions.customer_key = step.customer_key
    left join (
        -- the scenario's bands, for tier_states_rank_reached
        select bands.scenario_key, collect_list(struct(bands.tier_rank, bands.lower_bound)) as bands
        from bands
        group by bands.scenario_key
    ) as scenario_bands
        on scenario_bands.scenario_key = step.scenario_key
    cross join lateral (
        -- the totals this day's steps read, computed only where needed
        select
            {{ _tier_states_sum("item.known_date <= step.step_day - 1
                and item.attribution_date <= step.step_day - 1
                and item.attribution_date >= greatest(
                    step.counting_start_date,
                    coalesce(" ~ window_start('step.window_kind', 'cast(step.step_day - 1 as date)') ~ ",
                        step.counting_start_date))") }} as review_total,
            {{ _tier_states_sum("item.attribution_date >= greatest(
                    step.counting_start_date,
                    coalesce(" ~ window_start('step.window_kind', 'step.step_day') ~ ",
                        step.counting_start_date))") }} as day_total,
            {{ _tier_states_sum("item.attribution_date <= step.promoted_on_before
                and item.attribution_date >= greatest(
                    step.counting_start_date,
                    coalesce(" ~ window_start('step.window_kind', 'step.promoted_on_before') ~ ",
                        step.counting_start_date))") }} as promotion_window_total,
            case when step.step_day = step.review_before or step.is_provisional_before
                then exists(step_contributions.items, item ->
                    item.is_reduction
                    and item.known_date = step.step_day
                    and item.attribution_date <= step.step_day
                    and item.attribution_date >= step.counting_start_date)
            end as has_reduction_today
    ) as totals
{%- endmacro %}

{#- Spark: each member's contributions as one array (`items`) per set and customer,
    joined to the recursion step by equality; the lookups filter and fold the array with
    higher-order functions. Both joins use this same subquery, so Spark can reuse it. -#}
{% macro _tier_states_member_contributions() -%}
        select
            contributions.set_key,
            contributions.customer_key,
            collect_list(struct(
                contributions.known_date,
                contributions.attribution_date,
                contributions.amount,
                contributions.is_reduction)) as items
        from contributions
        group by contributions.set_key, contributions.customer_key
    {%- endmacro %}

{#- sum(amount) over the step's items known and attributed by the step day that satisfy
    `condition` (null when none, like sum), only on the days whose steps read totals. -#}
{% macro _tier_states_sum(condition) -%}
    case when step.step_day = step.review_before or step.is_provisional_before then
            aggregate(
                filter(step_contributions.items, item ->
                    item.known_date <= step.step_day
                    and item.attribution_date <= step.step_day
                    and {{ condition }}),
                cast(null as decimal(38, 2)),
                (total, item) -> cast(coalesce(total, 0) + item.amount as decimal(38, 2)))
            end
{%- endmacro %}


{#- Columns the day's rows carry to the later steps of the day besides `step.*` and the
    totals: nothing on DuckDB; on Spark the scenario's bands (`scenario_bands`, an array) for
    the refund step's tier_states_rank_reached. Emitted right after `step.*,`. -#}
{% macro tier_states_carried_columns() -%}
    {{ return(adapter.dispatch('tier_states_carried_columns', 'vip_tiers')()) }}
{%- endmacro %}

{% macro default__tier_states_carried_columns() -%}{%- endmacro %}

{% macro spark__tier_states_carried_columns() %} scenario_bands.bands as scenario_bands,{% endmacro %}

{#- The highest tier rank whose lower bound `total` reaches in scenario `scenario_key` (0 when
    none): a subquery on `bands` correlated by the scenario and the total. On Spark such a
    correlation on a value makes the optimizer re-derive every distinct total from a copy of
    the whole recursion step, so where the caller can pass the scenario's bands as an array
    (`bands_array`: `scenario_bands.bands`, joined by spark__tier_states_day_totals) the
    lookup is a filter over that array instead (`reviewed.scenario_bands` on the refund step,
    carried by tier_states_carried_columns). DuckDB ignores `bands_array`. -#}
{% macro tier_states_rank_reached(scenario_key, total, bands_array=none) -%}
    {{ return(adapter.dispatch('tier_states_rank_reached', 'vip_tiers')(
        scenario_key, total, bands_array)) }}
{%- endmacro %}

{% macro default__tier_states_rank_reached(scenario_key, total, bands_array) -%}
coalesce((
    select max(bands.tier_rank) from bands
    where bands.scenario_key = {{ scenario_key }}
        and bands.lower_bound <= coalesce({{ total }}, 0)
), 0)
{%- endmacro %}

{% macro spark__tier_states_rank_reached(scenario_key, total, bands_array) -%}
{%- if bands_array is none -%}
{{ default__tier_states_rank_reached(scenario_key, total, bands_array) }}
{%- else -%}
coalesce(array_max(transform(
    filter({{ bands_array }}, band -> band.lower_bound <= coalesce({{ total }}, 0)),
    band -> band.tier_rank)), 0)
{%- endif -%}
{%- endmacro %}
