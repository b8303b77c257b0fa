"""The policy file format: pydantic models, one docstring per field, exported as JSON Schema.

A policy is an if-then commitment written as data (the AI Safety Level table's "trigger" and
"response" columns): ordered **levels**, each with the **safeguards** it requires for `train`
and for `deploy`; **thresholds** whose **condition** over evidence triggers a level, judged at a
**confidence** with an early-warning **alert margin**; and a re-assessment **cadence**.
`tripwire policy schema` prints `policy_json_schema()`; docs/policies.md explains each field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tripwire.policy.expr import FUNCTIONS, KEYWORDS, QUANTITIES

SCHEMA_VERSION = 1
ACTIONS = ("train", "deploy")
STATES = ("crossed", "likely", "possible", "alert", "clear", "insufficient")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


CountingState = Literal["crossed", "likely", "possible", "alert"]


def _crossed_only() -> list[CountingState]:
    return ["crossed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Source(_Strict):
    """A document the policy is taken from."""

    id: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9._-]*$")
    """Short name that clause references start with, e.g. `rsp-2.2` in `rsp-2.2 "Capability
    Thresholds"` or `eu-ai-act` in `eu-ai-act Art. 51(2)` (see docs/policies.md, Provenance)."""
    title: str
    """Document title."""
    url: str | None = None
    """Where it is published."""
    version: str | None = None
    """The document's own version label (e.g. `2.2`, `v2`)."""
    date: dt.date | None = None
    """Publication or effective date of that version."""
    note: str | None = None
    """Which part of the policy this source supports."""


class Deadline(_Strict):
    """A time limit the source sets on a safeguard's duty (e.g. report within 72 hours of an
    incident), with its clause; with an `event`, `tripwire obligations` runs the clock."""

    within: str
    """The time limit: a number and a unit, e.g. `72 hours`, `15 days`, `2 weeks`, `3 months`."""
    after: str = Field(min_length=1)
    """The event the time runs from, in the source's words."""
    when: str | None = None
    """The case this limit applies to, where the source sets several (e.g. `imminent risk of
    death or serious physical injury`)."""
    source: str | None = None
    """Clause setting the limit."""
    event: Literal["crossing-known", "incident"] | None = None
    """The recorded event that starts the clock: `crossing-known` (the first determination or
    planned run in the record where a threshold requiring this safeguard is crossed at the
    policy's confidence) or `incident` (an incident recorded with `tripwire incident`). Null:
    the limit is recorded, not clocked."""

    @field_validator("within")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v

    @property
    def hours(self) -> float:
        """The limit in hours (months as 30.436875 days, years as 365.2425)."""
        return parse_duration(self.within)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(hours?|h|days?|d|weeks?|w|months?|years?)\s*$")
_UNIT_HOURS = {"h": 1.0, "hour": 1.0, "hours": 1.0, "d": 24.0, "day": 24.0, "days": 24.0,
               "w": 168.0, "week": 168.0, "weeks": 168.0, "month": 730.485, "months": 730.485,
               "year": 8765.82, "years": 8765.82}


def parse_duration(text: str) -> float:
    """Hours in a duration such as `72 hours`, `15 days`, `2 weeks`, `3 months` (ValueError
    when it is not of that form)."""
    m = _DURATION.match(text)
    if m is None or float(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: write a positive number and a unit "
                         "(hours, days, weeks, months, years), e.g. 72 hours")
    return float(m.group(1)) * _UNIT_HOURS[m.group(2)]


class Safeguard(_Strict):
    """A measure that must be in place (attested) before an action at some level."""

    id: str = Field(min_length=1)
    """Name used in `requires`, in `attested("...")` and by `tripwire attest`."""
    description: str = ""
    """What the safeguard is, in the source's words where possible."""
    source: str | None = None
    """Clause of the source document that requires it."""
    deadlines: list[Deadline] = Field(default_factory=list)
    """Time limits the source sets on this duty (e.g. incident reports within 72 hours)."""


class Requirements(_Strict):
    """Safeguards a level requires, per action."""

    train: list[str] = Field(default_factory=list)
    """Safeguards needed before (further) training a model at this level."""
    deploy: list[str] = Field(default_factory=list)
    """Safeguards needed before deploying a model at this level."""


class Level(_Strict):
    """One rung of the policy's ladder; levels are listed from lowest to highest."""

    id: str = Field(min_length=1)
    """Short name, e.g. `ASL-3`."""
    name: str | None = None
    """Longer display name."""
    description: str = ""
    """What reaching this level means (the trigger in words)."""
    response: str = ""
    """What the source says must happen at this level (the response in words)."""
    source: str | None = None
    """Clause of the source document defining the level and its response."""
    requires: Requirements = Field(default_factory=Requirements)
    """Safeguards required at this level for `train` and `deploy`."""


class Threshold(_Strict):
    """A capability (or quantity) threshold: when its condition holds, its level is reached."""

    id: str = Field(min_length=1)
    """Unique name, e.g. `CBRN-3`."""
    level: str
    """Id of the level this threshold triggers."""
    description: str = ""
    """The threshold in the source's words."""
    category: str | None = None
    """Risk category or domain (e.g. `Biological and Chemical`)."""
    source: str | None = None
    """Clause of the source document defining it."""
    condition: str
    """Expression over evidence, e.g. `score("vct") >= 0.22 or training_compute > 1e26`."""
    alert: str | None = None
    """Optional early-warning condition (e.g. an alert-threshold evaluation); when it holds
    (P >= 0.5) the threshold is in state `alert`."""
    alert_margin: float | None = Field(default=None, ge=0)
    """Alert when a score is within this many score units of its threshold (default: the
    policy's `alert_margin`)."""
    alert_factor: float | None = Field(default=None, ge=1)
    """Alert when a model quantity (or a log-scale evidence) is within this factor of its
    threshold (default: the policy's `alert_factor`)."""
    confidence: float | None = Field(default=None, gt=0.5, lt=1)
    """P(condition) at which the threshold counts as crossed (default: the policy's)."""
    rule_out_confidence: float | None = Field(default=None, gt=0.5, lt=1)
    """Count the threshold as reached unless it is ruled out at this confidence, i.e. unless
    P(condition) <= 1 - rule_out_confidence (default: the policy's)."""
    pre_mitigation: bool | None = None
    """Require pre-mitigation (helpful-only) results for this threshold (default: the
    policy's `pre_mitigation_required`)."""
    requires: Requirements = Field(default_factory=Requirements)
    """Safeguards this threshold requires beyond its level's, when it counts."""

    @property
    def requires_any(self) -> bool:
        return bool(self.requires.train or self.requires.deploy)


class EvidenceSpec(_Strict):
    """A named piece of evaluation evidence a condition refers to with `score("name")`."""

    description: str = ""
    """What the evidence measures and on which scale."""
    benchmark: str | None = None
    """Default benchmark id in the register; users map their own with `--map name=benchmark`.
    Null: nothing is mapped, so the evidence is insufficient until the user maps it."""
    scale: Literal["linear", "log"] = "linear"
    """`log` for quantities judged multiplicatively (time horizons): alerts use `alert_factor`."""
    unit: str | None = None
    """Unit of the values (e.g. `fraction correct`, `minutes`)."""
    source: str | None = None
    """Where the default benchmark or its baseline comes from."""


class Parameter(_Strict):
    """A named number conditions may use; `--set name=value` overrides it at assessment."""

    value: float | None = None
    """Default value; null when the source states no number and the user must set one (until
    then every condition using it is insufficient evidence, never a pass)."""
    description: str = ""
    """What the number is and where it comes from."""
    source: str | None = None
    """Clause of the source document stating the number (null: the number is tripwire's or
    the user's choice, which the description says)."""


class Cadence(_Strict):
    """When a model must be re-assessed."""

    compute_factor: float | None = Field(default=None, gt=1)
    """Re-assess at every this-many-times increase in effective compute (e.g. 4)."""
    months: float | None = Field(default=None, gt=0)
    """Re-assess when the newest evidence is this many months old (e.g. 6)."""
    note: str | None = None
    """The cadence in the source's words."""
    source: str | None = None
    """Clause of the source document setting the cadence."""


class Policy(_Strict):
    """An if-then safety policy: levels, thresholds over evidence, safeguards, cadence."""

    schema_version: Literal[1] = 1
    """Version of this file format."""
    name: str = Field(min_length=1)
    """Short name, e.g. `anthropic-rsp`."""
    title: str = ""
    """Display title."""
    version: str
    """The policy file's own version; bump when its content changes."""
    kind: Literal["framework", "regulation", "template"] = "framework"
    """A developer's framework, a law (or bill), or a template to adapt."""
    description: str = ""
    """What the policy covers and how its conditions were operationalised."""
    sources: list[Source] = Field(default_factory=list)
    """Documents the policy is taken from, with their versions and dates."""
    encodes: str | None = None
    """Id of the source whose version this file encodes (shown by `tripwire policy list`)."""
    notes: list[str] = Field(default_factory=list)
    """Caveats shown with every determination under this policy."""
    levels: list[Level] = Field(min_length=1)
    """Levels from lowest to highest."""
    default_level: str | None = None
    """Level of a model that crosses no threshold (null: below every level)."""
    cumulative: bool = True
    """A level also requires the safeguards of every level below it."""
    level_states: list[CountingState] = Field(default_factory=_crossed_only)
    """Threshold states that count toward a level: `[crossed]`, or `[crossed, likely]` for a
    precautionary policy that applies a level unless it can be ruled out."""
    confidence: float = Field(default=0.9, gt=0.5, lt=1)
    """Default P(condition) at which a threshold counts as crossed."""
    rule_out_confidence: float | None = Field(default=None, gt=0.5, lt=1)
    """Precaution: a threshold counts toward its level unless it is ruled out at this
    confidence, i.e. unless P(condition) <= 1 - rule_out_confidence; between that and 0.5 its
    state is `possible`. Null: only `level_states` count."""
    alert_margin: float = Field(default=0.0, ge=0)
    """Default early-warning margin for scores, in score units."""
    alert_factor: float = Field(default=1.0, ge=1)
    """Default early-warning factor for model quantities and log-scale evidence."""
    pre_mitigation_required: bool = False
    """Capability thresholds must be judged on pre-mitigation (helpful-only) results:
    results marked post-mitigation are not used."""
    cadence: Cadence | None = None
    """Re-assessment cadence."""
    overdue: Literal["warn", "block"] = "warn"
    """What `gate` does with an overdue obligation (a clocked deadline passed without the
    safeguard attested): name it (`warn`), or also block the action (`block`, exit 1)."""
    safeguards: list[Safeguard] = Field(default_factory=list)
    """Every safeguard a level requires, declared once."""
    thresholds: list[Threshold] = Field(default_factory=list)
    """Thresholds, each triggering one level."""
    evidence: dict[str, EvidenceSpec] = Field(default_factory=dict)
    """Named evidence that conditions refer to with `score("name")`."""
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    """Named numbers conditions may use (overridable with `--set`)."""

    @field_validator("parameters")
    @classmethod
    def _parameter_names(cls, v: dict[str, Parameter]) -> dict[str, Parameter]:
        for name in v:
            if not _IDENT.match(name):
                raise ValueError(f"parameter name {name!r} must be letters, digits and _ "
                                 "(not starting with a digit)")
            if name in QUANTITIES or name in FUNCTIONS or name in KEYWORDS:
                raise ValueError(f"parameter name {name!r} is reserved; rename it")
        return v

    # -- lookups used by the evaluator --------------------------------------------------------

    def level_index(self, level: str | None) -> int:
        """Position of a level (-1 for None)."""
        if level is None:
            return -1
        for i, lv in enumerate(self.levels):
            if lv.id == level:
                return i
        return -1

    def required(self, level: str | None) -> dict[str, list[str]]:
        """Action -> safeguards required at `level` (with lower levels' if cumulative)."""
        i = self.level_index(level)
        out: dict[str, list[str]] = {a: [] for a in ACTIONS}
        if i < 0:
            return out
        chosen = self.levels[: i + 1] if self.cumulative else [self.levels[i]]
        for lv in chosen:
            for action in ACTIONS:
                for s in getattr(lv.requires, action):
                    if s not in out[action]:
                        out[action].append(s)
        return out

    def threshold_required(self, thresholds: list[Threshold]) -> dict[str, list[str]]:
        """Action -> safeguards the given thresholds require of their own."""
        out: dict[str, list[str]] = {a: [] for a in ACTIONS}
        for t in thresholds:
            for action in ACTIONS:
                for s in getattr(t.requires, action):
                    if s not in out[action]:
                        out[action].append(s)
        return out

    def parameter_values(self, overrides: Mapping[str, float] | None = None
                         ) -> dict[str, float | None]:
        values: dict[str, float | None] = {k: p.value for k, p in self.parameters.items()}
        values.update(overrides or {})
        return values


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file (draft 2020-12), for editors and CI validation."""
    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://tripwire.dev/schema/policy-v1.json"
    return schema
