"""Apple scab: every row of the revised Mills table (MacHardy & Gadoury 1989, Phytopathology 79:304-310,
as reprinted by WVU Kearneysville, "Mills Table - approximate wetting period required for leaf infection
by ascospores"), the severity classes, the 8-hour dry-gap rule and the count-from-sunrise rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agronomy.daily import Agronomy
from agronomy.params import Params
from agronomy.risk import Risk
from agronomy.scab import f_to_c, light_hours
from tests.agronomy.conftest import APRIL_20, hours, orchard

# the published table, typed again here from the reprint so the test does not read the TOML it checks
REVISED_MILLS_F = [(34, 41), (36, 35), (37, 30), (39, 28), (41, 21), (43, 18), (45, 15), (46, 13), (48, 12),
                   (50, 11), (52, 9), (54, 8), (55, 8), (57, 7), (59, 7), (61, 6), (65, 6), (70, 6), (75, 6),
                   (77, 8), (79, 11)]  # fmt: skip
DAYS = 5
START_HOUR = 8  # a daytime wetting: counted from its first hour


def wet_for(n_hours: list[int], temps_c: list[float]) -> list:
    """One site per case: wet from 08:00 on day one for n hours at a constant temperature, dry after."""
    k = len(n_hours)
    leaf = np.zeros((k, DAYS * 24))
    for i, n in enumerate(n_hours):
        leaf[i, START_HOUR : START_HOUR + n] = 100.0
    temp = np.repeat(np.asarray(temps_c, dtype=np.float64)[:, None], DAYS * 24, axis=1)
    day = [slice(d * 24, (d + 1) * 24) for d in range(DAYS)]
    return [hours(temp[:, s], leaf=leaf[:, s], start_ms=APRIL_20 + d * 86_400_000) for d, s in enumerate(day)]


def worst(params: Params, n_hours: list[int], temps_c: list[float]) -> list[int]:
    model = Agronomy(orchard(len(n_hours)), params)
    days = [model.day(h).scab.risk for h in wet_for(n_hours, temps_c)]
    return np.max(np.stack(days), axis=0).tolist()


def test_the_table_is_the_published_one(params: Params) -> None:
    for f, h in REVISED_MILLS_F:
        assert light_hours(f_to_c(f), params.scab) == pytest.approx(h), f
    assert math.isinf(float(light_hours(f_to_c(33), params.scab)))  # below the table: no infection
    assert math.isinf(float(light_hours(f_to_c(80), params.scab)))  # "infection is rare above 26 °C"


@pytest.mark.parametrize(("temp_f", "need"), REVISED_MILLS_F)
def test_every_row_needs_its_hours_for_a_light_infection(params: Params, temp_f: int, need: int) -> None:
    t = float(f_to_c(temp_f))
    assert worst(params, [need - 1, need], [t, t]) == [Risk.NONE, Risk.LOW]


@pytest.mark.parametrize(("temp_f", "need"), REVISED_MILLS_F[::4])
def test_moderate_and_severe_need_four_thirds_and_twice_the_hours(params: Params, temp_f: int, need: int) -> None:
    t = float(f_to_c(temp_f))
    moderate, severe = math.ceil(need * params.scab.moderate_factor), math.ceil(need * params.scab.severe_factor)
    got = worst(params, [moderate - 1, moderate, severe - 1, severe], [t] * 4)
    assert got == [Risk.LOW, Risk.MODERATE, Risk.MODERATE, Risk.HIGH]


def test_wet_hours_add_up_across_dry_spells_shorter_than_eight_hours(params: Params) -> None:
    t = float(f_to_c(50))  # 11 h
    model = Agronomy(orchard(2), params)
    leaf = np.zeros((2, 48))
    leaf[:, 8:14] = 100.0  # 6 wet hours
    leaf[0, 21:26] = 100.0  # after 7 dry hours: 5 more (over midnight), 11 in all
    leaf[1, 22:27] = 100.0  # after 8 dry hours: a new period, begun at night, so none of it counts
    temp = np.full((2, 48), t)
    day1 = model.day(hours(temp[:, :24], leaf=leaf[:, :24]))
    day2 = model.day(hours(temp[:, 24:], leaf=leaf[:, 24:], start_ms=APRIL_20 + 86_400_000))
    assert day1.scab.risk.tolist() == [Risk.NONE, Risk.NONE]
    assert day2.scab.risk.tolist() == [Risk.LOW, Risk.NONE]  # the period carried over midnight
    assert day2.scab.wet_h[0] == 11 and day2.scab.mean_c[0] == pytest.approx(t)


def test_a_wetting_that_begins_at_night_counts_from_sunrise(params: Params) -> None:
    t = float(f_to_c(65))  # 6 h
    model = Agronomy(orchard(2), params)
    leaf = np.zeros((2, 24))
    leaf[0, 1:10] = 100.0  # 01:00-10:00: wet 9 h, but only 06:00-10:00 (4 h) count
    leaf[1, 1:12] = 100.0  # until 12:00: 6 daylight hours
    got = model.day(hours(np.full((2, 24), t), leaf=leaf))
    assert got.scab.risk.tolist() == [Risk.NONE, Risk.LOW]
    assert got.scab.wet_h[1] == 6
