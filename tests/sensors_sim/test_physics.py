"""Physical sense of the twin over a day and a season (true state, before sensors)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from qingyubiao.config import Config
from qingyubiao.sun import elevation_deg
from sensors_sim.physics import Trace, trace
from sensors_sim.scenario import load, parse
from sensors_sim.weather import Weather

TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


@pytest.fixture(scope="module")
def clear_april_day(lijiahe: Config) -> Trace:
    sc = parse({"start": "2026-04-22T00:00", "hours": 24, "weather": {"sky": "clear"}}, "clear")
    return trace(lijiahe, sc.start_s, 24, seed=3, scenario=sc)


@pytest.fixture(scope="module")
def spring_fortnight(lijiahe: Config) -> Trace:
    return trace(lijiahe, at("2026-03-20T00:00"), 14 * 24, seed=4)


def test_greenhouse_air_peaks_after_solar_noon(clear_april_day: Trace) -> None:
    tr = clear_april_day
    gh_air = np.stack([tr.site(g, "air_temp_c") for g in tr.greenhouses], axis=1)
    day = slice(0, len(tr.t_s))
    solar_noon = tr.t_s[day][np.argmax(tr.outdoor["elevation"][day])]
    peaks = tr.t_s[np.argmax(gh_air, axis=0)]
    assert np.median(peaks) > solar_noon + 1800, "the houses' air should peak well after solar noon"
    # and the outside air peaks mid-afternoon too
    assert tr.t_s[np.argmax(tr.outdoor["temp_c"])] > solar_noon + 3600


def test_quilt_down_keeps_the_house_warmer_than_outside_at_night(clear_april_day: Trace) -> None:
    tr = clear_april_day
    night = tr.outdoor["elevation"] < -6.0
    assert night.sum() > 300
    gh_air = np.stack([tr.site(g, "air_temp_c") for g in tr.greenhouses], axis=1)
    covered = night[:, None] & tr.quilt_down
    assert covered.sum() > 0.9 * night.sum() * len(tr.greenhouses), "quilts should be down on an April night"
    excess = gh_air - tr.outdoor["temp_c"][:, None]
    assert excess[covered].min() > 5.0
    # the quilt is up by day: it was rolled up in the morning and down in the afternoon
    noon = np.argmax(tr.outdoor["elevation"])
    assert not tr.quilt_down[noon].any()
    assert tr.quilt_down[0].all() and tr.quilt_down[-1].all()


def test_houses_differ_from_each_other(clear_april_day: Trace) -> None:
    tr = clear_april_day
    night_min = np.array([tr.site(g, "air_temp_c").min() for g in tr.greenhouses])
    day_max = np.array([tr.site(g, "air_temp_c").max() for g in tr.greenhouses])
    assert night_min.std() > 0.2 and day_max.std() > 0.2


def test_stuck_closed_vent_on_a_sunny_day_exceeds_35c(lijiahe: Config) -> None:
    sc = load("heat-noon")
    tr = trace(lijiahe, sc.start_s, sc.hours, seed=1, scenario=sc)
    assert tr.site("gh03", "air_temp_c").max() > 35.0
    others = [tr.site(g, "air_temp_c").max() for g in tr.greenhouses if g != "gh03"]
    assert max(others) < 32.0, "houses with working vents stay cooler"
    assert tr.vent[:, tr.greenhouses.index("gh03")].max() == 0.0


def test_frost_night_drives_the_canopy_below_zero_before_dawn(lijiahe: Config) -> None:
    sc = load("frost-night")
    tr = trace(lijiahe, sc.start_s, sc.hours, seed=1, scenario=sc)
    predawn = (tr.t_s > at("2026-04-11T00:00")) & (tr.outdoor["elevation"] < 0) & (tr.t_s < at("2026-04-11T08:00"))
    canopy = tr.site("or01", "air_temp_c")[predawn]
    assert canopy.min() < 0.0
    assert tr.outdoor["temp_c"][predawn].min() == pytest.approx(-3.0, abs=1.0)
    # the canopy radiates below the screen air on a clear, calm night
    assert (canopy < tr.outdoor["temp_c"][predawn]).all()
    # while the greenhouses stay frost-free under their quilts
    assert min(tr.site(g, "air_temp_c")[predawn].min() for g in tr.greenhouses) > 5.0


def test_soil_moisture_falls_between_irrigations_and_stays_in_range(spring_fortnight: Trace) -> None:
    tr = spring_fortnight
    for g in tr.greenhouses:
        vwc = tr.site(g, "soil_vwc_pct")
        assert vwc.min() >= 0.0 and vwc.max() <= 100.0
        step = np.diff(vwc)
        jumps = step > 3.0
        assert 2 <= jumps.sum() <= 8, f"{g}: irrigations in a fortnight"
        assert (step[~jumps] <= 1e-9).all(), f"{g}: soil water only rises on irrigation"
        assert vwc[-1] < vwc[np.flatnonzero(jumps)[-1] + 1], f"{g}: it falls after the last irrigation"
    for o in tr.orchards:
        vwc = tr.site(o, "soil_vwc_pct")
        assert vwc.min() >= 0.0 and vwc.max() <= 100.0


def test_humidity_stays_in_range_and_is_higher_at_night(spring_fortnight: Trace) -> None:
    tr = spring_fortnight
    rh = tr.values[:, 1, :]
    assert rh.min() >= 0.0 and rh.max() <= 100.0
    night = tr.outdoor["elevation"] < -6
    gh_rh = np.stack([tr.site(g, "air_rh_pct") for g in tr.greenhouses], axis=1)
    assert gh_rh[night].mean() > gh_rh[~night].mean()
    assert tr.outdoor["rh_pct"].min() >= 0.0 and tr.outdoor["rh_pct"].max() <= 100.0


def test_seasons_summer_hot_winter_cold(lijiahe: Config) -> None:
    jan = trace(lijiahe, at("2026-01-15T00:00"), 24, seed=5)
    jul = trace(lijiahe, at("2026-07-15T00:00"), 24, seed=5)
    assert jul.outdoor["temp_c"].mean() - jan.outdoor["temp_c"].mean() > 20.0
    assert jul.outdoor["ghi"].max() > 1.5 * jan.outdoor["ghi"].max()
    assert jan.outdoor["temp_c"].min() < -5.0
    # a solar greenhouse keeps its winter nights well above freezing
    night = jan.outdoor["elevation"] < -6
    gh_jan = np.stack([jan.site(g, "air_temp_c") for g in jan.greenhouses], axis=1)
    assert gh_jan[night].min() > 4.0
    assert (gh_jan[night] - jan.outdoor["temp_c"][night][:, None]).min() > 10.0


def test_weather_of_a_day_does_not_depend_on_where_the_run_starts() -> None:
    w = Weather(37.45, 110.7, seed=9)
    t = at("2026-04-22T00:00") + 60.0 * np.arange(1440, dtype=np.float64)
    whole = w.at(t)["temp_c"]
    tail = w.at(t[700:])["temp_c"]
    assert np.array_equal(whole[700:], tail)
    el = w.at(t)["elevation"]
    assert np.allclose(el, elevation_deg(t * 1000, 37.45, 110.7))


def test_cold_waves_and_cloudy_days_happen_in_a_winter(lijiahe: Config) -> None:
    w = Weather(37.45, 110.7, seed=2)
    first = int(at("2025-11-01T12:00") // 86400)
    days = w.days(first, 150)
    drops = np.diff(days.tmin)
    assert drops.min() < -6.0, "a cold wave drops the minimum by several degrees from one day to the next"
    assert (days.cloud > 0.8).sum() > 5 and (days.cloud < 0.2).sum() > 20


def test_orchard_soil_dries_and_dry_blocks_are_irrigated(lijiahe: Config) -> None:
    from sensors_sim.orchard import IRRIGATE_BELOW
    from sensors_sim.physics import Physics, Q

    dry_spell = parse({"start": "2026-06-10T00:00", "hours": 48, "weather": {"sky": "clear"}}, "dry")
    ph = Physics(lijiahe, 6, dry_spell.start_s, scenario=dry_spell, spin_up_s=3600.0)
    ph.or_state.vwc[:] = IRRIGATE_BELOW + np.array([-1.0, -0.5, 3.0, 5.0, 6.0, 8.0])  # two blocks already dry
    chunks = list(ph.chunks(dry_spell.end_s))
    vwc = np.concatenate([c.values[:, Q["soil_vwc_pct"], :] for c in chunks])[:, ph.or_idx]
    assert np.concatenate([c.outdoor[0]["rain_mm_h"] for c in chunks]).max() == 0.0
    jumps = np.diff(vwc, axis=0) > 2.0
    assert (jumps[:, :2].sum(axis=0) == 1).all(), "each dry block is watered once"
    assert not jumps[:, 2:].any(), "blocks with enough water wait"
    wet = vwc[:, 2:]
    assert (np.diff(wet, axis=0) <= 1e-9).all() and (wet[-1] < wet[0]).all(), "without water the soil only dries"
