"""Decoders through `route`: every v1 format, and every kind of bad input with its reason.

Good readings in the same message or batch as bad ones are always kept.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingest.decoders.context import Deduplicator
from qingyubiao.batch import Flag
from qingyubiao.rejects import Reason
from qingyubiao.series import SeriesIndex
from tests.ingest.conftest import APP, MAX_BYTES, NOW_MS, NOW_S, VILLAGE, DecodeFn

GH = f"qyb/{VILLAGE}/gh01-air/up"
GW = f"qyb/{VILLAGE}/gw/gw-east/up"
EUI = "a840410000180101"  # or01-air
CS = f"application/{APP}/device/{EUI}/event/up"
T = NOW_S - 3600  # an hour ago
T_MS = NOW_MS - 3_600_000
OOR = int(Flag.OUT_OF_RANGE)


def j(obj: Any) -> bytes:
    return json.dumps(obj).encode()


# -- device uplinks ----------------------------------------------------------------


def test_single_uplink(decode: DecodeFn, index: SeriesIndex) -> None:
    out = decode((GH, j({"ts": T, "seq": 1, "m": {"air_temp_c": 23.4, "air_rh_pct": 61.0}, "bat_v": 3.61})))
    assert out.rejects == []
    assert out.readings(index) == [
        ("gh01-air", "air_temp_c", T_MS, 23.4, 0),
        ("gh01-air", "air_rh_pct", T_MS, 61.0, 0),
        ("gh01-air", "bat_v", T_MS, 3.61, 0),
    ]


def test_integer_values_and_timestamps_in_ms_and_rfc3339(decode: DecodeFn, index: SeriesIndex) -> None:
    out = decode(
        (GH, j({"ts": int(T), "m": {"air_temp_c": 23}})),
        (GH, j({"ts": T_MS + 1000, "m": {"air_temp_c": 24}})),
        (GH, j({"ts": "2025-11-22T15:26:42.5+08:00", "m": {"air_temp_c": 25}})),
    )
    assert out.rejects == []
    assert [(t, v) for _, _, t, v, _ in out.readings(index)] == [
        (T_MS, 23.0),
        (T_MS + 1000, 24.0),
        (T_MS + 2500, 25.0),
    ]


def test_buffered_array_is_flagged(decode: DecodeFn, index: SeriesIndex) -> None:
    out = decode((GH, j([{"ts": T + 60 * i, "seq": i, "m": {"air_temp_c": 20.0 + i}} for i in range(3)])))
    assert out.rejects == []
    assert out.readings(index) == [
        ("gh01-air", "air_temp_c", T_MS + 60_000 * i, 20.0 + i, int(Flag.BUFFERED)) for i in range(3)
    ]


def test_missing_ts_uses_arrival_time_and_says_so(decode: DecodeFn, index: SeriesIndex) -> None:
    out = decode((GH, j({"m": {"air_temp_c": 20.5}})), (GH, j([{"m": {"air_rh_pct": 50.5}}])))
    assert out.rejects == []
    assert out.readings(index) == [
        ("gh01-air", "air_temp_c", NOW_MS, 20.5, int(Flag.ARRIVAL_TIME)),
        ("gh01-air", "air_rh_pct", NOW_MS, 50.5, int(Flag.ARRIVAL_TIME | Flag.BUFFERED)),
    ]


def test_out_of_range_is_stored_with_the_flag_not_rejected(decode: DecodeFn, index: SeriesIndex) -> None:
    out = decode(
        (
            GH,
            j(
                {
                    "ts": T,
                    "m": {
                        "air_temp_c": -80,
                        "air_rh_pct": 130,
                    },
                    "bat_v": 3.3,
                }
            ),
        )
    )
    assert out.rejects == []
    assert [(m, v, f) for _, m, _, v, f in out.readings(index)] == [
        ("air_temp_c", -80.0, OOR),
        ("air_rh_pct", 130.0, OOR),
        ("bat_v", 3.3, 0),
    ]


# -- gateway batches ----------------------------------------------------------------


def test_gateway_batch_keeps_good_readings_and_names_the_bad(decode: DecodeFn, index: SeriesIndex) -> None:
    payload = j(
        {
            "gw": "gw-east",
            "readings": [
                {"dev": "gh01-air", "ts": T, "m": {"air_temp_c": 18.5}, "bat_v": 3.5},
                {"dev": "gh01-soil", "ts": T, "m": {"soil_vwc_pct": 31.0, "soil_temp_c": 14.5}},
                {"dev": "ghost-node", "ts": T, "m": {"air_temp_c": 18.0}},
            ],
        }
    )
    out = decode((GW, payload))
    assert out.readings(index) == [
        ("gh01-air", "air_temp_c", T_MS, 18.5, 0),
        ("gh01-air", "bat_v", T_MS, 3.5, 0),
        ("gh01-soil", "soil_vwc_pct", T_MS, 31.0, 0),
        ("gh01-soil", "soil_temp_c", T_MS, 14.5, 0),
    ]
    (r,) = out.rejects
    assert (r.reason, r.topic, r.village, r.device, r.payload) == (
        Reason.UNKNOWN_DEVICE,
        GW,
        VILLAGE,
        "ghost-node",
        payload,
    )
    assert "gw-east" in r.detail


def test_gateway_batch_with_bad_values_goes_the_lenient_way(decode: DecodeFn, index: SeriesIndex) -> None:
    payload = j(
        {
            "gw": "gw-east",
            "readings": [
                {"dev": "gh01-air", "ts": T, "m": {"air_temp_c": "hot", "air_rh_pct": 70.5}},
                {"dev": "ghost-node", "ts": T, "m": {"air_temp_c": 18.0}},
                {"dev": 7, "m": {"air_temp_c": 1.0}},
                "not a reading",
                {"dev": "gh02-air", "ts": "whenever", "m": {"air_temp_c": 19.0}},
                {"dev": "gh03-air", "ts": T, "m": {"air_temp_c": 19.5}, "bat_v": 3.4},
            ],
        }
    )
    out = decode((GW, payload))
    assert out.readings(index) == [
        ("gh01-air", "air_rh_pct", T_MS, 70.5, 0),
        ("gh03-air", "air_temp_c", T_MS, 19.5, 0),
        ("gh03-air", "bat_v", T_MS, 3.4, 0),
    ]
    assert out.reasons() == ["wrong_type", "unknown_device", "bad_schema", "bad_schema", "bad_timestamp"]
    assert [r.device for r in out.rejects] == ["gh01-air", "ghost-node", None, None, "gh02-air"]


@pytest.mark.parametrize("payload", [b'{"gw": "gw-east"}', b'{"gw": "gw-east", "readings": 5}', b"[1, 2]"])
def test_gateway_batch_without_readings(decode: DecodeFn, payload: bytes) -> None:
    out = decode((GW, payload))
    assert out.reasons() == ["bad_schema"]
    assert len(out.batch) == 0


# -- who may speak for whom (issue 16): a sensor posing as another is refused, counted and kept ---------------


def test_an_uplink_naming_another_device_is_refused(decode: DecodeFn, index: SeriesIndex) -> None:
    own = (GH, j({"dev": "gh01-air", "ts": T, "m": {"air_temp_c": 20.0}}))
    posing = (GH, j({"dev": "gh04-air", "ts": T, "m": {"air_temp_c": -3.0}}))
    mixed = (
        GH,
        j([{"ts": T + 60, "m": {"air_temp_c": 21.0}}, {"dev": "gh04-air", "ts": T + 120, "m": {"air_temp_c": -3.0}}]),
    )
    lenient = (GH, b'{"dev": "gh04-air", "ts": %d, "m": {"air_temp_c": NaN}}' % int(T))  # the slow path too
    out = decode(own, posing, mixed, lenient)
    assert [(d, v) for d, _, _, v, _ in out.readings(index)] == [("gh01-air", 20.0), ("gh01-air", 21.0)]
    assert out.reasons() == ["foreign_device"] * 3
    assert all(r.device == "gh01-air" and "gh04-air" in r.detail for r in out.rejects)
    assert out.rejects[0].payload == posing[1]  # dead-lettered as received


def test_a_gateway_speaks_only_for_the_devices_behind_it(decode: DecodeFn, index: SeriesIndex) -> None:
    batch = {"gw": "gw-east", "readings": [{"dev": "gh01-air", "ts": T, "m": {"air_temp_c": 18.5}},
                                           {"dev": "gh13-air", "ts": T, "m": {"air_temp_c": -2.0}}]}  # fmt: skip
    slow = {"gw": "gw-east", "readings": [{"dev": "gh13-air", "ts": T, "m": {"air_temp_c": "cold"}}]}
    out = decode((GW, j(batch)), (GW, j(slow)))
    assert out.readings(index) == [("gh01-air", "air_temp_c", T_MS, 18.5, 0)]
    assert out.reasons() == ["foreign_device", "foreign_device"]
    assert [r.device for r in out.rejects] == ["gh13-air", "gh13-air"]
    assert "gw-west" in out.rejects[0].detail  # where gh13-air does report


@pytest.mark.parametrize("lenient", [False, True])
def test_a_batch_from_an_unknown_gateway_or_naming_another_is_refused_whole(decode: DecodeFn, lenient: bool) -> None:
    reading = {"dev": "gh01-air", "ts": T, "m": {"air_temp_c": "x" if lenient else 18.5}}
    stranger = (f"qyb/{VILLAGE}/gw/gw-stranger/up", j({"gw": "gw-stranger", "readings": [reading]}))
    renamed = (GW, j({"gw": "gw-west", "readings": [reading]}))
    out = decode(stranger, renamed)
    assert len(out.batch) == 0
    assert out.reasons() == ["unknown_gateway", "foreign_device"]
    assert "gw-stranger" in out.rejects[0].detail and "gw-west" in out.rejects[1].detail


# -- ChirpStack v4 ------------------------------------------------------------------


def cs_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "deduplicationId": "3d1a6a0e-1f8a-4c55-9a4b-1e6b8c1f0001",
        "time": "2025-11-22T07:26:40.123456789Z",
        "deviceInfo": {"devEui": EUI, "deviceName": "or01-air", "applicationId": APP},
        "fCnt": 10,
        "object": {"temperature": 3.5, "humidity": 88.0, "battery": 3.6, "battery_status": "good"},
        "rxInfo": [{"rssi": -112, "snr": -7.5}, {"rssi": -98, "snr": 4.25}, {"snr": 9.0}],
    }
    event.update(overrides)
    return event


def test_chirpstack_uplink_maps_object_keys_and_keeps_the_best_signal(decode: DecodeFn, index: SeriesIndex) -> None:
    out = decode((CS, j(cs_event())))
    assert out.rejects == []
    t = T_MS + 123  # nanoseconds round to the millisecond
    assert sorted(out.readings(index)) == sorted(
        [
            ("or01-air", "air_temp_c", t, 3.5, 0),
            ("or01-air", "air_rh_pct", t, 88.0, 0),
            ("or01-air", "bat_v", t, 3.6, 0),
            ("or01-air", "rssi_dbm", t, -98.0, 0),  # the gateway that heard it best
            ("or01-air", "snr_db", t, 4.25, 0),
        ]
    )


def test_chirpstack_dev_eui_is_case_insensitive(decode: DecodeFn, index: SeriesIndex) -> None:
    event = cs_event(deviceInfo={"devEui": EUI.upper()}, rxInfo=[])
    out = decode((CS.replace(EUI, EUI.upper()), j(event)))
    assert out.rejects == []
    assert {d for d, *_ in out.readings(index)} == {"or01-air"}


def test_chirpstack_catalogue_names_work_as_object_keys(decode: DecodeFn, index: SeriesIndex) -> None:
    out = decode((CS, j(cs_event(object={"air_temp_c": 1.5}, rxInfo=[]))))
    assert [(m, v) for _, m, _, v, _ in out.readings(index)] == [("air_temp_c", 1.5)]


def test_chirpstack_deduplication_counts_duplicates(decode: DecodeFn, index: SeriesIndex) -> None:
    first = cs_event()
    again = cs_event(rxInfo=[{"rssi": -60, "snr": 10.0}])  # heard by another gateway: same uplink
    other = cs_event(deduplicationId="another", time="2025-11-22T07:31:40Z")
    out = decode((CS, j(first)), (CS, j(again)), (CS, j(other)))
    assert out.duplicates == 1
    assert out.rejects == []
    assert len({t for _, _, t, _, _ in out.readings(index)}) == 2
    assert -60.0 not in [v for *_, v, _ in out.readings(index)]


def test_chirpstack_without_object_keeps_signal_and_says_why(decode: DecodeFn, index: SeriesIndex) -> None:
    event = cs_event()
    del event["object"]
    payload = j(event)
    out = decode((CS, payload))
    (r,) = out.rejects
    assert (r.reason, r.device, r.village, r.topic, r.payload) == (Reason.BAD_SCHEMA, "or01-air", VILLAGE, CS, payload)
    assert "codec" in r.detail
    assert sorted(m for _, m, *_ in out.readings(index)) == ["rssi_dbm", "snr_db"]


def test_chirpstack_missing_time_uses_arrival(decode: DecodeFn, index: SeriesIndex) -> None:
    event = cs_event(rxInfo=[])
    del event["time"]
    out = decode((CS, j(event)))
    assert out.rejects == []
    assert {(t, f) for _, _, t, _, f in out.readings(index)} == {(NOW_MS, int(Flag.ARRIVAL_TIME))}


def test_chirpstack_bad_object_values(decode: DecodeFn, index: SeriesIndex) -> None:
    event = cs_event(object={"temperature": "3.5", "humidity": {"v": 1}, "battery": 3.1, "pressure": 1013}, rxInfo=[])
    out = decode((CS, j(event)))
    assert [(m, v) for _, m, _, v, _ in out.readings(index)] == [("bat_v", 3.1)]
    assert out.reasons() == ["wrong_type", "wrong_type", "unknown_metric"]


def test_chirpstack_unknown_dev_eui(decode: DecodeFn) -> None:
    event = cs_event(deviceInfo={"devEui": "FFFFFFFFFFFFFFFF"})
    out = decode((CS, j(event)))
    (r,) = out.rejects
    assert (r.reason, r.device, r.village) == (Reason.UNKNOWN_DEVICE, "ffffffffffffffff", None)
    assert len(out.batch) == 0


def test_chirpstack_not_an_uplink(decode: DecodeFn) -> None:
    out = decode((CS, j({"deviceInfo": {"devEui": EUI}})), (CS, b"{"))
    assert out.reasons() == ["bad_schema", "malformed_json"]


# -- bad input: every message gets its reason; good readings survive ---------------


@pytest.mark.parametrize(
    ("payload", "reasons", "kept"),
    [
        (b'{"ts": 1, "m": {', ["malformed_json"], []),
        (b'{"ts": %d, "m": {"air_temp_c": "23.4", "air_rh_pct": 61.5}}' % T, ["wrong_type"], [61.5]),
        (b'{"ts": %d, "m": {"air_temp_c": true, "air_rh_pct": 64.5}}' % T, ["wrong_type"], [64.5]),
        (b'{"ts": %d, "m": {"air_temp_c": null, "air_rh_pct": 64.5}}' % T, ["wrong_type"], [64.5]),
        (b'{"ts": %d, "m": {"air_temp_c": NaN, "air_rh_pct": 62.5}}' % T, ["non_finite"], [62.5]),
        (b'{"ts": %d, "m": {"air_temp_c": Infinity, "air_rh_pct": 63.5}}' % T, ["non_finite"], [63.5]),
        (b'{"ts": %d, "m": {"air_temp_c": -Infinity, "air_rh_pct": 63.5}}' % T, ["non_finite"], [63.5]),
        (b'{"ts": %d, "m": {"air_temp_c": 1e999, "air_rh_pct": 63.5}}' % T, ["non_finite"], [63.5]),
        (b'{"ts": %d, "m": {"air_temp_c": 1%s, "air_rh_pct": 63.5}}' % (T, b"0" * 400), ["non_finite"], [63.5]),
        (b'{"ts": %d, "m": {"air_temp_c": 20.5, "ph": 6.5}}' % T, ["unknown_metric"], [20.5]),
        (b'{"ts": %d, "m": {"air_temp_c": 20.5, "soil_vwc_pct": 6.5}}' % T, ["unknown_metric"], [20.5]),
        (b'{"ts": %d, "m": {"air_temp_c": 21.5}}' % (T + 86_400 * 2), ["future_timestamp"], []),
        (b'{"ts": 12345, "m": {"air_temp_c": 21.5}}', ["bad_timestamp"], []),
        (b'{"ts": "1999-12-31T23:59:59Z", "m": {"air_temp_c": 21.5}}', ["bad_timestamp"], []),
        (b'{"ts": "yesterday", "m": {"air_temp_c": 21.5}}', ["bad_timestamp"], []),
        (b'{"ts": "2025-11-22T07:00:00", "m": {"air_temp_c": 21.5}}', ["bad_timestamp"], []),  # no zone
        (b'{"ts": true, "m": {"air_temp_c": 21.5}}', ["bad_timestamp"], []),
        (b'{"ts": NaN, "m": {"air_temp_c": 21.5}}', ["bad_timestamp"], []),
        (b'{"ts": [1], "m": {"air_temp_c": 21.5}}', ["bad_timestamp"], []),
        (b'{"ts": %d, "m": [21.5]}' % T, ["bad_schema"], []),
        (b'{"ts": %d}' % T, ["bad_schema"], []),
        (b'"just a string"', ["bad_schema"], []),
        (b"42", ["bad_schema"], []),
        (b"null", ["bad_schema"], []),
        (b"[]", ["bad_schema"], []),
        (b'{"m": {}}', ["bad_schema"], []),
        (b"", ["malformed_json"], []),
        (b"\xff\xfe\x00", ["malformed_json"], []),
        (b"[" * 50_000, ["malformed_json"], []),
        (b'{"a":' * 3000 + b"1" + b"}" * 3000, ["malformed_json"], []),
        (b"[" * 100 + b"]" * 100, ["bad_schema"], []),
    ],
)
def test_bad_uplinks(decode: DecodeFn, payload: bytes, reasons: list[str], kept: list[float]) -> None:
    out = decode((GH, payload), max_bytes=1_000_000)
    assert out.reasons() == reasons
    assert out.batch.value.tolist() == kept
    for r in out.rejects:
        assert (r.topic, r.village, r.device, r.payload, r.received_ms) == (GH, VILLAGE, "gh01-air", payload, NOW_MS)
        assert r.detail


def test_buffered_array_keeps_good_items_around_bad_ones(decode: DecodeFn, index: SeriesIndex) -> None:
    payload = j(
        [
            {"ts": T, "m": {"air_temp_c": 20.5}},
            {"ts": T + 60, "m": {"air_temp_c": "warm"}},
            "garbage",
            {"ts": "soon", "m": {"air_temp_c": 21.0}},
            {"ts": T + 180, "m": {"air_temp_c": 21.5}, "bat_v": 3.2},
        ]
    )
    out = decode((GH, payload))
    assert out.reasons() == ["wrong_type", "bad_schema", "bad_timestamp"]
    assert out.readings(index) == [
        ("gh01-air", "air_temp_c", T_MS, 20.5, int(Flag.BUFFERED)),
        ("gh01-air", "air_temp_c", T_MS + 180_000, 21.5, int(Flag.BUFFERED)),
        ("gh01-air", "bat_v", T_MS + 180_000, 3.2, int(Flag.BUFFERED)),
    ]


def test_future_bound_is_the_configured_skew(decode: DecodeFn) -> None:
    ok = decode((GH, j({"ts": NOW_S + 599, "m": {"air_temp_c": 1.0}})))
    late = decode((GH, j({"ts": NOW_S + 601, "m": {"air_temp_c": 1.0}})))
    assert (len(ok.batch), ok.rejects) == (1, [])
    assert late.reasons() == ["future_timestamp"]


def test_unknown_device_and_unknown_village(decode: DecodeFn) -> None:
    payload = j({"ts": T, "m": {"air_temp_c": 20.0}})
    out = decode((f"qyb/{VILLAGE}/gh99-air/up", payload), ("qyb/zhangjiagou/gh01-air/up", payload))
    assert out.reasons() == ["unknown_device", "unknown_device"]
    assert [(r.village, r.device) for r in out.rejects] == [(VILLAGE, "gh99-air"), ("zhangjiagou", "gh01-air")]
    assert "zhangjiagou" in out.rejects[1].detail
    assert len(out.batch) == 0


def test_oversized_payload_keeps_a_bounded_prefix(decode: DecodeFn) -> None:
    payload = j({"ts": T, "m": {"air_temp_c": 20.0}, "pad": "x" * MAX_BYTES})
    out = decode((GH, payload))
    (r,) = out.rejects
    assert r.reason is Reason.OVERSIZED
    assert r.payload == payload[:1024]
    assert str(len(payload)) in r.detail
    assert len(out.batch) == 0
    assert len(decode((GH, payload[: MAX_BYTES - 2] + b"}}")).rejects) <= 1  # at the limit it is decoded


@pytest.mark.parametrize(
    "topic",
    [
        "qyb/lijiahe/gh01-air",
        "qyb/lijiahe/gh01-air/down",
        "qyb/lijiahe/gh01-air/up/extra",
        "foo",
        "",
        "application/x/up",
    ],
)
def test_unknown_topic(decode: DecodeFn, topic: str) -> None:
    out = decode((topic, b'{"m": {"air_temp_c": 1}}'))
    assert out.reasons() == ["unknown_topic"]
    assert out.rejects[0].topic == topic


def test_status_topic(decode: DecodeFn) -> None:
    st = f"qyb/{VILLAGE}/gh04-air/status"
    out = decode((st, b"online"), (st, b" OFFLINE\n"), (st, b"on fire"), (f"qyb/{VILLAGE}/ghost/status", b"online"))
    assert out.statuses == [(VILLAGE, "gh04-air", True, NOW_MS), (VILLAGE, "gh04-air", False, NOW_MS)]
    assert out.reasons() == ["bad_schema", "unknown_device"]
    assert "on fire" in out.rejects[0].detail
    assert len(out.batch) == 0


def test_deduplicator_forgets_the_oldest_beyond_its_size() -> None:
    dedup = Deduplicator(3)
    assert [dedup.seen(k) for k in "abc"] == [False, False, False]
    assert dedup.seen("a")  # seen, and now the most recent
    assert not dedup.seen("d")  # evicts b, the least recently seen
    assert [dedup.seen(k) for k in "acd"] == [True, True, True]
    assert not dedup.seen("b")


def test_malformed_and_empty_gateway_batches(decode: DecodeFn) -> None:
    out = decode((GW, b'{"gw": "gw-east", "readings": ['), (GW, b"null"), (GW, j({"gw": "gw-east", "readings": []})))
    assert out.reasons() == ["malformed_json", "bad_schema", "bad_schema"]
    assert [(r.village, r.device) for r in out.rejects] == [(VILLAGE, None)] * 3
    assert out.rejects[2].detail == "the message holds no readings"


def test_chirpstack_uplink_with_nothing_to_store(decode: DecodeFn) -> None:
    out = decode((CS, j(cs_event(object={"battery_status": "good"}, rxInfo=[]))))
    (r,) = out.rejects
    assert (r.reason, r.detail, r.village, r.device) == (Reason.BAD_SCHEMA, "the message holds no readings", None, None)


def test_a_decoder_bug_is_contained_and_the_payload_kept(
    decode: DecodeFn, index: SeriesIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the safety net in `route` for bugs the fuzz tests have not found."""
    from ingest.decoders import device

    def broken(*args: object) -> None:
        raise KeyError("bug")

    good = j({"ts": T, "m": {"air_temp_c": 20.5}})
    gw = j({"gw": "gw-east", "readings": [{"dev": "gh02-air", "ts": T, "m": {"air_temp_c": 19.5}}]})
    monkeypatch.setattr(device, "decode", broken)
    out = decode((GH, good), (GW, gw))
    (r,) = out.rejects  # one reject for the failed message: not also "holds no readings"
    assert (r.reason, r.topic, r.payload) == (Reason.INTERNAL_ERROR, GH, good)
    assert "KeyError" in r.detail
    assert out.readings(index) == [("gh02-air", "air_temp_c", T_MS, 19.5, 0)]  # the next message is decoded


@pytest.mark.parametrize("seq", [1, "x"])  # an integer seq takes the typed path, a string the lenient one
def test_bat_v_given_twice_is_one_reading_and_the_top_level_wins(
    decode: DecodeFn, index: SeriesIndex, seq: object
) -> None:
    out = decode((GH, j({"ts": T, "seq": seq, "m": {"bat_v": 3.1, "air_temp_c": 20.0}, "bat_v": 3.3})))
    assert out.rejects == []
    assert out.readings(index) == [("gh01-air", "bat_v", T_MS, 3.3, 0), ("gh01-air", "air_temp_c", T_MS, 20.0, 0)]
