"""A key twice in one JSON object is refused as `duplicate_key`, on every path (device, gateway, ChirpStack,
lenient), never stored with either value; the colon count that spares the fast path a second parse never
lets one through (hypothesis: random uplinks and batches with and without a repeated key)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.decoders.keys import duplicate_key
from qingyubiao.series import SeriesIndex
from tests.ingest.conftest import APP, NOW_S, VILLAGE, DecodeFn

GH = f"qyb/{VILLAGE}/gh01-air/up"
GW = f"qyb/{VILLAGE}/gw/gw-east/up"
CS = f"application/{APP}/device/a840410000180101/event/up"
T = NOW_S - 3600


def test_a_metric_twice_is_refused_not_stored_with_either_value(decode: DecodeFn, index: SeriesIndex) -> None:
    out = decode(
        (GH, b'{"ts": %d, "m": {"air_temp_c": 5.0, "air_temp_c": 25.0}}' % T),
        (GH, b'{"ts": %d, "ts": %d, "m": {"air_temp_c": 5.0}}' % (T, T + 60)),
        (GH, b'[{"ts": %d, "m": {"air_rh_pct": 50}}, {"ts": %d, "m": {"air_rh_pct": 60, "air_rh_pct": 70}}]' % (T, T)),
        (GH, b'{"ts": %d, "m": {"air_temp_c": 21.0}}' % T),  # a good one beside them is kept
    )
    assert out.reasons() == ["duplicate_key"] * 3
    assert "'air_temp_c' appears twice" in out.rejects[0].detail and "'ts'" in out.rejects[1].detail
    assert [(d, m, v) for d, m, _, v, _ in out.readings(index)] == [("gh01-air", "air_temp_c", 21.0)]


def test_gateway_chirpstack_and_lenient_paths_refuse_them_too(decode: DecodeFn, index: SeriesIndex) -> None:
    r = json.dumps({"dev": "gh02-air", "ts": T, "m": {"air_temp_c": 18.5}})
    twice = '{"dev": "gh03-air", "dev": "gh04-air", "m": {"air_temp_c": 1}}'
    out = decode(
        (GW, ('{"gw": "gw-east", "readings": [' + r + ", " + twice + "]}").encode()),
        (CS, b'{"deduplicationId": "d1", "deviceInfo": {"devEui": "a840410000180101"},'
             b' "object": {"temperature": 3.5, "temperature": -2.0}}'),
        (GH, b'{"ts": %d, "m": {"air_temp_c": NaN, "air_temp_c": 20.0}}' % T),  # NaN: the lenient path
    )  # fmt: skip
    assert out.reasons() == ["duplicate_key"] * 3
    assert out.readings(index) == []


def test_an_escaped_colon_cannot_hide_a_duplicate_from_the_count(decode: DecodeFn) -> None:
    # "\u003a" is a ':' the byte count does not see; it would balance the duplicate's extra colon
    payload = b'{"ts": "2025-11-22T07\\u003a26:40Z", "m": {"air_temp_c": 5, "air_temp_c": 25}}'
    assert decode((GH, payload)).reasons() == ["duplicate_key"]


metric = st.sampled_from(["air_temp_c", "air_rh_pct", "soil_vwc_pct", "bat_v"])
value = st.floats(-20, 40, allow_nan=False).map(lambda v: round(v, 2))
stamp = st.one_of(st.none(), st.just(T), st.just("2025-11-22T07:26:40Z"), st.just("2025-11-22T15:26:40+08:00"))


@st.composite
def uplink_text(draw: st.DrawFn) -> tuple[str, bool]:
    """An uplink as JSON text, and whether a key was written twice in one of its objects."""
    names = draw(st.lists(metric, min_size=1, max_size=4))  # may repeat: that is the duplicate
    values = ", ".join(f'"{n}": {draw(value)}' for n in names)
    fields = [f'"m": {{{values}}}']
    ts = draw(stamp)
    if ts is not None:
        fields.append(f'"ts": {json.dumps(ts)}')
    if draw(st.booleans()):
        fields.append(f'"seq": {draw(st.integers(0, 9))}')
    twice_ts = ts is not None and draw(st.booleans())
    if twice_ts:
        fields.append(f'"ts": {json.dumps(ts)}')
    if draw(st.booleans()):
        fields.append('"note": "a: b"')  # a field the schema skips, with a colon inside
    draw(st.randoms()).shuffle(fields)
    return "{" + ", ".join(fields) + "}", len(set(names)) != len(names) or twice_ts


@given(st.lists(uplink_text(), min_size=1, max_size=3), st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_count_never_lets_a_duplicate_through(decode: DecodeFn, items: list[tuple[str, bool]], gw: bool) -> None:
    dup = any(d for _, d in items)
    if gw:
        readings = ", ".join('{"dev": "gh05-air", ' + text[1:] for text, _ in items)
        payload, topic = '{"gw": "gw-east", "readings": [' + readings + "]}", GW
    else:
        payload = items[0][0] if len(items) == 1 else "[" + ", ".join(t for t, _ in items) + "]"
        topic, dup = GH, dup if len(items) > 1 else items[0][1]
    out = decode((topic, payload.encode()))  # a fresh context each call: nothing carries over
    assert ("duplicate_key" in out.reasons()) == dup, payload
    assert (duplicate_key(payload) is not None) == dup
