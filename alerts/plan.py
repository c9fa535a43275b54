"""Compile rules × the village config into arrays: the engine's plan.

Series are the config's series index plus derived series (VPD, dew point,
condensation margin for every device that measures both air temperature and
humidity). Cells are laid out as a 2-D grid (series, slot): row s holds the
rules that apply to series s, padded with never-firing cells, so one round of
readings gathers whole rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray

from alerts.rules import DERIVED_METRICS, Rule, RuleSet
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex, SeriesKey

# Signal channels, per series and reading; see alerts.rules.SIGNALS.
CHANNELS: tuple[str, ...] = (
    "value",
    "rate_10min",
    "predict",
    "out_of_range",
    "stuck_hours",
    "step",
    "wet_hours",
    "mean_24h",
    "peer",
)
CH = {name: i for i, name in enumerate(CHANNELS)}
RATE_WINDOW_MS = 600_000  # rates are measured over at least 10 minutes
WET_LEVEL = 90.0
PEER_MIN = 3  # peer comparison needs at least this many fresh members in the group
MEAN_MIN_HOURS = 18  # a 24-hour mean needs readings in at least this many of its hours
_INF = np.float32(np.inf)


@dataclass
class Plan:
    """Everything the engine and the reference evaluator need, as arrays."""

    keys: list[SeriesKey]
    n_raw: int
    interval_ms: NDArray[np.int64]  # (S,)
    stale_ms: NDArray[np.int64]  # (S,) k x interval
    watched: NDArray[np.bool_]  # (S,) staleness alerts for this series
    village_of: NDArray[np.int32]  # (S,)
    lat: NDArray[np.float64]  # (V,)
    lon: NDArray[np.float64]
    village_ids: list[str]
    device_of: NDArray[np.int32]  # (S,) dense device number
    devices: list[tuple[str, str, str]]  # (village, site, device)
    device_gateway: NDArray[np.int32]  # (D,) -1 without gateway
    gateways: list[tuple[str, str]]  # (village, gateway)
    pairs: NDArray[np.int64]  # (P, 5): temp series, rh series, vpd, dew point, dew margin
    mean_slot: NDArray[np.int32]  # (S,) row in the 24-h bucket arrays, -1 when not needed
    peer_group: NDArray[np.int32]  # (S,) -1 when the series takes part in no peer comparison
    rules: list[Rule]  # distinct (rule, site override) combinations
    rule_of: NDArray[np.int32]  # (S, R) index into rules, -1 for padding
    channel: NDArray[np.int8]  # (S, R)
    band_day: NDArray[np.float32]  # (4, S, R): trigger lo, trigger hi, clear lo, clear hi
    band_night: NDArray[np.float32]  # (4, S, R)
    for_ms: NDArray[np.int64]  # (S, R)
    need: NDArray[np.int16]  # (S, R) consecutive readings
    horizon_min: NDArray[np.float64]  # (S, R) for predictions, in units of 10 minutes
    uses: set[int] = field(default_factory=set)  # channels used by any cell
    daynight: bool = True  # some cell has different day and night bands

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.keys), int(self.rule_of.shape[1]))

    def cell_bytes(self) -> int:
        """Bytes of parameters per (series, slot) cell."""
        per: list[NDArray[Any]] = [
            self.rule_of,
            self.channel,
            self.band_day,
            self.band_night,
            self.for_ms,
            self.need,
            self.horizon_min,
        ]
        return sum(a.nbytes for a in per) // max(1, self.rule_of.size)


def matches(rule: Rule, crop: str, stage: str | None, site: str, device: str, kind: str, metric: str) -> bool:
    s = rule.scope
    return (
        rule.metric == metric
        and (not s.crop or crop in s.crop)
        and (not s.stage or (stage is not None and stage in s.stage))
        and (not s.site or site in s.site)
        and (not s.device or device in s.device)
        and (not s.kind or kind in s.kind)
    )


def compile_plan(config: Config, rules: RuleSet, index: SeriesIndex | None = None) -> Plan:
    """Build the plan for every village of the config. Cost: one Python pass over series × rules."""
    index = index or SeriesIndex(config)
    keys = list(index.keys)
    n_raw = len(keys)
    interval_s = list(index.interval_s)
    pairs: list[list[int]] = []
    for (vid, did), ref in index.devices.items():
        if "air_temp_c" in ref.device.metrics and "air_rh_pct" in ref.device.metrics:
            pair = [ref.series["air_temp_c"], ref.series["air_rh_pct"]]
            for m in DERIVED_METRICS:
                pair.append(len(keys))
                keys.append(SeriesKey(vid, ref.site.id, did, m))
                interval_s.append(ref.device.interval_s)
            pairs.append(pair)
    S = len(keys)
    village_ids = [v.id for v in config.village]
    vnum = {v: i for i, v in enumerate(village_ids)}
    sites = {(v.id, s.id): s for v in config.village for s in v.site}
    dev_cfg = {(v.id, d.id): d for v in config.village for d in v.device}
    devices = sorted({(k.village, k.site, k.device) for k in keys}, key=lambda t: (t[0], t[2]))
    dnum = {(v, d): i for i, (v, _, d) in enumerate(devices)}
    gateways = sorted({(v, dev_cfg[(v, d)].gateway or "") for v, _, d in devices} - {(v, "") for v in village_ids})
    gnum = {g: i for i, g in enumerate(gateways)}
    interval_ms = (np.array(interval_s, dtype=np.float64) * 1000).astype(np.int64)
    watched = np.array(
        [i < n_raw and k.metric in dev_cfg[(k.village, k.device)].metrics for i, k in enumerate(keys)], dtype=bool
    )
    # cells: which rules apply to which series
    resolved: list[Rule] = []
    rnum: dict[tuple[str, str], int] = {}
    per_series: list[list[int]] = []
    for k in keys:
        site = sites[(k.village, k.site)]
        row: list[int] = []
        for rule in rules.rule:
            if not matches(rule, site.crop, site.stage, site.id, k.device, site.kind, k.metric):
                continue
            eff = rules.for_site(rule, site.id)
            if eff is None:
                continue
            key = (rule.id, site.id if eff is not rule else "")
            if key not in rnum:
                rnum[key] = len(resolved)
                resolved.append(eff)
            row.append(rnum[key])
        per_series.append(row)
    R = max(1, max((len(r) for r in per_series), default=1))
    rule_of = np.full((S, R), -1, dtype=np.int32)
    for s, row in enumerate(per_series):
        rule_of[s, : len(row)] = row
    plan = _cells(rule_of, resolved)
    mean_rows = [s for s in range(S) if any(resolved[r].signal == "mean_24h" for r in per_series[s])]
    mean_slot = np.full(S, -1, dtype=np.int32)
    mean_slot[mean_rows] = np.arange(len(mean_rows), dtype=np.int32)
    groups: dict[tuple[str, str, str], int] = {}
    peer_group = np.full(S, -1, dtype=np.int32)
    for s, k in enumerate(keys):
        if any(resolved[r].signal == "peer" for r in per_series[s]):
            g = (k.village, sites[(k.village, k.site)].crop, k.metric)
            peer_group[s] = groups.setdefault(g, len(groups))
    return Plan(
        keys=keys,
        n_raw=n_raw,
        interval_ms=interval_ms,
        stale_ms=(interval_ms * rules.stale_k).astype(np.int64),
        watched=watched,
        village_of=np.array([vnum[k.village] for k in keys], dtype=np.int32),
        lat=np.array([v.lat for v in config.village]),
        lon=np.array([v.lon for v in config.village]),
        village_ids=village_ids,
        device_of=np.array([dnum[(k.village, k.device)] for k in keys], dtype=np.int32),
        devices=devices,
        device_gateway=np.array(
            [gnum.get((v, dev_cfg[(v, d)].gateway or ""), -1) for v, _, d in devices], dtype=np.int32
        ),
        gateways=gateways,
        pairs=np.array(pairs, dtype=np.int64).reshape(-1, 5),
        mean_slot=mean_slot,
        peer_group=peer_group,
        rules=resolved,
        rule_of=rule_of,
        **plan,
    )


class _Cells(TypedDict):
    """The per-cell fields of a Plan."""

    channel: NDArray[np.int8]
    band_day: NDArray[np.float32]
    band_night: NDArray[np.float32]
    for_ms: NDArray[np.int64]
    need: NDArray[np.int16]
    horizon_min: NDArray[np.float64]
    uses: set[int]
    daynight: bool


def _cells(rule_of: NDArray[np.int32], rules: list[Rule]) -> _Cells:
    """Per-cell parameter arrays from the rule of each cell (padding never fires)."""
    n = len(rules)
    t_day = np.array([r.band(True) for r in rules] + [(-_INF, _INF, -_INF, _INF)], dtype=np.float32)
    t_night = np.array([r.band(False) for r in rules] + [(-_INF, _INF, -_INF, _INF)], dtype=np.float32)
    chan = np.array([CH[r.signal] for r in rules] + [0], dtype=np.int8)
    fors = np.array([r.for_ for r in rules] + [0], dtype=np.int64)
    need = np.array([r.consecutive for r in rules] + [1], dtype=np.int16)
    hz = np.array([r.horizon / RATE_WINDOW_MS for r in rules] + [0.0], dtype=np.float64)
    idx = np.where(rule_of >= 0, rule_of, n)
    uses = {int(c) for c in np.unique(chan[idx])}
    band_day, band_night = t_day.T[:, idx], t_night.T[:, idx]
    return {
        "channel": chan[idx],
        "band_day": band_day,
        "band_night": band_night,
        "for_ms": fors[idx],
        "need": need[idx],
        "horizon_min": hz[idx],
        "uses": uses,
        "daynight": bool(np.any(band_day != band_night)),
    }
