"""Exports of tier changes to Klaviyo, HubSpot, Mailchimp, signed webhooks and files.

Modules: `payload` (what a change carries), `http` (shared client, retries, scrubbing),
one client per destination (`klaviyo`, `hubspot`, `mailchimp`, `webhook`, `file`),
`outbox` (the warehouse table `exports.export_deliveries`), `runner` (plan → guard →
send → record), `resource` (the Dagster resource), `cli` (the commands).
See docs/exports.md.
"""
