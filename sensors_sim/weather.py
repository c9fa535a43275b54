"""Outdoor weather at a village, vectorized over time.

A small stochastic climate for the Loess Plateau (Wubu county, about 37.5 N):
a seasonal mean temperature with a diurnal cycle (minimum at sunrise, maximum
mid-afternoon), day-to-day anomalies, cold waves in the cold season and heat
spells in summer, daily cloudiness that shrinks the diurnal range, wind, dew
point and rain. Clear, calm nights cool faster (radiation frost).

Every day's random draws come from a generator keyed by (seed, village, day
number), so the weather of a day does not depend on where a run starts or how
it is cut into chunks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qingyubiao.sun import elevation_deg

F64 = NDArray[np.float64]
DAY_S = 86_400.0

# Climate of the reference village (Yulin area): annual mean, seasonal half-swing,
# diurnal range in °C. Derived from the regional normals (Jan ≈ −6 °C, Jul ≈ 24 °C).
ANNUAL_MEAN_C = 9.5
SEASONAL_SWING_C = 15.0
DIURNAL_RANGE_C = 13.0
SOLAR_MAX_HOUR = 14.5  # local solar time of the daily maximum
RAIN_START_H, RAIN_HOURS = 13.0, 6.0  # the climate's rain: an afternoon shower
RAIN_DEW_MARGIN_C = 0.5
SOLAR_CONSTANT = 1367.0  # W/m²


@dataclass(frozen=True, slots=True)
class WeatherOverride:
    """What a scenario pins down about the weather on its days (None = left to the climate)."""

    sky: str | None = None  # clear | partly | overcast
    wind: str | None = None  # calm | breezy | windy
    tmin_c: float | None = None  # air at 1.5 m at sunrise
    tmax_c: float | None = None  # mid-afternoon maximum
    rain_mm: float | None = None  # the day's rain, falling evenly over its hours
    rain_start_h: float | None = None  # local solar hour the rain begins (default 13: an afternoon shower)
    rain_hours: float | None = None  # how long it rains (default 6), ending by midnight


_SKY_CLOUD = {"clear": 0.0, "partly": 0.45, "overcast": 0.95}
_WIND_MEAN = {"calm": 0.4, "breezy": 3.0, "windy": 7.0}


def es_kpa(t_c: F64 | float) -> F64:
    """Saturation vapour pressure over water (FAO-56 Eq. 11), kPa."""
    return 0.6108 * np.exp(17.27 * np.asarray(t_c) / (np.asarray(t_c) + 237.3))


def vapour_density(t_c: F64 | float, rh_pct: F64 | float) -> F64:
    """Water vapour density in g/m³ at temperature t_c and relative humidity rh_pct."""
    t = np.asarray(t_c, dtype=np.float64)
    return es_kpa(t) * 1000.0 * np.asarray(rh_pct) / 100.0 * 2.1668 / (t + 273.15)


def saturation_density(t_c: F64 | float) -> F64:
    """Saturated water vapour density in g/m³."""
    return vapour_density(t_c, 100.0)


def day_of_year(t_s: F64) -> F64:
    """Day of the year (1–366, UTC date) of epoch seconds t_s."""
    sec = np.asarray(t_s, dtype=np.float64).astype("datetime64[s]")
    return (sec - sec.astype("datetime64[Y]")).astype("timedelta64[D]").astype(np.float64) + 1.0


def declination_deg(t_s: F64) -> F64:
    """Solar declination in degrees (Cooper 1969, as in Duffie & Beckman, Solar Engineering of Thermal Processes)."""
    return 23.45 * np.sin(2 * np.pi * (284.0 + day_of_year(t_s)) / 365.0)


def diffuse_fraction(ghi: F64, elev_deg: F64, t_s: F64) -> F64:
    """Share of the global horizontal irradiance that is diffuse: Erbs, Klein & Duffie (1982), Solar Energy 28(4)
    293-302, from the clearness index kt (global over extraterrestrial horizontal; sin(elevation) floored at 0.065
    as pvlib.irradiance.erbs does). About 0.2 under a clear sky, 1 under thick cloud."""
    g0 = SOLAR_CONSTANT * (1.0 + 0.033 * np.cos(2 * np.pi * day_of_year(t_s) / 365.0))
    kt = np.clip(ghi / (g0 * np.maximum(np.sin(np.deg2rad(elev_deg)), 0.065)), 0.0, 1.0)
    mid = 0.9511 - 0.1604 * kt + 4.388 * kt**2 - 16.638 * kt**3 + 12.336 * kt**4
    return np.where(kt <= 0.22, 1.0 - 0.09 * kt, np.where(kt <= 0.8, mid, 0.165))


def clear_sky_ghi(elev_deg: F64) -> F64:
    """Haurwitz clear-sky global horizontal irradiance, W/m², from solar elevation in degrees."""
    s = np.sin(np.deg2rad(np.maximum(elev_deg, 0.0)))
    with np.errstate(divide="ignore", over="ignore"):
        ghi = 1098.0 * s * np.exp(-0.057 / np.where(s > 0.0, s, 1.0))
    return np.where(s > 0.01, ghi, 0.0)


@dataclass(frozen=True, slots=True)
class Days:
    """Per-day weather parameters for days [first, first + n) (day number = epoch-local day)."""

    first: int
    tmin: F64
    tmax: F64
    cloud: F64
    wind: F64
    dew_dep: F64  # dew point below the day's minimum temperature, K
    rain_mm: F64
    cloud_wiggle: F64  # (n, 25) hourly cloud perturbations
    rain_start_h: F64  # solar hour the day's rain begins
    rain_hours: F64


@dataclass
class Weather:
    """The weather driver of one village.

    `at(t_s)` gives the outdoor state at epoch seconds `t_s` (1-D array):
    elevation (deg), ghi and dhi (global and diffuse horizontal, W/m²), decl
    (solar declination, deg), cloud (0–1), temp_c, rh_pct, wind_m_s,
    rain_mm_h, dew_c.
    """

    lat: float
    lon: float
    seed: int
    village_key: int = 0
    overrides: dict[int, WeatherOverride] = field(default_factory=dict)  # day number -> override

    def day_number(self, t_s: F64 | float) -> NDArray[np.int64]:
        """Day number of the local solar day (solar midnight to solar midnight) of epoch seconds t_s."""
        return np.floor((np.asarray(t_s, dtype=np.float64) + self.lon / 15.0 * 3600.0) / DAY_S).astype(np.int64)

    def _draw_day(self, day: int) -> tuple[float, float, float, float, float, float, F64]:
        rng = np.random.default_rng([self.seed, self.village_key, day + 1_000_000])
        eps = rng.normal(0.0, 1.0)
        cloud = float(rng.beta(0.8, 1.3))
        wind = float(rng.gamma(2.0, 1.1))
        dep = float(rng.uniform(1.0, 6.0))
        rain_u = rng.uniform()
        rain = float(rng.gamma(1.3, 5.0)) if cloud > 0.7 and rain_u < 0.55 else 0.0
        wiggle = rng.normal(0.0, 0.18, 25)
        wave = rng.uniform()
        return eps, cloud, wind, dep, rain, wave, wiggle

    def days(self, first: int, n: int) -> Days:
        """Daily parameters for `n` days from day number `first`."""
        hist = 8  # anomaly memory: a weighted sum of the last days' shocks (AR(1)-like)
        shocks = np.zeros(n + hist)
        waves = np.zeros(n + hist)
        draws = [self._draw_day(d) for d in range(first - hist, first + n)]
        for i, (eps, _c, _w, _d, _r, wave_u, _wg) in enumerate(draws):
            shocks[i] = eps * 2.2
            doy = _doy(first - hist + i)
            cold_season = doy < 110 or doy > 290
            if cold_season and wave_u < 0.035:
                waves[i] = -8.0  # cold wave (寒潮)
            elif 160 < doy < 240 and wave_u < 0.05:
                waves[i] = 4.5  # summer heat spell
        weights = 0.7 ** np.arange(hist)
        wave_w = np.array([1.0, 0.8, 0.55, 0.3, 0.15, 0.0, 0.0, 0.0])
        anomaly = np.array(
            [shocks[i - hist + 1 : i + 1][::-1] @ weights * 0.7 + waves[i - hist + 1 : i + 1][::-1] @ wave_w
             for i in range(hist, n + hist)]
        )  # fmt: skip
        own = draws[hist:]
        cloud = np.array([c for _, c, *_ in own])
        wind = np.array([w for _, _, w, *_ in own])
        dep = np.array([d for _, _, _, d, *_ in own])
        rain = np.array([r for _, _, _, _, r, *_ in own])
        wiggle = np.stack([wg for *_, wg in own])
        doys = np.array([_doy(first + i) for i in range(n)], dtype=np.float64)
        mean = ANNUAL_MEAN_C - SEASONAL_SWING_C * np.cos(2 * np.pi * (doys - 15.0) / 365.25) + anomaly
        rain_start, rain_hours = np.full(n, RAIN_START_H), np.full(n, RAIN_HOURS)
        cold_wave = np.array([waves[hist + i - k] < 0 for i in range(n) for k in (0,)])
        wind = np.where(cold_wave, wind + 5.0, wind)  # cold waves arrive on a north wind
        for i in range(n):
            o = self.overrides.get(first + i)
            if o is None:
                continue
            if o.sky is not None:
                cloud[i] = _SKY_CLOUD[o.sky]
                wiggle[i] *= 0.0 if o.sky == "clear" else 1.0
                rain[i] = 0.0 if o.sky != "overcast" else rain[i]
            if o.wind is not None:
                wind[i] = _WIND_MEAN[o.wind]
            if o.rain_mm is not None:
                rain[i] = o.rain_mm
            if o.rain_start_h is not None:
                rain_start[i] = o.rain_start_h
            if o.rain_hours is not None:
                rain_hours[i] = o.rain_hours
        rng_range = DIURNAL_RANGE_C + 2.0 * np.cos(2 * np.pi * (doys - 110.0) / 365.25)
        drange = rng_range * (1.0 - 0.55 * cloud)
        tmin = mean - drange / 2
        tmax = mean + drange / 2
        summer = np.clip(np.cos(2 * np.pi * (doys - 200.0) / 365.25), 0, 1)
        dep = dep * (1.0 - 0.6 * summer) + 0.5  # humid monsoon summers
        for i in range(n):
            o = self.overrides.get(first + i)
            if o is not None and o.tmin_c is not None:
                tmin[i] = o.tmin_c
            if o is not None and o.tmax_c is not None:
                tmax[i] = o.tmax_c
        return Days(first, tmin, tmax, cloud, wind, dep, rain, wiggle, rain_start, rain_hours)

    def at(self, t_s: F64) -> dict[str, F64]:
        """Outdoor weather at epoch seconds t_s (1-D float array). See the class docstring."""
        t = np.asarray(t_s, dtype=np.float64)
        day = self.day_number(t)
        first = int(day.min()) - 1
        n = int(day.max()) - first + 2
        d = self.days(first, n)
        j = day - first
        elev = elevation_deg(t * 1000.0, self.lat, self.lon)
        solar_h = (t + self.lon / 15.0 * 3600.0) % DAY_S / 3600.0
        rise_h = _sunrise_solar_hour(t, self.lat)
        tmin_today, tmax_today = d.tmin[j], d.tmax[j]
        tmin_next = d.tmin[np.minimum(j + 1, n - 1)]
        tmax_yday = d.tmax[np.maximum(j - 1, 0)]
        # A night belongs to the day it began on: before sunrise, yesterday's sky and wind.
        early = solar_h < rise_h
        cj = np.where(early, np.maximum(j - 1, 0), j)
        cloud_day = d.cloud[cj]
        hour = np.floor(solar_h).astype(np.int64)
        frac = solar_h - hour
        wig = d.cloud_wiggle[cj, hour] * (1 - frac) + d.cloud_wiggle[cj, hour + 1] * frac
        cloud = np.clip(cloud_day + wig * (cloud_day > 0.05), 0.0, 1.0)
        wind_day = d.wind[cj]
        calm_clear = (1.0 - cloud_day) * np.exp(-wind_day / 2.5)  # 1 on a clear, calm night
        k = 1.5 + 3.0 * calm_clear  # faster evening cooling under a clear, calm sky
        temp = np.empty_like(t)
        rising = (solar_h >= rise_h) & (solar_h < SOLAR_MAX_HOUR)
        x = (solar_h - rise_h) / (SOLAR_MAX_HOUR - rise_h)
        temp = np.where(rising, tmin_today + (tmax_today - tmin_today) * (1 - np.cos(np.pi * x)) / 2, temp)
        # after the maximum: decay towards the next sunrise's minimum
        evening = solar_h >= SOLAR_MAX_HOUR
        span = 24.0 - SOLAR_MAX_HOUR + rise_h
        xe = (solar_h - SOLAR_MAX_HOUR) / span
        fe = (np.exp(-k * xe) - np.exp(-k)) / (1 - np.exp(-k))
        temp = np.where(evening, tmin_next + (tmax_today - tmin_next) * fe, temp)
        # before sunrise: the tail of yesterday evening's decay
        xm = (solar_h + 24.0 - SOLAR_MAX_HOUR) / span
        fm = (np.exp(-k * xm) - np.exp(-k)) / (1 - np.exp(-k))
        temp = np.where(early, tmin_today + (tmax_yday - tmin_today) * fm, temp)
        ghi = clear_sky_ghi(elev) * (1.0 - 0.75 * cloud**3.4)
        dhi = ghi * diffuse_fraction(ghi, elev, t)  # the greenhouse's tilted roof takes beam and sky light apart
        sun_up = np.clip(np.sin(np.deg2rad(elev)), 0.0, 1.0)
        wind = np.maximum(0.0, wind_day * (0.55 + 0.9 * sun_up))
        # dew point: each day's value anchored at solar noon, blended linearly between days
        dew_day = d.tmin - d.dew_dep
        w = (solar_h - 12.0) / 24.0
        other = np.clip(np.where(w < 0, j - 1, j + 1), 0, n - 1)
        dew = np.minimum(dew_day[j] * (1 - np.abs(w)) + dew_day[other] * np.abs(w), temp)
        raining = (solar_h >= d.rain_start_h[j]) & (solar_h < d.rain_start_h[j] + d.rain_hours[j])
        rain = np.where(raining, d.rain_mm[j] / d.rain_hours[j], 0.0)
        # rain saturates the air: the dew point comes within half a degree of it (RH about 97 %)
        dew = np.where(rain > 0, np.maximum(dew, temp - RAIN_DEW_MARGIN_C), dew)
        rh = np.clip(100.0 * es_kpa(dew) / es_kpa(temp), 0.0, 100.0)
        return {
            "elevation": elev,
            "ghi": ghi,
            "dhi": dhi,
            "decl": declination_deg(t),
            "cloud": cloud,
            "temp_c": temp,
            "rh_pct": rh,
            "wind_m_s": wind,
            "rain_mm_h": rain,
            "dew_c": dew,
            "calm_clear": calm_clear,
        }


def _doy(day_number: int) -> int:
    """Day of year (1–366) of an epoch day number."""
    import datetime as _dt

    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=day_number)).timetuple().tm_yday


def _sunrise_solar_hour(t_s: F64, lat: float) -> F64:
    """Local solar hour of sunrise on the day of t_s (declination from the day of year)."""
    doy = (t_s / DAY_S) % 365.25
    decl = np.deg2rad(23.44) * np.sin(2 * np.pi * (doy - 80.0) / 365.25)
    cos_h0 = np.clip(-math.tan(math.radians(lat)) * np.tan(decl), -1.0, 1.0)
    return 12.0 - np.rad2deg(np.arccos(cos_h0)) / 15.0
