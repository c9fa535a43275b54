"""Strawberry powdery mildew against its source: the UC Davis (Gubler-Thomas) powdery mildew risk index.

UC Davis, "UC Davis Powdery Mildew Risk Index" (https://www.apsnet.org/edcenter/apsnetfeatures/Pages/
UCDavisRisk.aspx), its rules as Pessl Instruments documents them (http://docs.metos.at/Risk+model%3A+Gubler-
+Thomas): the index starts after three consecutive days with six or more consecutive hours in the range,
at 60 (each day 20 points); before that it reverts to 0 on a day that misses; once started, +20 for each
day with the six hours, -10 for each without, -10 for a day at the heat limit, within 0-100; 0-30 low,
40-60 moderate, above 60 high. The strawberry form (Pessl, Denzer 2008; WildEye's published rules):
15 <= T < 25 °C, heat 32 °C."""

from __future__ import annotations

import numpy as np

from agronomy.daily import Agronomy, SiteInfo
from agronomy.params import Params
from agronomy.risk import Risk
from tests.agronomy.conftest import APRIL_20, LAT, LON, hours

DAY_MS = 86_400_000
COOL = 12.0  # below the range: these hours never count


def day(run_h: int, at_c: float = 20.0, peak_c: float | None = None) -> np.ndarray:
    """A house's day: `run_h` consecutive hours at `at_c` from 10:00, `COOL` otherwise; `peak_c` at 20:00."""
    t = np.full(24, COOL)
    t[10 : 10 + run_h] = at_c
    if peak_c is not None:
        t[20] = peak_c
    return t


def run(params: Params, days: list[np.ndarray], crop: str = "strawberry") -> list[tuple[int, float]]:
    model = Agronomy([SiteInfo(crop, None, LAT, LON, False)], params)
    out = []
    for d, t in enumerate(days):
        r = model.day(hours(t[None, :], start_ms=APRIL_20 + d * DAY_MS)).powdery_mildew
        out.append((int(r.risk[0]), float(r.index[0])))
    return out


def test_the_strawberry_thresholds_are_the_published_ones(params: Params) -> None:
    pm = params.powdery_mildew
    assert (pm.min_c, pm.max_c, pm.run_h, pm.hot_c) == (15.0, 25.0, 6, 32.0)
    assert (pm.gain, pm.loss, pm.start_days, pm.low_max, pm.moderate_max) == (20.0, 10.0, 3, 30.0, 60.0)
    assert pm.crops == ["strawberry"]


def test_three_days_in_a_row_start_the_index_at_60_then_it_climbs_to_100(params: Params) -> None:
    got = run(params, [day(6)] * 7)
    assert [i for _, i in got] == [20, 40, 60, 80, 100, 100, 100]  # capped at 100
    assert [r for r, _ in got] == [Risk.LOW, Risk.LOW, Risk.MODERATE, Risk.HIGH, Risk.HIGH, Risk.HIGH, Risk.HIGH]


def test_a_missed_day_before_the_start_reverts_to_zero(params: Params) -> None:
    # five hours is one short; the streak begins again after it
    got = run(params, [day(6), day(6), day(5), day(6), day(6), day(6)])
    assert [i for _, i in got] == [20, 40, 0, 20, 40, 60]
    assert got[2][0] == Risk.NONE and got[5][0] == Risk.MODERATE


def test_after_the_start_a_day_without_the_hours_takes_10_and_the_index_holds_above_0(params: Params) -> None:
    got = run(params, [day(6)] * 3 + [day(0)] * 7 + [day(6)])
    assert [i for _, i in got] == [20, 40, 60, 50, 40, 30, 20, 10, 0, 0, 20]
    # UC Davis: 40-60 moderate, 0-30 low; once started the epidemic does not need three days again
    assert [r for r, _ in got][3:] == [Risk.MODERATE, Risk.MODERATE, Risk.LOW, Risk.LOW, Risk.LOW, Risk.LOW,
                                       Risk.LOW, Risk.LOW]  # fmt: skip


def test_a_day_at_32_c_loses_points_even_with_its_six_hours(params: Params) -> None:
    got = run(params, [day(6)] * 4 + [day(8, peak_c=32.0), day(8, peak_c=31.9)])
    assert [i for _, i in got] == [20, 40, 60, 80, 70, 90]


def test_the_range_is_15_up_to_but_not_including_25(params: Params) -> None:
    assert [i for _, i in run(params, [day(6, 15.0)] * 3)] == [20, 40, 60]
    assert [i for _, i in run(params, [day(6, 24.9)] * 3)] == [20, 40, 60]
    assert [i for _, i in run(params, [day(6, 25.0)] * 3)] == [0, 0, 0]
    assert [i for _, i in run(params, [day(6, 14.9)] * 3)] == [0, 0, 0]


def test_hours_must_be_consecutive(params: Params) -> None:
    t = np.full(24, COOL)
    t[[2, 3, 4, 10, 11, 12]] = 20.0  # six hours in range, but two runs of three
    assert run(params, [t] * 3) == [(Risk.NONE, 0.0)] * 3


def test_a_gap_in_readings_is_unknown_and_leaves_the_index_alone(params: Params) -> None:
    gap = np.full(24, np.nan)
    gap[:12] = COOL  # half a day of cool readings: the afternoon could have had the six hours
    found = day(6)
    found[18:] = np.nan  # readings missing, but the six hours were seen: the day counts
    got = run(params, [day(6)] * 3 + [gap, found])
    assert got[3] == (Risk.UNKNOWN, 60.0)
    assert got[4] == (Risk.HIGH, 80.0)


def test_other_crops_have_no_index(params: Params) -> None:
    got = run(params, [day(6)] * 4, crop="cucumber")
    assert all(r == Risk.NONE and np.isnan(i) for r, i in got)
