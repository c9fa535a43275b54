"""Degree-days by the single-sine method with a horizontal upper cutoff (Zalom et al. 1983, UC DANR
Leaflet 21373; the method of the UC IPM degree-day calculator), and the codling moth milestone of the
UC IPM apple guidelines: egg hatch begins about 250 °F-DD (138.9 °C-DD) after biofix, thresholds
50 °F / 88 °F (10 °C / 31.1 °C)."""

from __future__ import annotations

import numpy as np
import pytest

from agronomy.daily import Agronomy
from agronomy.degree_days import single_sine
from agronomy.params import Params
from agronomy.reference import single_sine as single_sine_ref
from agronomy.risk import Risk
from tests.agronomy.conftest import APRIL_20, hours, orchard

LOWER, UPPER = 10.0, 31.1


def by_definition(tmin: float, tmax: float, lower: float, upper: float) -> float:
    """The area the method defines: a sine from tmin to tmax over the day, clipped to [lower, upper]."""
    phase = np.linspace(0.0, 2.0 * np.pi, 400_001)[:-1]
    t = (tmax + tmin) / 2 + (tmax - tmin) / 2 * np.sin(phase)
    return float(np.mean(np.clip(t, lower, upper) - lower))


# every case of the leaflet: below, above, between, the lower threshold crossed, the upper, both
CASES = [(2.0, 9.0), (32.0, 38.0), (12.0, 28.0), (4.0, 22.0), (18.0, 36.0), (6.0, 37.0), (10.0, 31.1), (15.0, 15.0)]


@pytest.mark.parametrize(("tmin", "tmax"), CASES)
def test_single_sine_is_the_area_it_defines_within_a_hundredth(tmin: float, tmax: float) -> None:
    want = by_definition(tmin, tmax, LOWER, UPPER)
    assert float(single_sine(tmin, tmax, LOWER, UPPER)) == pytest.approx(want, abs=0.01)
    assert single_sine_ref(tmin, tmax, LOWER, UPPER) == pytest.approx(want, abs=0.01)  # the leaflet's case formulas


def test_fahrenheit_and_celsius_agree() -> None:
    # the UC IPM calculator works in °F: 40-75 °F with 50/88 °F thresholds, in °F-DD, is 9/5 of the °C-DD
    f = by_definition(40.0, 75.0, 50.0, 88.0)
    c = float(single_sine((40 - 32) / 1.8, (75 - 32) / 1.8, LOWER, (88 - 32) / 1.8))
    assert c * 1.8 == pytest.approx(f, abs=0.05)


def test_codling_moth_egg_hatch_is_forecast_then_reached(params: Params) -> None:
    cm = params.pest["codling_moth"]
    assert (cm.lower_c, cm.upper_c) == (LOWER, UPPER)
    assert cm.milestone[0].dd_c == pytest.approx(250 / 1.8, abs=0.05)
    model = Agronomy(orchard(2, stage="post_bloom"), params)
    model.set_biofix("codling_moth", 0)  # site 1 has no biofix: nothing to forecast
    # a sine day of 12-30 °C: 11 °C-DD a day (mean 21 − 10), egg hatch on the 13th day
    day = np.tile(21 + 9 * np.sin(2 * np.pi * (np.arange(24) - 9) / 24), (2, 1))
    per_day = float(single_sine(day.min(), day.max(), LOWER, UPPER))
    seen = []
    for d in range(20):
        r = model.day(hours(day, start_ms=APRIL_20 + d * 86_400_000)).pests["codling_moth"]
        seen.append((int(r.risk[0]), float(r.days_to[0])))
        assert r.risk[1] == Risk.NONE
    reached = int(np.ceil(cm.milestone[0].dd_c / per_day)) - 1  # the day index the sum passes 138.9
    assert seen[reached][0] == Risk.HIGH and seen[reached - 1][0] == Risk.MODERATE
    assert seen[reached - 1][1] == 1.0  # forecast: tomorrow
    assert all(risk == Risk.LOW for risk, _ in seen[: reached - cm.lead_days])
    assert seen[reached + cm.lead_days][0] == Risk.HIGH and seen[reached + cm.lead_days + 1][0] == Risk.NONE


def test_a_day_with_too_few_hours_is_unknown_not_low(params: Params) -> None:
    model = Agronomy(orchard(1, stage="post_bloom"), params)
    model.set_biofix("codling_moth", 0)
    temp = np.full((1, 24), 20.0)
    temp[0, :6] = np.nan  # 18 of 24 hours
    r = model.day(hours(temp)).pests["codling_moth"]
    assert r.risk[0] == Risk.UNKNOWN and np.isnan(r.dd[0]) and r.cum_dd[0] == 0.0
