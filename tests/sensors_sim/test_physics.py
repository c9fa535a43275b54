"""Physical sense of the twin over a day and a season (true state, before sensors)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from alerts.rules import bundled_rules
from qingyubiao.config import Config
from qingyubiao.sun import elevation_deg
from sensors_sim.physics import Physics, Trace, trace
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
def clear_december_day(lijiahe: Config) -> Trace:
    sc = parse({"start": "2025-12-15T00:00", "hours": 24, "weather": {"sky": "clear"}}, "clear-december")
    return trace(lijiahe, sc.start_s, 24, seed=1, scenario=sc)


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


# A clear mid-December day at 李家河村 against published winter records of solar greenhouses in northern China
# (docs/simulator.md, "Checked against", has the full references):
# - Wang Q., Zhang H., Liu X., Sun Z. (2013), Chinese Journal of Agrometeorology 34(1): 37-42,
#   https://zgnyqx.ieda.org.cn/CN/10.3969/j.issn.1000-6362.2013.01.006 : a clear winter day peaks at 13:00 (air
#   35.5 °C in that sunken house, its back wall 41.8 °C), warming 6.5 K/h; an overcast one at 15.8 °C; winter
#   minima 7.35 °C on average.
# - Li W., Chen C., Li N., Dong Z. (2021), "The relationships between inside and outside temperature of solar
#   greenhouse under different weather conditions", Hubei Agricultural Sciences 60(15): 65-68,
#   http://hbnykx.cn/EN/abstract/abstract3865.shtml : in winter the maximum at 13:00-14:00, the minimum at 08:00.
# - Zhang L., Cao N., Wei J., Duan X. (2014), "The temperature variation and minimum temperature forecast inside
#   solar greenhouse in mountainous region of south Ningxia",
#   http://ghdqnyyj.ijournal.cn/ghdqnyyjen/ch/reader/view_abstract.aspx?file_no=20140138&flag=1 : maximum at
#   12:00-14:00, minimum at 07:00-09:00.
# - Wei X., Li Y., Wen X. (n.d.), "太谷地区日光温室温湿度年变化规律的研究" (Taigu, Shanxi),
#   https://data.zhenzhi.com/details/1/577628522 : clear winter days about 12 °C on average, below 10 °C for more
#   than 10 h, the minimum at 07:00-09:00 and the maximum at 14:00-16:00.
# - Outside: Lin County (临县, across the Yellow River from Wubu), China Meteorological Administration normals
#   1991-2020 (https://en.wikipedia.org/wiki/Lin_County,_Shanxi): December mean daily minimum -9.2 °C, maximum
#   0.7 °C, records -24.8 / 14.4 °C; 65 % of the possible sunshine.
# So: inside maxima of about 25-30 °C in the early afternoon, dawn minima of about 8-12 °C, the coldest moment when
# the quilt goes up 1-2 h after sunrise.


def test_a_clear_december_day_outside_is_wubus(clear_december_day: Trace) -> None:
    out = clear_december_day.outdoor
    assert -16.0 < out["temp_c"].min() < -4.0 and -3.0 < out["temp_c"].max() < 8.0
    assert out["temp_c"].max() - out["temp_c"].min() > 8.0, "a clear, dry day has a wide daily range"
    # the sun 29° high at noon, about 10 MJ/m² on the horizontal over the day
    assert out["elevation"].max() == pytest.approx(90.0 - 37.45 - 23.3, abs=0.5)
    assert 8.5 < out["ghi"].sum() * 60.0 / 1e6 < 12.0


def test_a_solar_greenhouse_warms_well_above_its_night_on_a_clear_december_day(clear_december_day: Trace) -> None:
    tr = clear_december_day
    air = np.stack([tr.site(g, "air_temp_c") for g in tr.greenhouses], axis=1)
    day_max, night_min = air.max(axis=0), air.min(axis=0)
    assert 24.0 <= np.median(day_max) <= 30.0 and day_max.min() > 20.0 and day_max.max() < 32.0
    assert 8.0 <= np.median(night_min) <= 12.0
    assert (day_max - night_min).min() > 10.0, "a 日光温棚 on a December day warms well above the night"
    local_h = np.array([datetime.fromtimestamp(t, TZ).hour + datetime.fromtimestamp(t, TZ).minute / 60 for t in tr.t_s])
    peak_h = local_h[np.argmax(air, axis=0)]
    assert ((peak_h >= 12.5) & (peak_h <= 15.5)).all(), "the air peaks in the early afternoon"
    # light through the tilted roof: more than the horizontal gets at the low winter sun (it was 0.85 of it)
    noon = np.argmax(tr.outdoor["elevation"])
    light = np.array([tr.site(g, "light_lux")[noon] for g in tr.greenhouses]) / 110.0
    assert np.median(light) > 0.85 * tr.outdoor["ghi"][noon]


def test_the_coldest_moment_is_when_the_quilt_goes_up(clear_december_day: Trace) -> None:
    tr = clear_december_day
    up_sky = tr.outdoor["elevation"] > 0
    sunrise, sunset = tr.t_s[np.flatnonzero(up_sky)[0]], tr.t_s[np.flatnonzero(up_sky)[-1]]
    for k, g in enumerate(tr.greenhouses):
        air, down = tr.site(g, "air_temp_c"), tr.quilt_down[:, k]
        up, closed = np.flatnonzero(~down)[0], np.flatnonzero(~down)[-1] + 1
        assert 3600 <= tr.t_s[up] - sunrise <= 2 * 3600, f"{g}: the quilt goes up 1-2 h after sunrise"
        assert 30 * 60 <= sunset - tr.t_s[closed] <= 2.5 * 3600, f"{g}: and down before sunset"
        coldest = np.argmin(air)
        assert tr.t_s[up] - 3 * 3600 <= tr.t_s[coldest] <= tr.t_s[up] + 30 * 60, g
        # opened at the right time the house loses less than 1 K before the sun takes over (a grower's rule)
        assert air[up] - air[up : up + 60].min() < 1.0, g


def test_a_well_run_house_keeps_its_crop_above_its_damage_threshold(clear_december_day: Trace, lijiahe: Config) -> None:
    critical = {
        crop: rule.night
        for rule in bundled_rules().rule
        if rule.kind == "air_temp_low" and rule.severity == "critical"
        for crop in rule.scope.crop
    }
    crops = {s.id: s.crop for s in lijiahe.village[0].site}
    for g in clear_december_day.greenhouses:
        assert clear_december_day.site(g, "air_temp_c").min() > critical[crops[g]], (g, crops[g])


def test_the_deep_store_starts_where_a_long_run_puts_it(lijiahe: Config) -> None:
    start = at("2025-12-15T00:00")
    short = Physics(lijiahe, 1, start)
    long = Physics(lijiahe, 1, start, spin_up_s=20 * 86_400.0)
    assert np.median(short.gh_state.t_mass) == pytest.approx(np.median(long.gh_state.t_mass), abs=1.5)
    nights = [np.concatenate([c.values[:, 0, ph.gh_idx] for c in ph.chunks(start + 86_400.0, 240)]).min(axis=0)
              for ph in (short, long)]  # fmt: skip
    assert np.median(nights[0]) == pytest.approx(np.median(nights[1]), abs=1.0)
