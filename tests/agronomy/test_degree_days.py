"""Degree-days by the single-sine method with a horizontal upper cutoff (Zalom et al. 1983, UC DANR
Leaflet 21373; the method of the UC IPM degree-day calculator), and the codling moth milestone of the
UC IPM apple guidelines: egg hatch begins about 250 °F-DD (138.9 °C-DD) after biofix, thresholds
50 °F / 88 °F (10 °C / 31.1 °C)."""

from __future__ import annotations

import numpy as np
import pytest

from agronomy.daily import Agronomy
from agronomy.degree_days import single_sine
from agronomy.params import Params, PestParams
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


def test_a_published_example() -> None:
    # TrenchR's degree_days (the UC IPM methods, https://trenchproject.github.io/TrenchR/reference/degree_days.html):
    # a day from 7 to 14 °C with thresholds 12 and 33 °C gives 0.47 °C-DD by the single sine (printed to 0.01)
    assert float(single_sine(7.0, 14.0, 12.0, 33.0)) == pytest.approx(0.47, abs=0.005)
    assert single_sine_ref(7.0, 14.0, 12.0, 33.0) == pytest.approx(0.47, abs=0.005)


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
    assert seen[reached + cm.lead_days][0] == Risk.HIGH
    # then the next milestone, 20 % hatch 55.5 °C-DD (5 days) later, is the one forecast: 1 day to go
    assert seen[reached + cm.lead_days + 1] == (Risk.MODERATE, 1.0)


# Michigan State University Enviroweather, "About Enviroweather's Codling Moth Assist Chart"
# (https://enviroweather.msu.edu/aboutThisModel.php?mod=f_cm): °F degree-days (base 50 °F) after biofix
MSU_CODLING_MOTH_F = {
    "egg_hatch_start": 250,
    "egg_hatch_20pct": 350,
    "peak_egg_laying": 550,
    "second_flight_start": 1060,
    "second_egg_hatch_start": 1250,
}
# Li Dingxu et al., 桃小食心虫的发育起点温度和有效积温 (Chinese Journal of Applied Entomology): effective
# accumulated temperature (°C-day) of the stages, pre-oviposition, egg, larva, pre-pupa, pupa
LI_PEACH_FRUIT_MOTH = {"pre_oviposition": 31.6, "egg": 87.3, "larva": 238.6, "pre_pupa": 10.7, "pupa": 156.9}


def test_codling_moth_milestones_are_the_published_degree_days(params: Params) -> None:
    got = {m.event: m.dd_c for m in params.pest["codling_moth"].milestone}
    assert got == pytest.approx({k: v * 5 / 9 for k, v in MSU_CODLING_MOTH_F.items()}, abs=0.05)


def test_peach_fruit_moth_milestones_add_up_the_published_stages(params: Params) -> None:
    pfm = params.pest["peach_fruit_moth"]
    s = LI_PEACH_FRUIT_MOTH
    assert (pfm.lower_c, pfm.upper_c) == (10.0, 31.1)
    want = {
        "egg_laying_start": s["pre_oviposition"],
        "egg_hatch_start": s["pre_oviposition"] + s["egg"],
        "larvae_leave_fruit": s["pre_oviposition"] + s["egg"] + s["larva"],
        "next_flight_start": s["pre_oviposition"] + s["egg"] + s["larva"] + s["pre_pupa"] + s["pupa"],
    }
    assert {m.event: m.dd_c for m in pfm.milestone} == pytest.approx(want, abs=0.05)


def test_milestones_out_of_order_are_refused(params: Params) -> None:
    raw = params.pest["codling_moth"].model_dump()
    raw["milestone"] = raw["milestone"][::-1]
    with pytest.raises(ValueError, match="rising degree-days"):
        PestParams.model_validate(raw)


def test_a_day_with_too_few_hours_is_unknown_not_low(params: Params) -> None:
    model = Agronomy(orchard(1, stage="post_bloom"), params)
    model.set_biofix("codling_moth", 0)
    temp = np.full((1, 24), 20.0)
    temp[0, :6] = np.nan  # 18 of 24 hours
    r = model.day(hours(temp)).pests["codling_moth"]
    assert r.risk[0] == Risk.UNKNOWN and np.isnan(r.dd[0]) and r.cum_dd[0] == 0.0
