"""Scenarios: small declarative TOML files that set up a day in the village and say what should be reported.

    scenario = load("heat-noon")
    scenario.start_s, scenario.end_s       # epoch seconds of the simulated span
    scenario.stage                          # {"or01": "full_bloom"}: growth stages to apply to the config
    scenario.expect                         # what the alert system should report (site, kind, severity, window)
    scenario.moved_to(date(2026, 12, 6))    # the same scenario played on another day

Times in a scenario file are local village time: `start` is a date or a date
and time; fault and expectation times are "HH:MM" (the first such moment at
or after the scenario's start) or full ISO date-times.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from qingyubiao.config import Config
from sensors_sim.greenhouse import QUILT_MODES, VENT_MODES
from sensors_sim.weather import _SKY_CLOUD, _WIND_MEAN, WeatherOverride

FAULT_KINDS = ("dropout", "stuck", "spike", "drift", "dead", "clock_skew", "outage", "duplicate")
ALERT_KINDS = (
    "air_temp_high",
    "air_temp_low",
    "frost",
    "humidity_high",
    "soil_dry",
    "stale",
    "device_offline",
    "sensor_fault",
)
SEVERITIES = ("warning", "critical", "emergency")


class ScenarioError(ValueError):
    """A scenario file that cannot be used: which file, what is wrong."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault. Targets a device (and optionally one metric), a gateway, or the whole village."""

    kind: str
    start_s: float
    end_s: float
    device: str | None = None
    metric: str | None = None
    gateway: str | None = None
    magnitude: float | None = None  # spike size, drift per hour, clock skew in seconds


@dataclass(frozen=True, slots=True)
class SiteOverride:
    site: str
    vent: str = "auto"  # auto | stuck_closed | stuck_open
    quilt: str = "auto"  # auto | forgotten (not rolled down in the evening) | late (rolled up late)


@dataclass(frozen=True, slots=True)
class Expect:
    """An alert the system should raise: at least `severity`, first firing between after_s and before_s."""

    site: str
    kind: str
    severity: str
    after_s: float
    before_s: float
    after: str
    before: str


@dataclass(frozen=True)
class ExpectRisk:
    """What the agronomy models should say of a site on a village day (tests/agronomy/test_twin_scenarios.py)."""

    site: str
    model: str
    day: str  # YYYY-MM-DD
    risk: str  # no_data | unknown | none | low | moderate | high


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str  # zh-CN
    title_en: str
    description: str
    start_s: float
    hours: float
    tz: str = "Asia/Shanghai"
    village: str | None = None  # default: the config's first village
    weather: WeatherOverride = field(default_factory=WeatherOverride)
    stage: dict[str, str] = field(default_factory=dict)
    sites: tuple[SiteOverride, ...] = ()
    faults: tuple[Fault, ...] = ()
    expect: tuple[Expect, ...] = ()
    expect_risk: tuple[ExpectRisk, ...] = ()
    strict: bool = False  # True: no alert other than `expect` (none for quiet-day) should fire
    lora_loss: float | None = None  # fixed LoRaWAN packet-loss probability instead of the radio model

    @property
    def end_s(self) -> float:
        return self.start_s + self.hours * 3600.0

    @property
    def days(self) -> list[date]:
        """Local dates the scenario touches (its weather override applies to them)."""
        tz = ZoneInfo(self.tz)
        first = datetime.fromtimestamp(self.start_s, tz).date()
        last = datetime.fromtimestamp(self.end_s, tz).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    @property
    def first_day(self) -> date:
        """The local date the scenario starts on."""
        return datetime.fromtimestamp(self.start_s, ZoneInfo(self.tz)).date()

    def moved_to(self, day: date) -> Scenario:
        """The same scenario played on another local date: its start, faults and expectations move by whole
        days and keep their local times of day (wall clock, so a daylight-saving change keeps them too); the
        weather override and the stages go with it. The sun and the climate around it are the new day's:
        rain_start_h is a solar hour, and the spin-up before the start is the new season's weather."""
        shift = (day - self.first_day).days
        if shift == 0:
            return self
        tz = ZoneInfo(self.tz)

        def move(t_s: float) -> float:
            # aware datetime + timedelta is wall-clock arithmetic in the zone: 06:00 stays 06:00
            return (datetime.fromtimestamp(t_s, tz) + timedelta(days=shift)).timestamp()

        return replace(
            self,
            start_s=move(self.start_s),
            faults=tuple(replace(f, start_s=move(f.start_s), end_s=move(f.end_s)) for f in self.faults),
            expect=tuple(self._moved_expect(e, move(e.after_s), move(e.before_s), shift) for e in self.expect),
            expect_risk=tuple(
                replace(e, day=(date.fromisoformat(e.day) + timedelta(days=shift)).isoformat())
                for e in self.expect_risk
            ),
        )

    @staticmethod
    def _moved_expect(e: Expect, after_s: float, before_s: float, shift: int) -> Expect:
        def text(t: str) -> str:  # "HH:MM" is relative to the start and stays; a date-time moves
            return t if _is_clock(t) else (datetime.fromisoformat(t) + timedelta(days=shift)).isoformat()

        return replace(e, after_s=after_s, before_s=before_s, after=text(e.after), before=text(e.before))

    def apply_stages(self, config: Config) -> Config:
        """The config with this scenario's growth stages set on its sites (for alert tests)."""
        if not self.stage:
            return config
        villages = []
        for v in config.village:
            sites = [s.model_copy(update={"stage": self.stage[s.id]}) if s.id in self.stage else s for s in v.site]
            villages.append(v.model_copy(update={"site": sites}))
        return config.model_copy(update={"village": villages})

    def check_against(self, config: Config) -> None:
        """Raise ScenarioError when the scenario names sites, devices or gateways the config lacks."""
        village = config.village_by_id(self.village) if self.village else config.village[0]
        sites = {s.id for s in village.site}
        devices = {d.id: d for d in village.device}
        gateways = {d.gateway for d in village.device if d.gateway}
        for name in [
            *self.stage,
            *(o.site for o in self.sites),
            *(e.site for e in self.expect),
            *(e.site for e in self.expect_risk),
        ]:
            if name not in sites:
                raise ScenarioError(f"{self.name}: unknown site {name!r} in village {village.id!r}")
        for f in self.faults:
            if f.device is not None and f.device not in devices:
                raise ScenarioError(f"{self.name}: unknown device {f.device!r}")
            if f.metric is not None and f.device is not None and f.metric not in devices[f.device].metrics:
                raise ScenarioError(f"{self.name}: device {f.device!r} has no metric {f.metric!r}")
            if f.gateway is not None and f.gateway not in gateways:
                raise ScenarioError(f"{self.name}: unknown gateway {f.gateway!r}")


def scenario_dir() -> Path:
    return Path(str(resources.files("sensors_sim") / "scenarios"))


def names() -> list[str]:
    """Names of the bundled scenarios."""
    return sorted(p.stem for p in scenario_dir().glob("*.toml"))


def load(name_or_path: str | Path) -> Scenario:
    """A bundled scenario by name ("heat-noon"), or a scenario file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = scenario_dir() / f"{name_or_path}.toml"
        if not path.exists():
            raise ScenarioError(f"no scenario {name_or_path!r}; known: {', '.join(names())}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ScenarioError(f"{path}: {e}") from None
    return parse(raw, path.stem)


def parse(raw: dict[str, Any], name: str) -> Scenario:
    """A Scenario from the mapping a scenario file holds (tests build them this way too)."""
    try:
        tz = ZoneInfo(raw.get("tz", "Asia/Shanghai"))
        start = _start(raw["start"], tz)
        hours = float(raw.get("hours", 24))

        def at(text: str) -> float:
            return _moment(str(text), start, tz)

        w = raw.get("weather", {})
        if w.get("sky") not in (None, *_SKY_CLOUD):
            raise ScenarioError(f"{name}: weather.sky must be one of {', '.join(_SKY_CLOUD)}")
        if w.get("wind") not in (None, *_WIND_MEAN):
            raise ScenarioError(f"{name}: weather.wind must be one of {', '.join(_WIND_MEAN)}")
        weather = WeatherOverride(w.get("sky"), w.get("wind"), w.get("tmin_c"), w.get("tmax_c"), w.get("rain_mm"),
                                  w.get("rain_start_h"), w.get("rain_hours"))  # fmt: skip
        start_h, rain_h = w.get("rain_start_h", 13.0), w.get("rain_hours", 6.0)
        if not (0 <= start_h < 24 and rain_h > 0 and start_h + rain_h <= 24):
            raise ScenarioError(
                f"{name}: weather: the rain must begin and end within the day (rain_start_h + rain_hours ≤ 24)"
            )
        sites = []
        for s in raw.get("site", []):
            o = SiteOverride(s["id"], s.get("vent", "auto"), s.get("quilt", "auto"))
            if o.vent not in VENT_MODES or o.quilt not in QUILT_MODES:
                raise ScenarioError(f"{name}: site {o.site}: vent must be {VENT_MODES}, quilt {QUILT_MODES}")
            sites.append(o)
        end_s = start.timestamp() + hours * 3600
        faults = []
        for f in raw.get("fault", []):
            if f["kind"] not in FAULT_KINDS:
                raise ScenarioError(f"{name}: fault kind {f['kind']!r}; known: {', '.join(FAULT_KINDS)}")
            f_start = at(f["start"]) if "start" in f else start.timestamp()
            faults.append(
                Fault(
                    kind=f["kind"],
                    start_s=f_start,
                    end_s=_moment(str(f["end"]), datetime.fromtimestamp(f_start, tz), tz) if "end" in f else end_s,
                    device=f.get("device"),
                    metric=f.get("metric"),
                    gateway=f.get("gateway"),
                    magnitude=f.get("magnitude"),
                )
            )
        expects = []
        for e in raw.get("expect", []):
            if e["kind"] not in ALERT_KINDS:
                raise ScenarioError(f"{name}: alert kind {e['kind']!r}; known: {', '.join(ALERT_KINDS)}")
            if e["severity"] not in SEVERITIES:
                raise ScenarioError(f"{name}: severity {e['severity']!r}; known: {', '.join(SEVERITIES)}")
            expects.append(
                Expect(e["site"], e["kind"], e["severity"], at(e["after"]), at(e["before"]), e["after"], e["before"])
            )
        return Scenario(
            name=raw.get("name", name),
            title=raw.get("title", name),
            title_en=raw.get("title_en", name),
            description=raw.get("description", ""),
            start_s=start.timestamp(),
            hours=hours,
            tz=str(tz),
            village=raw.get("village"),
            weather=weather,
            stage=dict(raw.get("stage", {})),
            sites=tuple(sites),
            faults=tuple(faults),
            expect=tuple(expects),
            expect_risk=tuple(
                ExpectRisk(e["site"], e["model"], str(e["day"]), e["risk"]) for e in raw.get("expect_risk", [])
            ),
            strict=bool(raw.get("strict", False)),
            lora_loss=raw.get("lora_loss"),
        )
    except KeyError as e:
        raise ScenarioError(f"{name}: required key {e.args[0]!r} is missing") from None
    except ValueError as e:
        if isinstance(e, ScenarioError):
            raise
        raise ScenarioError(f"{name}: {e}") from None


def _start(value: object, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tz)
    dt = datetime.fromisoformat(str(value))
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def _moment(text: str, start: datetime, tz: ZoneInfo) -> float:
    """'HH:MM' → the first such local time at or after `start`; else an ISO date-time."""
    if _is_clock(text):
        hh, mm = (int(x) for x in text.split(":"))
        local = start.astimezone(tz)
        candidate = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
        if candidate < local:
            candidate += timedelta(days=1)
        return candidate.timestamp()
    return _start(text, tz).timestamp()


def _is_clock(text: str) -> bool:
    """'HH:MM', a time of day (not a date-time)."""
    return len(text) <= 5 and ":" in text
