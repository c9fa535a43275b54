"""Reference evapotranspiration ET0 (FAO-56: Allen, Pereira, Raes & Smith 1998, "Crop evapotranspiration",
FAO Irrigation and Drainage Paper 56), vectorized over sites.

- `daily_pm`: the Penman-Monteith equation for a day (eq. 6) from Tmax, Tmin, actual vapour pressure,
  solar radiation and wind at 2 m; net radiation by eqs. 37-40 (albedo 0.23), soil heat flux 0.
- `hourly_pm`: the same for an hour (eq. 53), with G = 0.1 Rn by day and 0.5 Rn at night (eqs. 45-46)
  and extraterrestrial radiation for the hour (eqs. 28-33).
- `hargreaves`: Hargreaves & Samani (1985) as FAO-56 eq. 52, from temperature alone, when a site has no
  humidity, wind or radiation.

Every figure says which method gave it; the equation numbers are FAO-56's. Temperatures °C, pressure
kPa, radiation MJ m-2 per day (or hour), wind m s-1, ET0 mm per day (or hour).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
GSC = 0.0820  # solar constant, MJ m-2 min-1
SIGMA_DAY = 4.903e-9  # Stefan-Boltzmann, MJ K-4 m-2 day-1
SIGMA_HOUR = 2.043e-10  # per hour
ALBEDO = 0.23  # the grass reference


def _a(x: ArrayLike) -> F64:
    return np.asarray(x, dtype=np.float64)


def pressure_kpa(z_m: ArrayLike) -> F64:
    """Atmospheric pressure from elevation (eq. 7)."""
    return 101.3 * ((293.0 - 0.0065 * _a(z_m)) / 293.0) ** 5.26


def psychrometric(p_kpa: ArrayLike) -> F64:
    """γ, kPa °C-1 (eq. 8)."""
    return 0.665e-3 * _a(p_kpa)


def es(t_c: ArrayLike) -> F64:
    """Saturation vapour pressure, kPa (eq. 11)."""
    t = _a(t_c)
    return 0.6108 * np.exp(17.27 * t / (t + 237.3))


def slope(t_c: ArrayLike) -> F64:
    """Δ, the slope of the saturation vapour pressure curve, kPa °C-1 (eq. 13)."""
    t = _a(t_c)
    return 4098.0 * es(t) / (t + 237.3) ** 2


def ea_from_rh(tmin: ArrayLike, tmax: ArrayLike, rh_min: ArrayLike, rh_max: ArrayLike) -> F64:
    """Actual vapour pressure from the day's RH extremes (eq. 17)."""
    return (es(tmin) * _a(rh_max) / 100.0 + es(tmax) * _a(rh_min) / 100.0) / 2.0


def wind_2m(u_z: ArrayLike, z_m: float) -> F64:
    """Wind at 2 m from wind measured at z m (eq. 47)."""
    return _a(u_z) * 4.87 / np.log(67.8 * z_m - 5.42)


def _solar_geometry(lat_deg: ArrayLike, doy: ArrayLike) -> tuple[F64, F64, F64]:
    """(φ, dr, δ): latitude in radians, inverse relative Earth-Sun distance, declination (eqs. 22-24)."""
    phi = np.radians(_a(lat_deg))
    j = _a(doy)
    dr = 1.0 + 0.033 * np.cos(2.0 * np.pi / 365.0 * j)
    decl = 0.409 * np.sin(2.0 * np.pi / 365.0 * j - 1.39)
    return phi, dr, decl


def ra_daily(lat_deg: ArrayLike, doy: ArrayLike) -> F64:
    """Extraterrestrial radiation for a day, MJ m-2 day-1 (eqs. 21, 25)."""
    phi, dr, decl = _solar_geometry(lat_deg, doy)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(decl), -1.0, 1.0))
    return 24.0 * 60.0 / np.pi * GSC * dr * (ws * np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.sin(ws))


def daylight_hours(lat_deg: ArrayLike, doy: ArrayLike) -> F64:
    """N, hours (eq. 34)."""
    phi, _, decl = _solar_geometry(lat_deg, doy)
    return 24.0 / np.pi * np.arccos(np.clip(-np.tan(phi) * np.tan(decl), -1.0, 1.0))


def rs_from_sunshine(n_hours: ArrayLike, lat_deg: ArrayLike, doy: ArrayLike) -> F64:
    """Solar radiation from sunshine hours, Ångström with FAO-56's a = 0.25, b = 0.50 (eq. 35)."""
    return (0.25 + 0.50 * _a(n_hours) / daylight_hours(lat_deg, doy)) * ra_daily(lat_deg, doy)


def rs_from_temperature(tmax: ArrayLike, tmin: ArrayLike, ra: ArrayLike, krs: float = 0.16) -> F64:
    """Solar radiation from the day's temperature range where there is no pyranometer (eq. 50, the
    Hargreaves radiation formula); krs 0.16 for interior locations, 0.19 for coastal ones."""
    return krs * np.sqrt(np.maximum(_a(tmax) - _a(tmin), 0.0)) * _a(ra)


def rso(ra: ArrayLike, z_m: ArrayLike) -> F64:
    """Clear-sky solar radiation (eq. 37)."""
    return (0.75 + 2e-5 * _a(z_m)) * _a(ra)


def net_radiation_daily(tmax: F64, tmin: F64, ea: F64, rs: F64, rso_: F64) -> F64:
    """Rn = Rns − Rnl (eqs. 38-40)."""
    cloud = 1.35 * np.clip(rs / np.where(rso_ > 0, rso_, np.nan), 0.3, 1.0) - 0.35
    rnl = SIGMA_DAY * ((tmax + 273.16) ** 4 + (tmin + 273.16) ** 4) / 2.0 * (0.34 - 0.14 * np.sqrt(ea)) * cloud
    return (1.0 - ALBEDO) * rs - rnl


def daily_pm(
    tmax: ArrayLike,
    tmin: ArrayLike,
    ea: ArrayLike,
    rs: ArrayLike,
    u2: ArrayLike,
    z_m: ArrayLike,
    lat_deg: ArrayLike,
    doy: ArrayLike,
    g: ArrayLike = 0.0,
) -> F64:
    """FAO-56 Penman-Monteith ET0 for a day, mm day-1 (eq. 6). `g`: soil heat flux (0 for a day)."""
    tx, tn, e_a, r_s, u, z = (_a(x) for x in (tmax, tmin, ea, rs, u2, z_m))
    tmean = (tx + tn) / 2.0
    e_s = (es(tx) + es(tn)) / 2.0
    gamma = psychrometric(pressure_kpa(z))
    delta = slope(tmean)
    rn = net_radiation_daily(tx, tn, e_a, r_s, rso(ra_daily(lat_deg, doy), z))
    num = 0.408 * delta * (rn - _a(g)) + gamma * 900.0 / (tmean + 273.0) * u * (e_s - e_a)
    return np.maximum(num / (delta + gamma * (1.0 + 0.34 * u)), 0.0)


def ra_hourly(lat_deg: ArrayLike, lon_deg: ArrayLike, lz_deg: float, doy: ArrayLike, mid_hour: ArrayLike) -> F64:
    """Extraterrestrial radiation for the hour centred on `mid_hour` (local standard time), MJ m-2 h-1
    (eqs. 28-33). Longitudes in degrees east; `lz_deg` the time zone's centre (120 for China, east)."""
    phi, dr, decl = _solar_geometry(lat_deg, doy)
    b = 2.0 * np.pi * (_a(doy) - 81.0) / 364.0
    sc = 0.1645 * np.sin(2.0 * b) - 0.1255 * np.cos(b) - 0.025 * np.sin(b)
    # FAO-56 writes longitudes in degrees west of Greenwich: ω = π/12 [(t + 0.06667 (Lz − Lm) + Sc) − 12]
    omega = np.pi / 12.0 * ((_a(mid_hour) + 0.06667 * (_a(lon_deg) - lz_deg) + sc) - 12.0)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(decl), -1.0, 1.0))
    w1 = np.clip(omega - np.pi / 24.0, -ws, ws)
    w2 = np.clip(omega + np.pi / 24.0, -ws, ws)
    w1 = np.minimum(w1, w2)
    return np.maximum(
        12.0 * 60.0 / np.pi * GSC * dr
        * ((w2 - w1) * np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * (np.sin(w2) - np.sin(w1))),
        0.0,
    )  # fmt: skip


def hourly_pm(
    t_c: ArrayLike,
    rh_pct: ArrayLike,
    rs: ArrayLike,
    u2: ArrayLike,
    z_m: ArrayLike,
    ra: ArrayLike,
    rs_rso_night: ArrayLike = 0.8,
) -> F64:
    """FAO-56 Penman-Monteith ET0 for an hour, mm h-1 (eq. 53). `ra`: the hour's extraterrestrial
    radiation (`ra_hourly`); at night (ra = 0) the cloudiness takes `rs_rso_night`, the ratio of the
    hours before sunset (FAO-56 suggests 0.4-0.8 from the day's last hours; eq. 39's note)."""
    t, rh, r_s, u, z, r_a = (_a(x) for x in (t_c, rh_pct, rs, u2, z_m, ra))
    e_t = es(t)
    e_a = e_t * rh / 100.0
    gamma = psychrometric(pressure_kpa(z))
    delta = slope(t)
    r_so = rso(r_a, z)
    day = r_a > 0
    ratio = np.where(day & (r_so > 0), np.clip(r_s / np.where(r_so > 0, r_so, 1.0), 0.3, 1.0), _a(rs_rso_night))
    rnl = SIGMA_HOUR * (t + 273.16) ** 4 * (0.34 - 0.14 * np.sqrt(e_a)) * (1.35 * ratio - 0.35)
    rn = (1.0 - ALBEDO) * r_s - rnl
    g = np.where(day, 0.1 * rn, 0.5 * rn)
    num = 0.408 * delta * (rn - g) + gamma * 37.0 / (t + 273.0) * u * (e_t - e_a)
    return np.maximum(num / (delta + gamma * (1.0 + 0.34 * u)), 0.0)


def hargreaves(tmax: ArrayLike, tmin: ArrayLike, ra: ArrayLike) -> F64:
    """Hargreaves & Samani (1985), FAO-56 eq. 52: ET0 = 0.0023 (Tmean + 17.8) (Tmax − Tmin)^0.5 Ra, with
    Ra as evaporation (× 0.408 mm per MJ m-2), mm day-1."""
    tx, tn = _a(tmax), _a(tmin)
    return np.maximum(0.0023 * ((tx + tn) / 2.0 + 17.8) * np.sqrt(np.maximum(tx - tn, 0.0)) * 0.408 * _a(ra), 0.0)
