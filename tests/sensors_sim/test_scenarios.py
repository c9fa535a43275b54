"""Each bundled scenario shows, in the published data, what its expectations promise."""

from __future__ import annotations

import numpy as np

from qingyubiao.catalogue import METRICS
from qingyubiao.config import Config
from sensors_sim.scenario import Scenario, load
from sensors_sim.twin import run_scenario
from tests.sensors_sim.conftest import Reading, flatten, series


def published(config: Config, name: str, seed: int = 1) -> tuple[Scenario, list[Reading]]:
    sc = load(name)
    return sc, flatten(config, list(run_scenario(config, sc, seed=seed)))


def held_above(ts: np.ndarray, v: np.ndarray, limit: float, minutes: float) -> float | None:
    """First time the series has been above `limit` for `minutes` (None if never)."""
    start = None
    for t, x in zip(ts, v, strict=True):
        if x > limit:
            start = t if start is None else start
            if t - start >= minutes * 60:
                return float(t)
        else:
            start = None
    return None


def test_heat_noon_gh03_overheats_in_the_window_others_do_not(lijiahe: Config) -> None:
    sc, rs = published(lijiahe, "heat-noon")
    e = sc.expect[0]
    ts, v = series(rs, "gh03-air", "air_temp_c")
    when = held_above(ts, v, 35.0, 15)
    assert when is not None and e.after_s <= when <= e.before_s
    for d in [f"gh{i:02d}-air" for i in range(1, 25) if i != 3]:
        assert series(rs, d, "air_temp_c")[1].max() < 32.0, d


def test_frost_night_or01_canopy_below_zero_in_the_window(lijiahe: Config) -> None:
    sc, rs = published(lijiahe, "frost-night")
    e = sc.expect[0]
    ts, v = series(rs, "or01-air", "air_temp_c")
    w = (ts >= e.after_s) & (ts <= e.before_s)
    assert v[w].min() < -2.0
    assert v[ts < e.after_s - 4 * 3600].min() > 3.0, "a mild afternoon first"


def test_quilt_forgotten_gh05_falls_below_6c_others_stay_warm(lijiahe: Config) -> None:
    sc, rs = published(lijiahe, "quilt-forgotten")
    e = sc.expect[0]
    ts, v = series(rs, "gh05-air", "air_temp_c")
    w = (ts >= e.after_s) & (ts <= e.before_s)
    assert v[w].min() < 5.0
    first_cold = ts[np.argmax(v < 6.0)]
    assert e.after_s <= first_cold <= e.before_s
    for d in [f"gh{i:02d}-air" for i in range(1, 25) if i != 5]:
        assert series(rs, d, "air_temp_c")[1].min() > 8.0, d


def test_sensor_dead_gh07_reads_minus_127_while_humidity_lives(lijiahe: Config) -> None:
    sc, rs = published(lijiahe, "sensor-dead")
    e = sc.expect[0]
    ts, v = series(rs, "gh07-air", "air_temp_c")
    assert (v[ts >= e.after_s] == -127.0).all() and (v[ts < e.after_s] > 5).all()
    assert (v < METRICS["air_temp_c"].lo).sum() == (ts >= e.after_s).sum()
    _, rh = series(rs, "gh07-air", "air_rh_pct")
    assert rh.min() > 0 and rh.max() <= 100


def test_network_outage_silence_then_backfill(lijiahe: Config) -> None:
    sc, rs = published(lijiahe, "network-outage")
    outage = sc.faults[0]
    east = {d.id for d in lijiahe.village[0].device if d.gateway == "gw-east"}
    sites = {e.site for e in sc.expect}
    assert sites <= {d.split("-")[0] for d in east}
    during = [r for r in rs if r.device in east and outage.start_s <= r.sent_s < outage.end_s]
    assert not during
    backfill = [r for r in rs if r.device in east and r.sent_s >= outage.end_s and r.ts_s < outage.end_s]
    assert {r.device for r in backfill} == east
    assert min(r.ts_s for r in backfill) < outage.start_s + 120
    west = [r for r in rs if r.device not in east and outage.start_s <= r.sent_s < outage.end_s]
    assert west, "the other gateway keeps reporting"


def test_quiet_day_stays_inside_every_comfort_range(lijiahe: Config) -> None:
    sc, rs = published(lijiahe, "quiet-day")
    assert sc.strict and not sc.expect
    for r in rs:
        m = METRICS[r.metric]
        assert m.lo <= r.value <= m.hi, r
    gh_air = [r.value for r in rs if r.device.startswith("gh") and r.metric == "air_temp_c"]
    assert min(gh_air) > 15.0 and max(gh_air) < 31.0
    # The farmer cracks the vents at 90 % RH (greenhouse.step, 放风排湿): on a humid morning a sensor with its
    # calibration offset (σ 1.5 %) may read a little above that for minutes before they open, never for the hours
    # the wet-hours rule counts.
    for d in lijiahe.village[0].device:
        if d.site.startswith("gh") and "air_rh_pct" in d.metrics:
            rh = series(rs, d.id, "air_rh_pct")[1]
            assert rh.max() < 93.0 and (rh >= 90.0).sum() * d.interval_s <= 30 * 60, d.id
    vwc = [r.value for r in rs if r.metric == "soil_vwc_pct"]
    assert min(vwc) > 15.0
    or_air = [r.value for r in rs if r.device.startswith("or") and r.metric == "air_temp_c"]
    assert min(or_air) > 5.0
    # every device reports on schedule: no gap longer than two intervals
    for d in lijiahe.village[0].device:
        ts = np.unique([r.ts_s for r in rs if r.device == d.id])
        assert len(ts) > 3 and np.diff(ts).max() <= 2 * d.interval_s, d.id
