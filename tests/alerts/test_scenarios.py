"""Each simulator scenario raises the alert it expects (site, kind, severity, time window); a quiet day raises none.

The village twin's messages are decoded by the real decoders into batches, one
batch and one staleness tick per simulated minute, as the collector does.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from qingyubiao.alerting import Kind, State
from sensors_sim import scenario as scenarios
from tests.alerts.scenario_run import run

RANK = {"warning": 0, "critical": 1, "emergency": 2}
TZ = ZoneInfo("Asia/Shanghai")


def _local(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, TZ).strftime("%m-%d %H:%M")


@pytest.mark.parametrize("name", [n for n in scenarios.names() if scenarios.load(n).expect])
def test_scenario_raises_its_expected_alert(name: str):
    sc, out = run(name)
    fired = [t for t in out if t.state == State.FIRING]
    for e in sc.expect:
        hits = [
            t
            for t in fired
            if t.site == e.site
            and t.kind == e.kind
            and RANK[t.severity] >= RANK[e.severity]
            and e.after_s * 1000 <= t.ts_ms <= e.before_s * 1000
        ]
        seen = sorted({(t.site, t.kind, t.severity, _local(t.ts_ms)) for t in fired if t.site == e.site})[:10]
        assert hits, f"{name}: no {e.severity}+ {e.kind} at {e.site} between {e.after} and {e.before}; got {seen}"
        assert any(not t.late for t in hits), f"{name}: {e.kind} at {e.site} only as backfill"


def test_quiet_day_raises_nothing():
    sc, out = run("quiet-day")
    assert sc.strict
    fired = [(t.site, t.rule, _local(t.ts_ms), t.value) for t in out if t.state == State.FIRING]
    assert fired == []


def test_a_dead_probe_is_a_sensor_fault_not_a_frost():
    _, out = run("sensor-dead")
    gh07 = [t for t in out if t.site == "gh07" and t.state == State.FIRING]
    assert {t.kind for t in gh07} == {Kind.SENSOR_FAULT}
    assert all(t.audience == "maintainer" for t in gh07)


def test_network_outage_pages_the_gateway_once_and_stores_the_backlog_as_late():
    _, out = run("network-outage")
    paged = [t for t in out if t.state == State.FIRING and t.pages and t.kind == Kind.DEVICE_OFFLINE]
    assert [(t.rule, t.device) for t in paged] == [("gateway_down", "gw-east")]
    offline = {t.site for t in out if t.rule == "device_offline" and t.state == State.FIRING}
    assert {f"gh{i:02d}" for i in range(1, 13)} <= offline
    assert all(
        t.inhibited_by == "gateway_down:gw-east" for t in out if t.rule == "device_offline" and t.state == State.FIRING
    )
    back = [t for t in out if t.rule == "gateway_down" and t.state == State.RESOLVED]
    assert len(back) == 1 and _local(back[0].ts_ms).endswith(("12:00", "12:01", "12:02"))


def test_frost_is_predicted_before_it_arrives():
    _, out = run("frost-night")
    predicted = [t for t in out if t.rule == "apple-full-bloom-frost-predicted" and t.state == State.FIRING]
    critical = [t for t in out if t.rule == "apple-full-bloom-frost-critical" and t.state == State.FIRING]
    assert predicted and critical
    assert predicted[0].ts_ms < critical[0].ts_ms
    assert predicted[0].eta_min is not None and 0 <= predicted[0].eta_min <= 120
    assert "will reach -2.2 °C in about" in predicted[0].text_en and "分钟后降到 -2.2" in predicted[0].text_zh


def test_a_forgotten_quilt_stands_out_from_the_other_tomato_houses_before_it_is_critical():
    _, out = run("quilt-forgotten")
    peer = [t for t in out if t.site == "gh05" and t.kind == Kind.PEER_DEVIATION and t.state == State.FIRING]
    cold = [t for t in out if t.site == "gh05" and t.rule == "tomato-cold-critical" and t.state == State.FIRING]
    assert peer and cold and peer[0].ts_ms < cold[0].ts_ms
    assert peer[0].value < -5.0  # colder than the median of the village's tomato houses
    others = {t.site for t in out if t.kind == Kind.PEER_DEVIATION and t.state == State.FIRING}
    assert others == {"gh05"}
