"""The series index: every (village, device, metric) gets a dense integer when
the config is loaded, so readings, alert state and ranges are numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qingyubiao.catalogue import HEALTH_METRICS, METRICS
from qingyubiao.config import Config, Device, Site, Village


@dataclass(frozen=True, slots=True)
class SeriesKey:
    village: str
    site: str
    device: str
    metric: str


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """What a decoder needs to know about a device: its series by metric name."""

    village: Village
    device: Device
    site: Site
    series: dict[str, int]
    object_keys: dict[str, str]  # ChirpStack codec key -> metric
    object_ignore: frozenset[str]


class SeriesIndex:
    """Dense series numbering plus the lookups the decoders need."""

    def __init__(self, config: Config) -> None:
        keys: list[SeriesKey] = []
        self.devices: dict[tuple[str, str], DeviceRef] = {}
        self.village_devices: dict[str, dict[str, DeviceRef]] = {v.id: {} for v in config.village}
        self.by_dev_eui: dict[str, DeviceRef] = {}
        # (village, gateway) pairs of the config: a batch from any other gateway is refused
        self.gateways: frozenset[tuple[str, str]] = frozenset(
            (v.id, d.gateway) for v in config.village for d in v.device if d.gateway is not None
        )
        for v in config.village:
            sites = {s.id: s for s in v.site}
            for d in v.device:
                series: dict[str, int] = {}
                for metric in (*d.metrics, *HEALTH_METRICS):
                    if metric not in series:
                        series[metric] = len(keys)
                        keys.append(SeriesKey(v.id, d.site, d.id, metric))
                object_keys = {m: m for m in d.metrics} | dict(d.object_keys)
                ref = DeviceRef(v, d, sites[d.site], series, object_keys, frozenset(d.object_ignore))
                self.devices[(v.id, d.id)] = self.village_devices[v.id][d.id] = ref
                if d.dev_eui:
                    self.by_dev_eui[d.dev_eui] = ref
        self.keys: tuple[SeriesKey, ...] = tuple(keys)
        self.lo: NDArray[np.float64] = np.array([METRICS[k.metric].lo for k in keys], dtype=np.float64)
        self.hi: NDArray[np.float64] = np.array([METRICS[k.metric].hi for k in keys], dtype=np.float64)
        intervals = {(v.id, d.id): d.interval_s for v in config.village for d in v.device}
        self.interval_s: NDArray[np.float64] = np.array(
            [intervals[(k.village, k.device)] for k in keys], dtype=np.float64
        )
        self._by_key = {(k.village, k.device, k.metric): i for i, k in enumerate(keys)}

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, village: str, device: str, metric: str) -> int | None:
        return self._by_key.get((village, device, metric))

    def of_site(self, village: str, site: str) -> list[int]:
        return [i for i, k in enumerate(self.keys) if k.village == village and k.site == site]
