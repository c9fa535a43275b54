"""Crop water use and the root-zone water balance (FAO-56 chapters 6 and 8), vectorized over sites.

- `kc`: the single crop coefficient of a crop at a configured stage (Table 12 by growth period), with
  Kc mid and Kc end adjusted for wind and dryness (eq. 62) where the air is not FAO's sub-humid
  standard (RHmin 45 %, u2 2 m s-1).
- `greenhouse_et0`: reference ET under the film, from the inside climate (Fernández et al. 2010).
- `taw`, `raw`: total and readily available water of the root zone (eqs. 82-83), p adjusted for the
  day's ETc (Table 22's note).
- `Balance.day`: the root-zone depletion Dr after one day (eq. 85: rain and irrigation refill it,
  ETc × Ks empties it, water beyond field capacity drains), then fused with a soil moisture probe where
  the site has a healthy one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agronomy.et0 import daily_pm

F64 = NDArray[np.float64]
DEFAULT = Path(__file__).parent / "params" / "water.toml"
RA_GRASS = 208.0  # FAO-56's aerodynamic resistance of the grass reference at u2 = 1 m s-1 (ra = 208 / u2)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CropKc(_Strict):
    ini: float = Field(gt=0, le=2)
    mid: float = Field(gt=0, le=2)
    end: float = Field(gt=0, le=2)
    height_m: float = Field(gt=0, le=20)


class SoilWater(_Strict):
    fc: float = Field(gt=0, lt=1)
    wp: float = Field(ge=0, lt=1)

    @model_validator(mode="after")
    def _order(self) -> SoilWater:
        if self.wp >= self.fc:
            raise ValueError("soil: wp must be below fc")
        return self


class Depletion(_Strict):
    p: float = Field(gt=0, lt=1)
    root_m: float = Field(gt=0, le=5)


class Greenhouse(_Strict):
    aerodynamic_resistance_s_m: float = Field(gt=0)
    film_transmittance: float = Field(gt=0, le=1)


class RainAhead(_Strict):
    """How a rain forecast counts in the advice (docs/irrigation.md "Rain forecast")."""

    horizon_days: int = Field(default=3, ge=1, le=7)  # forecast days the advice looks at
    min_probability_pct: float = Field(default=60.0, ge=0, le=100)  # a day's rain counts from this chance
    evaporated_fraction_et0: float = Field(default=0.2, ge=0, le=1)  # FAO-56 ch. 8: less than 0.2 ET0 evaporates
    room_days: int = Field(default=2, ge=0, le=7)  # an irrigation due now leaves room for today's and these days' rain


RAIN_AHEAD = RainAhead()


class WaterParams(_Strict):
    kc: dict[str, CropKc]
    stage_period: dict[str, str]
    greenhouse: Greenhouse
    soil: dict[str, SoilWater]
    depletion: dict[str, Depletion]
    rain_ahead: RainAhead = RAIN_AHEAD

    @model_validator(mode="after")
    def _periods(self) -> WaterParams:
        bad = {k: v for k, v in self.stage_period.items() if v not in ("ini", "dev", "mid", "late")}
        if bad:
            raise ValueError(f"stage_period: periods are ini, dev, mid or late, not {bad}")
        return self


def load_water(path: Path = DEFAULT) -> WaterParams:
    with path.open("rb") as f:
        return WaterParams.model_validate(tomllib.load(f))


def climate_adjusted(kc_table: ArrayLike, u2: ArrayLike, rh_min: ArrayLike, height_m: ArrayLike) -> F64:
    """FAO-56 eq. 62 (and 65 for Kc end): Kc + [0.04 (u2 − 2) − 0.004 (RHmin − 45)] (h / 3)^0.3, with u2
    and RHmin held to 1-6 m s-1 and 20-80 % as the equation's range of validity."""
    u = np.clip(np.asarray(u2, dtype=np.float64), 1.0, 6.0)
    rh = np.clip(np.asarray(rh_min, dtype=np.float64), 20.0, 80.0)
    h = np.asarray(height_m, dtype=np.float64)
    return np.asarray(kc_table, dtype=np.float64) + (0.04 * (u - 2.0) - 0.004 * (rh - 45.0)) * (h / 3.0) ** 0.3


def kc(p: WaterParams, crop: str, stage: str | None, u2: ArrayLike = 2.0, rh_min: ArrayLike = 45.0) -> F64 | None:
    """The crop coefficient at a configured stage (None: the crop or stage has no Kc). Kc mid and Kc end
    are adjusted for the climate (eq. 62); the development period takes the mean of ini and mid."""
    c = p.kc.get(crop)
    period = p.stage_period.get(stage or "")
    if c is None or period is None:
        return None
    if period == "ini":
        return np.asarray(c.ini, dtype=np.float64)
    mid = climate_adjusted(c.mid, u2, rh_min, c.height_m)
    if period == "mid":
        return mid
    if period == "dev":
        return (c.ini + mid) / 2.0
    # eq. 65 applies only when Kc end ≥ 0.45
    return climate_adjusted(c.end, u2, rh_min, c.height_m) if c.end >= 0.45 else np.asarray(c.end, dtype=np.float64)


def greenhouse_et0(
    tmax: ArrayLike,
    tmin: ArrayLike,
    ea: ArrayLike,
    rs_outside: ArrayLike,
    z_m: ArrayLike,
    lat_deg: ArrayLike,
    doy: ArrayLike,
    g: Greenhouse,
) -> F64:
    """Reference ET inside a plastic house, mm day-1: Penman-Monteith on the inside temperatures and
    vapour pressure, with a fixed aerodynamic resistance (as an effective wind of 208 / ra) and the solar
    radiation that passes the film (Fernández et al. 2010)."""
    rs_in = np.asarray(rs_outside, dtype=np.float64) * g.film_transmittance
    return daily_pm(tmax, tmin, ea, rs_in, RA_GRASS / g.aerodynamic_resistance_s_m, z_m, lat_deg, doy)


def taw(fc: ArrayLike, wp: ArrayLike, root_m: ArrayLike) -> F64:
    """Total available water of the root zone, mm (eq. 82)."""
    return 1000.0 * (np.asarray(fc, dtype=np.float64) - np.asarray(wp, dtype=np.float64)) * np.asarray(root_m)


def p_adjusted(p_table: ArrayLike, etc_mm: ArrayLike) -> F64:
    """Table 22's p for the day's ETc: p + 0.04 (5 − ETc), held to 0.1-0.8."""
    return np.clip(np.asarray(p_table, dtype=np.float64) + 0.04 * (5.0 - np.asarray(etc_mm)), 0.1, 0.8)


def raw(taw_mm: ArrayLike, p: ArrayLike) -> F64:
    """Readily available water, mm (eq. 83)."""
    return np.asarray(p, dtype=np.float64) * np.asarray(taw_mm, dtype=np.float64)


def ks(dr_mm: ArrayLike, taw_mm: ArrayLike, p: ArrayLike) -> F64:
    """Water stress coefficient (eq. 84): 1 while Dr ≤ RAW, falling linearly to 0 at TAW."""
    dr, t, pp = (np.asarray(x, dtype=np.float64) for x in (dr_mm, taw_mm, p))
    return np.clip((t - dr) / np.maximum((1.0 - pp) * t, 1e-9), 0.0, 1.0)


@dataclass
class Balance:
    """The root-zone depletion of each site (mm below field capacity) and what it is made of."""

    fc: F64
    wp: F64
    root_m: F64
    p_table: F64
    dr: F64  # depletion at the end of the last day
    probe_weight: float = 0.5  # how far a healthy probe pulls the model's depletion towards its own

    @property
    def taw(self) -> F64:
        return taw(self.fc, self.wp, self.root_m)

    def day(self, etc_mm: F64, rain_mm: F64, irrigation_mm: F64, probe_vwc: F64 | None = None) -> tuple[F64, F64, F64]:
        """Advance one day; returns (Ks the day ran at, deep percolation mm, p). `probe_vwc`: the
        day's mean soil moisture (m3 m-3) where a healthy probe reported, NaN elsewhere."""
        total = self.taw
        p = p_adjusted(self.p_table, etc_mm)
        k = ks(self.dr, total, p)
        dr = self.dr - np.nan_to_num(rain_mm) - np.nan_to_num(irrigation_mm) + np.nan_to_num(etc_mm) * k
        drained = np.maximum(-dr, 0.0)  # water beyond field capacity leaves the root zone the same day
        dr = np.clip(dr, 0.0, total)
        if probe_vwc is not None:
            seen = ~np.isnan(probe_vwc)
            observed = np.clip(1000.0 * (self.fc - np.nan_to_num(probe_vwc)) * self.root_m, 0.0, total)
            dr = np.where(seen, dr + self.probe_weight * (observed - dr), dr)
        self.dr = dr
        return k, drained, p


@dataclass
class Advice:
    """What a block needs, per site: refill `need_mm` (≈ `hours` of its drip) within `days_left` days."""

    need_mm: F64  # the depletion to refill now, less the room left for forecast rain (0 when none is due)
    hours: F64  # of the block's drip for need_mm (NaN without a drip rate)
    days_left: F64  # days until the depletion reaches RAW at the recent ETc (0: irrigate now; inf: no use)
    due_mm: F64  # what it will need then (RAW; now: need_mm)
    rain_mm: F64  # the forecast rain that counted within the horizon (NaN: no forecast)
    deferred: NDArray[np.bool_]  # the forecast rain put the irrigation off by at least a day


def advise(
    dr: F64,
    raw_mm: F64,
    taw_mm: F64,
    etc_recent: F64,
    drip_mm_h: F64,
    rain_ahead: F64 | None = None,
    et0_recent: F64 | None = None,
    rule: RainAhead = RAIN_AHEAD,
) -> Advice:
    """Irrigate now (refill to field capacity) when less than a day of the recent water use is left before
    the depletion reaches RAW; otherwise how many days are left, and how much will be due then.

    `rain_ahead` (sites × days from today, mm; NaN where the forecast does not say; already only the days
    likely enough to rain): the depletion steps through the forecast days with the recent ETc and the rain
    that does not evaporate at once (a day's rain below `evaporated_fraction_et0` × ET0 counts nothing;
    rain beyond field capacity drains), and the days left are counted from there. An irrigation due now
    leaves room for the rain forecast today and over the next `room_days` days instead of refilling to
    field capacity, but puts down at least what keeps the depletion within RAW to the day's end."""
    with np.errstate(divide="ignore", invalid="ignore"):
        use = np.where(etc_recent > 0, etc_recent, 0.0)
        plain = _days_to_raw(dr, raw_mm, etc_recent)
        if rain_ahead is None or rain_ahead.size == 0:
            days, rain, room, today = plain, np.full(dr.shape, np.nan), np.zeros(dr.shape), np.zeros(dr.shape)
        else:
            r = np.asarray(rain_ahead, dtype=np.float64)[:, : rule.horizon_days]
            floor = rule.evaporated_fraction_et0 * np.nan_to_num(et0_recent if et0_recent is not None else use)
            counted = np.where(r >= floor[:, None], r, 0.0)
            counted = np.where(np.isnan(r), 0.0, counted)
            said = np.any(~np.isnan(r), axis=1)
            days, d = np.full(dr.shape, np.inf), dr.copy()
            for k in range(r.shape[1]):  # a handful of days: the loop is over days, the arithmetic over sites
                d = np.clip(d + use - counted[:, k], 0.0, taw_mm)
                days = np.where(np.isinf(days) & (d > raw_mm), float(k), days)
            after = r.shape[1] + _days_to_raw(d, raw_mm, etc_recent)  # past the forecast: the recent use alone
            days = np.where(np.isinf(days), after, days)
            days = np.where(said & ~np.isnan(etc_recent), days, plain)
            rain = np.where(said, np.sum(counted, axis=1), np.nan)
            today = counted[:, 0]
            room = np.sum(counted[:, : 1 + rule.room_days], axis=1)
        now = days <= 0
        # at least what keeps the depletion within RAW to the day's end; at most a refill to field capacity
        least = dr + use - today - raw_mm
        need = np.where(now, np.clip(np.maximum(dr - room, least), 0.0, dr), 0.0)
        due = np.where(now, need, raw_mm)
        return Advice(need, due / drip_mm_h, days, due, rain, days > plain)


def _days_to_raw(dr: F64, raw_mm: F64, etc: F64) -> F64:
    """Whole days of `etc` until the depletion passes RAW (0: it has; inf: no water use)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        left = raw_mm - dr
        days = np.where(etc > 0, np.floor(left / np.where(etc > 0, etc, 1.0)), np.inf)
        return np.where(left <= 0, 0.0, days)
