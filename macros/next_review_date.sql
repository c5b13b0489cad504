{#- The review day set by a tier change on `day` (tier-rules §4 table): after a promotion
    (or a manual assignment, §6) when `after_promotion` is true, after a review otherwise.
    Null for lifetime: never reviewed. -#}
{% macro next_review_date(kind, day, after_promotion) -%}
    {{ return(adapter.dispatch('next_review_date', 'vip_tiers')(kind, day, after_promotion)) }}
{%- endmacro %}

{% macro default__next_review_date(kind, day, after_promotion) -%}
    case {{ kind }}
        when 'calendar_year' then make_date(
            year({{ day }}) + case when {{ after_promotion }} then 2 else 1 end, 1, 1)
        when 'rolling_365_days' then cast({{ day }} + 365 as date)
        when 'rolling_12_months' then {{ add_months(day, 12) }}
    end
{%- endmacro %}
