{#- Join each row of the left side to the latest row of `right_relation` with the same
    `keys` whose `right_date` is strictly before `left_date` (an "as of" lookup). DuckDB
    has a native ASOF join; other adapters rank the candidates of a range join. -#}
{% macro join_latest_before(right_relation, right_alias, left_alias, keys, right_date, left_date) -%}
    {{ return(adapter.dispatch('join_latest_before', 'vip_tiers')(
        right_relation, right_alias, left_alias, keys, right_date, left_date)) }}
{%- endmacro %}

{% macro duckdb__join_latest_before(right_relation, right_alias, left_alias, keys, right_date, left_date) -%}
    asof left join {{ right_relation }} as {{ right_alias }}
        on {% for key in keys %}{{ right_alias }}.{{ key }} = {{ left_alias }}.{{ key }} and {% endfor -%}
        {{ right_alias }}.{{ right_date }} < {{ left_date }}
{%- endmacro %}

{% macro default__join_latest_before(right_relation, right_alias, left_alias, keys, right_date, left_date) -%}
    left join (
        select candidates.*, row_number() over (
            partition by {% for key in keys %}candidates.left_{{ key }}, {% endfor %}candidates.left_date
            order by candidates.{{ right_date }} desc) as recency
        from (
            select {{ right_alias }}_inner.*,
                {% for key in keys %}{{ left_alias }}_keys.{{ key }} as left_{{ key }}, {% endfor %}
                {{ left_alias }}_keys.left_date
            from {{ right_relation }} as {{ right_alias }}_inner
            inner join (
                select distinct {% for key in keys %}{{ key }}, {% endfor %}{{ left_date | replace(left_alias ~ '.', '') }} as left_date
                from {{ left_alias }}
            ) as {{ left_alias }}_keys
                on {% for key in keys %}{{ right_alias }}_inner.{{ key }} = {{ left_alias }}_keys.{{ key }} and {% endfor -%}
                {{ right_alias }}_inner.{{ right_date }} < {{ left_alias }}_keys.left_date
        ) as candidates
    ) as {{ right_alias }}
        on {% for key in keys %}{{ right_alias }}.left_{{ key }} = {{ left_alias }}.{{ key }} and {% endfor -%}
        {{ right_alias }}.left_date = {{ left_date }}
        and {{ right_alias }}.recency = 1
{%- endmacro %}
