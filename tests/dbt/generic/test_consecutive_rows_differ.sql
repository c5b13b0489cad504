{#- Within each partition ordered by `order_by`, no row repeats the previous row's `column`
    (tier history: consecutive runs never have the same tier, tier-rules §8). -#}
{% test consecutive_rows_differ(model, column_name, partition_by, order_by) %}
with sequenced as (
    select
        {{ column_name }} as value,
        lag({{ column_name }}) over (
            partition by {{ partition_by | join(', ') }} order by {{ order_by }}
        ) as previous_value
    from {{ model }}
)
select * from sequenced where value = previous_value
{% endtest %}
