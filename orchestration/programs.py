"""Program config: one YAML file per loyalty program, validated, resolved into scenarios.

Public API
- `ProgramConfig` and its parts: the pydantic models of a program file (interfaces §2, §5).
- `load_programs(programs_dir, previous_tiers, as_of)`: validate every `*.yaml` / `*.yml`
  file of a directory independently; returns a `ProgramsLoadResult`.
- `resolve_scenarios(config)`: `live`, the `mode_*` scenarios and the custom scenarios, with
  inheritance applied.
- `tier_lock_problems(config, previous_live_tiers, as_of)`: the post-launch tier lock.
- `sync_program_config(warehouse, programs_dir, as_of)`: validate and write the `raw` config
  tables (implemented in `orchestration.config_tables`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    model_validator,
)

# --- vocabularies -------------------------------------------------------------------------

Milestone = Literal["spend", "points"]
Period = Literal["lifetime", "calendar_year", "rolling"]
RollingWindow = Literal["365_days", "12_months"]
RefundPolicy = Literal["reevaluate", "keep"]
Activity = Literal[
    "purchase",
    "purchase_reversal",
    "signup",
    "birthday",
    "review",
    "referral",
    "social",
    "manual_adjustment",
    "tier_bonus",
    "redemption",
    "expiration",
]
ScenarioKind = Literal["live", "period_mode", "custom"]

NEVER_QUALIFYING_ACTIVITIES = frozenset({"tier_bonus", "redemption", "expiration"})
DEFAULT_QUALIFYING_ACTIVITIES: tuple[Activity, ...] = (
    "purchase",
    "signup",
    "birthday",
    "review",
    "referral",
    "social",
)
LIVE_SCENARIO_ID = "live"
RESERVED_SCENARIO_PREFIX = "mode_"


@dataclass(frozen=True)
class PeriodMode:
    """A standard period mode evaluated beside the live settings (scenario `mode_*`)."""

    scenario_id: str
    period: Period
    rolling_window: RollingWindow | None


PERIOD_MODES: tuple[PeriodMode, ...] = (
    PeriodMode("mode_lifetime", "lifetime", None),
    PeriodMode("mode_calendar_year", "calendar_year", None),
    PeriodMode("mode_rolling_365_days", "rolling", "365_days"),
    PeriodMode("mode_rolling_12_months", "rolling", "12_months"),
)

CENT = Decimal("0.01")
MULTIPLIER_STEP = Decimal("0.0001")
IDENTIFIER = re.compile(r"[a-z0-9_]+")
ENV_VAR_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


# --- value checks (single values) ---------------------------------------------------------


def _identifier(value: str) -> str:
    if not IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{value!r} may use only lower-case letters, digits and _ (pattern [a-z0-9_]+)"
        )
    return value


def _plain_date(value: Any) -> Any:
    """Dates are written YYYY-MM-DD; refuse numbers and timestamps pydantic would coerce."""
    if isinstance(value, datetime) or not isinstance(value, date | str):
        raise ValueError(f"expected a date written YYYY-MM-DD, got {value!r}")
    return value


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _iana_timezone(value: str) -> str:
    if value not in _known_timezones():
        close = difflib.get_close_matches(value, _known_timezones(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"{value!r} is not an IANA time zone name such as 'America/New_York'{hint}"
        )
    return value


def _currency_code(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError(f"{value!r} is not a 3-letter upper-case currency code such as 'USD'")
    return value


def _env_var_name(value: str) -> str:
    if not ENV_VAR_NAME.fullmatch(value):
        # Never echo the value: it may be a pasted secret.
        raise ValueError(
            "must be the NAME of an environment variable (upper case, digits and _, "
            "e.g. KLAVIYO_API_KEY), never the secret itself"
        )
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL such as 'https://example.test'")
    return value.rstrip("/")


Identifier = Annotated[str, AfterValidator(_identifier)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
PlainDate = Annotated[date, BeforeValidator(_plain_date)]
TimeZoneName = Annotated[str, AfterValidator(_iana_timezone)]
CurrencyCode = Annotated[str, AfterValidator(_currency_code)]
EnvVarName = Annotated[str, AfterValidator(_env_var_name)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Threshold = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=2),
    AfterValidator(lambda value: value.quantize(CENT)),
]
Multiplier = Annotated[
    Decimal,
    Field(gt=0, max_digits=9, decimal_places=4),
    AfterValidator(lambda value: value.quantize(MULTIPLIER_STEP)),
]
Points = Annotated[int, Field(ge=0)]


def format_amount(value: Decimal) -> str:
    """500.00 -> '500', 1.25 -> '1.25': amounts as a person wrote them."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- models -------------------------------------------------------------------------------


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _with_default_name(data: Any, key: str) -> Any:
    """A missing `name` takes the value of `key` (the tier code, the program id)."""
    if isinstance(data, dict) and data.get("name") is None and key in data:
        return {**data, "name": data[key]}
    return data


class TierConfig(StrictModel):
    code: Text
    name: Text
    threshold: Threshold
    entry_bonus_points: Points = 0
    birthday_points: Points = 0
    points_multiplier: Multiplier = Decimal("1.0000")
    perks: list[Text] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        return _with_default_name(data, "code")


class ScenarioConfig(StrictModel):
    """A what-if variant: every setting it leaves out is inherited from the live settings."""

    id: Identifier
    description: Text | None = None
    milestone: Milestone | None = None
    period: Period | None = None
    rolling_window: RollingWindow | None = None
    refunds: RefundPolicy | None = None
    qualifying_activities: list[Activity] | None = Field(default=None, min_length=1)
    tiers: list[TierConfig] | None = Field(default=None, min_length=1)
    thresholds: dict[str, Threshold] | None = None


class KlaviyoDestination(StrictModel):
    type: Literal["klaviyo"]
    id: Identifier
    api_key_env: EnvVarName
    base_url: HttpUrl | None = None


class HubspotDestination(StrictModel):
    type: Literal["hubspot"]
    id: Identifier
    token_env: EnvVarName
    base_url: HttpUrl | None = None


class MailchimpDestination(StrictModel):
    type: Literal["mailchimp"]
    id: Identifier
    api_key_env: EnvVarName
    list_id: Text
    base_url: HttpUrl | None = None
    use_tags: StrictBool = False


class WebhookDestination(StrictModel):
    type: Literal["webhook"]
    id: Identifier
    url: HttpUrl
    secret_env: EnvVarName
    timeout_s: float = Field(default=10.0, gt=0, le=300)


class FileDestination(StrictModel):
    type: Literal["file"]
    id: Identifier
    path: Text
    format: Literal["csv", "parquet"] = "csv"


Destination = Annotated[
    KlaviyoDestination
    | HubspotDestination
    | MailchimpDestination
    | WebhookDestination
    | FileDestination,
    Field(discriminator="type"),
]
DESTINATION_TYPES = frozenset({"klaviyo", "hubspot", "mailchimp", "webhook", "file"})


class ExportsConfig(StrictModel):
    since: PlainDate | None = None
    send_initial: StrictBool = False
    max_change_share: float = Field(default=0.2, gt=0, le=1)
    destinations: list[Destination] = Field(default_factory=list)


class ProgramConfig(StrictModel):
    """One program file, valid by every rule of interfaces §2 (the tier lock aside)."""

    program_id: Identifier
    name: Text
    currency: CurrencyCode
    timezone: TimeZoneName
    start_date: PlainDate
    back_date: PlainDate | None = None
    launch_date: PlainDate
    milestone: Milestone
    period: Period
    rolling_window: RollingWindow = "365_days"
    refunds: RefundPolicy = "reevaluate"
    qualifying_activities: list[Activity] | None = Field(default=None, min_length=1)
    compare_period_modes: StrictBool = True
    allow_post_launch_tier_changes: StrictBool = False
    tiers: list[TierConfig] = Field(min_length=1)
    scenarios: list[ScenarioConfig] = Field(default_factory=list)
    exports: ExportsConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        return _with_default_name(data, "program_id")

    @model_validator(mode="after")
    def _check_rules(self) -> ProgramConfig:
        problems = program_rule_problems(self)
        if problems:
            raise ProgramRuleViolations(problems)
        return self

    def config_hash(self) -> str:
        """sha256 of the normalized config (defaults filled, keys sorted, amounts quantized)."""
        normalized = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(normalized.encode()).hexdigest()

    def live_thresholds(self) -> dict[str, Decimal]:
        return {tier.code: tier.threshold for tier in self.tiers}


# --- problems -----------------------------------------------------------------------------

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One broken rule at a place in the file (`loc` as pydantic writes it)."""

    loc: Loc
    problem: str

    @property
    def field(self) -> str:
        return format_loc(self.loc)

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class ProgramRuleViolations(ValueError):
    """Raised by `ProgramConfig` validation; carries every problem with its place."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = list(problems)


def format_loc(loc: Loc) -> str:
    """('tiers', 2, 'threshold') -> 'tiers[2].threshold'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


# --- rules across fields ------------------------------------------------------------------


def program_rule_problems(config: ProgramConfig) -> list[Problem]:
    """Every rule of interfaces §2 that needs more than one value."""
    return [
        *_date_problems(config),
        *_activity_problems(config.qualifying_activities, ("qualifying_activities",)),
        *_tier_list_problems(config.tiers, ("tiers",)),
        *_scenario_problems(config),
        *_destination_problems(config.exports),
    ]


def _date_problems(config: ProgramConfig) -> list[Problem]:
    problems = []
    if config.back_date is not None and config.back_date >= config.start_date:
        problems.append(
            Problem(
                ("back_date",),
                f"back_date {config.back_date} must be earlier than start_date "
                f"{config.start_date} (or null)",
            )
        )
    if config.launch_date < config.start_date:
        problems.append(
            Problem(
                ("launch_date",),
                f"launch_date {config.launch_date} is before start_date {config.start_date}",
            )
        )
    return problems


def _activity_problems(activities: Sequence[str] | None, loc: Loc) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for index, activity in enumerate(activities or ()):
        if activity in NEVER_QUALIFYING_ACTIVITIES:
            problems.append(
                Problem((*loc, index), f"'{activity}' never counts toward tiers; remove it")
            )
        elif activity in seen:
            problems.append(Problem((*loc, index), f"'{activity}' is listed twice"))
        seen.add(activity)
    return problems


def _tier_list_problems(
    tiers: Sequence[TierConfig],
    loc: Loc,
    threshold_loc: Callable[[int, TierConfig], Loc] | None = None,
) -> list[Problem]:
    """Codes unique, base threshold 0, thresholds strictly rising.

    `threshold_loc(index, tier)` names where a threshold was written; by default
    `loc[index].threshold` (a `thresholds:` override passes its own).
    """

    def where(index: int, tier: TierConfig) -> Loc:
        return threshold_loc(index, tier) if threshold_loc else (*loc, index, "threshold")

    problems = []
    first_index: dict[str, int] = {}
    for index, tier in enumerate(tiers):
        if tier.code in first_index:
            problems.append(
                Problem(
                    (*loc, index, "code"),
                    f"tier code '{tier.code}' repeats (first used by "
                    f"{format_loc((*loc, first_index[tier.code]))})",
                )
            )
        first_index.setdefault(tier.code, index)
    base = tiers[0]
    if base.threshold != 0:
        problems.append(
            Problem(
                where(0, base),
                f"the base tier (first in the list, '{base.code}') must have threshold 0, "
                f"not {format_amount(base.threshold)}",
            )
        )
    for index, (lower, tier) in enumerate(pairwise(tiers), start=1):
        if tier.threshold <= lower.threshold:
            problems.append(
                Problem(
                    where(index, tier),
                    f"thresholds must rise strictly ({tier.code} {format_amount(tier.threshold)}"
                    f" ≤ {lower.code} {format_amount(lower.threshold)})",
                )
            )
    return problems


def _scenario_problems(config: ProgramConfig) -> list[Problem]:
    problems = []
    first_index: dict[str, int] = {}
    for index, scenario in enumerate(config.scenarios):
        loc: Loc = ("scenarios", index)
        if scenario.id == LIVE_SCENARIO_ID or scenario.id.startswith(RESERVED_SCENARIO_PREFIX):
            problems.append(
                Problem(
                    (*loc, "id"),
                    f"scenario id '{scenario.id}' is reserved ('live' and 'mode_*' are "
                    "built in); choose another id",
                )
            )
        elif scenario.id in first_index:
            problems.append(
                Problem(
                    (*loc, "id"),
                    f"scenario id '{scenario.id}' repeats (first used by "
                    f"scenarios[{first_index[scenario.id]}])",
                )
            )
        first_index.setdefault(scenario.id, index)
        problems += _activity_problems(
            scenario.qualifying_activities, (*loc, "qualifying_activities")
        )
        problems += _scenario_tier_problems(config, scenario, loc)
    return problems


def _scenario_tier_problems(
    config: ProgramConfig, scenario: ScenarioConfig, loc: Loc
) -> list[Problem]:
    if scenario.tiers is not None and scenario.thresholds is not None:
        return [
            Problem(
                (*loc, "thresholds"),
                "give either tiers (the full list) or thresholds (changes to the live "
                "tiers), not both",
            )
        ]
    if scenario.tiers is not None:
        return _tier_list_problems(scenario.tiers, (*loc, "tiers"))
    overrides = scenario.thresholds or {}
    live_codes = [tier.code for tier in config.tiers]
    unknown = [
        Problem(
            (*loc, "thresholds", code),
            f"scenario '{scenario.id}' has no tier '{code}' (its tiers: {', '.join(live_codes)})",
        )
        for code in overrides
        if code not in live_codes
    ]
    if unknown or not overrides or _tier_list_problems(config.tiers, ("tiers",)):
        return unknown  # broken live tiers are reported once, at `tiers`

    def threshold_loc(index: int, tier: TierConfig) -> Loc:
        return (*loc, "thresholds", tier.code) if tier.code in overrides else (*loc, "thresholds")

    return _tier_list_problems(
        _apply_thresholds(config.tiers, overrides), (*loc, "tiers"), threshold_loc
    )


def _destination_problems(exports: ExportsConfig | None) -> list[Problem]:
    if exports is None:
        return []
    problems = []
    seen: set[str] = set()
    for index, destination in enumerate(exports.destinations):
        if destination.id in seen:
            problems.append(
                Problem(
                    ("exports", "destinations", index, "id"),
                    f"destination id '{destination.id}' repeats",
                )
            )
        seen.add(destination.id)
    return problems


# --- scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedScenario:
    """One complete set of tier settings of a program, as the warehouse evaluates it."""

    scenario_id: str
    kind: ScenarioKind
    description: str
    milestone: Milestone
    period: Period
    rolling_window: RollingWindow | None  # None unless period is rolling
    refunds: RefundPolicy
    qualifying_activities: tuple[Activity, ...]  # empty for spend
    tiers: tuple[TierConfig, ...]

    @property
    def is_live(self) -> bool:
        return self.kind == "live"

    @property
    def is_custom(self) -> bool:
        return self.kind == "custom"

    @property
    def window_kind(self) -> str:
        return f"rolling_{self.rolling_window}" if self.period == "rolling" else self.period


def _apply_thresholds(
    tiers: Sequence[TierConfig], thresholds: Mapping[str, Decimal]
) -> list[TierConfig]:
    return [
        tier.model_copy(update={"threshold": thresholds[tier.code]})
        if tier.code in thresholds
        else tier
        for tier in tiers
    ]


def _scenario(
    config: ProgramConfig,
    scenario_id: str,
    kind: ScenarioKind,
    description: str,
    *,
    milestone: Milestone | None = None,
    period: Period | None = None,
    rolling_window: RollingWindow | None = None,
    refunds: RefundPolicy | None = None,
    qualifying_activities: Sequence[Activity] | None = None,
    tiers: Sequence[TierConfig] | None = None,
) -> ResolvedScenario:
    """The live settings of `config`, with the given settings overriding them."""
    milestone = milestone or config.milestone
    period = period or config.period
    activities = qualifying_activities or config.qualifying_activities
    return ResolvedScenario(
        scenario_id=scenario_id,
        kind=kind,
        description=description,
        milestone=milestone,
        period=period,
        rolling_window=(rolling_window or config.rolling_window) if period == "rolling" else None,
        refunds=refunds or config.refunds,
        qualifying_activities=(
            tuple(activities or DEFAULT_QUALIFYING_ACTIVITIES) if milestone == "points" else ()
        ),
        tiers=tuple(tiers or config.tiers),
    )


def _custom_description(scenario: ScenarioConfig) -> str:
    if scenario.description:
        return scenario.description
    overrides = scenario.model_dump(exclude={"id", "description"}, exclude_none=True)
    return "Live settings with " + ", ".join(sorted(overrides)) if overrides else "Live settings"


def resolve_scenarios(config: ProgramConfig) -> list[ResolvedScenario]:
    """`live`, then the `mode_*` scenarios (unless compare_period_modes: false), then custom."""
    scenarios = [_scenario(config, LIVE_SCENARIO_ID, "live", "Live settings of the program file")]
    if config.compare_period_modes:
        scenarios += [
            _scenario(
                config,
                mode.scenario_id,
                "period_mode",
                f"Live tiers under period mode {mode.scenario_id.removeprefix('mode_')}",
                period=mode.period,
                rolling_window=mode.rolling_window,
            )
            for mode in PERIOD_MODES
        ]
    for custom in config.scenarios:
        tiers = custom.tiers or _apply_thresholds(config.tiers, custom.thresholds or {})
        scenarios.append(
            _scenario(
                config,
                custom.id,
                "custom",
                _custom_description(custom),
                milestone=custom.milestone,
                period=custom.period,
                rolling_window=custom.rolling_window,
                refunds=custom.refunds,
                qualifying_activities=custom.qualifying_activities,
                tiers=tiers,
            )
        )
    return scenarios


# --- post-launch tier lock ----------------------------------------------------------------


def program_today(config: ProgramConfig) -> date:
    return datetime.now(zoneinfo.ZoneInfo(config.timezone)).date()


def tier_lock_problems(
    config: ProgramConfig,
    previous_live_tiers: Mapping[str, Decimal] | None,
    as_of: date | None,
) -> list[Problem]:
    """Tiers added, removed or re-thresholded after launch (interfaces §2).

    `previous_live_tiers` is the stored live tier list of the program (code -> threshold,
    base first); None or empty means the program was never stored, so nothing is locked.
    `as_of` None means today in the program's time zone.
    """
    if config.allow_post_launch_tier_changes or not previous_live_tiers:
        return []
    if (as_of or program_today(config)) < config.launch_date:
        return []
    remedy = (
        f"tiers are locked after launch ({config.launch_date}); revert the change or set "
        "allow_post_launch_tier_changes: true"
    )
    problems = [
        Problem(("tiers",), f"tier '{code}' was removed after launch: {remedy}")
        for code in previous_live_tiers
        if code not in config.live_thresholds()
    ]
    for index, tier in enumerate(config.tiers):
        before = previous_live_tiers.get(tier.code)
        if before is None:
            problems.append(
                Problem(("tiers", index), f"tier '{tier.code}' was added after launch: {remedy}")
            )
        elif Decimal(before) != tier.threshold:
            problems.append(
                Problem(
                    ("tiers", index, "threshold"),
                    f"threshold of tier '{tier.code}' changed from {format_amount(Decimal(before))}"
                    f" to {format_amount(tier.threshold)} after launch: {remedy}",
                )
            )
    return problems


# --- files --------------------------------------------------------------------------------


class ProgramsDirectoryError(ValueError):
    """The programs directory is missing or holds no program file: nothing can be built."""


@dataclass(frozen=True)
class ProgramFileError:
    """One problem of one program file: which file, which field, what is wrong."""

    file: Path
    field: str
    problem: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.problem}"

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "problem": self.problem, "line": self.line}


@dataclass(frozen=True)
class ProgramFileResult:
    """The outcome for one file: a valid config (and no errors), or the problems that stop it."""

    file: Path
    program_id: str | None
    config: ProgramConfig | None
    errors: tuple[ProgramFileError, ...] = ()

    @property
    def is_valid(self) -> bool:
        return self.config is not None


@dataclass
class ProgramsLoadResult:
    """Every file of a programs directory, valid or not, in file-name order."""

    files: list[ProgramFileResult] = field(default_factory=list)

    @property
    def valid(self) -> list[ProgramConfig]:
        return [result.config for result in self.files if result.config is not None]

    @property
    def errors(self) -> list[ProgramFileError]:
        return [error for result in self.files for error in result.errors]

    @property
    def invalid_program_ids(self) -> set[str]:
        return {
            result.program_id
            for result in self.files
            if not result.is_valid and result.program_id is not None
        }

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_text(self) -> str:
        valid_ids = ", ".join(config.program_id for config in self.valid) or "none"
        invalid = [result for result in self.files if not result.is_valid]
        lines = [
            f"{len(self.files)} program file(s): {len(self.files) - len(invalid)} valid "
            f"({valid_ids}), {len(invalid)} invalid"
        ]
        for error in self.errors:
            where = f" (line {error.line})" if error.line and error.field[:4] != "line" else ""
            lines.append(f"  {error}{where}")
        if invalid:
            lines.append(
                "An invalid program is not rebuilt: its last good config and outputs stay "
                "as they were until the file is fixed (see docs/configuration.md)."
            )
        return "\n".join(lines)


def find_program_files(programs_dir: Path) -> list[Path]:
    """The `*.yaml` / `*.yml` files of a directory (not hidden ones), by name."""
    if not programs_dir.is_dir():
        raise ProgramsDirectoryError(
            f"programs directory {programs_dir} does not exist or is not a directory; "
            "pass --programs-dir or set VIP_PROGRAMS_DIR"
        )
    files = sorted(
        path
        for path in programs_dir.iterdir()
        if path.is_file() and path.suffix in {".yaml", ".yml"} and not path.name.startswith(".")
    )
    if not files:
        raise ProgramsDirectoryError(
            f"programs directory {programs_dir} holds no program file (*.yaml or *.yml); "
            "add one per program (see docs/configuration.md)"
        )
    return files


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' is written twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class _ParsedYaml:
    data: Any
    root: yaml.Node | None


def _read_yaml(text: str) -> _ParsedYaml:
    loader = _UniqueKeyLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return _ParsedYaml(data, root)


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest node of `loc` that the file has."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node | None, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == part:
                return value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


@cache
def _setting_names() -> tuple[str, ...]:
    models: list[type[BaseModel]] = [
        ProgramConfig,
        TierConfig,
        ScenarioConfig,
        ExportsConfig,
        KlaviyoDestination,
        HubspotDestination,
        MailchimpDestination,
        WebhookDestination,
        FileDestination,
    ]
    return tuple(sorted({name for model in models for name in model.model_fields}))


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clean_loc(loc: Sequence[str | int]) -> Loc:
    """Drop the union tag pydantic inserts in a destination's location."""
    parts = list(loc)
    return tuple(
        part
        for index, part in enumerate(parts)
        if not (
            part in DESTINATION_TYPES
            and index >= 2
            and isinstance(parts[index - 1], int)
            and parts[index - 2] == "destinations"
        )
    )


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required setting is missing"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, _setting_names(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown setting '{key}'{hint}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "union_tag_invalid":
        return f"type {error['ctx']['tag']!r} is not one of {error['ctx']['expected_tags']}"
    if kind == "union_tag_not_found":
        return "required setting 'type' is missing (klaviyo, hubspot, mailchimp, webhook or file)"
    if kind == "literal_error":
        return f"{_short_repr(error['input'])} is not allowed; expected {error['ctx']['expected']}"
    return f"{error['msg']} (got {_short_repr(error['input'])})"


def _split_problems(exc: ValidationError) -> tuple[list[Problem], list[Problem]]:
    """(problems of single values, problems of the rules across fields)."""
    values: list[Problem] = []
    rules: list[Problem] = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ProgramRuleViolations):
            rules += cause.problems
        else:
            values.append(Problem(_clean_loc(error["loc"]), _describe(error)))
    return values, rules


# Stand-ins for required settings that no rule across fields reads: with a wrong value
# replaced, a second pass still reports what the rules find in the rest of the file.
_STAND_INS: dict[str, str] = {
    "program_id": "stand_in",
    "name": "stand_in",
    "currency": "XXX",
    "timezone": "UTC",
    "milestone": "spend",
    "period": "lifetime",
}


def _rule_problems_of_what_parsed(data: dict[str, Any], wrong: list[Problem]) -> list[Problem]:
    wrong_keys = {problem.loc[0] for problem in wrong if problem.loc}
    patched = {key: value for key, value in data.items() if key not in wrong_keys}
    patched |= {key: _STAND_INS[key] for key in wrong_keys & _STAND_INS.keys()}
    try:
        ProgramConfig.model_validate(patched)
    except ValidationError as exc:
        return _split_problems(exc)[1]
    return []


def _validate(data: dict[str, Any]) -> tuple[ProgramConfig | None, list[Problem]]:
    """The config, or every problem: wrong values first, then what the rules find."""
    try:
        return ProgramConfig.model_validate(data), []
    except ValidationError as exc:
        wrong, rules = _split_problems(exc)
    return None, wrong + (rules or _rule_problems_of_what_parsed(data, wrong))


@dataclass(frozen=True)
class _FileParse:
    """A file after its own checks, before the checks across files."""

    file: Path
    program_id: str | None
    config: ProgramConfig | None
    problems: list[Problem]
    root: yaml.Node | None = None
    syntax_errors: list[ProgramFileError] = field(default_factory=list)


def _parse_file(file: Path) -> _FileParse:
    try:
        parsed = _read_yaml(file.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        error = ProgramFileError(file, f"line {line}" if line else "(file)", problem, line)
        return _FileParse(file, None, None, [], syntax_errors=[error])
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        error = ProgramFileError(file, "(file)", f"cannot read the file: {exc}")
        return _FileParse(file, None, None, [], syntax_errors=[error])
    if not isinstance(parsed.data, dict):
        problem = "expected a mapping of settings (program_id: ..., tiers: ...), found " + (
            "an empty file" if parsed.data is None else type(parsed.data).__name__
        )
        return _FileParse(file, None, None, [Problem((), problem)], parsed.root)
    raw_id = parsed.data.get("program_id")
    program_id = raw_id if isinstance(raw_id, str) and IDENTIFIER.fullmatch(raw_id) else None
    config, problems = _validate(parsed.data)
    return _FileParse(file, program_id, config, problems, parsed.root)


def _duplicate_id_problems(parses: Sequence[_FileParse]) -> dict[Path, Problem]:
    files_by_id: dict[str, list[Path]] = defaultdict(list)
    for parse in parses:
        if parse.program_id is not None:
            files_by_id[parse.program_id].append(parse.file)
    problems = {}
    for program_id, files in files_by_id.items():
        for file in files if len(files) > 1 else ():
            others = ", ".join(str(other) for other in files if other != file)
            problems[file] = Problem(
                ("program_id",),
                f"program_id '{program_id}' is also used by {others}; each program needs "
                "its own file and id",
            )
    return problems


def _file_result(
    parse: _FileParse,
    extra: Iterable[Problem],
    program_id_by_file: Mapping[str, str],
) -> ProgramFileResult:
    problems = [*parse.problems, *extra]
    located = [
        ProgramFileError(
            parse.file, problem.field, problem.problem, _line_of(parse.root, problem.loc)
        )
        for problem in problems
    ]
    errors = parse.syntax_errors + sorted(located, key=lambda error: error.line or 0)
    program_id = parse.program_id or program_id_by_file.get(str(parse.file))
    return ProgramFileResult(
        file=parse.file,
        program_id=program_id,
        config=parse.config if not errors else None,
        errors=tuple(errors),
    )


def load_program_files(
    files: Sequence[Path],
    previous_tiers: Mapping[str, Mapping[str, Decimal]] | None = None,
    as_of: date | None = None,
    program_id_by_file: Mapping[str, str] | None = None,
) -> ProgramsLoadResult:
    """Validate each file on its own, then across files (program_id unique) and the lock.

    `previous_tiers`: program_id -> stored live tiers (code -> threshold, base first).
    `program_id_by_file`: source file -> stored program_id, to name the program of a file
    that cannot be read any more (unless another file now holds that program_id).
    """
    parses = [_parse_file(file) for file in files]
    duplicates = _duplicate_id_problems(parses)
    claimed = {parse.program_id for parse in parses}
    unclaimed_by_file = {
        file: program_id
        for file, program_id in (program_id_by_file or {}).items()
        if program_id not in claimed
    }
    results = []
    for parse in parses:
        extra = [duplicates[parse.file]] if parse.file in duplicates else []
        if parse.config is not None and not extra:
            previous = (previous_tiers or {}).get(parse.config.program_id)
            extra = tier_lock_problems(parse.config, previous, as_of)
        results.append(_file_result(parse, extra, unclaimed_by_file))
    return ProgramsLoadResult(results)


def load_programs(
    programs_dir: Path,
    previous_tiers: Mapping[str, Mapping[str, Decimal]] | None = None,
    as_of: date | None = None,
) -> ProgramsLoadResult:
    """Validate every program file of `programs_dir` (no warehouse involved).

    Raises `ProgramsDirectoryError` when the directory is missing or has no program file.
    """
    return load_program_files(find_program_files(programs_dir), previous_tiers, as_of)


def sync_program_config(
    warehouse: Path, programs_dir: Path, as_of: date | None
) -> ProgramsLoadResult:
    """Validate `programs_dir` and write the config tables of the warehouse's `raw` schema.

    The warehouse side is `orchestration.config_tables`, which builds on this module: it is
    imported here, when called, not at import time.
    """
    from orchestration import config_tables

    return config_tables.sync_program_config(warehouse, programs_dir, as_of)
