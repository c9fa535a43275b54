"""The rule model: what a village technician writes in a rules TOML file.

    [[rule]]
    id = "tomato-cold-crit"
    kind = "air_temp_low"
    severity = "critical"
    metric = "air_temp_c"
    when = "below"            # above | below | outside
    day = 6.0                 # threshold by day (outside: [low, high])
    night = 6.0               # threshold by night (default: same as day)
    active = "always"         # or "day" / "night": only then (by the sun at the village)
    clear = 1.0               # hysteresis: must come back this far to resolve
    for = "10m"               # pending period (event time)
    consecutive = 1           # and at least this many bad readings in a row
    scope = { crop = ["tomato"] }

`signal` picks what is compared: the value itself or something the engine
derives per series in the same pass (see SIGNALS). Per-site overrides change
the numbers of a rule for one site.
"""

from __future__ import annotations

import math
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, field_validator, model_validator

from qingyubiao.alerting import Audience, Kind, Severity

# What a rule compares, per series. Derived metrics (VPD, dew point) are series of their own.
SIGNALS: dict[str, str] = {
    "value": "the reading itself",
    "rate_10min": "change per 10 minutes, over at least the last 10 minutes",
    "predict": "the value `horizon` from now if the current rate continues",
    "out_of_range": "1 when the reading is outside the metric's physical range, else 0",
    "stuck_hours": "hours the reading has not changed at all",
    "step": "jump from the previous reading (absolute)",
    "wet_hours": "hours the reading has stayed at or above 90 (RH: leaf-wetness proxy)",
    "mean_24h": "mean of the last 24 hours (hourly buckets)",
    "peer": "difference from the village median of the same crop and metric (per tick)",
}

DERIVED_METRICS: dict[str, tuple[str, str, str]] = {
    # name: (unit, zh, en), computed from air_temp_c and air_rh_pct of one device
    "vpd_kpa": ("kPa", "饱和水汽压差", "vapour pressure deficit"),
    "dew_point_c": ("°C", "露点", "dew point"),
    "dew_margin_c": ("°C", "结露余量", "condensation margin"),
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(text: str | float | int) -> int:
    """'30m', '2h', '90s', or a number of seconds → milliseconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if not math.isfinite(text):  # round(inf) would raise OverflowError, which pydantic does not catch
            raise ValueError(f"the duration must be a finite number of seconds, got {text!r}")
        return round(float(text) * 1000)
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"cannot read the duration {text!r}: use 90s, 30m, 2h or 1d")
    return round(float(m.group(1)) * _UNIT_MS[m.group(2)])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Scope(_Strict):
    crop: list[str] = Field(default_factory=list)
    stage: list[str] = Field(default_factory=list)
    site: list[str] = Field(default_factory=list)
    device: list[str] = Field(default_factory=list)
    kind: list[Literal["greenhouse", "orchard"]] = Field(default_factory=list)


# nan or inf in a threshold would compare false forever and switch the alert off without a word
Threshold = FiniteFloat | tuple[FiniteFloat, FiniteFloat]


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,80}$")
    kind: Kind
    severity: Severity
    metric: str
    signal: str = "value"
    when: Literal["above", "below", "outside"]
    day: Threshold | None = None
    night: Threshold | None = None
    clear: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    active: Literal["always", "day", "night"] = "always"
    for_: int = Field(default=0, alias="for", ge=0)  # ms after parsing
    consecutive: int = Field(default=1, ge=1, le=10_000)
    horizon: int = Field(default=0, ge=0)  # ms, for signal = "predict"
    scope: Scope = Scope()
    audience: Audience | None = None
    source: str = ""  # where the default comes from
    zh: str = ""  # short farmer-facing name, e.g. "低温"
    en: str = ""

    @field_validator("for_", "horizon", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> int:
        return duration_ms(v)

    @field_validator("signal")
    @classmethod
    def _signal(cls, v: str) -> str:
        if v not in SIGNALS:
            raise ValueError(f"unknown signal {v!r}; known: {', '.join(SIGNALS)}")
        return v

    @model_validator(mode="after")
    def _thresholds(self) -> Rule:
        if self.day is None and self.night is None:
            raise ValueError("give a threshold: day, night or both")
        for t in (self.day, self.night):
            if t is None:
                continue
            if (self.when == "outside") != isinstance(t, tuple):
                raise ValueError("'outside' takes [low, high]; 'above' and 'below' take one number")
            if isinstance(t, tuple) and t[0] >= t[1]:
                raise ValueError(f"band {list(t)} must be [low, high] with low < high")
        if self.signal == "predict" and self.horizon <= 0:
            raise ValueError("signal 'predict' needs a horizon, e.g. horizon = \"90m\"")
        return self

    @property
    def who(self) -> Audience:
        if self.audience is not None:
            return self.audience
        return Audience.MAINTAINER if self.kind in (Kind.STALE, Kind.SENSOR_FAULT) else Audience.FARMER

    def band(self, daytime: bool) -> tuple[float, float, float, float]:
        """(trigger low, trigger high, clear low, clear high): bad when outside the trigger
        band, resolved when back inside the clear band. Outside its `active` part of the
        day the rule is off (never bad, always clear)."""
        if (self.active == "day" and not daytime) or (self.active == "night" and daytime):
            return (-_INF, _INF, -_INF, _INF)
        t = (
            (self.day if self.day is not None else self.night)
            if daytime
            else (self.night if self.night is not None else self.day)
        )
        if self.when == "above":
            assert isinstance(t, float | int)
            return (-_INF, float(t), -_INF, float(t) - self.clear)
        if self.when == "below":
            assert isinstance(t, float | int)
            return (float(t), _INF, float(t) + self.clear, _INF)
        assert isinstance(t, tuple)
        return (t[0], t[1], t[0] + self.clear, t[1] - self.clear)


_INF = float("inf")


class Override(_Strict):
    """Per-site numbers for a rule: `[[override]] site = "gh01" rule = "..." day = 11`."""

    site: str
    rule: str
    day: Threshold | None = None
    night: Threshold | None = None
    clear: FiniteFloat | None = None
    for_: int | None = Field(default=None, alias="for")
    consecutive: int | None = None
    enabled: bool = True

    @field_validator("for_", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> int | None:
        return None if v is None else duration_ms(v)


class RuleSet(_Strict):
    rule: list[Rule] = Field(default_factory=list)
    override: list[Override] = Field(default_factory=list)
    stale_k: float = Field(default=3.0, gt=1, allow_inf_nan=False)  # a series is stale after k x its expected interval

    def merged(self, other: RuleSet) -> RuleSet:
        ids = {r.id for r in other.rule}
        return RuleSet(
            rule=[r for r in self.rule if r.id not in ids] + other.rule,
            override=self.override + other.override,
            stale_k=other.stale_k if "stale_k" in other.model_fields_set else self.stale_k,
        )

    def for_site(self, rule: Rule, site: str) -> Rule | None:
        """The rule with this site's overrides applied; None when the site switched it off."""
        out = rule
        for o in self.override:
            if o.rule == rule.id and o.site == site:
                if not o.enabled:
                    return None
                changes = {
                    k: v
                    for k, v in (
                        ("day", o.day),
                        ("night", o.night),
                        ("clear", o.clear),
                        ("for_", o.for_),
                        ("consecutive", o.consecutive),
                    )
                    if v is not None
                }
                out = out.model_copy(update=changes)
        return out


class RulesError(ValueError):
    pass


def parse_rules(text: str, name: str = "<rules>") -> RuleSet:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RulesError(f"{name}: not valid TOML: {e}") from None
    for item in raw.get("rule", []):
        for key in ("day", "night"):
            if isinstance(item.get(key), list):
                item[key] = tuple(item[key])
    for item in raw.get("override", []):
        for key in ("day", "night"):
            if isinstance(item.get(key), list):
                item[key] = tuple(item[key])
    try:
        return RuleSet.model_validate(raw)
    except ValidationError as e:
        raise RulesError(f"{name}: {_where(raw, e)}") from None


_UNION_TAGS = {"float", "int", "str", "bool"}  # pydantic names the branch of a union it tried


def _where(raw: dict[str, Any], e: ValidationError) -> str:
    """`rule 'tomato-cold' (rule.3): night: <msg>` rather than `rule.3.night.float: <msg>`: one searches for the id."""
    # the most specific error: for `night = [1, nan]` the tuple branch's, not "should be a number"
    err = max(e.errors(), key=lambda x: len(x["loc"]))
    loc = list(err["loc"])
    field = ".".join(str(p) for p in loc[2:] if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS)))
    if len(loc) >= 2 and loc[0] in ("rule", "override") and isinstance(loc[1], int):
        items = raw.get(loc[0])
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else {}
        item = item if isinstance(item, dict) else {}
        if loc[0] == "rule":
            what = f"rule {item.get('id', '#' + str(loc[1] + 1))!r}"
        else:
            what = f"override of rule {item.get('rule')!r} for site {item.get('site')!r}"
        return f"{what} ({loc[0]}.{loc[1]}): {field or '(table)'}: {err['msg']}"
    return f"{'.'.join(str(p) for p in loc) or '(file)'}: {err['msg']}"


def load_rules(path: str | Path) -> RuleSet:
    p = Path(path)
    try:
        return parse_rules(p.read_text(encoding="utf-8"), str(p))
    except FileNotFoundError:
        raise RulesError(f"{p}: file not found") from None


def bundled_rules() -> RuleSet:
    """Every crop profile shipped in alerts/profiles/, merged (sorted by file name)."""
    folder = resources.files("alerts") / "profiles"
    out = RuleSet()
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out = out.merged(parse_rules(entry.read_text(encoding="utf-8"), f"alerts/profiles/{entry.name}"))
    return out


def deployment_rules(extra: str | Path | None = None) -> RuleSet:
    """The bundled profiles, with a village's own rules and per-site overrides on top (if a file is given)."""
    base = bundled_rules()
    return base.merged(load_rules(extra)) if extra else base
