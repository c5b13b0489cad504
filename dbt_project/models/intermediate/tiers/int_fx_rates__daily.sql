-- One rate per currency pair and day, from each published rate until the day before the
-- next one (the last rate runs to the latest as_of): "the latest earlier rate counts however
-- old" (tier-rules §7, §9) becomes an equi-join on the day.
with

rates as (
    select * from {{ ref('stg_fx_rates') }}
    where rejection_reason is null
),

horizon as (
    select max(as_of_date) as last_day from {{ ref('stg_programs') }}
),

ranged as (
    select
        currency,
        quote_currency,
        rate,
        rate_date as valid_from,
        coalesce(
            cast(lead(rate_date) over (
                partition by currency, quote_currency order by rate_date
            ) - 1 as date),
            greatest(horizon.last_day, rate_date)
        ) as valid_until
    from rates
    cross join horizon
),

final as (
    select
        ranged.currency,
        ranged.quote_currency,
        cast(rate_day as date) as rate_day,
        ranged.valid_from as rate_date,
        ranged.rate
    from ranged
    {{ expand_days('ranged.valid_from', 'ranged.valid_until', 'rate_day') }}
)

select * from final
