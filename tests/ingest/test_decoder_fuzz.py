"""Fuzzing `route`: arbitrary bytes and arbitrary JSON never crash a decoder, and nothing silently vanishes.

Every message yields readings, rejects, a counted duplicate or a status; no reject is an
internal error (a decoder bug); every stored reading is finite and inside the time window.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.decoders.context import DecodeContext, Deduplicator
from ingest.decoders.router import route
from qingyubiao.catalogue import METRICS
from qingyubiao.rejects import Reason
from qingyubiao.series import SeriesIndex
from qingyubiao.timeutil import EARLIEST_MS
from tests.ingest.conftest import APP, MAX_BYTES, MAX_FUTURE_S, NOW_MS, NOW_S, VILLAGE

TOPICS = [
    f"qyb/{VILLAGE}/gh01-air/up",
    f"qyb/{VILLAGE}/gh01-soil/up",
    f"qyb/{VILLAGE}/ghost/up",
    f"qyb/{VILLAGE}/gw/gw-east/up",
    "qyb/nowhere/gw/gw-east/up",
    f"application/{APP}/device/a840410000180101/event/up",
    f"application/{APP}/device/ffffffffffffffff/event/up",
    f"qyb/{VILLAGE}/gh01-air/status",
    "qyb/lijiahe/gh01-air/down",
]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
)
timestamps = st.one_of(
    st.none(),
    st.floats(min_value=NOW_S - 10 * 86_400, max_value=NOW_S + 1200),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from(["2025-11-22T07:00:00Z", "2025-11-22T15:00:00+08:00", "2025-11-22T07:00:00", "soon"]),
    json_values,
)
metric_names = st.sampled_from([*METRICS, "ph", "temperature", "humidity", "battery", "battery_status", ""])
readings = st.fixed_dictionaries(
    {"m": st.dictionaries(metric_names, scalars, max_size=4) | json_values},
    optional={"ts": timestamps, "seq": json_values, "bat_v": scalars, "dev": st.sampled_from(["gh01-air", "x", 3])},
)
uplinks = readings | st.lists(readings, max_size=4)
gateway_batches = st.fixed_dictionaries(
    {"gw": st.just("gw-east"), "readings": st.lists(readings, max_size=4) | json_values}
)
chirpstack_events = st.fixed_dictionaries(
    {
        "deduplicationId": st.text(max_size=8) | json_values,
        "deviceInfo": st.fixed_dictionaries({"devEui": st.sampled_from(["a840410000180101", "A840410000180102", "x"])})
        | json_values,
    },
    optional={
        "time": timestamps,
        "object": st.dictionaries(metric_names, scalars, max_size=4) | json_values,
        "rxInfo": st.lists(st.fixed_dictionaries({}, optional={"rssi": scalars, "snr": scalars}), max_size=3),
    },
)


def encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def check_one(index: SeriesIndex, topic: str, payload: bytes) -> None:
    ctx = DecodeContext(index, NOW_MS, MAX_FUTURE_S, Deduplicator(100))
    route(ctx, topic, payload, MAX_BYTES)
    outcomes = len(ctx.builder) + len(ctx.rejects) + ctx.duplicates + len(ctx.statuses)
    assert outcomes > 0, f"{topic} {payload[:200]!r} vanished"
    assert [r for r in ctx.rejects if r.reason is Reason.INTERNAL_ERROR] == []
    for r in ctx.rejects:
        assert r.detail and r.topic == topic
        assert r.payload == (payload if len(payload) <= MAX_BYTES else payload[:1024])
    batch = ctx.builder.build(index.lo, index.hi)
    assert all(math.isfinite(v) for v in batch.value.tolist())
    assert all(EARLIEST_MS <= t <= NOW_MS + MAX_FUTURE_S * 1000 for t in batch.ts_ms.tolist())
    assert all(0 <= s < len(index) for s in batch.series.tolist())


@FUZZ
@given(topic=st.sampled_from(TOPICS), payload=st.binary(max_size=300))
def test_arbitrary_bytes(index: SeriesIndex, topic: str, payload: bytes) -> None:
    check_one(index, topic, payload)


@FUZZ
@given(topic=st.sampled_from(TOPICS), value=json_values)
def test_arbitrary_json(index: SeriesIndex, topic: str, value: Any) -> None:
    check_one(index, topic, encode(value))


@FUZZ
@given(topic=st.sampled_from(TOPICS[:3]), value=uplinks)
def test_uplink_shaped_json(index: SeriesIndex, topic: str, value: Any) -> None:
    check_one(index, topic, encode(value))


@FUZZ
@given(value=gateway_batches)
def test_gateway_shaped_json(index: SeriesIndex, value: Any) -> None:
    check_one(index, TOPICS[3], encode(value))


@FUZZ
@given(value=chirpstack_events)
def test_chirpstack_shaped_json(index: SeriesIndex, value: Any) -> None:
    check_one(index, TOPICS[5], encode(value))


# -- the typed fast path and the lenient path agree --------------------------------

numbers = st.integers(min_value=-(10**20), max_value=10**20) | st.floats(allow_nan=False, allow_infinity=False)
good_readings = st.fixed_dictionaries(
    {"m": st.dictionaries(metric_names, numbers, max_size=4)},
    optional={
        "ts": st.none()
        | st.floats(min_value=NOW_S - 86_400, max_value=NOW_S + 1200)
        | st.integers(min_value=0, max_value=2 * NOW_MS)
        | st.sampled_from(["2025-11-22T07:00:00Z", "2025-11-22T15:00:00.5+08:00", "2025-11-22T07:00:00", "?"]),
        "bat_v": numbers,
    },
)


def outcome(index: SeriesIndex, topic: str, payload: bytes) -> tuple[list[tuple[int, int, float, int]], list[str]]:
    ctx = DecodeContext(index, NOW_MS, MAX_FUTURE_S, Deduplicator(100))
    route(ctx, topic, payload, 1 << 20)
    b = ctx.builder
    return list(zip(b.series, b.ts_ms, b.value, map(int, b.flags), strict=True)), [r.reason.value for r in ctx.rejects]


@FUZZ
@given(value=good_readings | st.lists(good_readings, max_size=3))
def test_fast_and_lenient_paths_agree_on_uplinks(index: SeriesIndex, value: Any) -> None:
    # "seq" must be an integer: a string sends the same readings down the lenient path, which ignores seq.
    lenient = [dict(r, seq="x") for r in value] if isinstance(value, list) else dict(value, seq="x")
    topic = TOPICS[0]
    assert outcome(index, topic, encode(value)) == outcome(index, topic, encode(lenient))


@FUZZ
@given(readings=st.lists(good_readings, max_size=3))
def test_fast_and_lenient_paths_agree_on_gateway_batches(index: SeriesIndex, readings: list[dict[str, Any]]) -> None:
    typed = {"gw": "gw-east", "readings": [dict(r, dev="gh01-air") for r in readings]}
    lenient = {"gw": "gw-east", "readings": [dict(r, dev="gh01-air", seq="x") for r in readings]}
    assert outcome(index, TOPICS[3], encode(typed)) == outcome(index, TOPICS[3], encode(lenient))
