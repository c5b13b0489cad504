{#- The local calendar date, in IANA time zone `tz`, of a UTC instant stored as a plain
    TIMESTAMP. Every rule works on these dates (tier-rules §1). -#}
{% macro to_local_date(utc_ts, tz) -%}
    {{ return(adapter.dispatch('to_local_date', 'vip_tiers')(utc_ts, tz)) }}
{%- endmacro %}

{% macro default__to_local_date(utc_ts, tz) -%}
    cast(timezone({{ tz }}, timezone('UTC', {{ utc_ts }})) as date)
{%- endmacro %}

{% macro spark__to_local_date(utc_ts, tz) -%}
    to_date(from_utc_timestamp({{ utc_ts }}, {{ tz }}))
{%- endmacro %}
