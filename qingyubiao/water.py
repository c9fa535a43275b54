"""Water applied to blocks and the audit of everything done to their water: the records the collector and
the API share (ingest/store/sqlite_water.py keeps them beside the readings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

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

    def request(self, r: ValveRequest) -> None:
        """Keep a request (pending) and audit it."""
        ...

    def pending(self, village: str) -> list[ValveRequest]: ...

    def set_request_state(self, request_id: str, state: str) -> None: ...

    def lock(self, village: str, site: str, by: str, reason: str, ts_ms: int) -> None: ...

    def unlock(self, village: str, site: str, by: str, ts_ms: int) -> None: ...

    def locks(self, village: str) -> dict[str, str]:
        """site -> who locked it."""
        ...
