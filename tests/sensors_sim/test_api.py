"""The scenario API the alert tests build on: load, run without MQTT, same seed → same bytes."""

from __future__ import annotations

import hashlib

import pytest

from qingyubiao.config import Config
from sensors_sim.scenario import ALERT_KINDS, SEVERITIES, ScenarioError, load, names, parse
from sensors_sim.twin import run_scenario

REQUIRED = {"heat-noon", "frost-night", "quilt-forgotten", "sensor-dead", "network-outage", "quiet-day"}


def test_bundled_scenarios_load_and_state_their_expectations(lijiahe: Config) -> None:
    assert set(names()) >= REQUIRED
    for name in names():
        sc = load(name)
        sc.check_against(lijiahe)
        assert sc.end_s > sc.start_s
        if name == "quiet-day":
            assert sc.strict and not sc.expect
            continue
        assert sc.expect or sc.expect_risk, f"{name} states nothing the alert system or the models should report"
        for e in sc.expect:
            assert e.kind in ALERT_KINDS and e.severity in SEVERITIES
            assert sc.start_s <= e.after_s < e.before_s <= sc.end_s, (name, e)


def test_frost_night_overrides_the_bloom_stage(lijiahe: Config) -> None:
    sc = load("frost-night")
    assert sc.stage == {"or01": "full_bloom"}
    staged = sc.apply_stages(lijiahe)
    stages = {s.id: s.stage for s in staged.village[0].site}
    assert stages["or01"] == "full_bloom"
    assert stages["or02"] == "dormant"  # untouched
    assert {s.id: s.stage for s in lijiahe.village[0].site}["or01"] == "dormant"  # original unchanged


def test_bad_scenarios_are_refused_with_the_reason(lijiahe: Config) -> None:
    with pytest.raises(ScenarioError, match="fault kind"):
        parse({"start": "2026-04-22", "fault": [{"kind": "meteor", "device": "gh01-air"}]}, "bad")
    with pytest.raises(ScenarioError, match="alert kind"):
        parse(
            {
                "start": "2026-04-22",
                "expect": [{"site": "gh01", "kind": "hot", "severity": "warning", "after": "10:00", "before": "11:00"}],
            },
            "bad",
        )
    with pytest.raises(ScenarioError, match="unknown device"):
        parse({"start": "2026-04-22", "fault": [{"kind": "dead", "device": "gh99-air"}]}, "bad").check_against(lijiahe)
    with pytest.raises(ScenarioError, match="no scenario"):
        load("no-such-scenario")


def test_hh_mm_times_are_the_first_such_moment_after_the_start() -> None:
    sc = parse({"start": "2026-04-10T16:00", "hours": 16,
                "expect": [{"site": "or01", "kind": "frost", "severity": "critical",
                            "after": "22:00", "before": "06:30"}]}, "x")  # fmt: skip
    e = sc.expect[0]
    assert e.after_s - sc.start_s == 6 * 3600
    assert e.before_s - sc.start_s == 14.5 * 3600  # next morning


# Four busy hours: every route, LoRa loss, and faults that draw on the random streams.
BUSY = {
    "start": "2026-04-22T09:00",
    "hours": 4,
    "fault": [
        {"kind": "spike", "device": "gh01-air", "start": "10:00"},
        {"kind": "outage", "gateway": "gw-west", "start": "10:00", "end": "11:00"},
        {"kind": "duplicate", "device": "or01-air", "start": "11:00", "end": "12:00"},
    ],
}


def _digest(config: Config, seed: int) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    for t, topic, payload in run_scenario(config, parse(BUSY, "busy"), seed=seed):
        h.update(f"{t:.3f}|{topic}|".encode())
        h.update(payload)
        n += 1
    return h.hexdigest(), n


def test_same_seed_same_bytes_other_seed_other_bytes(lijiahe: Config) -> None:
    a, n = _digest(lijiahe, 7)
    b, m = _digest(lijiahe, 7)
    c, _ = _digest(lijiahe, 8)
    assert n > 500 and n == m
    assert a == b
    assert a != c


def test_messages_come_in_simulated_time_order(lijiahe: Config) -> None:
    times = [t for t, _, _ in run_scenario(lijiahe, load("network-outage"), seed=1)]
    assert times == sorted(times)
    sc = load("network-outage")
    assert sc.start_s <= times[0] and times[-1] <= sc.end_s


def test_every_payload_fits_the_v1_wire_schemas(lijiahe: Config) -> None:
    from qingyubiao.payloads import chirpstack_decoder, gateway_decoder, uplink_decoder

    seen = set()
    for fmt in ("auto", "device"):
        for _, topic, payload in run_scenario(lijiahe, load("network-outage"), seed=5, fmt=fmt):
            if topic.startswith("application/"):
                msg = chirpstack_decoder.decode(payload)
                seen.add("chirpstack")
                assert msg.object and msg.device_info.dev_eui in topic
            elif "/gw/" in topic:
                batch = gateway_decoder.decode(payload)
                seen.add("gateway")
                assert batch.readings and all(r.m and r.ts and r.seq for r in batch.readings)
            else:
                one = uplink_decoder.decode(payload)
                seen.add("device-array" if isinstance(one, list) else "device")
                assert all(u.m and u.ts and u.bat_v for u in (one if isinstance(one, list) else [one]))
    assert seen == {"chirpstack", "gateway", "device", "device-array"}
