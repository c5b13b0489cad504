-- fct_tier_movements_monthly: for every program, scenario, month and tier,
-- opening + new + upgrades in + downgrades in - upgrades out - downgrades out - exits
-- = closing. Stocks come from the daily distribution, flows from the changes and the
-- history: a row returned here means the two disagree.
select
    program_id,
    scenario_id,
    month_start_date,
    tier_code,
    opening_members,
    new_members,
    upgrades_in,
    downgrades_in,
    upgrades_out,
    downgrades_out,
    exits,
    closing_members
from {{ ref('fct_tier_movements_monthly') }}
where opening_members + new_members + upgrades_in + downgrades_in
    - upgrades_out - downgrades_out - exits <> closing_members
    or least(opening_members, new_members, upgrades_in, downgrades_in,
        upgrades_out, downgrades_out, exits, closing_members) < 0
