"""A minimal publisher: exactly N plausible readings for the config's devices.

Used by tests and the demo until the full village twin arrives. Readings are
deterministic for a seed and start time; every (device, metric, ts) is unique,
so a store that keeps each reading exactly once holds exactly N rows after.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from qingyubiao import topics
from qingyubiao.catalogue import METRICS
from qingyubiao.config import Config, Device, MqttSettings, Village
from qingyubiao.mqtt_login import log_in
from qingyubiao.payloads import encoder

Format = Literal["device", "gateway", "chirpstack"]
FORMATS: tuple[Format, ...] = ("device", "gateway", "chirpstack")

# Typical value and day-to-day spread per metric, for plausible random readings.
_TYPICAL: dict[str, tuple[float, float]] = {
    "air_temp_c": (22.0, 6.0),
    "air_rh_pct": (70.0, 12.0),
    "soil_vwc_pct": (28.0, 5.0),
    "soil_temp_c": (16.0, 3.0),
    "soil_ec_ms_cm": (1.2, 0.3),
    "light_lux": (30_000.0, 15_000.0),
    "co2_ppm": (600.0, 150.0),
}


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    readings: int


def _value(rng: np.random.Generator, metric: str) -> float:
    mean, sd = _TYPICAL.get(metric, (0.5 * (METRICS[metric].lo + METRICS[metric].hi), 1.0))
    lo, hi = METRICS[metric].lo, METRICS[metric].hi
    return round(float(np.clip(rng.normal(mean, sd), lo, hi)), 2)


def _devices(config: Config, fmt: Format) -> list[tuple[Village, Device]]:
    pairs = [(v, d) for v in config.village for d in v.device]
    if fmt == "chirpstack":
        pairs = [(v, d) for v, d in pairs if d.dev_eui]
        if not pairs:
            raise ValueError("no device in the config has a dev_eui for the chirpstack format")
    if fmt == "gateway":  # a gateway speaks only for the devices behind it (the collector refuses the rest)
        pairs = [(v, d) for v, d in pairs if d.gateway]
        if not pairs:
            raise ValueError("no device in the config reports through a gateway, for the gateway format")
    return pairs


def readings(
    config: Config, count: int, seed: int, start_s: float, fmt: Format
) -> Iterator[tuple[Village, Device, float, dict[str, float]]]:
    """(village, device, ts, {metric: value}) round-robin over devices, `count` values in all."""
    rng = np.random.default_rng(seed)
    pairs = _devices(config, fmt)
    left, k = count, 0
    while left > 0:
        for v, d in pairs:
            if left <= 0:
                break
            metrics = d.metrics[:left]
            ts = start_s + k * d.interval_s
            yield v, d, ts, {m: _value(rng, m) for m in metrics}
            left -= len(metrics)
        k += 1


def messages(
    config: Config, count: int, seed: int, start_s: float, fmt: Format, batch_size: int = 64
) -> Iterator[Message]:
    """The MQTT messages carrying exactly `count` readings in the given format."""
    source = readings(config, count, seed, start_s, fmt)
    if fmt == "device":
        for v, d, ts, m in source:
            yield Message(topics.device_up(v.id, d.id), encoder.encode({"ts": ts, "m": m}), len(m))
    elif fmt == "chirpstack":
        for n, (v, d, ts, m) in enumerate(source):
            yield Message(
                topics.chirpstack_up(v.chirpstack_apps[0] if v.chirpstack_apps else v.id, d.dev_eui or ""),
                _chirpstack_event(v, d, ts, m, n),
                len(m),
            )
    else:
        pending: dict[tuple[str, str], list[dict[str, object]]] = {}
        counts: dict[tuple[str, str], int] = {}
        for v, d, ts, m in source:
            assert d.gateway is not None  # (_devices)
            key = (v.id, d.gateway)
            pending.setdefault(key, []).append({"dev": d.id, "ts": ts, "m": m})
            counts[key] = counts.get(key, 0) + len(m)
            if counts[key] >= batch_size:
                yield Message(
                    topics.gateway_up(*key), encoder.encode({"gw": key[1], "readings": pending[key]}), counts[key]
                )
                pending[key], counts[key] = [], 0
        for key, items in pending.items():
            if items:
                yield Message(topics.gateway_up(*key), encoder.encode({"gw": key[1], "readings": items}), counts[key])


def _chirpstack_event(v: Village, d: Device, ts: float, m: dict[str, float], n: int) -> bytes:
    from datetime import UTC, datetime

    codec_key = {metric: key for key, metric in d.object_keys.items()}
    return encoder.encode(
        {
            "deduplicationId": f"{d.dev_eui}-{int(ts * 1000)}",
            "time": datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z"),
            "deviceInfo": {"devEui": d.dev_eui, "deviceName": d.id, "applicationId": v.id},
            "fCnt": n,
            "fPort": 2,
            "object": {codec_key.get(k, k): val for k, val in m.items()},
            "rxInfo": [{"gatewayId": "0016c001ff10a235", "rssi": -90 - n % 20, "snr": 7.5}],
        }
    )


MAX_UNACKNOWLEDGED = 20_000  # well below paho's 65,535 message ids


def publish(
    settings: MqttSettings,
    msgs: Iterator[Message],
    client_id: str = "qyb-sim",
    rate: float | None = None,
    timeout_s: float = 600.0,
) -> int:
    """Publish at QoS 1 and wait until the broker has acknowledged every message.

    Returns the number of readings published. Survives broker restarts: paho
    re-sends unacknowledged messages after it reconnects.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv311, clean_session=True
    )
    log_in(client, settings)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(1, 5)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    # Count PUBACKs ourselves: a message published while the link is down stays queued
    # in paho and goes out after the reconnect, though its MQTTMessageInfo says NO_CONN.
    # A PUBACK may come back before publish() returns the message id: such an early one waits in
    # `early` for the publish it belongs to. (Keeping every acknowledged id instead, as this did
    # before, counted a later message that reused the id as acknowledged on the spot.)
    pending: set[int] = set()
    early: set[int] = set()
    settled = threading.Condition()

    def on_publish(c: mqtt.Client, u: object, mid: int, rc: mqtt.ReasonCode, p: object) -> None:
        with settled:
            if mid in pending:
                pending.discard(mid)
            else:
                early.add(mid)
            settled.notify_all()

    def wait_until(done: Callable[[], bool], why: str) -> None:
        deadline = time.monotonic() + timeout_s
        with settled:
            while not done():
                if not settled.wait(max(0.0, deadline - time.monotonic())) and time.monotonic() >= deadline:
                    raise TimeoutError(f"the broker did not acknowledge {len(pending)} messages in time ({why})")

    client.on_publish = on_publish
    client.connect_async(settings.host, settings.port, keepalive=30)
    client.loop_start()
    try:
        if not connected.wait(30):
            raise ConnectionError(f"cannot reach the broker at {settings.url}")
        total = 0
        interval = 1.0 / rate if rate else 0.0
        for i, msg in enumerate(msgs):
            # paho numbers messages 1..65535 and refuses one whose number is still unacknowledged:
            # while the broker is slow (or away) wait for it instead of running into that
            wait_until(lambda: len(pending) < MAX_UNACKNOWLEDGED, "while publishing")
            info = client.publish(msg.topic, msg.payload, qos=1)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # cannot happen below MAX_UNACKNOWLEDGED: a bug if it does
                raise RuntimeError(f"paho refused to queue a message with {len(pending)} unacknowledged")
            with settled:
                if info.mid in early:
                    early.discard(info.mid)
                else:
                    pending.add(info.mid)
            total += msg.readings
            if interval and i % 10 == 9:
                threading.Event().wait(interval * 10)
        wait_until(lambda: not pending, "at the end")
        return total
    finally:
        client.disconnect()
        client.loop_stop()


def default_start(config: Config, count: int, now_s: float, fmt: Format = "device") -> float:
    """A start time that makes the last of `count` readings fall at `now_s`, to the millisecond.

    Not aligned to the minute: two runs a minute apart used to write the very same timestamps (the
    second silently replacing the first). Ending at now keeps every reading out of the future, which
    the collector refuses beyond `max_future_s` (docs/design.md).
    """
    pairs = [d for _, d in _devices(config, fmt)]
    per_round = sum(len(d.metrics) for d in pairs)
    rounds = math.ceil(count / per_round)
    longest = max(d.interval_s for d in pairs)
    return round(now_s - (rounds - 1) * longest, 3) if count else round(now_s, 3)
