"""Crop coefficients, soil water and the daily root-zone balance against FAO-56 (Allen et al. 1998):
Table 12 (Kc), eq. 62 (climate adjustment), Table 19 (soil water), Table 22 (p, root depth), eqs. 82-85;
greenhouse ET0 by Fernández et al. (2010)."""

from __future__ import annotations

import numpy as np
import pytest

from agronomy.et0 import daily_pm
from agronomy.water import Balance, climate_adjusted, greenhouse_et0, kc, ks, load_water, p_adjusted, raw, taw

W = load_water()

# FAO-56 Table 12: (Kc ini, Kc mid, Kc end range, maximum height m)
TABLE_12 = {
    "apple": (0.50, 1.20, (0.95, 0.95), 4.0),  # apples/cherries/pears, active ground cover, killing frost
    "tomato": (0.60, 1.15, (0.70, 0.90), 0.6),
    "cucumber": (0.60, 1.00, (0.75, 0.75), 0.3),
    "pepper": (0.60, 1.05, (0.90, 0.90), 0.7),  # sweet (bell)
    "strawberry": (0.40, 0.85, (0.75, 0.75), 0.2),
}
# FAO-56 Table 19: θFC and θWP ranges (m3 m-3)
TABLE_19 = {
    "sand": ((0.07, 0.17), (0.02, 0.07)),
    "loamy_sand": ((0.11, 0.19), (0.03, 0.10)),
    "sandy_loam": ((0.18, 0.28), (0.06, 0.16)),
    "loam": ((0.20, 0.30), (0.07, 0.17)),
    "silt_loam": ((0.22, 0.36), (0.09, 0.21)),
    "silt": ((0.28, 0.36), (0.12, 0.22)),
    "silty_clay_loam": ((0.30, 0.37), (0.17, 0.24)),
    "silty_clay": ((0.30, 0.42), (0.17, 0.29)),
    "clay": ((0.32, 0.40), (0.20, 0.24)),
}
# FAO-56 Table 22: p and the maximum root depth range (m)
TABLE_22 = {"apple": (0.50, (1.0, 2.0)), "tomato": (0.40, (0.7, 1.5)), "cucumber": (0.50, (0.7, 1.2)),
            "pepper": (0.30, (0.5, 1.0)), "strawberry": (0.20, (0.2, 0.3))}  # fmt: skip


def test_kc_are_table_12() -> None:
    for crop, (ini, mid, (end_lo, end_hi), h) in TABLE_12.items():
        c = W.kc[crop]
        assert (c.ini, c.mid, c.height_m) == (ini, mid, h), crop
        assert end_lo <= c.end <= end_hi, crop
    assert W.kc["pear"] == W.kc["apple"]  # one row of the table


def test_soils_are_the_middle_of_table_19_and_depletion_is_table_22() -> None:
    for soil, ((fc_lo, fc_hi), (wp_lo, wp_hi)) in TABLE_19.items():
        s = W.soil[soil]
        assert (s.fc, s.wp) == pytest.approx(((fc_lo + fc_hi) / 2, (wp_lo + wp_hi) / 2), abs=0.0051), soil
    for crop, (p, (lo, hi)) in TABLE_22.items():
        assert W.depletion[crop].p == p and W.depletion[crop].root_m == pytest.approx((lo + hi) / 2), crop


def test_climate_adjustment_eq_62_worked_by_hand() -> None:
    # tomato Kc mid 1.15 in a windy dry place: u2 3 m/s, RHmin 30 %, h 0.6 m
    # 1.15 + [0.04 (3 − 2) − 0.004 (30 − 45)] (0.6 / 3)^0.3 = 1.15 + 0.10 × 0.6170 = 1.2117
    assert climate_adjusted(1.15, 3.0, 30.0, 0.6) == pytest.approx(1.2117, abs=1e-4)
    assert climate_adjusted(1.15, 2.0, 45.0, 0.6) == pytest.approx(1.15)  # the standard climate: unchanged
    assert climate_adjusted(1.15, 9.0, 5.0, 0.6) == climate_adjusted(1.15, 6.0, 20.0, 0.6)  # held to its range


def test_kc_by_stage() -> None:
    assert kc(W, "apple", "dormant") == 0.50
    assert kc(W, "apple", "full_bloom") == pytest.approx(1.20)
    assert kc(W, "apple", "tight_cluster") == pytest.approx((0.50 + 1.20) / 2)  # development: the mean
    assert kc(W, "tomato", "harvest", u2=3.0, rh_min=30.0) == pytest.approx(0.80 + 0.10 * 0.2**0.3)
    assert kc(W, "apple", None) is None and kc(W, "rice", "fruiting") is None


def test_taw_raw_ks_eqs_82_to_84() -> None:
    # silt loam (0.29 / 0.15) under apple roots of 1.5 m: TAW = 1000 × 0.14 × 1.5 = 210 mm; at ETc 5 mm
    # p stays 0.5, RAW 105 mm; at ETc 7 mm p = 0.5 + 0.04 × (5 − 7) = 0.42
    total = taw(0.29, 0.15, 1.5)
    assert total == pytest.approx(210.0)
    assert raw(total, p_adjusted(0.5, 5.0)) == pytest.approx(105.0)
    assert p_adjusted(0.5, 7.0) == pytest.approx(0.42)
    assert ks([100.0, 105.0, 157.5, 210.0, 250.0], total, 0.5).tolist() == pytest.approx([1.0, 1.0, 0.5, 0.0, 0.0])


def balance(dr: float = 0.0) -> Balance:
    return Balance(np.array([0.29]), np.array([0.15]), np.array([1.5]), np.array([0.5]), np.array([dr]))


def test_a_dry_spell_depletes_at_etc_until_raw_then_slower() -> None:
    b, etc = balance(), np.array([5.0])
    seen = []
    for _ in range(30):
        k, _, _ = b.day(etc, np.array([0.0]), np.array([0.0]))
        seen.append((float(b.dr[0]), float(k[0])))
    assert seen[20] == pytest.approx((105.0, 1.0))  # 21 days × 5 mm: just at RAW, no stress yet
    assert seen[21] == pytest.approx((110.0, 1.0))  # the 22nd day starts at RAW: still unstressed
    assert seen[22][1] < 1.0 and seen[22][0] - seen[21][0] < 5.0  # beyond RAW the crop uses less
    assert all(d <= 210.0 for d, _ in seen)


def test_rain_refills_and_the_excess_drains() -> None:
    b = balance(dr=30.0)
    _, drained, _ = b.day(np.array([4.0]), np.array([50.0]), np.array([0.0]))
    assert b.dr[0] == 0.0 and drained[0] == pytest.approx(50.0 - 30.0 - 4.0)


def test_a_healthy_probe_pulls_the_model_and_a_missing_one_does_not() -> None:
    b = Balance(np.full(2, 0.29), np.full(2, 0.15), np.full(2, 1.5), np.full(2, 0.5), np.full(2, 40.0))
    # the probe reads 0.25 m3/m3: 1000 × (0.29 − 0.25) × 1.5 = 60 mm depleted; the model says 40 + 5
    b.day(np.full(2, 5.0), np.zeros(2), np.zeros(2), probe_vwc=np.array([0.25, np.nan]))
    assert b.dr.tolist() == pytest.approx([45.0 + 0.5 * (60.0 - 45.0), 45.0])


def test_greenhouse_et0_is_the_inside_climate_under_the_film() -> None:
    # Fernández et al. (2010): ra fixed at 150 s/m, i.e. u2 = 208 / 150; radiation × the film's transmittance
    args = (28.0, 12.0, 1.3, 20.0, 1000.0, 37.45, 140)
    inside = greenhouse_et0(*args, W.greenhouse)
    assert inside == pytest.approx(daily_pm(28.0, 12.0, 1.3, 20.0 * 0.65, 208 / 150, 1000.0, 37.45, 140))
    assert 0.4 < inside / daily_pm(*args[:4], 2.0, *args[4:]) < 0.9  # less than outside on the same air
