"""Program config: validation messages, defaults, scenario resolution, the post-launch tier
lock and writing the config tables of the warehouse."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.config_tables import stored_status
from orchestration.programs import (
    DEFAULT_QUALIFYING_ACTIVITIES,
    PERIOD_MODES,
    ProgramConfig,
    ProgramsDirectoryError,
    load_program_files,
    load_programs,
    resolve_scenarios,
    sync_program_config,
    tier_lock_problems,
)

FIXTURES = Path(__file__).parent / "fixtures" / "programs"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
MODE_IDS = [mode.scenario_id for mode in PERIOD_MODES]
AFTER_LAUNCH = date(2024, 6, 30)

# --- fixtures and helpers -----------------------------------------------------------------


def good_config(name: str = "acme") -> ProgramConfig:
    result = load_program_files([GOOD / f"{name}.yaml"])
    assert result.ok, result.as_text()
    return result.valid[0]


def write_program(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def acme_text(**replacements: str) -> str:
    text = (GOOD / "acme.yaml").read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


MINIMAL = (GOOD / "minimal.yaml").read_text(encoding="utf-8")


# --- every invalid-file rule: file, field and problem in the message ----------------------

BAD_FILES = [
    ("missing_required", "timezone", "required setting is missing"),
    ("bad_milestone", "milestone", "'revenue' is not allowed; expected 'spend' or 'points'"),
    ("bad_period", "period", "'quarterly' is not allowed"),
    ("bad_rolling_window", "rolling_window", "'90_days' is not allowed"),
    ("bad_refunds", "refunds", "'ignore' is not allowed; expected 'reevaluate' or 'keep'"),
    ("back_date_not_before_start", "back_date", "must be earlier than start_date 2023-02-01"),
    ("launch_before_start", "launch_date", "launch_date 2023-01-15 is before start_date"),
    ("tier_code_repeats", "tiers[2].code", "tier code 'silver' repeats"),
    ("base_threshold_not_zero", "tiers[0].threshold", "must have threshold 0, not 10"),
    (
        "thresholds_not_rising",
        "tiers[2].threshold",
        "thresholds must rise strictly (gold 900 ≤ silver 1000)",
    ),
    ("scenario_unknown_tier", "scenarios[0].thresholds.platinum", "has no tier 'platinum'"),
    (
        "scenario_thresholds_not_rising",
        "scenarios[0].thresholds.gold",
        "thresholds must rise strictly (gold 400 ≤ silver 500)",
    ),
    ("scenario_tiers_not_rising", "scenarios[0].tiers[1].threshold", "must rise strictly"),
    ("scenario_tiers_and_thresholds", "scenarios[0].thresholds", "not both"),
    ("unknown_activity", "qualifying_activities[1]", "'dancing' is not allowed"),
    ("never_qualifying_activity", "qualifying_activities[1]", "'redemption' never counts"),
    ("scenario_id_repeats", "scenarios[1].id", "scenario id 'what_if' repeats"),
    ("scenario_id_live", "scenarios[0].id", "scenario id 'live' is reserved"),
    ("scenario_id_mode", "scenarios[0].id", "scenario id 'mode_lifetime' is reserved"),
    ("bad_program_id", "program_id", "pattern [a-z0-9_]+"),
    ("bad_timezone", "timezone", "'Eastern Time' is not an IANA time zone name"),
    ("bad_currency", "currency", "'dollars' is not a 3-letter upper-case currency code"),
    ("unknown_setting", "tiers[1].threshhold", "unknown setting 'threshhold' (did you mean"),
    ("yaml_syntax", "line 13", "expected ',' or '}'"),
    ("duplicate_key", "line 10", "key 'period' is written twice"),
    ("date_as_number", "start_date", "expected a date written YYYY-MM-DD"),
    ("not_a_mapping", "(file)", "expected a mapping of settings"),
    ("bad_destination_type", "exports.destinations[0]", "type 'sms' is not one of"),
    ("secret_in_env_setting", "exports.destinations[0].api_key_env", "NAME of an environment"),
    ("destination_id_repeats", "exports.destinations[1].id", "destination id 'crm' repeats"),
    ("bad_max_change_share", "exports.max_change_share", "less than or equal to 1"),
]


def test_every_bad_fixture_has_a_case() -> None:
    assert sorted(path.stem for path in BAD.glob("*.yaml")) == sorted(
        name for name, _, _ in BAD_FILES
    )


@pytest.mark.parametrize(("name", "field", "problem"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_invalid_file_names_file_field_and_problem(
    tmp_path: Path, name: str, field: str, problem: str
) -> None:
    programs_dir = tmp_path / "programs"
    programs_dir.mkdir()
    shutil.copy(BAD / f"{name}.yaml", programs_dir)

    result = load_programs(programs_dir)

    assert result.valid == []
    messages = [str(error) for error in result.errors]
    expected_prefix = f"{programs_dir / f'{name}.yaml'}: {field}: "
    assert any(m.startswith(expected_prefix) and problem in m for m in messages), messages


def test_message_reads_file_field_problem() -> None:
    result = load_program_files([BAD / "thresholds_not_rising.yaml"])

    (error,) = result.errors
    assert str(error) == (
        f"{BAD / 'thresholds_not_rising.yaml'}: tiers[2].threshold: "
        "thresholds must rise strictly (gold 900 ≤ silver 1000)"
    )
    assert error.line == 13


def test_secret_pasted_into_env_setting_is_not_echoed() -> None:
    result = load_program_files([BAD / "secret_in_env_setting.yaml"])

    assert "pk_live_0123456789abcdef" not in result.as_text()


def test_all_problems_of_a_file_are_reported_at_once(tmp_path: Path) -> None:
    text = acme_text(
        **{
            "timezone: America/New_York": "timezone: Mars/Olympus",
            "threshold: 1000": "threshold: 400",
            "thresholds: {gold: 1500}": "thresholds: {platinum: 1500}",
        }
    )
    path = write_program(tmp_path, "acme.yaml", text)

    fields = {error.field for error in load_program_files([path]).errors}

    assert {"timezone", "tiers[2].threshold", "scenarios[0].thresholds.platinum"} <= fields


def test_one_invalid_file_does_not_stop_the_others(tmp_path: Path) -> None:
    for path in [*BAD.glob("*.yaml"), GOOD / "minimal.yaml"]:
        shutil.copy(path, tmp_path)

    result = load_programs(tmp_path)

    assert [config.program_id for config in result.valid] == ["minimal"]
    assert len({error.file for error in result.errors}) == len(BAD_FILES)


def test_program_id_used_by_two_files_invalidates_both() -> None:
    result = load_programs(FIXTURES / "duplicate_id")

    assert [config.program_id for config in result.valid] == ["other"]
    assert result.invalid_program_ids == {"twin"}
    messages = [str(error) for error in result.errors]
    assert len(messages) == 2
    assert all(": program_id: program_id 'twin' is also used by " in m for m in messages)
    assert str(FIXTURES / "duplicate_id" / "second.yaml") in messages[0]


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProgramsDirectoryError, match="does not exist"):
        load_programs(tmp_path / "nowhere")


def test_directory_without_program_files_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not a program")
    (tmp_path / ".hidden.yaml").write_text("program_id: hidden")

    with pytest.raises(ProgramsDirectoryError, match=r"holds no program file \(\*\.yaml"):
        load_programs(tmp_path)


def test_yml_extension_is_read(tmp_path: Path) -> None:
    write_program(tmp_path, "minimal.yml", MINIMAL)

    assert [config.program_id for config in load_programs(tmp_path).valid] == ["minimal"]


def test_direct_model_validation_raises_with_the_rules() -> None:
    data = {
        "program_id": "x",
        "currency": "USD",
        "timezone": "UTC",
        "start_date": "2024-01-01",
        "launch_date": "2024-01-01",
        "milestone": "spend",
        "period": "lifetime",
        "tiers": [{"code": "a", "threshold": 0}, {"code": "b", "threshold": 0}],
    }
    with pytest.raises(ValueError, match=r"tiers\[1\]\.threshold: thresholds must rise"):
        ProgramConfig.model_validate(data)


# --- defaults -----------------------------------------------------------------------------


def test_defaults() -> None:
    config = good_config("minimal")

    assert config.name == "minimal"
    assert config.back_date is None
    assert config.refunds == "reevaluate"
    assert config.rolling_window == "365_days"
    assert config.compare_period_modes is True
    assert config.allow_post_launch_tier_changes is False
    assert config.scenarios == []
    assert config.exports is None
    plus = config.tiers[1]
    assert plus.name == "plus"
    assert (plus.entry_bonus_points, plus.birthday_points) == (0, 0)
    assert plus.points_multiplier == Decimal("1")
    assert plus.perks == []


def test_points_program_without_activities_uses_the_default_list() -> None:
    live = resolve_scenarios(good_config("minimal"))[0]

    assert live.qualifying_activities == DEFAULT_QUALIFYING_ACTIVITIES
    assert DEFAULT_QUALIFYING_ACTIVITIES == (
        "purchase",
        "signup",
        "birthday",
        "review",
        "referral",
        "social",
    )


def test_exports_defaults_and_destinations() -> None:
    exports = good_config().exports
    assert exports is not None

    assert exports.send_initial is False
    assert exports.since == date(2024, 1, 1)
    assert [d.type for d in exports.destinations] == [
        "klaviyo",
        "hubspot",
        "mailchimp",
        "webhook",
        "file",
    ]
    hubspot, webhook, file = (
        exports.destinations[1],
        exports.destinations[3],
        exports.destinations[4],
    )
    assert hubspot.base_url == "http://127.0.0.1:8080"  # type: ignore[union-attr]
    assert webhook.timeout_s == 10.0  # type: ignore[union-attr]
    assert file.format == "csv"  # type: ignore[union-attr]


def test_config_hash_ignores_layout_and_spelled_out_defaults(tmp_path: Path) -> None:
    spelled_out = MINIMAL.replace(
        "period: lifetime", "period: lifetime\nrefunds: reevaluate\nrolling_window: 365_days"
    ).replace("threshold: 100}", "threshold: 100.00, perks: []}")
    first = load_program_files([write_program(tmp_path / "a", "m.yaml", MINIMAL)]).valid[0]
    second = load_program_files([write_program(tmp_path / "b", "m.yaml", spelled_out)]).valid[0]
    changed = MINIMAL.replace("threshold: 100}", "threshold: 150}")
    third = load_program_files([write_program(tmp_path / "c", "m.yaml", changed)]).valid[0]

    assert first.config_hash() == second.config_hash()
    assert first.config_hash() != third.config_hash()


# --- scenario resolution ------------------------------------------------------------------


def test_scenarios_are_live_then_modes_then_custom() -> None:
    ids = [scenario.scenario_id for scenario in resolve_scenarios(good_config())]

    assert ids == ["live", *MODE_IDS, "gold_at_1500", "points_based", "yearly_reevaluate"]


def test_live_scenario_is_the_file_settings() -> None:
    live = resolve_scenarios(good_config())[0]

    assert live.is_live and not live.is_custom
    assert (live.milestone, live.period, live.rolling_window, live.refunds) == (
        "spend",
        "rolling",
        "12_months",
        "keep",
    )
    assert live.window_kind == "rolling_12_months"
    assert live.qualifying_activities == ()


def test_mode_scenarios_use_live_tiers_with_their_period() -> None:
    config = good_config()
    modes = {s.scenario_id: s for s in resolve_scenarios(config) if s.kind == "period_mode"}

    assert {sid: s.window_kind for sid, s in modes.items()} == {
        "mode_lifetime": "lifetime",
        "mode_calendar_year": "calendar_year",
        "mode_rolling_365_days": "rolling_365_days",
        "mode_rolling_12_months": "rolling_12_months",
    }
    assert modes["mode_lifetime"].rolling_window is None
    for scenario in modes.values():
        assert scenario.tiers == tuple(config.tiers)
        assert (scenario.milestone, scenario.refunds) == ("spend", "keep")


def test_compare_period_modes_false_leaves_out_the_mode_scenarios(tmp_path: Path) -> None:
    text = acme_text(**{"refunds: keep": "refunds: keep\ncompare_period_modes: false"})
    config = load_program_files([write_program(tmp_path, "acme.yaml", text)]).valid[0]

    ids = [scenario.scenario_id for scenario in resolve_scenarios(config)]

    assert ids == ["live", "gold_at_1500", "points_based", "yearly_reevaluate"]


def test_thresholds_override_changes_only_the_named_tier() -> None:
    scenarios = {s.scenario_id: s for s in resolve_scenarios(good_config())}
    live, gold_at_1500 = scenarios["live"], scenarios["gold_at_1500"]

    assert [t.threshold for t in gold_at_1500.tiers] == [0, 500, 1500]
    assert [t.name for t in gold_at_1500.tiers] == [t.name for t in live.tiers]
    assert gold_at_1500.tiers[2].perks == ["Free shipping", "Early access"]
    assert gold_at_1500.description == "Gold is harder to reach"
    assert (gold_at_1500.period, gold_at_1500.rolling_window, gold_at_1500.refunds) == (
        "rolling",
        "12_months",
        "keep",
    )


def test_custom_scenario_inherits_what_it_does_not_override() -> None:
    scenario = {s.scenario_id: s for s in resolve_scenarios(good_config())}["yearly_reevaluate"]

    assert scenario.is_custom
    assert (scenario.milestone, scenario.period, scenario.refunds) == (
        "spend",
        "calendar_year",
        "reevaluate",
    )
    assert scenario.rolling_window is None
    assert [t.code for t in scenario.tiers] == ["member", "silver", "gold"]


def test_scenario_switching_to_points_uses_its_tiers_and_the_default_activities() -> None:
    scenario = {s.scenario_id: s for s in resolve_scenarios(good_config())}["points_based"]

    assert scenario.milestone == "points"
    assert [(t.code, t.name, t.threshold) for t in scenario.tiers] == [
        ("member", "member", 0),
        ("vip", "VIP", 2000),
    ]
    assert scenario.qualifying_activities == DEFAULT_QUALIFYING_ACTIVITIES
    assert scenario.refunds == "keep"


def test_scenario_switching_to_rolling_inherits_the_rolling_window(tmp_path: Path) -> None:
    text = MINIMAL.replace("period: lifetime", "period: lifetime\nrolling_window: 12_months")
    text += "scenarios:\n  - {id: rolling, period: rolling}\n"
    config = load_program_files([write_program(tmp_path, "m.yaml", text)]).valid[0]

    scenarios = {s.scenario_id: s for s in resolve_scenarios(config)}

    assert scenarios["live"].rolling_window is None
    assert scenarios["rolling"].window_kind == "rolling_12_months"


# --- the post-launch tier lock ------------------------------------------------------------

STORED_ACME = {"member": Decimal("0"), "silver": Decimal("500"), "gold": Decimal("1000")}


def locked_errors(text: str, tmp_path: Path, as_of: date | None = AFTER_LAUNCH) -> list[str]:
    path = write_program(tmp_path, "acme.yaml", text)
    result = load_program_files([path], {"acme": STORED_ACME}, as_of)
    return [str(error) for error in result.errors]


def test_threshold_change_after_launch_is_blocked(tmp_path: Path) -> None:
    text = acme_text(**{"threshold: 1000": "threshold: 1200"})

    (message,) = locked_errors(text, tmp_path)

    assert "acme.yaml: tiers[2].threshold: threshold of tier 'gold' changed from 1000" in message
    assert "to 1200 after launch" in message
    assert "allow_post_launch_tier_changes: true" in message


def test_adding_or_removing_a_tier_after_launch_is_blocked(tmp_path: Path) -> None:
    added = acme_text(
        **{
            "perks: [Free shipping, Early access]}": "perks: [Free shipping, Early access]}\n"
            "  - {code: platinum, threshold: 5000}"
        }
    )
    removed = STORED_ACME | {"bronze": Decimal("2000")}

    assert any(
        "tier 'platinum' was added after launch" in m for m in locked_errors(added, tmp_path)
    )
    result = load_program_files(
        [write_program(tmp_path, "acme.yaml", acme_text())], {"acme": removed}, AFTER_LAUNCH
    )
    assert [e.field for e in result.errors] == ["tiers"]
    assert "tier 'bronze' was removed after launch" in result.errors[0].problem


def test_the_lock_starts_on_launch_day(tmp_path: Path) -> None:
    text = acme_text(**{"threshold: 1000": "threshold: 1200"})

    assert locked_errors(text, tmp_path, as_of=date(2023, 3, 14)) == []
    assert locked_errors(text, tmp_path, as_of=date(2023, 3, 15)) != []
    assert locked_errors(text, tmp_path, as_of=None) != []  # today, long after launch


def test_the_flag_allows_tier_changes_after_launch(tmp_path: Path) -> None:
    text = acme_text(
        **{
            "threshold: 1000": "threshold: 1200",
            "refunds: keep": "refunds: keep\nallow_post_launch_tier_changes: true",
        }
    )

    assert locked_errors(text, tmp_path) == []


def test_names_perks_bonuses_and_multipliers_may_change_after_launch(tmp_path: Path) -> None:
    text = acme_text(
        **{
            "name: Gold": "name: Golden",
            "perks: [Free shipping, Early access]": "perks: [Lounge access]",
            "entry_bonus_points: 250": "entry_bonus_points: 300",
            "points_multiplier: 1.5": "points_multiplier: 1.75",
            "thresholds: {gold: 1500}": "thresholds: {gold: 2500}",
        }
    )

    assert locked_errors(text, tmp_path) == []


def test_a_program_never_stored_is_not_locked() -> None:
    assert tier_lock_problems(good_config(), None, AFTER_LAUNCH) == []


# --- the warehouse config tables ----------------------------------------------------------


def query(warehouse: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def program_rows(warehouse: Path, program_id: str) -> dict[str, list[tuple[object, ...]]]:
    tables = {
        "programs": "name, config_hash, loaded_at",
        "program_scenarios": "scenario_id, milestone, period, rolling_window, refunds",
        "program_scenario_tiers": "scenario_id, tier_rank, tier_code, tier_name, threshold",
        "program_scenario_activities": "scenario_id, activity",
    }
    return {
        table: query(
            warehouse,
            f"select {columns} from raw.{table} where program_id = '{program_id}' order by all",
        )
        for table, columns in tables.items()
    }


@pytest.fixture
def synced(tmp_path: Path) -> tuple[Path, Path]:
    """A warehouse synced from acme + minimal."""
    programs_dir = tmp_path / "programs"
    write_program(programs_dir, "acme.yaml", acme_text())
    write_program(programs_dir, "minimal.yaml", MINIMAL)
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    result = sync_program_config(warehouse, programs_dir, AFTER_LAUNCH)
    assert result.ok, result.as_text()
    return warehouse, programs_dir


def test_sync_writes_resolved_config(synced: tuple[Path, Path]) -> None:
    warehouse, _ = synced

    acme = program_rows(warehouse, "acme")

    assert [row[0] for row in acme["program_scenarios"]] == sorted(
        ["live", *MODE_IDS, "gold_at_1500", "points_based", "yearly_reevaluate"]
    )
    assert ("gold_at_1500", 2, "gold", "Gold", Decimal("1500.00")) in acme["program_scenario_tiers"]
    assert {row[0] for row in acme["program_scenario_activities"]} == {"points_based"}
    assert query(
        warehouse,
        "select rolling_window from raw.program_scenarios where scenario_id = 'mode_lifetime'"
        " and program_id = 'acme'",
    ) == [(None,)]
    statuses = {(row["program_id"], row["status"]) for row in stored_status(warehouse)}
    assert statuses == {("acme", "ok"), ("minimal", "ok")}


def test_sync_stores_exports_with_env_names_only(
    synced: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse, programs_dir = synced
    monkeypatch.setenv("KLAVIYO_API_KEY", "pk_secret_value")
    sync_program_config(warehouse, programs_dir, AFTER_LAUNCH)

    ((exports_json,),) = query(
        warehouse, "select exports_json from raw.programs where program_id = 'acme'"
    )
    exports = json.loads(exports_json)

    assert exports["destinations"][0] == {
        "type": "klaviyo",
        "id": "klaviyo_main",
        "api_key_env": "KLAVIYO_API_KEY",
        "base_url": None,
    }
    assert exports["max_change_share"] == 0.1
    assert "pk_secret_value" not in exports_json


def test_sync_keeps_an_invalid_programs_rows_while_others_update(
    synced: tuple[Path, Path],
) -> None:
    warehouse, programs_dir = synced
    acme_before = program_rows(warehouse, "acme")
    write_program(programs_dir, "acme.yaml", acme_text(**{"threshold: 1000": "threshold: 1200"}))
    write_program(
        programs_dir, "minimal.yaml", MINIMAL.replace("{code: plus,", "{code: plus, name: Plus,")
    )

    result = sync_program_config(warehouse, programs_dir, AFTER_LAUNCH)

    assert result.invalid_program_ids == {"acme"}
    assert program_rows(warehouse, "acme") == acme_before
    assert ("live", 1, "plus", "Plus", Decimal("100.00")) in program_rows(warehouse, "minimal")[
        "program_scenario_tiers"
    ]
    status = {row["program_id"]: row for row in stored_status(warehouse)}
    assert status["minimal"]["status"] == "ok"
    assert status["acme"]["status"] == "invalid"
    (error,) = json.loads(status["acme"]["errors"])
    assert error["field"] == "tiers[2].threshold"
    assert "changed from 1000 to 1200 after launch" in error["problem"]


def test_sync_before_launch_accepts_threshold_changes(synced: tuple[Path, Path]) -> None:
    warehouse, programs_dir = synced
    write_program(programs_dir, "acme.yaml", acme_text(**{"threshold: 1000": "threshold: 1200"}))

    result = sync_program_config(warehouse, programs_dir, date(2023, 3, 1))

    assert result.ok
    assert ("live", 2, "gold", "Gold", Decimal("1200.00")) in program_rows(warehouse, "acme")[
        "program_scenario_tiers"
    ]


def test_sync_names_the_program_of_an_unreadable_file(synced: tuple[Path, Path]) -> None:
    warehouse, programs_dir = synced
    acme_before = program_rows(warehouse, "acme")
    write_program(programs_dir, "acme.yaml", "program_id: acme\ntiers: [\n")

    result = sync_program_config(warehouse, programs_dir, AFTER_LAUNCH)

    assert result.invalid_program_ids == {"acme"}
    assert program_rows(warehouse, "acme") == acme_before
    status = {row["program_id"]: row["status"] for row in stored_status(warehouse)}
    assert status == {"acme": "invalid", "minimal": "ok"}


def test_sync_marks_programs_whose_file_is_gone_removed(synced: tuple[Path, Path]) -> None:
    warehouse, programs_dir = synced
    (programs_dir / "minimal.yaml").unlink()

    sync_program_config(warehouse, programs_dir, AFTER_LAUNCH)

    status = {row["program_id"]: row["status"] for row in stored_status(warehouse)}
    assert status == {"acme": "ok", "minimal": "removed"}
    assert program_rows(warehouse, "minimal")["programs"] != []


def test_sync_is_idempotent_apart_from_load_time(synced: tuple[Path, Path]) -> None:
    warehouse, programs_dir = synced
    before = program_rows(warehouse, "acme")

    sync_program_config(warehouse, programs_dir, AFTER_LAUNCH)
    after = program_rows(warehouse, "acme")

    assert {k: v for k, v in after.items() if k != "programs"} == {
        k: v for k, v in before.items() if k != "programs"
    }
    assert after["programs"][0][:2] == before["programs"][0][:2]


def test_sync_of_a_missing_directory_raises_and_writes_nothing(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"

    with pytest.raises(ProgramsDirectoryError):
        sync_program_config(warehouse, tmp_path / "nowhere", None)
    assert not warehouse.exists()


def test_sync_today_is_the_default_as_of(tmp_path: Path) -> None:
    tomorrow = date.today() + timedelta(days=2)
    text = MINIMAL.replace("2024-01-01", tomorrow.isoformat())
    programs_dir = tmp_path / "programs"
    write_program(programs_dir, "minimal.yaml", text)
    warehouse = tmp_path / "warehouse.duckdb"
    sync_program_config(warehouse, programs_dir, None)
    write_program(programs_dir, "minimal.yaml", text.replace("threshold: 100}", "threshold: 9}"))

    assert sync_program_config(warehouse, programs_dir, None).ok  # not launched yet
