"""Feeding readings to an alert manager by device and metric name."""

from __future__ import annotations

import numpy as np

from alerts.manager import AlertManager
from qingyubiao.alerting import Transition
from qingyubiao.batch import Batch, Flag
from qingyubiao.series import SeriesIndex

VILLAGE = "lijiahe"
NIGHT = 1_763_820_000_000  # 2025-11-22 22:00 Beijing time
MIN = 60_000


def batch(index: SeriesIndex, rows: list[tuple[str, str, int, float]], village: str = VILLAGE) -> Batch:
    """rows: (device, metric, ts_ms, value); values outside the metric's range are flagged as the decoders do."""
    s = np.array([index.find(village, d, m) for d, m, _, _ in rows], np.int32)
    ts = np.array([t for _, _, t, _ in rows], np.int64)
    v = np.array([x for *_, x in rows], np.float64)
    flags = np.where((v < index.lo[s]) | (v > index.hi[s]), int(Flag.OUT_OF_RANGE), 0).astype(np.uint16)
    return Batch(s, ts, v, flags)


def feed(
    mgr: AlertManager, index: SeriesIndex, device: str, values: dict[str, float], ts_ms: int, now_ms: int | None = None
) -> list[Transition]:
    rows = [(device, m, ts_ms, v) for m, v in values.items()]
    return mgr.handle(batch(index, rows), ts_ms + 1_000 if now_ms is None else now_ms)


def of(transitions: list[Transition], **match: object) -> list[Transition]:
    return [t for t in transitions if all(getattr(t, k) == v for k, v in match.items())]
