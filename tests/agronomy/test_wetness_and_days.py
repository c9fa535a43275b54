"""Wetness from a sensor or estimated from humidity, and what a day says when it cannot know: a site
without a humidity sensor gets NO_DATA, a day with a long gap UNKNOWN, never "no risk"."""

from __future__ import annotations

import numpy as np

from agronomy.daily import Agronomy
from agronomy.params import Params
from agronomy.risk import Risk
from agronomy.wetness import DRY, UNKNOWN, WET, wetness
from tests.agronomy.conftest import APRIL_20, hours, orchard


def test_a_leaf_sensor_decides_and_humidity_estimates_without_one(params: Params) -> None:
    nan = np.nan
    t = np.array([[12.0, 12.0, 12.0, 12.0, 12.0, nan, 12.0]])
    rh = np.array([[95.0, 80.0, 88.0, 88.0, nan, 95.0, 50.0]])
    leaf = np.array([[0.0, 100.0, nan, nan, nan, nan, nan]])
    rain = np.array([[nan, nan, nan, nan, nan, nan, 0.4]])
    night = np.array([[False, False, False, True, False, False, False]])
    got = wetness(t, rh, leaf, rain, night, params.wetness)[0].tolist()
    # sensor dry despite 95 %; sensor wet despite 80 %; 88 % by day dry, by night (dew margin 1.9 °C) wet;
    # no RH: unknown; no temperature: unknown; rain: wet at 50 %
    assert got == [DRY, WET, DRY, WET, UNKNOWN, UNKNOWN, WET]


def test_no_humidity_sensor_is_no_data_and_a_gap_is_unknown(params: Params) -> None:
    sites = [*orchard(2), *orchard(1, humidity=False), *orchard(1, stage="dormant")]
    model = Agronomy(sites, params)
    rh = np.full((4, 24), 60.0)
    rh[1, 10:13] = np.nan  # 3 hours without readings, more than the 2 the scab model tolerates
    got = model.day(hours(np.full((4, 24), 14.0), rh=rh)).scab.risk.tolist()
    assert got == [Risk.NONE, Risk.UNKNOWN, Risk.NO_DATA, Risk.NONE]  # the last is out of season


def test_an_infection_found_before_a_gap_is_kept(params: Params) -> None:
    model = Agronomy(orchard(1), params)
    rh = np.full((1, 24), 96.0)  # wet since midnight at 15 °C (59 °F: 7 h), counted from sunrise (06:00) ...
    rh[0, 18:] = np.nan  # ... then the sensor goes quiet for 6 hours
    got = model.day(hours(np.full((1, 24), 15.0), rh=rh)).scab
    assert got.risk[0] == Risk.MODERATE and got.wet_h[0] == 12  # 12 h ≥ 7 × 4/3, not yet 14


def test_a_restart_continues_exactly(params: Params) -> None:
    rng = np.random.default_rng(4)
    days = [hours(rng.uniform(5, 25, (3, 24)), rh=rng.choice([60.0, 95.0], (3, 24)), start_ms=APRIL_20 + d * 86_400_000)
            for d in range(4)]  # fmt: skip
    whole = Agronomy(orchard(3), params)
    whole.set_biofix("codling_moth", 1)
    straight = [whole.day(d) for d in days]
    first = Agronomy(orchard(3), params)
    first.set_biofix("codling_moth", 1)
    first.day(days[0])
    first.day(days[1])
    again = Agronomy(orchard(3), params)
    again.restore(first.snapshot())
    for want, d in zip(straight[2:], days[2:], strict=True):
        got = again.day(d)
        assert got.scab.risk.tolist() == want.scab.risk.tolist()
        np.testing.assert_array_equal(got.scab.wet_h, want.scab.wet_h)
        np.testing.assert_array_equal(got.pests["codling_moth"].cum_dd, want.pests["codling_moth"].cum_dd)
