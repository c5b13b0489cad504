{#- None of `columns` is ever null: one row per column that has nulls, with how many.

    dbt's `not_null` is one test per column, so one query and one node per column; this is
    the same check for a model's columns in one scan (docs/benchmarks.md: at 20k members the
    123 column tests it replaces cost ~2.5 s a build, and each scanned the table again).
    Columns whose check is a named rule keep their own `not_null` test. -#}
{% test not_null_columns(model, columns) %}
with null_counts as (
    select
    {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as nulls_{{ loop.index }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)
{%- for column in columns %}
select '{{ column }}' as column_name, nulls_{{ loop.index }} as null_rows
from null_counts
where nulls_{{ loop.index }} > 0
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endtest %}
