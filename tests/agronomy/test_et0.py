"""Reference evapotranspiration against FAO-56's worked examples (Allen et al. 1998, FAO Irrigation and
Drainage Paper 56, chapter 4) and against refet (WSWUP's ASCE standardized reference ET) on a year of the
twin's weather."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import refet

from agronomy import et0
from sensors_sim.weather import Weather


def test_example_17_monthly_bangkok_april() -> None:
    # 13°44'N, 2 m; April: Tmax 34.8, Tmin 25.6 °C, ea 2.85 kPa, u2 2 m/s, 8.5 h of sunshine; G = 0.14
    # (March 29.2 °C, April 30.2 °C). FAO-56: Ra 38.06, Rs 22.65 MJ m-2 day-1, ETo 5.72 mm/day.
    lat, doy = 13 + 44 / 60, 105
    assert et0.ra_daily(lat, doy) == pytest.approx(38.06, abs=0.01)
    rs = et0.rs_from_sunshine(8.5, lat, doy)
    assert rs == pytest.approx(22.65, abs=0.01)
    assert et0.daily_pm(34.8, 25.6, 2.85, rs, 2.0, 2, lat, doy, g=0.14) == pytest.approx(5.72, abs=0.1)


def test_example_18_daily_brussels_6_july() -> None:
    # 50°48'N, 100 m; 6 July: Tmax 21.5, Tmin 12.3 °C, RHmax 84 %, RHmin 63 %, wind 10 km/h at 10 m,
    # 9.25 h of sunshine. FAO-56: u2 2.078, ea 1.409 kPa, Ra 41.09, N 16.1 h, Rs 22.07, ETo 3.9 mm/day.
    lat, doy = 50 + 48 / 60, 187
    u2 = et0.wind_2m(10 / 3.6, 10.0)
    ea = et0.ea_from_rh(12.3, 21.5, 63, 84)
    assert (float(u2), float(ea)) == pytest.approx((2.078, 1.409), abs=0.001)
    assert et0.ra_daily(lat, doy) == pytest.approx(41.09, abs=0.01)
    assert et0.daylight_hours(lat, doy) == pytest.approx(16.1, abs=0.05)
    rs = et0.rs_from_sunshine(9.25, lat, doy)
    assert rs == pytest.approx(22.07, abs=0.01)
    assert et0.daily_pm(21.5, 12.3, ea, rs, u2, 100, lat, doy) == pytest.approx(3.9, abs=0.1)


def test_example_19_hourly_ndiaye_1_october() -> None:
    # 16°13'N, 16°15'W (time zone centre 15°W), 8 m; 1 October. 14-15 h: 38 °C, RH 52 %, u2 3.3 m/s,
    # Rs 2.450 MJ m-2 h-1 → Ra 3.543, ETo 0.63 mm/hour. 02-03 h: 28 °C, RH 90 %, u2 1.9, Rs 0 → ETo 0.0.
    lat, lon, lz, doy = 16 + 13 / 60, -(16 + 15 / 60), -15.0, 274
    ra = et0.ra_hourly(lat, lon, lz, doy, 14.5)
    assert ra == pytest.approx(3.543, abs=0.005)
    assert et0.hourly_pm(38.0, 52.0, 2.450, 3.3, 8, ra) == pytest.approx(0.63, abs=0.01)
    night = et0.ra_hourly(lat, lon, lz, doy, 2.5)
    assert night == 0.0
    assert et0.hourly_pm(28.0, 90.0, 0.0, 1.9, 8, night) == pytest.approx(0.0, abs=0.01)


def test_hargreaves_worked_by_hand() -> None:
    # FAO-56 gives eq. 52 without a worked example: on Example 18's day (Ra 41.09 MJ m-2 = 16.76 mm),
    # 0.0023 × (16.9 + 17.8) × √9.2 × 16.76 = 4.06 mm/day (PM gave 3.9: Hargreaves runs high in humid air)
    ra = et0.ra_daily(50 + 48 / 60, 187)
    assert et0.hargreaves(21.5, 12.3, ra) == pytest.approx(0.0023 * 34.7 * 9.2**0.5 * 41.09 * 0.408, abs=0.01)
    assert et0.hargreaves(21.5, 12.3, ra) == pytest.approx(4.06, abs=0.01)
    assert et0.hargreaves(10.0, 12.0, ra) == 0.0  # a max under the min gives no range, not a NaN


def twin_year(lat: float, lon: float) -> dict[str, np.ndarray]:
    """A year of the twin's outdoor weather at 李家河村, hourly, aggregated to days."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() - 8 * 3600
    t = start + 1800 + 3600 * np.arange(365 * 24, dtype=np.float64)
    w = Weather(lat, lon, seed=7).at(t)
    per_day = {k: w[k].reshape(365, 24) for k in ("temp_c", "rh_pct", "ghi", "wind_m_s")}
    return {
        "tmax": per_day["temp_c"].max(axis=1),
        "tmin": per_day["temp_c"].min(axis=1),
        "rh_max": per_day["rh_pct"].max(axis=1),
        "rh_min": per_day["rh_pct"].min(axis=1),
        "rs": per_day["ghi"].sum(axis=1) * 3600 / 1e6,  # W m-2 over hours → MJ m-2 day-1
        "u2": per_day["wind_m_s"].mean(axis=1),
        "doy": np.arange(1, 366),
    }


def test_a_year_of_the_twins_weather_matches_refet_within_two_percent() -> None:
    lat, lon, z = 37.45, 110.7, 1000.0
    y = twin_year(lat, lon)
    ea = et0.ea_from_rh(y["tmin"], y["tmax"], y["rh_min"], y["rh_max"])
    ours = et0.daily_pm(y["tmax"], y["tmin"], ea, y["rs"], y["u2"], z, lat, y["doy"])
    theirs = refet.Daily(tmin=y["tmin"], tmax=y["tmax"], ea=ea, rs=y["rs"], uz=y["u2"], zw=2.0, elev=z, lat=lat,
                         doy=y["doy"], method="asce", rso_type="simple").eto()  # fmt: skip
    assert 600 < ours.sum() < 1300  # a semi-arid loess year: plausible, and not zero
    assert ours.sum() == pytest.approx(theirs.sum(), rel=0.005)
    wet = theirs > 0.5  # relative differences on days of almost no ET0 say nothing
    assert np.max(np.abs(ours[wet] / theirs[wet] - 1)) < 0.02
