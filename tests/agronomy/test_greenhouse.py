"""Greenhouse diseases against their sources.

Grey mould: Yunis H. et al. (1994), Crop Protection 13(2): 99-104 — outbreaks when, as a weekly mean,
foliage is wet more than 7 h a day and the night (18:00-08:00) spends more than 9.5 h at 9-21 °C.
Downy mildew: Cohen Y. (1977), Can. J. Bot. 55: 1478-1487 — the least temperature for infection 20 °C
with 2 h of wetness, 10 °C with 6 h, 5 °C with 12 h, none above 25 °C; optimum 20, 15-20, 10-20, 5-20 °C
at 2, 6, 12, 24 h."""

from __future__ import annotations

import numpy as np
import pytest

from agronomy.daily import Agronomy, DayResult, SiteInfo
from agronomy.params import Params
from agronomy.risk import Risk
from tests.agronomy.conftest import APRIL_20, LAT, LON, hours

DAY_MS = 86_400_000
WET_RH, DRY_RH = 97.0, 60.0


def house(n: int, crop: str = "cucumber", humidity: bool = True) -> list[SiteInfo]:
    return [SiteInfo(crop, None, LAT, LON, humidity) for _ in range(n)]


def day_of(wet_hours: int, night_c: float, day_c: float = 24.0) -> tuple[np.ndarray, np.ndarray]:
    """A greenhouse day: `night_c` from 18:00 to 08:00, `day_c` between; wet for `wet_hours` from 20:00 on
    (wrapping into the morning), dry otherwise."""
    h = np.arange(24)
    night = (h >= 18) | (h < 8)
    temp = np.where(night, night_c, day_c)
    wet = np.zeros(24, bool)
    wet[(20 + np.arange(wet_hours)) % 24] = True
    return temp, np.where(wet, WET_RH, DRY_RH)


def run_week(params: Params, cases: list[tuple[int, float]]) -> DayResult:
    model = Agronomy(house(len(cases)), params)
    for d in range(7):
        temp, rh = (np.stack(x) for x in zip(*(day_of(w, c) for w, c in cases), strict=True))
        r = model.day(hours(temp, rh=rh, start_ms=APRIL_20 + d * DAY_MS))
    return r


def test_yunis_outbreak_rule_at_its_edges(params: Params) -> None:
    gm = params.grey_mould
    assert (gm.wet_h_per_day, gm.night_h_per_day, gm.night_min_c, gm.night_max_c) == (7.0, 9.5, 9.0, 21.0)
    assert (gm.night_from_h, gm.night_to_h, gm.days) == (18, 8, 7)
    cases = [
        (8, 15.0),  # wet 8 h a day, a 14-hour night at 15 °C: both conditions, an outbreak
        (7, 15.0),  # wet exactly 7 h: not "more than 7"
        (8, 5.0),  # wet enough, but nights below 9 °C
        (8, 21.0),  # 21 °C is still inside 9-21
        (8, 22.0),  # and 22 °C is not
        (0, 15.0),  # dry leaves, mild nights
    ]
    r = run_week(params, cases).grey_mould
    assert r.risk.tolist() == [Risk.HIGH, Risk.NONE, Risk.MODERATE, Risk.HIGH, Risk.MODERATE, Risk.NONE]
    assert r.wet_mean.tolist() == [8.0, 7.0, 8.0, 8.0, 8.0, 0.0]
    assert r.night_mean.tolist() == [14.0, 14.0, 0.0, 14.0, 0.0, 14.0]


def test_the_night_hours_must_exceed_nine_and_a_half(params: Params) -> None:
    # 10 of the 14 night hours at 15 °C (the rest at 5 °C) is enough; 9 is not
    model = Agronomy(house(2), params)
    for d in range(7):
        temp, rh = (np.stack(x) for x in zip(day_of(8, 5.0), day_of(8, 5.0), strict=True))
        temp[0, 18:24], temp[0, 0:4] = 15.0, 15.0  # 10 mild hours
        temp[1, 18:24], temp[1, 0:3] = 15.0, 15.0  # 9
        r = model.day(hours(temp, rh=rh, start_ms=APRIL_20 + d * DAY_MS)).grey_mould
    assert r.night_mean.tolist() == [10.0, 9.0]
    assert r.risk.tolist() == [Risk.HIGH, Risk.MODERATE]


def test_a_week_with_too_few_days_is_unknown_and_no_sensor_is_no_data(params: Params) -> None:
    sites = [*house(2), *house(1, humidity=False), *house(1, crop="apple")]
    model = Agronomy(sites, params)
    for d in range(7):
        temp, rh = (np.stack(x) for x in zip(*[day_of(8, 15.0)] * 4, strict=True))
        if d < 3:
            temp[1, :] = np.nan  # site 1: three days without readings, four left of seven
        r = model.day(hours(temp, rh=rh, start_ms=APRIL_20 + d * DAY_MS)).grey_mould
    assert r.risk.tolist() == [Risk.HIGH, Risk.UNKNOWN, Risk.NO_DATA, Risk.NONE]


# Cohen (1977): (wet hours, the least temperature that infects, the optimum band)
COHEN = [(2, 20.0, (20.0, 20.0)), (6, 10.0, (15.0, 20.0)), (12, 5.0, (10.0, 20.0)), (24, 5.0, (5.0, 20.0))]


def test_the_table_is_cohens(params: Params) -> None:
    assert [(h, lo, (a, b)) for h, lo, a, b in params.downy_mildew.table] == COHEN
    assert params.downy_mildew.max_c == 25.0


def downy_after(params: Params, wet_hours: int, temp_c: float) -> tuple[int, float]:
    """One wet period of `wet_hours` at `temp_c` from 06:00 (into the next day when long)."""
    model = Agronomy(house(1), params)
    rh = np.full(48, DRY_RH)
    rh[6 : 6 + wet_hours] = WET_RH
    temp = np.full(48, temp_c)
    best = (0, 0.0)
    for d in range(2):
        r = model.day(hours(temp[None, d * 24 : (d + 1) * 24], rh=rh[None, d * 24 : (d + 1) * 24],
                            start_ms=APRIL_20 + d * DAY_MS)).downy_mildew  # fmt: skip
        best = max(best, (int(r.risk[0]), float(r.wet_h[0])))
    return best


@pytest.mark.parametrize(("need", "least", "optimum"), COHEN)
def test_every_row_of_cohens_table(params: Params, need: int, least: float, optimum: tuple[float, float]) -> None:
    lo, hi = optimum
    assert downy_after(params, need - 1, lo)[0] < Risk.HIGH  # an hour short of the row: not its optimum
    assert downy_after(params, need, lo) == (Risk.HIGH, float(need))  # the optimum at the row's hours
    assert downy_after(params, need, hi)[0] == Risk.HIGH
    if least < lo:
        assert downy_after(params, need, least)[0] == Risk.MODERATE  # infects, not at the optimum
        assert downy_after(params, need, least - 1.0)[0] <= Risk.MODERATE
    assert downy_after(params, need, 24.0)[0] == Risk.MODERATE  # warm, still under 25 °C
    assert downy_after(params, need, 26.0)[0] == Risk.NONE  # above 25 °C: none at any duration


def test_too_short_or_too_cold_is_no_infection(params: Params) -> None:
    assert downy_after(params, 1, 20.0)[0] == Risk.NONE  # under the 2 h that is the least of all
    assert downy_after(params, 5, 12.0)[0] == Risk.NONE  # 12 °C needs 6 h
    assert downy_after(params, 11, 7.0)[0] == Risk.NONE  # 7 °C needs 12 h
    assert downy_after(params, 23, 4.0)[0] == Risk.NONE  # below 5 °C: none


def test_a_wet_night_over_midnight_is_one_period(params: Params) -> None:
    # wet 20:00-02:00 at 16 °C: 4 hours before midnight, 2 after; together 6 h, the 6-hour optimum
    model = Agronomy(house(1), params)
    rh1, rh2 = np.full((1, 24), DRY_RH), np.full((1, 24), DRY_RH)
    rh1[0, 20:] = WET_RH
    rh2[0, :2] = WET_RH
    t = np.full((1, 24), 16.0)
    first = model.day(hours(t, rh=rh1)).downy_mildew
    second = model.day(hours(t, rh=rh2, start_ms=APRIL_20 + DAY_MS)).downy_mildew
    assert first.risk[0] == Risk.NONE and first.wet_h[0] == 0.0  # 4 h at 16 °C: not yet
    assert (second.risk[0], second.wet_h[0], second.mean_c[0]) == (Risk.HIGH, 6.0, 16.0)


def test_a_gap_is_unknown_and_cucumber_only(params: Params) -> None:
    sites = [*house(1), *house(1, crop="tomato"), *house(1, humidity=False)]
    model = Agronomy(sites, params)
    t = np.full((3, 24), 16.0)
    t[0, 3:6] = np.nan
    r = model.day(hours(t, rh=np.full((3, 24), DRY_RH))).downy_mildew
    assert r.risk.tolist() == [Risk.UNKNOWN, Risk.NONE, Risk.NO_DATA]
