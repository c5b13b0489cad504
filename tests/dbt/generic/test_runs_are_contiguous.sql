{#- Runs of a partition ordered by valid_from: each starts where the previous one ended
    (valid_from = previous valid_to), ends after it starts, and only the last may have a
    null valid_to. Together these make valid_from unique within a partition. With
    `differ_in`, consecutive runs also differ in that column (tier history: a run never
    repeats the previous run's tier, tier-rules §8). One sort of the model for all of it;
    each failing row says which rule it breaks. -#}
{% test runs_are_contiguous(model, partition_by, differ_in=none) %}
with sequenced as (
    select
        {{ partition_by | join(', ') }},
        valid_from,
        valid_to,
        lag(valid_to) over runs as previous_valid_to,
        lead(valid_from) over runs as next_valid_from
        {%- if differ_in %},
        {{ differ_in }} = lag({{ differ_in }}) over runs as repeats_previous
        {%- endif %}
    from {{ model }}
    window runs as (partition by {{ partition_by | join(', ') }} order by valid_from)
),

judged as (
    select
        *,
        case
            when valid_to is not null and valid_to <= valid_from
                then 'valid_to is not after valid_from'
            when previous_valid_to is not null and previous_valid_to <> valid_from
                then 'does not start where the previous run ends'
            when next_valid_from is not null and valid_to is null
                then 'open-ended run followed by another'
            {%- if differ_in %}
            when repeats_previous then 'same {{ differ_in }} as the previous run'
            {%- endif %}
        end as problem
    from sequenced
)

select * from judged where problem is not null
{% endtest %}
