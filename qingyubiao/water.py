"""Water applied to blocks and the audit of everything done to their water: the records the collector and
the API share (ingest/store/sqlite_water.py keeps them beside the readings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from qingyubiao.config import Site

Source = Literal["manual", "valve"]


@dataclass(frozen=True, slots=True)
class Irrigated:
    """An irrigation of a block: on a village day, for so long, so much water (mm over the block)."""

    village: str
    site: str
    day: str  # YYYY-MM-DD, village date
    start_ms: int
    minutes: float
    mm: float
    source: Source
    by: str
    command: str | None = None  # the valve command it came from


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to a block's water, when and why: a command, a confirmation, a refusal, a device's
    acknowledgement or state change, a timeout, a lock, an irrigation entered by hand."""

    ts_ms: int
    village: str
    site: str
    kind: str
    by: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ValveRequest:
    """A request to water a block through its valve: from a farmer's 确认灌溉, or the automatic mode."""

    id: str
    village: str
    site: str
    duration_s: int
    reason: str
    by: str
    requested_ms: int
    fertigation_l: float = 0.0
    frost: bool = False
    state: str = "pending"  # pending → sent | refused; sent → acked | timeout; acked → done


class WaterBook(Protocol):
    def record_irrigation(self, x: Irrigated, reason: str) -> None:
        """Keep it and audit it, in one transaction."""
        ...

    def irrigations(self, village: str, since_day: str) -> list[Irrigated]: ...

    def water_version(self) -> int:
        """Changes whenever an irrigation is recorded (the collector then runs the balance again)."""
        ...

    def audit(self, e: AuditEntry) -> None: ...

    def audit_log(self, village: str, sites: set[str] | None = None, limit: int = 500) -> list[AuditEntry]:
        """Newest first; only these sites when given."""
        ...

    def request(self, r: ValveRequest) -> bool:
        """Keep a request (pending) and audit it; False (and nothing kept) when one with its id exists:
        a confirm link tapped twice asks once."""
        ...

    def pending(self, village: str) -> list[ValveRequest]: ...

    def requests_since(self, village: str, since_ms: int) -> list[ValveRequest]:
        """Every request made since then, whatever became of it, oldest first."""
        ...

    def set_request_state(self, request_id: str, state: str) -> None: ...

    def lock(self, village: str, site: str, by: str, reason: str, ts_ms: int) -> None: ...

    def unlock(self, village: str, site: str, by: str, ts_ms: int) -> None: ...

    def locks(self, village: str) -> dict[str, str]:
        """site -> who locked it."""
        ...


def advised_minutes(detail: dict[str, Any], site: Site) -> int:
    """How long to open a block's valve for its irrigation advice (the `irrigation` risk row's detail): the
    drip time of the water due now at the block's drip rate, at least a minute, at most one opening's
    limit; 0 when nothing is due today. What is left after a capped opening is due again the next day."""
    rate, irr = site.drip_mm_h, site.irrigation
    if detail.get("days_left") != 0 or not detail.get("need_mm") or not rate or irr is None:
        return 0
    return max(1, min(round(float(detail["need_mm"]) / rate * 60), irr.max_open_min))
