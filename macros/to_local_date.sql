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

{#- The UTC instant (a plain TIMESTAMP) at which the local day after `day` starts in IANA
    time zone `tz`: that day's local midnight (where a zone skips midnight, wherever the
    time zone library puts it: at most a day off). -#}
{% macro local_day_end_utc(day, tz) -%}
    {{ return(adapter.dispatch('local_day_end_utc', 'vip_tiers')(day, tz)) }}
{%- endmacro %}

{% macro default__local_day_end_utc(day, tz) -%}
    timezone('UTC', timezone({{ tz }}, cast({{ day }} as timestamp) + interval 1 day))
{%- endmacro %}

{% macro spark__local_day_end_utc(day, tz) -%}
    to_utc_timestamp(cast({{ day }} as timestamp) + interval 1 day, {{ tz }})
{%- endmacro %}

{#- Whether `local_date`, the local date of UTC instant `utc_ts`, is unknown or on or before
    `last_day`, whose end is `last_day_ends_at` (local_day_end_utc). Local dates grow with
    the instant, so only an instant within two days of that end needs its local date; the
    others are compared as instants, and a filter over millions of rows converts a few of
    them to local time instead of all (docs/benchmarks.md). -#}
{% macro local_date_at_most(utc_ts, local_date, last_day, last_day_ends_at) -%}
    case
        when {{ utc_ts }} is null or {{ last_day_ends_at }} is null
            then {{ local_date }} is null or {{ local_date }} <= {{ last_day }}
        when {{ utc_ts }} < {{ last_day_ends_at }} - interval 2 day then true
        when {{ utc_ts }} >= {{ last_day_ends_at }} + interval 2 day then false
        else {{ local_date }} <= {{ last_day }}
    end
{%- endmacro %}
