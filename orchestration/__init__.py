"""vip-tiers: loyalty VIP tiers computed in the warehouse (dbt) and orchestrated by Dagster."""
