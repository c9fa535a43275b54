"""Alert records shared by the engine (writer) and the API and reports (readers).

The alert core in `alerts/` produces transitions; the store keeps episodes and
their transitions so the read side never imports the engine. Times are epoch
milliseconds (event time of the reading that caused the transition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Kind(StrEnum):
    """Alert kinds: the vocabulary shared with the simulator's scenario files."""

    AIR_TEMP_HIGH = "air_temp_high"
    AIR_TEMP_LOW = "air_temp_low"
    FROST = "frost"
    HUMIDITY_HIGH = "humidity_high"
    HUMIDITY_LOW = "humidity_low"
    SOIL_DRY = "soil_dry"
    SOIL_WET = "soil_wet"
    VPD_HIGH = "vpd_high"
    VPD_LOW = "vpd_low"
    CONDENSATION = "condensation"
    TEMP_MEAN_HIGH = "temp_mean_high"
    PEER_DEVIATION = "peer_deviation"
    STALE = "stale"
    DEVICE_OFFLINE = "device_offline"
    SENSOR_FAULT = "sensor_fault"
    # the box itself (ingest/health.py): raised by the collector, not by rules
    STORE_FAILING = "store_failing"
    BROKER_UNREACHABLE = "broker_unreachable"
    # the agronomy models (alerts/agronomy.py): a day's disease or pest risk, not a reading
    DISEASE_RISK = "disease_risk"
    PEST_RISK = "pest_risk"
    # valve control (alerts/valves.py): a command not acknowledged, a valve open past its end
    VALVE_FAULT = "valve_fault"
    # the root-zone water balance (alerts/agronomy.py): a block that needs watering today
    IRRIGATION_DUE = "irrigation_due"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"
    EMERGENCY = "emergency"


class Audience(StrEnum):
    """Who is told: crop alerts go to farmers, device health to maintainers."""

    FARMER = "farmer"
    MAINTAINER = "maintainer"


class State(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"  # a pending alert whose condition ended before it fired


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change of one alert episode.

    `late`: caused by a reading that arrived after the fact (backfill after an
    outage); recorded as "happened while offline", never paged as live.
    `inhibited_by` / `silenced_by`: why nobody is paged for it (None: page).
    `eta_min`: for predicted crossings, minutes until the threshold is reached.
    """

    episode: str
    rule: str
    kind: str
    severity: str
    audience: str
    state: str
    ts_ms: int
    village: str
    site: str
    device: str
    metric: str
    value: float
    threshold: float
    late: bool = False
    inhibited_by: str | None = None
    silenced_by: str | None = None
    eta_min: float | None = None
    text_zh: str = ""
    text_en: str = ""

    @property
    def pages(self) -> bool:
        """Whether this transition should reach a person's phone now."""
        return (
            self.state in (State.FIRING, State.RESOLVED)
            and not self.late
            and self.inhibited_by is None
            and self.silenced_by is None
        )


@dataclass(frozen=True, slots=True)
class Episode:
    """An alert from its first pending reading to its resolution."""

    id: str
    rule: str
    kind: str
    severity: str
    audience: str
    village: str
    site: str
    device: str
    metric: str
    state: str
    started_ms: int
    fired_ms: int | None
    ended_ms: int | None
    late: bool
    value: float
    text_zh: str
    text_en: str
    ack_by: str | None = None
    ack_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Silence:
    """No paging for matching alerts between start and end (wall time). Empty matchers match all."""

    id: str
    created_by: str
    reason: str
    start_ms: int
    end_ms: int
    village: str | None = None
    site: str | None = None
    rule: str | None = None
    kind: str | None = None

    def matches(self, t: Transition, now_ms: int) -> bool:
        return (
            self.start_ms <= now_ms < self.end_ms
            and (self.village is None or self.village == t.village)
            and (self.site is None or self.site == t.site)
            and (self.rule is None or self.rule == t.rule)
            and (self.kind is None or self.kind == t.kind)
        )


class AlertWriter(Protocol):
    def record(
        self, transitions: Sequence[Transition], episodes: Sequence[Episode], snapshot: bytes | None, ts_ms: int
    ) -> None:
        """Durably store transitions, the new state of their episodes and the engine snapshot, atomically."""
        ...

    def acknowledge(self, episode: str, who: str, ts_ms: int) -> bool: ...

    def save_silence(self, silence: Silence) -> None: ...

    def load_snapshot(self) -> bytes | None: ...


class AlertReader(Protocol):
    def episode(self, id: str) -> Episode | None:
        """One episode by its id, open or ended (None: unknown)."""
        ...

    def active_episodes(self, village: str | None = None) -> list[Episode]: ...

    def episodes(self, since_ms: int, until_ms: int | None = None, site: str | None = None) -> list[Episode]: ...

    def episodes_overlapping(self, start_ms: int, end_ms: int) -> list[Episode]:
        """Episodes open at some time in [start, end), however long before it they started."""
        ...

    def transitions(self, episode: str) -> list[Transition]: ...

    def silences(self, active_at_ms: int | None = None) -> list[Silence]: ...
