{#- On Spark every vip-tiers build is a full refresh (docs/spark.md): `delete+insert` and the
    project's own strategies need Delta on Spark, whose jars are not bundled. dbt-spark checks
    the strategy before it looks at --full-refresh, so this replaces its check: any strategy
    passes on a full refresh (the table is rebuilt, the strategy is not used); an incremental
    run on Spark gets dbt-spark's own check and a message saying what to do.
    Overrides dbt-spark's macro of the same name (a root-project macro wins). -#}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- if should_full_refresh() -%}
        {% do return(raw_strategy) %}
    {%- endif -%}
    {%- if raw_strategy not in ['append', 'merge', 'insert_overwrite', 'microbatch'] -%}
        {% do exceptions.raise_compiler_error(
            "Incremental strategy '" ~ raw_strategy ~ "' is not available on Spark: vip-tiers "
            ~ "builds the spark target with --full-refresh (vip-tiers run --engine spark does; "
            ~ "docs/spark.md).") %}
    {%- endif -%}
    {% do return(raw_strategy) %}
{% endmacro %}
