"""Marssonina apple blotch (苹果褐斑病) against Lian S. et al. (2021), Plant Disease, "Effects of temperature
and moisture on conidia germination, infection, and acervulus formation of the apple Marssonina leaf
blotch pathogen (Diplocarpon mali) in China": the least leaf wetness for infection is 14, 8, 4 and 6 h
at 10, 15, 20 and 25 °C; infection from 5 to 30 °C."""

from __future__ import annotations

import numpy as np
import pytest

from agronomy.daily import Agronomy
from agronomy.params import Params
from agronomy.risk import Risk
from tests.agronomy.conftest import APRIL_20, hours, orchard

DAY_MS = 86_400_000
JUNE_20 = APRIL_20 + 61 * DAY_MS
LIAN_2021 = [(10.0, 14.0), (15.0, 8.0), (20.0, 4.0), (25.0, 6.0)]


def after(params: Params, wet_hours: int, temp_c: float, start_ms: int = JUNE_20, crop: str = "apple") -> int:
    """The risk of one wet period of `wet_hours` at `temp_c` from 05:00 (into the next day when long)."""
    model = Agronomy(orchard(1, stage=None, crop=crop), params)
    rh = np.full(48, 60.0)
    rh[5 : 5 + wet_hours] = 97.0
    temp = np.full(48, temp_c)
    return max(
        int(model.day(hours(temp[None, d * 24 : (d + 1) * 24], rh=rh[None, d * 24 : (d + 1) * 24],
                            start_ms=start_ms + d * DAY_MS)).marssonina.risk[0])
        for d in range(2)
    )  # fmt: skip


def test_the_table_is_the_papers(params: Params) -> None:
    assert list(params.marssonina.table) == LIAN_2021
    assert (params.marssonina.min_c, params.marssonina.max_c) == (5.0, 30.0)


@pytest.mark.parametrize(("temp_c", "least"), LIAN_2021)
def test_every_row_infects_at_its_hours_not_an_hour_before(params: Params, temp_c: float, least: float) -> None:
    n = int(least)
    assert after(params, n - 1, temp_c) == Risk.NONE
    assert after(params, n, temp_c) == Risk.MODERATE
    assert after(params, 2 * n, temp_c) == Risk.HIGH  # twice the hours: our high


def test_between_rows_and_beyond_the_ends(params: Params) -> None:
    assert (after(params, 5, 17.5), after(params, 6, 17.5)) == (Risk.NONE, Risk.MODERATE)  # 6 h between 8 and 4
    assert after(params, 6, 28.0) == Risk.MODERATE  # 25 °C's 6 h held to 30 °C
    assert after(params, 14, 7.0) == Risk.MODERATE  # 10 °C's 14 h held down to 5 °C
    assert after(params, 24, 31.0) == Risk.NONE  # above 30 °C: none
    assert after(params, 24, 4.0) == Risk.NONE  # below 5 °C: none


def test_only_apple_in_the_rainy_season_and_with_a_humidity_sensor(params: Params) -> None:
    assert after(params, 10, 20.0, start_ms=APRIL_20) == Risk.NONE  # April: outside May-September
    assert after(params, 10, 20.0, crop="pear") == Risk.NONE
    model = Agronomy(orchard(2, stage=None, humidity=False) + orchard(1, stage=None), params)
    t = np.full((3, 24), 20.0)
    t[2, 3:7] = np.nan
    got = model.day(hours(t, rh=np.full((3, 24), 60.0), start_ms=JUNE_20)).marssonina.risk.tolist()
    assert got == [Risk.NO_DATA, Risk.NO_DATA, Risk.UNKNOWN]
