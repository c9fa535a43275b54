"""The root-zone balance run day by day by the models: which ET0 method each block gets, the advice as
the soil dries (later, within 2 days, now — refill N mm ≈ H hours of drip), rain, the film and a probe."""

from __future__ import annotations

import numpy as np
import pytest

from agronomy.daily import Agronomy, SiteInfo, WaterSite
from agronomy.params import Params
from agronomy.risk import Risk
from agronomy.water import ks, load_water, p_adjusted
from tests.agronomy.conftest import APRIL_20, LAT, LON, hours

DAY_MS = 86_400_000
W = load_water()
APPLE = WaterSite(fc=0.29, wp=0.15, root_m=1.5, p=0.5, drip_mm_h=0.67, greenhouse=False)
HOUSE = WaterSite(fc=0.25, wp=0.12, root_m=1.1, p=0.4, drip_mm_h=5.0, greenhouse=True)


def sites() -> list[SiteInfo]:
    return [
        SiteInfo("apple", "full_bloom", LAT, LON, True, APPLE),  # temperature and RH
        SiteInfo("apple", "full_bloom", LAT, LON, True, APPLE),  # temperature only
        SiteInfo("tomato", "fruiting", LAT, LON, True, HOUSE),
        SiteInfo("apple", "full_bloom", LAT, LON, True),  # no irrigation config: no balance
    ]


def warm_day(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    t = np.tile(18 + 8 * np.sin(2 * np.pi * (np.arange(24) - 9) / 24), (n, 1))
    rh = np.tile(55 - 20 * np.sin(2 * np.pi * (np.arange(24) - 9) / 24), (n, 1))
    rh[1] = np.nan
    return t, rh


def test_each_block_gets_its_method_and_the_advice_moves_from_later_to_now(params: Params) -> None:
    model = Agronomy(sites(), params, W)
    seen = []
    for d in range(40):
        t, rh = warm_day()
        r = model.day(hours(t, rh=rh, start_ms=APRIL_20 + d * DAY_MS)).water
        assert r is not None
        seen.append(r)
    first = seen[0]
    assert first.method.tolist() == [0, 1, 2, -1]  # Penman-Monteith, Hargreaves, under the film, none
    assert first.risk[3] == Risk.NONE and np.isnan(first.et0[3])
    assert 2.0 < first.et0[0] < 7.0 and first.et0[2] < first.et0[0]  # a house uses less than the open air
    apple = [(int(r.risk[0]), float(r.days_left[0]), float(r.dr[0]), float(r.raw[0]), float(r.etc[0])) for r in seen]
    assert apple[0][0] == Risk.LOW and apple[0][1] > 2
    now = next(i for i, a in enumerate(apple) if a[0] == Risk.HIGH)
    # less than a day's water use from RAW: irrigate now
    assert apple[now][2] + apple[now][4] > apple[now][3] and apple[now][1] == 0
    assert apple[now - 1][0] == Risk.MODERATE  # the day before, within 2 days
    last = seen[now]
    assert last.need_mm[0] == pytest.approx(last.dr[0]) and last.hours[0] == pytest.approx(last.dr[0] / 0.67)
    # the tomato house's ETc is Kc mid 1.15 adjusted for its RHmin of 35 % (eq. 62): + 0.004 × 10 × (0.6 / 3)^0.3
    assert seen[5].etc[2] / seen[5].et0[2] == pytest.approx(1.15 + 0.04 * 0.2**0.3)


def test_rain_refills_an_orchard_not_a_house_and_a_probe_corrects(params: Params) -> None:
    model = Agronomy(sites()[:1] + sites()[2:3], params, W)
    for d in range(10):
        t, rh = warm_day(2)
        model.day(hours(t, rh=rh, start_ms=APRIL_20 + d * DAY_MS))
    before = model.balance.dr.copy()
    t, rh = warm_day(2)
    h = hours(t, rh=rh, start_ms=APRIL_20 + 10 * DAY_MS)
    h.rain_mm = np.full((2, 24), 5.0)  # 120 mm of rain
    model.day(h)
    assert model.balance.dr[0] == 0.0 and model.balance.dr[1] > before[1]
    # a probe at field capacity in the house pulls its depletion halfway to 0
    h = hours(t, rh=rh, start_ms=APRIL_20 + 11 * DAY_MS)
    h.soil_vwc_pct = np.full((2, 24), np.nan)
    h.soil_vwc_pct[1] = 25.0
    dr = model.balance.dr.copy()
    r = model.day(h).water
    assert r is not None
    stress = ks(dr[1], model.balance.taw[1], p_adjusted(0.4, r.etc[1]))  # the day ran at Ks of its start
    assert model.balance.dr[1] == pytest.approx((dr[1] + r.etc[1] * stress) / 2, rel=1e-6)
