"""Latest readings of a site and their status: ok / warning / critical / stale / unknown.

The API reads state, it does not compute alerts: warning and critical come
from the alert core's firing episodes. Stale comes from the data's age against
the device's reporting interval; unknown means no reading yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from api.state import ApiState
from qingyubiao.alerting import Episode, State
from qingyubiao.catalogue import HEALTH_METRICS, METRICS
from qingyubiao.config import Site

STALE_INTERVALS = 3  # three missed reports in a row: the sensor is not talking to us
RANK = {"unknown": 0, "ok": 1, "stale": 2, "warning": 3, "critical": 4}


@dataclass(frozen=True, slots=True)
class MetricReading:
    metric: str
    device: str
    ts_ms: int | None
    value: float | None
    status: str


def vpd_kpa(temp_c: float, rh_pct: float) -> float:
    """Vapour pressure deficit (Tetens): how hard the air pulls water from the leaves."""
    svp = 0.6108 * math.exp(17.27 * temp_c / (temp_c + 237.3))
    return round(svp * (1 - rh_pct / 100), 3)


def episode_status(severity: str) -> str:
    return "warning" if severity == "warning" else "critical"


def firing_by_site(state: ApiState, village: str) -> dict[str, list[Episode]]:
    out: dict[str, list[Episode]] = {}
    if state.alerts is not None:
        for e in state.alerts.active_episodes(village):
            if e.state == State.FIRING:
                out.setdefault(e.site, []).append(e)
    return out


def site_readings(state: ApiState, village: str, site: Site, firing: list[Episode]) -> list[MetricReading]:
    """One reading per measured metric of the site (the newest if two devices measure it), health last."""
    series = state.site_series.get((village, site.id), [])
    latest = state.reader.latest(series)
    now = state.now_ms()
    best: dict[str, MetricReading] = {}
    for i, s in enumerate(series):
        key = state.index.keys[s]
        ts = int(latest.ts_ms[i])
        value = float(latest.value[i])
        if ts < 0:
            status = "unknown"
        elif now - ts > STALE_INTERVALS * state.index.interval_s[s] * 1000:
            status = "stale"
        else:
            status = "ok"
        if status != "unknown" and key.metric not in HEALTH_METRICS:
            for e in firing:
                if e.metric == key.metric or (e.metric not in METRICS and e.device == key.device):
                    status = max(status, episode_status(e.severity), key=RANK.__getitem__)
        reading = MetricReading(key.metric, key.device, ts if ts >= 0 else None, value if ts >= 0 else None, status)
        old = best.get(key.metric)
        if old is None or (reading.ts_ms or -1) > (old.ts_ms or -1):
            best[key.metric] = reading
    ordered = sorted(best.values(), key=lambda r: (r.metric in HEALTH_METRICS, list(METRICS).index(r.metric)))
    return ordered


def site_status(readings: list[MetricReading], firing: list[Episode]) -> str:
    measured = [r.status for r in readings if r.metric not in HEALTH_METRICS]
    status = max(measured, key=RANK.__getitem__, default="unknown")
    for e in firing:  # site-wide alerts (device offline, peer deviation) colour the site too
        status = max(status, episode_status(e.severity), key=RANK.__getitem__)
    return status


def derived_vpd(readings: list[MetricReading]) -> float | None:
    by = {r.metric: r for r in readings}
    t, rh = by.get("air_temp_c"), by.get("air_rh_pct")
    if t is None or rh is None or t.value is None or rh.value is None:
        return None
    return vpd_kpa(t.value, rh.value)
