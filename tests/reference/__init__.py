"""Plain day-by-day Python reference of the VIP tier rules (see docs/tier-rules-reference.md)."""
