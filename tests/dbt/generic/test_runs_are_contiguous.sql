{#- Each run starts where the previous one ended: valid_from = previous valid_to, and only
    the last run of a partition may have a null valid_to. -#}
{% test runs_are_contiguous(model, partition_by) %}
with sequenced as (
    select
        valid_from,
        valid_to,
        lag(valid_to) over (partition by {{ partition_by | join(', ') }} order by valid_from)
            as previous_valid_to,
        lead(valid_from) over (partition by {{ partition_by | join(', ') }} order by valid_from)
            as next_valid_from
    from {{ model }}
)
select * from sequenced
where (previous_valid_to is not null and previous_valid_to <> valid_from)
    or (next_valid_from is not null and valid_to is null)
    or (valid_to is not null and valid_to <= valid_from)
{% endtest %}
