{#- dbt's cast on Spark, used by model contracts (the empty-schema query of each contracted
    model's columns): the contracts name `varchar`, which DuckDB knows and Spark accepts only
    with a length; Spark's own name for it is `string`. -#}
{% macro spark__cast(field, type) -%}
    {%- set spark_type = 'string' if type | trim | lower == 'varchar' else type -%}
    cast({{ field }} as {{ spark_type }})
{%- endmacro %}

{#- Constraints (not null) of contracted models: dbt-spark adds them with ALTER TABLE, which
    only Delta tables support; vip-tiers writes Parquet tables on Spark (Delta's jars are not
    bundled), so they are checked by the data tests only, as everywhere else. -#}
{% macro spark__persist_constraints(relation, model) -%}
    {%- if config.get('file_format') == 'delta' -%}
        {{ return(dbt_spark.spark__persist_constraints(relation, model)) }}
    {%- endif -%}
{%- endmacro %}
