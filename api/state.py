"""What the routes read: the config, the series index and the injected stores."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from api.users import UserStore
from qingyubiao.alerting import AlertReader, Silence
from qingyubiao.box import Check
from qingyubiao.config import Config
from qingyubiao.notifying import AckRefs, NotificationFeed
from qingyubiao.risks import RiskBook
from qingyubiao.series import SeriesIndex
from qingyubiao.store import DeviceStatus, IngestLog, ReadingReader
from qingyubiao.water import WaterBook


class AlertAccess(AlertReader, Protocol):
    """The alert store as the API uses it: read, acknowledge, silence."""

    def acknowledge(self, episode: str, who: str, ts_ms: int) -> bool: ...

    def save_silence(self, silence: Silence) -> None: ...


class RuleBook(Protocol):
    """Alert rules and crop profiles as JSON-able dicts; the composition root adapts the alert core's rules."""

    def rules(self) -> list[dict[str, object]]:
        """Every rule of every crop profile and of the village's own file."""
        ...

    def in_force(self, village: str, site: str) -> list[dict[str, object]]:
        """The rules that apply to one site, with its overrides applied."""
        ...

    def overrides(self) -> list[dict[str, object]]: ...

    def set_override(self, override: dict[str, object]) -> dict[str, object]:
        """Validate and keep a per-site override. Raises ValueError (bad input) or PermissionError (not editable)."""
        ...


def wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class ApiState:
    config: Config
    index: SeriesIndex
    reader: ReadingReader
    ingest_log: IngestLog
    users: UserStore
    alerts: AlertAccess | None = None
    device_statuses: Callable[[], Sequence[DeviceStatus]] | None = None
    rules: RuleBook | None = None
    risks: RiskBook | None = None  # the agronomy models' daily risks and the biofixes (qingyubiao.risks)
    water: WaterBook | None = None  # irrigations and the water audit (qingyubiao.water)
    feed: NotificationFeed | None = None  # the outbox's per-person notices, streamed as `notice` events
    ack_refs: AckRefs | None = None  # what a one-tap ack link's reference names
    ack_secret: str | None = None  # checks those links (notify_settings: QYB_ACK_SECRET or the config)
    box: Callable[[], list[Check]] | None = None  # the box's own health (qingyubiao/box.py): /healthz, the banner
    now_ms: Callable[[], int] = wall_ms
    stream_poll_s: float = 2.0
    # series of each (village, site), computed once: of_site() scans the whole index.
    site_series: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, k in enumerate(self.index.keys):
            self.site_series.setdefault((k.village, k.site), []).append(i)
