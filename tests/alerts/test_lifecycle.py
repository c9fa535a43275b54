"""Alert lifecycle on the bundled 李家河村 config and crop profiles: what a farmer would see."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.manager import AlertManager
from alerts.plan import compile_plan
from alerts.rules import bundled_rules
from ingest.store.sqlite_alerts import SqliteAlertStore
from qingyubiao.alerting import Silence, State
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex
from tests.alerts.helpers import MIN, NIGHT, batch, feed, of


@pytest.fixture(scope="module")
def plan(village: Config, index: SeriesIndex):
    return compile_plan(village, bundled_rules(), index)


@pytest.fixture
def mgr(village: Config, plan) -> AlertManager:
    return AlertManager(village, plan)


def test_cold_night_goes_pending_fires_after_the_for_duration_and_resolves_with_hysteresis(mgr, index):
    out = []
    # tomato (gh01) warns below 10 °C at night after 30 minutes; comes back only above 11 °C
    for i, t in enumerate([9.5] * 31 + [10.5, 10.8, 11.2]):
        out += feed(mgr, index, "gh01-air", {"air_temp_c": t, "air_rh_pct": 80.0}, NIGHT + i * MIN)
    cold = of(out, rule="tomato-cold-warning")
    assert [t.state for t in cold] == [State.PENDING, State.FIRING, State.RESOLVED]
    assert cold[0].ts_ms == NIGHT and cold[1].ts_ms == NIGHT + 30 * MIN and cold[2].ts_ms == NIGHT + 33 * MIN
    assert len({t.episode for t in cold}) == 1
    assert cold[1].pages and cold[1].audience == "farmer" and cold[1].site == "gh01"
    assert "低温" in cold[1].text_zh and "1号棚" in cold[1].text_zh and "below 10" in cold[1].text_en


def test_values_dancing_on_the_line_do_not_flap(mgr, index):
    out = []
    for i in range(120):
        out += feed(mgr, index, "gh01-air", {"air_temp_c": 5.8 if i % 2 else 6.3}, NIGHT + i * MIN)
    crit = of(out, rule="tomato-cold-critical")
    assert [t.state for t in crit] == [State.PENDING, State.FIRING]  # one episode, still firing


def test_out_of_range_reading_is_a_sensor_fault_for_maintainers_not_a_frost_for_the_farmer(mgr, index):
    out = []
    for i in range(3):
        out += feed(mgr, index, "gh01-air", {"air_temp_c": -80.0}, NIGHT + i * MIN)
    assert {t.kind for t in out} == {"sensor_fault"}
    fault = of(out, state=State.FIRING)
    assert fault and all(t.audience == "maintainer" for t in fault)


def test_silent_devices_go_stale_then_offline_and_the_gateway_down_inhibits_them(mgr, index, village):
    for d in village.village[0].device:
        if d.gateway == "gw-east":
            feed(mgr, index, d.id, {d.metrics[0]: 20.0}, NIGHT)
    assert not mgr.tick(NIGHT + 2 * MIN)
    out = mgr.tick(NIGHT + 30 * MIN)
    east = [d.id for d in village.village[0].device if d.gateway == "gw-east"]
    gw = of(out, rule="gateway_down", device="gw-east")
    assert len(gw) == 1 and gw[0].state == State.FIRING and gw[0].pages
    offline = of(out, rule="device_offline", device="gh01-air")
    assert offline and offline[0].inhibited_by == "gateway_down:gw-east" and not offline[0].pages
    stale = of(out, rule="stale", device="gh01-air")
    assert {t.metric for t in stale} == {"air_temp_c", "air_rh_pct"}
    assert all(t.inhibited_by == "device_offline:gh01-air" for t in stale)
    assert len(of(out, rule="device_offline")) >= len(east)
    back = feed(mgr, index, "gh01-air", {"air_temp_c": 20.0, "air_rh_pct": 70.0}, NIGHT + 31 * MIN)
    assert {(t.rule, t.state) for t in back} >= {("gateway_down", State.RESOLVED), ("device_offline", State.RESOLVED)}


def test_stale_series_keep_a_firing_alert_firing_unknown_is_not_ok(mgr, index):
    for i in range(12):
        feed(mgr, index, "gh01-air", {"air_temp_c": 2.0}, NIGHT + i * MIN)
    assert mgr.engine.state.any()
    firing_before = mgr.status()["firing"]
    out = mgr.tick(NIGHT + 60 * MIN)
    assert not of(out, state=State.RESOLVED)
    assert mgr.status()["firing"] == firing_before > 0


def test_backfill_after_an_outage_is_recorded_as_late_and_paged_only_when_live(mgr, index):
    feed(mgr, index, "gh01-air", {"air_temp_c": 15.0}, NIGHT)
    mgr.tick(NIGHT + 20 * MIN)  # the device went quiet: stale
    now = NIGHT + 60 * MIN
    rows = [("gh01-air", "air_temp_c", NIGHT + i * MIN, 2.0) for i in range(1, 60)]
    out = mgr.handle(batch(index, rows), now)  # an hour of buffered readings arrives at once
    fired = of(out, rule="tomato-cold-emergency", state=State.FIRING)
    # fired by a reading of an hour ago: recorded, not paged; the newest backfilled reading is
    # only a minute old and still cold, so the same episode is paged as live, once
    assert [t.late for t in fired] == [True, False]
    assert not fired[0].pages and fired[1].pages
    assert fired[0].episode == fired[1].episode and fired[0].ts_ms == NIGHT + MIN
    assert "补报" in fired[0].text_zh
    assert not feed(mgr, index, "gh01-air", {"air_temp_c": 2.1}, now, now_ms=now + 1_000)


def test_backfill_entirely_in_the_past_is_never_paged(mgr, index):
    feed(mgr, index, "gh01-air", {"air_temp_c": 15.0}, NIGHT)
    mgr.tick(NIGHT + 20 * MIN)
    now = NIGHT + 120 * MIN
    rows = [("gh01-air", "air_temp_c", NIGHT + i * MIN, 2.0) for i in range(1, 60)]
    out = mgr.handle(batch(index, rows), now)
    assert of(out, rule="tomato-cold-emergency", state=State.FIRING)
    assert all(t.late and not t.pages for t in out if t.kind == "air_temp_low")
    live = feed(mgr, index, "gh01-air", {"air_temp_c": 2.1}, now, now_ms=now + 1_000)
    again = of(live, rule="tomato-cold-emergency")
    assert [t.state for t in again] == [State.FIRING] and again[0].pages and not again[0].late


def test_out_of_order_readings_are_not_evaluated(mgr, index):
    feed(mgr, index, "gh01-air", {"air_temp_c": 15.0}, NIGHT + 10 * MIN)
    out = feed(mgr, index, "gh01-air", {"air_temp_c": -3.0}, NIGHT + 5 * MIN)
    assert out == [] and mgr.engine.dropped_out_of_order == 1


def test_silence_and_acknowledge(mgr, index):
    mgr.silence(Silence("s1", "secretary", "修棚膜", NIGHT, NIGHT + 3_600_000, site="gh01"))
    out = []
    for i in range(3):
        out += feed(mgr, index, "gh01-air", {"air_temp_c": 1.0}, NIGHT + i * MIN)
        out += feed(mgr, index, "gh02-air", {"air_temp_c": 1.0}, NIGHT + i * MIN)
    gh1 = of(out, site="gh01", state=State.FIRING)
    gh2 = of(out, site="gh02", state=State.FIRING)
    assert gh1 and all(t.silenced_by == "s1" and not t.pages for t in gh1)
    assert gh2 and all(t.silenced_by is None and t.pages for t in gh2)
    ep = gh2[0].episode
    assert mgr.acknowledge(ep, "li-jianjun", NIGHT + 5 * MIN)
    assert mgr.active[ep].ack_by == "li-jianjun" and mgr.active[ep].ack_ms == NIGHT + 5 * MIN
    assert mgr.acknowledge(ep, "secretary", NIGHT + 9 * MIN)  # still open: fine, but the first one stays
    assert mgr.active[ep].ack_by == "li-jianjun" and mgr.active[ep].ack_ms == NIGHT + 5 * MIN
    assert not mgr.acknowledge("no-such-episode", "x", NIGHT)


def _cold_gh02_in_a_store(village: Config, plan, index, tmp_path: Path) -> tuple[SqliteAlertStore, str]:
    """A store holding one firing cold-night episode of gh02, and its id."""
    store = SqliteAlertStore(tmp_path / "alerts.sqlite")
    mgr = AlertManager(village, plan, store)
    out = []
    for i in range(40):
        out += feed(mgr, index, "gh02-air", {"air_temp_c": 1.0}, NIGHT + i * MIN)
    return store, of(out, site="gh02", state=State.FIRING)[0].episode


def test_the_store_keeps_the_first_acknowledgement(village: Config, plan, index, tmp_path: Path) -> None:
    store, ep = _cold_gh02_in_a_store(village, plan, index, tmp_path)
    assert store.acknowledge(ep, "li-jianjun", NIGHT + 41 * MIN)
    assert store.acknowledge(ep, "secretary", NIGHT + 42 * MIN)  # a second tap or a race: no overwrite
    [found] = [e for e in store.active_episodes("lijiahe") if e.id == ep]
    assert (found.ack_by, found.ack_ms) == ("li-jianjun", NIGHT + 41 * MIN)
    assert not store.acknowledge("no-such-episode", "x", NIGHT)
    store.close()


def test_day_and_night_thresholds_follow_the_sun(mgr, index):
    # gh01 tomato: the high-temperature warning is 32 °C by day and 25 °C by night
    noon = NIGHT + 14 * 3_600_000  # 12:00 Beijing time
    out = []
    for i in range(40):
        out += feed(mgr, index, "gh01-air", {"air_temp_c": 28.0}, noon + i * MIN)
    assert not of(out, rule="tomato-hot-warning")
    for i in range(40):
        out += feed(mgr, index, "gh01-air", {"air_temp_c": 28.0}, NIGHT + 24 * 3_600_000 + i * MIN)
    assert of(of(out, rule="tomato-hot-warning"), state=State.FIRING)


def test_the_store_reads_one_episode_by_id_open_or_ended(village: Config, plan, index, tmp_path: Path) -> None:
    store, ep = _cold_gh02_in_a_store(village, plan, index, tmp_path)
    found = store.episode(ep)
    assert found is not None and found.id == ep and found.ended_ms is None
    assert store.episode("no-such-episode") is None
    store.close()
