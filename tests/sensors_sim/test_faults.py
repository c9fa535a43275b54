"""Every injectable fault leaves its signature in the published data."""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
import numpy as np
import pytest

from api.routes.devices import LOW_BATTERY_V
from qingyubiao.catalogue import METRICS
from qingyubiao.config import Config
from sensors_sim.scenario import parse
from sensors_sim.twin import battery_v, run_scenario
from tests.sensors_sim.conftest import Reading, flatten, series

BASE: dict[str, Any] = {"start": "2026-04-22T08:00", "hours": 4, "weather": {"sky": "partly"}}
W0 = parse({**BASE, "fault": [{"kind": "dead", "device": "gh01-air", "start": "09:00", "end": "11:00"}]}, "w")
T_START, T_END = W0.faults[0].start_s, W0.faults[0].end_s  # the fault window: 09:00–11:00


def run(config: Config, *faults: dict[str, Any], seed: int = 2, **extra: Any) -> list[tuple[float, str, bytes]]:
    sc = parse({**BASE, **extra, "fault": [{"start": "09:00", "end": "11:00", **f} for f in faults]}, "t")
    return list(run_scenario(config, sc, seed=seed))


FAULTS: list[dict[str, Any]] = [
    {"kind": "dropout", "device": "gh02-air"},
    {"kind": "stuck", "device": "gh03-air", "metric": "air_temp_c"},
    {"kind": "spike", "device": "gh04-air", "metric": "air_temp_c"},
    {"kind": "drift", "device": "gh05-air", "metric": "air_rh_pct", "magnitude": 3.0},
    {"kind": "dead", "device": "or02-soil"},
    {"kind": "clock_skew", "device": "gh06-air", "magnitude": 7200},
    {"kind": "outage", "gateway": "gw-west"},
    {"kind": "duplicate", "device": "or03-air"},
    {"kind": "duplicate", "device": "gh08-air"},
]
FAULTY = {"gh02-air", "gh03-air", "gh04-air", "gh05-air", "or02-soil", "gh06-air", "or03-air", "gh08-air"}


@pytest.fixture(scope="module")
def baseline(lijiahe: Config) -> list[Reading]:
    return flatten(lijiahe, run(lijiahe))


@pytest.fixture(scope="module")
def faulty_msgs(lijiahe: Config) -> list[tuple[float, str, bytes]]:
    """One run with every fault, each on its own device (they do not interact)."""
    return run(lijiahe, *FAULTS)


@pytest.fixture(scope="module")
def faulty(lijiahe: Config, faulty_msgs: list[tuple[float, str, bytes]]) -> list[Reading]:
    return flatten(lijiahe, faulty_msgs)


def test_devices_without_faults_publish_exactly_the_baseline(lijiahe: Config, faulty: list[Reading],
                                                              baseline: list[Reading]) -> None:  # fmt: skip
    west = {d.id for d in lijiahe.village[0].device if d.gateway == "gw-west"}
    key = lambda r: (r.device, r.metric, r.ts_s, r.value)  # noqa: E731
    calm = FAULTY | west
    a = {key(r) for r in faulty if r.device not in calm}
    assert len(a) > 5000
    assert a == {key(r) for r in baseline if r.device not in calm}


def inside(ts: np.ndarray) -> np.ndarray:
    return (ts >= T_START) & (ts < T_END)


def test_dropout_silences_the_device_for_the_window(faulty: list[Reading]) -> None:
    rs = faulty
    ts, _ = series(rs, "gh02-air", "air_temp_c")
    assert not inside(ts).any()
    assert (ts < T_START).sum() > 30 and (ts >= T_END).sum() > 30  # reports before and after
    assert np.diff(ts).max() >= 2 * 3600 - 60


def test_stuck_value_repeats_exactly(faulty: list[Reading]) -> None:
    rs = faulty
    ts, v = series(rs, "gh03-air", "air_temp_c")
    stuck = v[inside(ts)]
    assert len(stuck) > 100 and len(set(stuck.tolist())) == 1
    assert len(set(v[~inside(ts)].tolist())) > 20  # alive outside the window
    _, rh = series(rs, "gh03-air", "air_rh_pct")
    assert len(set(rh.tolist())) > 20  # the other metric of the device keeps moving


def test_spike_is_one_reading_far_from_its_neighbours(faulty: list[Reading], baseline: list[Reading]) -> None:
    rs = faulty
    ts, v = series(rs, "gh04-air", "air_temp_c")
    _, b = series(baseline, "gh04-air", "air_temp_c")
    diff = v - b
    assert (np.abs(diff) > 1e-9).sum() == 1
    assert diff.max() == pytest.approx(15.0, abs=0.11)
    assert T_START <= ts[np.argmax(diff)] < T_START + 60


def test_drift_grows_linearly_with_time(faulty: list[Reading], baseline: list[Reading]) -> None:
    rs = faulty
    ts, v = series(rs, "gh05-air", "air_rh_pct")
    _, b = series(baseline, "gh05-air", "air_rh_pct")
    diff = v - b
    w = inside(ts)
    assert np.abs(diff[~w]).max() < 1e-9
    hours = (ts[w] - T_START) / 3600
    slope = np.polyfit(hours, diff[w], 1)[0]
    assert slope == pytest.approx(3.0, rel=0.1), "3 %RH per hour (clipped at 100 % is not reached here)"


def test_dead_probe_reads_out_of_range(faulty: list[Reading]) -> None:
    rs = faulty
    for metric in ("soil_vwc_pct", "soil_temp_c"):
        ts, v = series(rs, "or02-soil", metric)
        dead = v[inside(ts)]
        assert len(dead) >= 6
        m = METRICS[metric]
        assert ((dead < m.lo) | (dead > m.hi)).all(), f"{metric}: a dead probe is outside the physical range"
        assert ((v[~inside(ts)] >= m.lo) & (v[~inside(ts)] <= m.hi)).all()


def test_clock_skew_shifts_timestamps_not_publish_times(faulty: list[Reading]) -> None:
    rs = faulty
    skewed = [r for r in rs if r.device == "gh06-air" and T_START <= r.sent_s < T_END]
    assert skewed and all(r.ts_s - r.sent_s == pytest.approx(7200, abs=60) for r in skewed)  # gateway: ≤ 1 min
    honest = [r for r in rs if r.device != "gh06-air"]
    assert all(r.ts_s <= r.sent_s + 1e-6 for r in honest)


def test_outage_buffers_and_backfills_every_reading_as_a_batch(
    lijiahe: Config, faulty_msgs: list[tuple[float, str, bytes]], faulty: list[Reading], baseline: list[Reading]
) -> None:
    msgs, rs = faulty_msgs, faulty
    west = {d.id for d in lijiahe.village[0].device if d.gateway == "gw-west"}
    live = [r for r in rs if r.device in west and T_START <= r.sent_s < T_END]
    assert not live, "nothing from gw-west while its link is down"
    late = [r for r in rs if r.device in west and r.sent_s - r.ts_s > 300]
    assert late and all(r.fmt == "gateway" for r in late)
    assert min(r.sent_s for r in late) >= T_END and max(r.sent_s for r in late) < T_END + 60
    burst = {(sent, topic) for sent, topic, _ in msgs if topic.endswith("gw/gw-west/up") and T_END <= sent < T_END + 60}
    assert 1 <= len(burst) <= 6, "the backlog goes out as a few batches, not reading by reading"
    # nothing is lost: exactly the readings of a run without the outage
    key = lambda r: (r.device, r.metric, r.ts_s, r.value)  # noqa: E731
    assert Counter(key(r) for r in rs if r.device in west) == Counter(key(r) for r in baseline if r.device in west)


def test_outage_of_a_device_sends_one_json_array(lijiahe: Config) -> None:
    sc = parse({**BASE, "fault": [{"kind": "outage", "device": "gh07-air", "start": "09:00", "end": "11:00"}]}, "t")
    msgs = list(run_scenario(lijiahe, sc, seed=2, fmt="device"))
    arrays = [msgspec.json.decode(p) for t, topic, p in msgs if topic == "qyb/lijiahe/gh07-air/up" and p[:1] == b"["]
    assert len(arrays) == 1 and len(arrays[0]) == 120  # two hours of one-minute readings
    seqs = [r["seq"] for r in arrays[0]]
    assert seqs == sorted(seqs) and seqs[-1] - seqs[0] == 119


def test_duplicates_are_the_same_bytes_twice(faulty_msgs: list[tuple[float, str, bytes]]) -> None:
    msgs = faulty_msgs
    lora = [p for t, topic, p in msgs if topic.endswith("a840410000180301/event/up") and T_START <= t < T_END]
    counts = Counter(lora)
    assert counts and set(counts.values()) == {2}
    ids = Counter(msgspec.json.decode(p)["deduplicationId"] for p in lora)
    assert set(ids.values()) == {2}, "a re-delivered ChirpStack uplink keeps its deduplicationId"
    east = [p for t, topic, p in msgs if topic.endswith("gw/gw-east/up") and T_START <= t < T_END]
    assert set(Counter(east).values()) == {2}
    outside = [p for t, topic, p in msgs if topic.endswith("gw/gw-east/up") and t >= T_END]
    assert set(Counter(outside).values()) == {1}


def test_lora_loss_leaves_fcnt_gaps_and_signal_is_plausible(lijiahe: Config) -> None:
    rs = flatten(lijiahe, run(lijiahe, lora_loss=0.3))
    fcnt = sorted({r.seq for r in rs if r.device == "or01-air" and r.seq is not None})
    gaps = np.diff(fcnt)
    assert (gaps > 1).sum() > 3
    assert len(fcnt) == pytest.approx((gaps.sum() + 1) * 0.7, rel=0.3)
    rssi = np.array([r.value for r in rs if r.metric == "rssi_dbm"])
    snr = np.array([r.value for r in rs if r.metric == "snr_db"])
    assert rssi.min() > -125 and rssi.max() < -70
    assert snr.min() >= -20 and snr.max() <= 12


def test_no_loss_outside_lorawan_and_formats_carry_the_same_readings(lijiahe: Config) -> None:
    sc = parse({**BASE, "lora_loss": 0.0}, "t")
    runs = {f: flatten(lijiahe, list(run_scenario(lijiahe, sc, seed=3, fmt=f))) for f in ("device", "gateway")}
    keys = {f: {(r.device, r.metric, r.ts_s, r.value) for r in rs if r.metric != "rssi_dbm" and r.metric != "snr_db"}
            for f, rs in runs.items()}  # fmt: skip
    assert keys["device"] == keys["gateway"]
    per_device = Counter(r.device for r in runs["device"] if r.metric == "bat_v")
    for d in lijiahe.village[0].device:
        assert per_device[d.id] == pytest.approx(4 * 3600 / d.interval_s, abs=1), d.id


def test_a_battery_drains_for_a_year_and_is_renewed_on_its_own_day() -> None:
    day = 86_400.0
    t = np.arange(0.0, 730.0) * day  # two years, daily, at 20 °C
    v = battery_v(t, np.array([3.6, 3.6]), np.array([0.001, 0.001]), np.array([100.0, 250.0]), np.full((730, 2), 20.0))
    for dev, fitted in enumerate((100, 250)):
        jumps = np.flatnonzero(np.diff(v[:, dev]) > 0) + 1  # the days the voltage rose: renewals
        assert jumps.tolist() == [fitted, fitted + 365]
        assert v[fitted, dev] == 3.6 and v[fitted - 1, dev] == pytest.approx(3.6 - 0.364)
    cold = battery_v(t[:1], np.array([3.6]), np.array([0.001]), np.array([0.0]), np.array([[-10.0]]))
    assert cold[0, 0] == pytest.approx(3.6 - 0.09)  # 30 °C colder: 0.09 V lower


def test_a_december_village_has_a_few_low_batteries_not_all(lijiahe: Config) -> None:
    """The demo's device-health panel showed six of the twin's devices 电量低 in December: every cell was
    renewed on the same day of an epoch-aligned year, so all were near flat together before it."""
    sc = parse({"start": "2026-12-15T04:00", "hours": 1}, "t")  # a cold winter night, the lowest voltages
    rs = flatten(lijiahe, list(run_scenario(lijiahe, sc, seed=0)))
    lowest = {d: min(r.value for r in rs if r.metric == "bat_v" and r.device == d) for d in {r.device for r in rs}}
    low = [d for d, v in lowest.items() if v < LOW_BATTERY_V]
    assert len(lowest) == len(lijiahe.village[0].device)
    assert len(low) <= 2, sorted(low)
    assert max(lowest.values()) - min(lowest.values()) > 0.2  # cells at different points of their year
