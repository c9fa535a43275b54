"""Helpers for the twin's tests: published messages flattened back into readings."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np
import pytest

from qingyubiao.config import Config
from qingyubiao.timeutil import to_ms


@dataclass(frozen=True, slots=True)
class Reading:
    sent_s: float  # simulated publish time
    device: str
    metric: str
    ts_s: float
    value: float
    fmt: str  # device | device-array | gateway | chirpstack
    seq: int | None
    topic: str


def flatten(config: Config, msgs: list[tuple[float, str, bytes]]) -> list[Reading]:
    """Every reading in the messages, decoded the way the wire contract says (ARCHITECTURE.md, Interfaces)."""
    by_eui = {d.dev_eui: d for v in config.village for d in v.device if d.dev_eui}
    out: list[Reading] = []
    for sent, topic, payload in msgs:
        obj = msgspec.json.decode(payload)
        parts = topic.split("/")
        if topic.startswith("application/"):
            d = by_eui[parts[3]]
            keys = {m: m for m in d.metrics} | d.object_keys
            ts = to_ms(obj["time"]) / 1000
            for k, val in obj["object"].items():
                if k in d.object_ignore:
                    continue
                out.append(Reading(sent, d.id, keys[k], ts, float(val), "chirpstack", obj["fCnt"], topic))
            for rx in obj["rxInfo"]:
                out.append(Reading(sent, d.id, "rssi_dbm", ts, float(rx["rssi"]), "chirpstack", obj["fCnt"], topic))
                out.append(Reading(sent, d.id, "snr_db", ts, float(rx["snr"]), "chirpstack", obj["fCnt"], topic))
        elif parts[2] == "gw":
            for r in obj["readings"]:
                for k, val in {**r["m"], "bat_v": r["bat_v"]}.items():
                    out.append(Reading(sent, r["dev"], k, float(r["ts"]), float(val), "gateway", r["seq"], topic))
        else:
            items, fmt = (obj, "device-array") if isinstance(obj, list) else ([obj], "device")
            for r in items:
                for k, val in {**r["m"], "bat_v": r["bat_v"]}.items():
                    out.append(Reading(sent, parts[2], k, float(r["ts"]), float(val), fmt, r["seq"], topic))
    return out


def series(readings: list[Reading], device: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(ts_s, value) arrays of one device's metric, in timestamp order, each reading once (as a store keeps it)."""
    pts = sorted({(r.ts_s, r.value) for r in readings if r.device == device and r.metric == metric})
    return np.array([p[0] for p in pts]), np.array([p[1] for p in pts])


@pytest.fixture(scope="session")
def lijiahe() -> Config:
    from qingyubiao.config import load_config

    return load_config()
