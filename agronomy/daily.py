"""One day of every model for every site, in one numpy pass per model, with the state they carry.

`Agronomy.day(hours)` takes the day's hourly means (sites × 24, NaN where an hour has no reading) and
returns each site's risk per model with the numbers behind it. The state (a wet period running over
midnight, degree-days since biofix) is arrays; `snapshot()` / `restore()` carry it over a restart.
Recomputing a day after late readings arrive is running the days again from the state before it.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agronomy.degree_days import days_to, single_sine
from agronomy.et0 import daily_pm, ea_from_rh, hargreaves, ra_daily, rs_from_temperature, rso
from agronomy.fire_blight import BlightState, blight_day
from agronomy.greenhouse import MouldState, downy_level, downy_shortest, mould_day
from agronomy.layout import Columns, columns, hours_major, run_or_index, site_order
from agronomy.marssonina import in_season, marssonina_levels, marssonina_shortest
from agronomy.params import Params
from agronomy.phenology import StageState, stage_day, stage_range, stages_off
from agronomy.powdery import PowderyState, powdery_day
from agronomy.risk import Risk
from agronomy.scab import ScabState, scab_day
from agronomy.water import Balance, WaterParams, advise, greenhouse_et0, kc, p_adjusted, raw
from agronomy.wetness import UNKNOWN, WetRun, best_period, classify, count_hours, wet_periods, wetness
from qingyubiao.sun import is_day

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]
RATE_DAYS = 7  # the forecast's daily rate: the mean of the last week's degree-days


@dataclass(frozen=True)
class WaterSite:
    """A watered block's soil and drip, for the root-zone balance (from the site's irrigation config)."""

    fc: float  # soil water at field capacity, m3 m-3
    wp: float  # at wilting point
    root_m: float
    p: float  # FAO-56 Table 22's depletion fraction for the crop
    drip_mm_h: float
    greenhouse: bool


@dataclass(frozen=True)
class SiteInfo:
    """What the models need to know about a site (from the village config)."""

    crop: str
    stage: str | None
    lat: float
    lon: float
    has_humidity: bool  # an air temperature and RH sensor, or a leaf-wetness sensor
    water: WaterSite | None = None  # a block with irrigation config: the water balance runs for it
    elevation_m: float = 1000.0


@dataclass
class Hours:
    """One day of hourly means: `start_ms` is the day's first hour (village midnight), arrays sites × 24."""

    start_ms: int
    temp_c: F64
    rh_pct: F64
    leaf_wet_pct: F64
    rain_mm: F64
    soil_vwc_pct: F64 | None = None  # a soil moisture probe's hourly means, where the water balance runs


@dataclass
class ScabResult:
    risk: I8
    wet_h: F64
    mean_c: F64


@dataclass
class BlightResult:
    risk: I8
    cls: I8  # Cougarblight's class of the four-day sum: 0 low, 1 caution, 2 high, 3 extreme
    dh4: F64
    wet_h: NDArray[np.int32]


@dataclass
class MouldResult:
    risk: I8
    wet_mean: F64  # the week's mean wet hours a day
    night_mean: F64  # the week's mean night hours at 9-21 °C


@dataclass
class DownyResult:
    risk: I8
    wet_h: F64
    mean_c: F64


@dataclass
class PowderyResult:
    risk: I8
    index: F64  # the Gubler-Thomas index, 0-100 (NaN: not the model's crop)
    run_h: NDArray[np.int16]  # the day's longest run of hours at 15-25 °C
    tmax: F64


@dataclass
class StageResult:
    risk: I8  # NONE, or UNKNOWN after too many missing days; sites of crops without sums: NONE
    gdd: F64  # degree-days since 1 January (NaN: the crop has no sums)
    estimated: NDArray[np.int16]  # index into the crop's order of the estimated stage (-1: none)
    next_stage: NDArray[np.int16]  # the next stage in the table (len(order): none)
    off_by: NDArray[np.int16]  # stages between the configured one and the estimate's range (-1: not known)
    estimated_name: NDArray[np.object_]  # the same as stage names (None where there is no estimate)
    next_name: NDArray[np.object_]


@dataclass
class WaterResult:
    risk: I8  # urgency: HIGH irrigate now, MODERATE within 2 days, LOW later, UNKNOWN no ET0; NONE not watered
    method: I8  # how ET0 was had: 0 Penman-Monteith (Rs from the temperature range, u2 2 m/s), 1 Hargreaves,
    # 2 Penman-Monteith under the film (Fernández et al. 2010), -1 none
    et0: F64
    etc: F64
    dr: F64  # root-zone depletion at the day's end, mm
    raw: F64
    taw: F64
    need_mm: F64
    hours: F64
    days_left: F64
    rain_mm: F64  # forecast rain that counted in the advice (NaN: no forecast)
    deferred: NDArray[np.bool_]  # the forecast rain put the irrigation off


@dataclass
class PestResult:
    risk: I8
    dd: F64  # the day's degree-days (NaN when unknown)
    cum_dd: F64  # since biofix (NaN without a biofix)
    milestone: NDArray[np.int16]  # the next (or just reached) milestone, -1 when none
    days_to: F64  # forecast days until it (0 once reached)


@dataclass
class DayResult:
    start_ms: int
    scab: ScabResult
    fire_blight: BlightResult
    grey_mould: MouldResult
    downy_mildew: DownyResult
    marssonina: DownyResult  # the same shape: the period behind the risk
    stage: StageResult
    powdery_mildew: PowderyResult
    water: WaterResult | None = None
    pests: dict[str, PestResult] = field(default_factory=dict)


@dataclass
class PestState:
    cum_dd: F64  # NaN: no biofix yet
    recent: F64  # sites × RATE_DAYS, the last days' degree-days (NaN unknown)
    reached: NDArray[np.int64]  # sites × milestones: day start (ms) it was reached, -1 not yet


@dataclass
class _Day:
    """One day's inputs to the models, hours × sites (sites in the models' order); `*_of(cols)` the columns
    of a model's sites."""

    temp: F64
    wet: I8
    night: NDArray[np.bool_]

    def temp_of(self, cols: Columns) -> F64:
        return columns(self.temp, cols)

    def wet_of(self, cols: Columns) -> I8:
        return columns(self.wet, cols)

    def night_of(self, cols: Columns) -> NDArray[np.bool_]:
        return columns(self.night, cols)


class Agronomy:
    def __init__(self, sites: list[SiteInfo], params: Params, water: WaterParams | None = None) -> None:
        self.sites, self.p, self.w = sites, params, water
        n = len(sites)
        crops = np.array([s.crop for s in sites])
        stages = np.array([s.stage or "" for s in sites])
        self.has_humidity = np.array([s.has_humidity for s in sites], dtype=bool)
        # the hourly models read the day hours × sites with the sites ordered by crop (agronomy.layout):
        # each model's sites are then one run of columns
        dp, mp = params.downy_mildew, params.marssonina
        groups = [params.scab.crops, params.fire_blight.crops, params.grey_mould.crops, dp.crops + mp.crops,
                  params.powdery_mildew.crops]  # fmt: skip
        self._order = site_order(crops.tolist(), groups)

        def rows(of_model: NDArray[np.bool_]) -> tuple[NDArray[np.intp], Columns]:
            """A model's sites (`*_at`, its state sized and ordered to them) and their columns in the day."""
            cols = np.flatnonzero(of_model[self._order])
            return self._order[cols], run_or_index(cols)

        scab_crop = np.isin(crops, params.scab.crops)
        self.scab_at, self.scab_cols = rows(scab_crop)
        self.scab_season = (scab_crop & np.isin(stages, params.scab.stages))[self.scab_at]
        self.scab = ScabState.empty(len(self.scab_at))
        fb = params.fire_blight
        self.blight_at, self.blight_cols = rows(np.isin(crops, fb.crops))
        self.blight_season = np.isin(stages, fb.stages)[self.blight_at]
        self.blight = BlightState.empty(len(self.blight_at), fb.window_days)
        self.mould_at, self.mould_cols = rows(np.isin(crops, params.grey_mould.crops))
        self.mould = MouldState.empty(len(self.mould_at), params.grey_mould.days)
        # downy mildew and Marssonina follow the same wet periods: one run for the sites of either
        downy_crop, marssonina_crop = np.isin(crops, dp.crops), np.isin(crops, mp.crops)
        self.wet_at, self.wet_cols = rows(downy_crop | marssonina_crop)
        self.downy_of_wet, self.marssonina_of_wet = downy_crop[self.wet_at], marssonina_crop[self.wet_at]
        self.wet_run = WetRun.empty(len(self.wet_at))
        self.powdery_at, self.powdery_cols = rows(np.isin(crops, params.powdery_mildew.crops))
        self.powdery = PowderyState.empty(len(self.powdery_at))
        # phenology: per crop with published sums, its sites and each one's configured stage in its order
        self.stage_sites = {c: np.flatnonzero(crops == c) for c in params.phenology}
        self.configured = np.full(n, -1, np.int16)
        for c, at in self.stage_sites.items():
            order = params.phenology[c].order
            self.configured[at] = [order.index(str(sites[i].stage)) if sites[i].stage in order else -1 for i in at]
        self.stage = StageState.empty(n)
        # the pests' rows: the sites of their host crops; row_of maps a site to its row (-1: not a host)
        self.pest_at = {k: np.flatnonzero(np.isin(crops, v.crops)) for k, v in params.pest.items()}
        self.pest_row = {k: {int(site): row for row, site in enumerate(at)} for k, at in self.pest_at.items()}
        self.pest = {
            k: PestState(np.full(m, np.nan), np.full((m, RATE_DAYS), np.nan), np.full((m, len(v.milestone)), -1))
            for k, v in params.pest.items()
            for m in [len(self.pest_at[k])]
        }
        # the root-zone balance: the watered blocks' rows, their soil, and the recent days' ETc
        self.water_at = np.flatnonzero([s.water is not None for s in sites]) if water else np.zeros(0, np.intp)
        ws = [sites[i].water for i in self.water_at]
        col = {k: np.array([getattr(w, k) for w in ws if w], dtype=np.float64) for k in ("fc", "wp", "root_m", "p")}
        self.balance = Balance(col["fc"], col["wp"], col["root_m"], col["p"], np.zeros(len(ws)))
        self.water_drip = np.array([w.drip_mm_h for w in ws if w], dtype=np.float64)
        self.water_house = np.array([w.greenhouse for w in ws if w], dtype=bool)
        self.water_recent = np.full((len(ws), RATE_DAYS), np.nan)
        coords = sorted({(s.lat, s.lon) for s in sites})
        self._place = np.array([coords.index((s.lat, s.lon)) for s in sites], dtype=np.intp)
        self._coords = coords
        # where each site sits in the models' order, for the models that read per-site values of the day
        position = np.empty(n, np.intp)
        position[self._order] = np.arange(n)
        self.stage_pos = {c: position[at] for c, at in self.stage_sites.items()}
        self.pest_pos = {k: position[at] for k, at in self.pest_at.items()}
        self.water_pos = position[self.water_at]

    # -- inputs the farmer gives ----------------------------------------------------------

    def set_biofix(self, pest: str, site: int, dd_since: float = 0.0) -> None:
        """Start counting a pest's degree-days at a site (first sustained trap catch); not its host: ignored."""
        row = self.pest_row[pest].get(site)
        if row is None:
            return
        st = self.pest[pest]
        st.cum_dd[row] = dd_since
        st.reached[row] = -1

    # -- one day ----------------------------------------------------------------------------

    def night(self, start_ms: int, hours: int = 24) -> NDArray[np.bool_]:
        """Sites × hours: the sun is down at the middle of the hour."""
        return self._night_by_place(start_ms, hours)[self._place]

    def _night_by_place(self, start_ms: int, hours: int) -> NDArray[np.bool_]:
        mid = start_ms + 1_800_000 + 3_600_000 * np.arange(hours, dtype=np.int64)
        return np.stack([~is_day(mid, lat, lon) for lat, lon in self._coords])

    def day(self, h: Hours, irrigation_mm: F64 | None = None, rain_ahead: F64 | None = None) -> DayResult:
        """One day of every model; `irrigation_mm`: water applied to each site that day (the balance's input);
        `rain_ahead`: sites × days of forecast rain from the next day on, where one is known (the advice's).

        Wetness is worked out on the sites × hours input; the models then run on hours × sites copies of
        it and of the temperatures, made once: their hour-by-hour steps read contiguous rows, and a sum over
        the day adds 24 rows instead of reducing 24 cells per site."""
        hours = h.temp_c.shape[1]
        by_place = self._night_by_place(h.start_ms, hours)
        wet = wetness(h.temp_c, h.rh_pct, h.leaf_wet_pct, h.rain_mm, by_place[self._place], self.p.wetness)
        order = self._order
        d = _Day(hours_major(h.temp_c, order), hours_major(wet, order), np.take(by_place.T, self._place[order], axis=1))
        # fmin/fmax skip NaN and give NaN for a day without readings (nanmin would warn)
        # per site in the models' order: a model picks its own by their positions (`*_pos`)
        known, tmin, tmax = (
            count_hours(~np.isnan(d.temp)),
            np.fmin.reduce(d.temp, axis=0),
            np.fmax.reduce(d.temp, axis=0),
        )
        downy, marssonina = self._wet_periods(d, h.start_ms)
        result = DayResult(
            h.start_ms,
            self._scab(d),
            self._blight(d),
            self._mould(d),
            downy,
            marssonina,
            self._stage(known, tmin, tmax),
            self._powdery(d),
        )
        shared: dict[tuple[object, ...], F64] = {}  # pests of the same hosts and thresholds: one day's degree-days
        for name in self.p.pest:
            result.pests[name] = self._pest(name, h.start_ms, known, tmin, tmax, shared)
        if len(self.water_at):
            result.water = self._water(h, known, tmin, tmax, irrigation_mm, rain_ahead)
        return result

    def _water(
        self,
        h: Hours,
        known: NDArray[np.int32],
        tmin: F64,
        tmax: F64,
        irrigation_mm: F64 | None,
        rain_ahead: F64 | None,
    ) -> WaterResult:
        """ET0 and ETc of each watered block, its root-zone balance for the day, and the advice."""
        assert self.w is not None
        at = self.water_at
        sites = [self.sites[i] for i in at]
        lat = np.array([s.lat for s in sites])
        z = np.array([s.elevation_m for s in sites])
        doy = dt.datetime.fromtimestamp(h.start_ms / 1000 + 43_200, dt.UTC).timetuple().tm_yday
        pos = self.water_pos
        tx, tn, rh = tmax[pos], tmin[pos], h.rh_pct[at]
        rh_known = np.sum(~np.isnan(rh), axis=1) >= 20
        rh_max, rh_min = np.fmax.reduce(rh, axis=1), np.fmin.reduce(rh, axis=1)
        ea = ea_from_rh(tn, tx, rh_min, rh_max)
        ra = ra_daily(lat, doy)
        outdoor = ~self.water_house
        # a house's sky: the outdoor blocks' temperature range that day (eq. 50), clear sky without one
        ranges = (tx - tn)[outdoor & (known[pos] >= 20)]
        spread = float(np.median(ranges)) if ranges.size else None
        rs_out = rs_from_temperature(tx, tn, ra)
        rs_house = rs_from_temperature(spread, 0.0, ra) if spread is not None else rso(ra, z)
        with np.errstate(invalid="ignore"):
            pm = daily_pm(tx, tn, ea, rs_out, 2.0, z, lat, doy)  # FAO-56: 2 m/s where wind is not measured
            house = greenhouse_et0(tx, tn, ea, rs_house, z, lat, doy, self.w.greenhouse)
            harg = hargreaves(tx, tn, ra)
        t_known = known[pos] >= 20
        method = np.where(rh_known, np.where(self.water_house, 2, 0), 1)
        method = np.where(t_known, method, -1)
        et0 = np.select([method == 0, method == 1, method == 2], [pm, harg, house], np.nan)
        dry = np.nan_to_num(rh_min, nan=45.0)  # eq. 62's RHmin; the standard where it is not known
        coef = [kc(self.w, s.crop, s.stage, 2.0, m) for s, m in zip(sites, dry, strict=True)]
        kcs = np.array([np.nan if x is None else float(x) for x in coef])
        etc = et0 * kcs
        rain = np.where(self.water_house, 0.0, np.nansum(h.rain_mm[at], axis=1))  # no rain under the film
        probe = None
        if h.soil_vwc_pct is not None:  # the day's mean of the probe, m3 m-3 (NaN: it did not report)
            vwc = h.soil_vwc_pct[at]
            hours_seen = np.sum(~np.isnan(vwc), axis=1)
            probe = np.where(hours_seen > 0, np.nansum(vwc, axis=1) / np.maximum(hours_seen, 1) / 100.0, np.nan)
        applied = np.zeros(len(at)) if irrigation_mm is None else np.nan_to_num(irrigation_mm[at])
        self.balance.day(np.nan_to_num(etc), rain, applied, probe)
        self.water_recent = np.concatenate([self.water_recent[:, 1:], etc[:, None]], axis=1)
        seen = np.sum(~np.isnan(self.water_recent), axis=1)
        recent = np.where(seen > 0, np.nansum(self.water_recent, axis=1) / np.maximum(seen, 1), np.nan)
        total = self.balance.taw
        readily = raw(total, p_adjusted(self.balance.p_table, np.nan_to_num(recent, nan=5.0)))
        # forecast rain falls on the film, not the crop
        ahead = None if rain_ahead is None else np.where(self.water_house[:, None], np.nan, rain_ahead[at])
        a = advise(self.balance.dr, readily, total, recent, self.water_drip, ahead, et0, self.w.rain_ahead)
        risk = np.where(a.days_left <= 0, Risk.HIGH, np.where(a.days_left <= 2, Risk.MODERATE, Risk.LOW))
        risk = np.where(np.isnan(et0) | np.isnan(kcs), Risk.UNKNOWN, risk).astype(np.int8)

        def spread_(x: NDArray[Any], fill: float) -> NDArray[Any]:
            return self._spread(at, np.asarray(x), fill)

        return WaterResult(spread_(risk, Risk.NONE), spread_(method.astype(np.int8), -1), spread_(et0, np.nan),
                           spread_(etc, np.nan), spread_(self.balance.dr, np.nan), spread_(readily, np.nan),
                           spread_(total, np.nan), spread_(a.need_mm, np.nan), spread_(a.hours, np.nan),
                           spread_(a.days_left, np.nan), spread_(a.rain_mm, np.nan),
                           spread_(a.deferred, False))  # fmt: skip

    def _spread(self, at: NDArray[np.intp], values: NDArray[Any], fill: float) -> NDArray[Any]:
        """A model's values for its rows, as an array over all sites (`fill` elsewhere)."""
        out = np.full(len(self.sites), fill, dtype=values.dtype)
        out[at] = values
        return out

    def _scab(self, d: _Day) -> ScabResult:
        at = self.scab_at
        r = scab_day(
            self.scab, d.wet_of(self.scab_cols), d.temp_of(self.scab_cols), d.night_of(self.scab_cols), self.p.scab
        )
        risk = np.where(r.level > 0, r.level, np.where(r.unknown_h > self.p.scab.max_unknown_h, Risk.UNKNOWN, 0))
        risk = np.where(self.has_humidity[at], risk, Risk.NO_DATA)
        risk = np.where(self.scab_season, risk, Risk.NONE)  # outside the primary season
        return ScabResult(self._spread(at, risk.astype(np.int8), Risk.NONE), self._spread(at, r.wet_h, 0.0),
                          self._spread(at, r.mean_c, np.nan))  # fmt: skip

    def _blight(self, d: _Day) -> BlightResult:
        at = self.blight_at
        r = blight_day(self.blight, d.wet_of(self.blight_cols), d.temp_of(self.blight_cols), self.p.fire_blight)
        infection = np.array([Risk.LOW, Risk.MODERATE, Risk.HIGH, Risk.HIGH], dtype=np.int8)[r.cls]
        risk = np.where(r.wetted, infection, Risk.LOW)  # no wetting: the bacteria do not enter the flowers
        risk = np.where(r.unknown & (risk < Risk.HIGH), Risk.UNKNOWN, risk)
        risk = np.where(self.has_humidity[at], risk, Risk.NO_DATA)
        risk = np.where(self.blight_season, risk, Risk.NONE)
        return BlightResult(self._spread(at, risk.astype(np.int8), Risk.NONE), self._spread(at, r.cls, 0),
                            self._spread(at, r.dh4, 0.0), self._spread(at, r.wet_h, 0))  # fmt: skip

    def _mould(self, d: _Day) -> MouldResult:
        at = self.mould_at
        r = mould_day(self.mould, d.wet_of(self.mould_cols), d.temp_of(self.mould_cols), self.p.grey_mould)
        risk = np.array([Risk.NONE, Risk.MODERATE, Risk.HIGH], dtype=np.int8)[r.level]
        risk = np.where(r.unknown, Risk.UNKNOWN, risk)
        risk = np.where(self.has_humidity[at], risk, Risk.NO_DATA)
        return MouldResult(self._spread(at, risk.astype(np.int8), Risk.NONE), self._spread(at, r.wet_mean, np.nan),
                           self._spread(at, r.night_mean, np.nan))  # fmt: skip

    def _wet_periods(self, d: _Day, start_ms: int) -> tuple[DownyResult, DownyResult]:
        """Downy mildew and Marssonina from the day's wet periods, computed once for the sites of either."""
        at = self.wet_at
        wet, temp = d.wet_of(self.wet_cols), d.temp_of(self.wet_cols)
        length, tsum = wet_periods(self.wet_run, wet, temp)  # hours × these sites
        unknown_h = count_hours((wet == UNKNOWN) | np.isnan(temp))
        dp, mp = self.p.downy_mildew, self.p.marssonina
        out = []
        for levels_of, shortest, max_unknown, applies in (
            (lambda x, m: downy_level(x, m, dp), downy_shortest(dp), dp.max_unknown_h, self.downy_of_wet),
            (
                lambda x, m: marssonina_levels(x, m, mp),
                marssonina_shortest(mp),
                mp.max_unknown_h,
                self.marssonina_of_wet & in_season(start_ms, mp),
            ),
        ):
            rows = run_or_index(np.flatnonzero(applies))  # each model classifies only its own sites' hours
            length_r, tsum_r = columns(length, rows), columns(tsum, rows)
            level, wet_h, mean_c = best_period(classify(length_r, tsum_r, shortest, levels_of), length_r, tsum_r)
            risk = np.array([Risk.NONE, Risk.MODERATE, Risk.HIGH], dtype=np.int8)[level]
            risk = np.where((level == 0) & (unknown_h[rows] > max_unknown), Risk.UNKNOWN, risk)
            risk = np.where(self.has_humidity[at][rows], risk, Risk.NO_DATA)
            sites = at[rows]
            out.append(DownyResult(self._spread(sites, risk.astype(np.int8), Risk.NONE),
                                   self._spread(sites, wet_h, 0.0), self._spread(sites, mean_c, np.nan)))  # fmt: skip
        return out[0], out[1]

    def _powdery(self, d: _Day) -> PowderyResult:
        at = self.powdery_at
        r = powdery_day(self.powdery, d.temp_of(self.powdery_cols), self.p.powdery_mildew)
        return PowderyResult(self._spread(at, r.risk, Risk.NONE), self._spread(at, r.index, np.nan),
                             self._spread(at, r.run_h, 0), self._spread(at, r.tmax, np.nan))  # fmt: skip

    def _stage(self, known: NDArray[np.int32], tmin: F64, tmax: F64) -> StageResult:
        n = len(self.sites)
        gdd, lo, hi = np.full(n, np.nan), np.full(n, -1, np.int16), np.full(n, -1, np.int16)
        off = np.full(n, -1, np.int16)
        risk = np.full(n, Risk.NONE, np.int8)
        names, next_names = np.full(n, None, object), np.full(n, None, object)
        for crop, at in self.stage_sites.items():
            p, st = self.p.phenology[crop], self.stage
            part = StageState(st.gdd[at], st.missing_days[at])
            pos = self.stage_pos[crop]
            stage_day(part, tmin[pos], tmax[pos], known[pos], p)
            st.gdd[at], st.missing_days[at] = part.gdd, part.missing_days
            gdd[at] = part.gdd
            lo[at], hi[at] = stage_range(part.gdd, p)
            off[at] = stages_off(self.configured[at], lo[at], hi[at])
            risk[at] = np.where(part.missing_days > p.max_missing_days, Risk.UNKNOWN, Risk.NONE)
            order = np.array([*p.order, None], dtype=object)
            names[at], next_names[at] = order[lo[at]], order[hi[at]]
        return StageResult(risk, gdd, lo, hi, off, names, next_names)

    def _pest(
        self,
        name: str,
        start_ms: int,
        known: NDArray[np.int32],
        tmin: F64,
        tmax: F64,
        shared: dict[tuple[object, ...], F64],
    ) -> PestResult:
        p, st, at = self.p.pest[name], self.pest[name], self.pest_at[name]
        key = (tuple(sorted(p.crops)), p.lower_c, p.upper_c, p.min_hours)
        if key not in shared:
            pos = self.pest_pos[name]
            dd_all = single_sine(tmin[pos], tmax[pos], p.lower_c, p.upper_c)
            shared[key] = np.where(known[pos] >= p.min_hours, dd_all, np.nan)
        dd = shared[key]
        counting = ~np.isnan(st.cum_dd)
        st.cum_dd = np.where(counting, st.cum_dd + np.nan_to_num(dd), st.cum_dd)
        st.recent = np.concatenate([st.recent[:, 1:], dd[:, None]], axis=1)
        seen = np.sum(~np.isnan(st.recent), axis=1)
        rate = np.where(seen > 0, np.nansum(st.recent, axis=1) / np.maximum(seen, 1), np.nan)
        targets = np.array([m.dd_c for m in p.milestone])
        newly = counting[:, None] & (st.cum_dd[:, None] >= targets[None, :]) & (st.reached < 0)
        st.reached = np.where(newly, start_ms, st.reached)
        window_ms = p.lead_days * 86_400_000
        # the milestone that matters: the first not yet reached, or one reached within the last lead_days
        recent_hit = (st.reached >= 0) & (start_ms - st.reached < window_ms + 1)
        pending = st.reached < 0
        relevant = recent_hit | pending
        m = np.where(relevant.any(axis=1), np.argmax(relevant, axis=1), -1).astype(np.int16)
        hit = np.take_along_axis(recent_hit, np.maximum(m, 0)[:, None].astype(np.int64), axis=1)[:, 0] & (m >= 0)
        remaining = np.where(m >= 0, targets[np.maximum(m, 0)] - st.cum_dd, np.inf)
        eta = np.where(hit, 0.0, days_to(remaining, rate))
        risk = np.where(hit, Risk.HIGH, np.where(eta <= p.lead_days, Risk.MODERATE, Risk.LOW))
        risk = np.where(m < 0, Risk.NONE, risk)
        risk = np.where(np.isnan(dd) & ~hit, Risk.UNKNOWN, risk)
        risk = np.where(counting, risk, Risk.NONE)  # no biofix: nothing to forecast
        return PestResult(self._spread(at, risk.astype(np.int8), Risk.NONE), self._spread(at, dd, np.nan),
                          self._spread(at, st.cum_dd, np.nan), self._spread(at, m, -1),
                          self._spread(at, np.where(counting, eta, np.nan), np.nan))  # fmt: skip

    # -- restart ---------------------------------------------------------------------------

    def _states(self) -> dict[str, object]:
        return {
            "blight": self.blight,
            "mould": self.mould,
            "wet_run": self.wet_run,
            "stage": self.stage,
            "powdery": self.powdery,
        }

    def snapshot(self) -> bytes:
        arrays: dict[str, NDArray[np.generic]] = {f"scab.{k}": v for k, v in vars(self.scab).items()}
        for prefix, state in self._states().items():
            arrays |= {f"{prefix}.{k}": v for k, v in vars(state).items()}
        for name, st in self.pest.items():
            arrays |= {f"pest.{name}.{k}": v for k, v in vars(st).items()}
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub wants positional arrays
        return buf.getvalue()

    def restore(self, blob: bytes) -> None:
        with np.load(io.BytesIO(blob)) as z:
            for k in vars(self.scab):
                setattr(self.scab, k, z[f"scab.{k}"].copy())
            for prefix, state in self._states().items():
                for k in vars(state):
                    setattr(state, k, z[f"{prefix}.{k}"].copy())
            for name, st in self.pest.items():
                for k in vars(st):
                    setattr(st, k, z[f"pest.{name}.{k}"].copy())
