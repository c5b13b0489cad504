"""The export assets in Dagster: lineage, the guard's failing check and release, and a
secret given to every destination that appears nowhere (stdout, stderr, logs, outbox,
Dagster events and run config)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from orchestration.assets.exports import (
    DEAD_LETTER_CHECK,
    EXPORT_ASSETS,
    FCT_TIER_CHANGES,
    HELD_CHECK,
    export_asset_key,
)
from orchestration.exports.cli import standalone_app
from orchestration.exports.resource import ExportsResource
from orchestration.resources import WarehouseResource

from .export_fakes import (
    ENV_NAMES,
    SECRET,
    FakeApi,
    FakeWarehouse,
    destination,
    drop,
    fake_api,
    status,
)

FAST_RESOURCE = {
    "attempts": 4,
    "backoff_initial_s": 0.01,
    "backoff_max_s": 0.05,
    "jitter_s": 0.0,
    "timeout_s": 1.0,
    "pacing": 0.0,
}


def _materialize(
    warehouse: FakeWarehouse, assets: Sequence[dg.AssetsDefinition], exports: ExportsResource
) -> dg.ExecuteInProcessResult:
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            assets,
            resources={
                "exports": exports,
                "warehouse": WarehouseResource(path=str(warehouse.path)),
            },
            instance=instance,
            raise_on_error=False,
        )
        result.stored_logs = instance.all_logs(result.run_id)  # type: ignore[attr-defined]
        result.stored_run = instance.get_run_by_id(result.run_id)  # type: ignore[attr-defined]
    return result


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()
    }


def test_assets_downstream_of_fct_tier_changes() -> None:
    keys = {asset.key for asset in EXPORT_ASSETS}
    assert keys == {
        export_asset_key(t) for t in ("klaviyo", "hubspot", "mailchimp", "webhook", "file")
    }
    for asset in EXPORT_ASSETS:
        assert FCT_TIER_CHANGES in asset.asset_deps[asset.key]
        assert {spec.name for spec in asset.check_specs} == {HELD_CHECK, DEAD_LETTER_CHECK}
    defs = dg.Definitions(
        assets=list(EXPORT_ASSETS),
        resources={"exports": ExportsResource(), "warehouse": WarehouseResource()},
    )
    dg.Definitions.validate_loadable(defs)


def test_guard_check_fails_then_release_sends(warehouse: FakeWarehouse, secrets_env: str) -> None:
    webhook_asset = [a for a in EXPORT_ASSETS if a.key == export_asset_key("webhook")]
    exports = ExportsResource(**FAST_RESOURCE)
    with fake_api("webhook") as api:
        warehouse.add_program(
            "acme",
            members=40,
            exports={"max_change_share": 0.25, "destinations": [destination("webhook", api)]},
        )
        warehouse.add_changes("acme", range(1, 21), direction="downgrade")

        held = _materialize(warehouse, webhook_asset, exports)
        assert held.success
        checks = _checks(held)
        assert not checks[HELD_CHECK].passed
        assert checks[HELD_CHECK].severity == dg.AssetCheckSeverity.ERROR
        assert "20 new tier changes for program acme exceed max_change_share 0.25" in (
            checks[HELD_CHECK].description or ""
        )
        assert checks[DEAD_LETTER_CHECK].passed
        assert api.requests == []

        released = CliRunner().invoke(
            standalone_app,
            ["exports", "release", "--program", "acme", "--warehouse", str(warehouse.path)],
        )
        assert released.exit_code == 0, released.output
        assert "Released 20 held deliveries of program acme" in released.output

        sent = _materialize(warehouse, webhook_asset, exports)
        assert sent.success and all(check.passed for check in _checks(sent).values())
        assert len(api.applied) == 20
        metadata = sent.get_asset_materialization_events()[0].materialization.metadata
        assert metadata["delivered"].value == 20


def _all_destinations(apis: dict[str, FakeApi], files: Path) -> dict:
    return {
        "max_change_share": 1.0,
        "destinations": [
            destination(name, api, **({"timeout_s": 1.0} if name == "webhook" else {}))
            for name, api in apis.items()
        ]
        + [{"id": "drop", "type": "file", "path": str(files)}],
    }


def test_secret_appears_nowhere(
    warehouse: FakeWarehouse,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    for name in ENV_NAMES.values():
        monkeypatch.setenv(name, SECRET)
    caplog.set_level(logging.DEBUG)
    echo = {
        "errors": [{"detail": f"bad key {SECRET}"}],
        "message": f"token {SECRET} refused",
        "detail": f"{SECRET}",
    }
    # Two secrets through dg.EnvVar, the others straight from the environment.
    exports = ExportsResource(
        secrets={
            ENV_NAMES["klaviyo"]: dg.EnvVar(ENV_NAMES["klaviyo"]),
            ENV_NAMES["webhook"]: dg.EnvVar(ENV_NAMES["webhook"]),
        },
        **FAST_RESOURCE,
    )
    names = ("klaviyo", "hubspot", "mailchimp", "webhook")
    with (
        fake_api("klaviyo") as klaviyo,
        fake_api("hubspot") as hubspot,
        fake_api("mailchimp") as mailchimp,
        fake_api("webhook") as webhook,
    ):
        apis = dict(zip(names, (klaviyo, hubspot, mailchimp, webhook), strict=True))
        for api in apis.values():
            api.faults = {1: status(400, body=echo), 2: drop(), 3: status(503, body=echo)}
        # HubSpot sends the four changes in one batch: a 400 would refuse all of them.
        hubspot.faults = {1: drop(), 2: status(503, body=echo)}
        warehouse.add_program("acme", members=20, exports=_all_destinations(apis, tmp_path / "f"))
        warehouse.add_changes("acme", range(1, 5))

        result = _materialize(warehouse, EXPORT_ASSETS, exports)

        # The secret did reach every destination (as their APIs require)…
        for api in apis.values():
            assert api.problems == [] and api.applied
        dead = [r for r in warehouse.deliveries() if r["status"] == "dead_letter"]
        assert len(dead) == 3 and all("HTTP 400" in r["last_error"] for r in dead)

        # …and nothing else holds it.
        out, err = capfd.readouterr()
        places = {
            "stdout": out,
            "stderr": err,
            "logs": "\n".join(
                f"{record.getMessage()} {record.__dict__}" for record in caplog.records
            ),
            "outbox": warehouse.dump_outbox(),
            "events": "\n".join(dg.serialize_value(event) for event in result.all_events),
            "stored logs": "\n".join(
                dg.serialize_value(entry)
                for entry in result.stored_logs  # type: ignore[attr-defined]
            ),
            "run config": repr(result.stored_run.run_config),  # type: ignore[attr-defined]
            "files": "\n".join(p.read_text() for p in (tmp_path / "f").rglob("*.csv")),
        }
        assert places["outbox"] and places["events"] and places["stored logs"]
        leaked = [place for place, text in places.items() if SECRET in text]
        assert leaked == []
        assert "***" in places["outbox"]  # the echoed secret was masked, not dropped silently
        checks = _checks(result)
        assert not checks[DEAD_LETTER_CHECK].passed


def test_missing_secret_fails_the_step_after_recording(warehouse: FakeWarehouse) -> None:
    webhook_asset = [a for a in EXPORT_ASSETS if a.key == export_asset_key("webhook")]
    exports = ExportsResource(read_environment=False, **FAST_RESOURCE)
    with fake_api("webhook") as api:
        warehouse.add_program(
            "acme",
            members=10,
            exports={"max_change_share": 1.0, "destinations": [destination("webhook", api)]},
        )
        warehouse.add_changes("acme", [1])
        result = _materialize(warehouse, webhook_asset, exports)
    assert not result.success and api.requests == []
    failure = result.get_step_failure_events()[0].step_failure_data
    assert ENV_NAMES["webhook"] in (failure.user_failure_data.description or "")
    assert result.get_asset_materialization_events()  # recorded before the step failed
    assert warehouse.statuses() == {"pending": 1}
