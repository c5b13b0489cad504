{#- No two rows share the values of `columns` (the model's grain); each failing row is one
    repeated combination and how many rows share it (`copies`). -#}
{% test unique_combination(model, columns) %}
{{ repeated_keys(model, columns) }}
{% endtest %}
