"""One day of every model for every site, in one numpy pass per model, with the state they carry.

`Agronomy.day(hours)` takes the day's hourly means (sites × 24, NaN where an hour has no reading) and
returns each site's risk per model with the numbers behind it. The state (a wet period running over
midnight, degree-days since biofix) is arrays; `snapshot()` / `restore()` carry it over a restart.
Recomputing a day after late readings arrive is running the days again from the state before it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agronomy.degree_days import days_to, single_sine
from agronomy.fire_blight import BlightState, blight_day, count
from agronomy.greenhouse import MouldState, downy_level, mould_day
from agronomy.marssonina import in_season, marssonina_levels
from agronomy.params import Params
from agronomy.phenology import StageState, stage_day, stage_range, stages_off
from agronomy.risk import Risk
from agronomy.scab import ScabState, scab_day
from agronomy.wetness import UNKNOWN, WetRun, best_hour, wet_periods, wetness
from qingyubiao.sun import is_day

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]
RATE_DAYS = 7  # the forecast's daily rate: the mean of the last week's degree-days


@dataclass(frozen=True)
class SiteInfo:
    """What the models need to know about a site (from the village config)."""

    crop: str
    stage: str | None
    lat: float
    lon: float
    has_humidity: bool  # an air temperature and RH sensor, or a leaf-wetness sensor


@dataclass
class Hours:
    """One day of hourly means: `start_ms` is the day's first hour (village midnight), arrays sites × 24."""

    start_ms: int
    temp_c: F64
    rh_pct: F64
    leaf_wet_pct: F64
    rain_mm: F64


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
class StageResult:
    risk: I8  # NONE, or UNKNOWN after too many missing days; sites of crops without sums: NONE
    gdd: F64  # degree-days since 1 January (NaN: the crop has no sums)
    estimated: NDArray[np.int16]  # index into the crop's order of the estimated stage (-1: none)
    next_stage: NDArray[np.int16]  # the next stage in the table (len(order): none)
    off_by: NDArray[np.int16]  # stages between the configured one and the estimate's range (-1: not known)
    estimated_name: NDArray[np.object_]  # the same as stage names (None where there is no estimate)
    next_name: NDArray[np.object_]


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
    pests: dict[str, PestResult] = field(default_factory=dict)


@dataclass
class PestState:
    cum_dd: F64  # NaN: no biofix yet
    recent: F64  # sites × RATE_DAYS, the last days' degree-days (NaN unknown)
    reached: NDArray[np.int64]  # sites × milestones: day start (ms) it was reached, -1 not yet


class Agronomy:
    def __init__(self, sites: list[SiteInfo], params: Params) -> None:
        self.sites, self.p = sites, params
        n = len(sites)
        crops = np.array([s.crop for s in sites])
        stages = np.array([s.stage or "" for s in sites])
        self.has_humidity = np.array([s.has_humidity for s in sites], dtype=bool)
        # each model runs on the rows of the sites whose crop it concerns (`*_at`), its state sized to them
        scab_crop = np.isin(crops, params.scab.crops)
        self.scab_at = np.flatnonzero(scab_crop)
        self.scab_season = (scab_crop & np.isin(stages, params.scab.stages))[self.scab_at]
        self.scab = ScabState.empty(len(self.scab_at))
        fb = params.fire_blight
        blight_crop = np.isin(crops, fb.crops)
        self.blight_at = np.flatnonzero(blight_crop)
        self.blight_season = np.isin(stages, fb.stages)[self.blight_at]
        self.blight = BlightState.empty(len(self.blight_at), fb.window_days)
        self.mould_crop = np.isin(crops, params.grey_mould.crops)
        self.mould = MouldState.empty(n, params.grey_mould.days)
        # downy mildew and Marssonina follow the same wet periods: one run for the sites of either
        downy_crop, marssonina_crop = np.isin(crops, params.downy_mildew.crops), np.isin(crops, params.marssonina.crops)
        self.wet_at = np.flatnonzero(downy_crop | marssonina_crop)
        self.downy_of_wet, self.marssonina_of_wet = downy_crop[self.wet_at], marssonina_crop[self.wet_at]
        self.wet_run = WetRun.empty(len(self.wet_at))
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
        coords = sorted({(s.lat, s.lon) for s in sites})
        self._place = np.array([coords.index((s.lat, s.lon)) for s in sites])
        self._coords = coords

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
        mid = start_ms + 1_800_000 + 3_600_000 * np.arange(hours, dtype=np.int64)
        per_place = np.stack([~is_day(mid, lat, lon) for lat, lon in self._coords])
        return per_place[self._place]

    def day(self, h: Hours) -> DayResult:
        night = self.night(h.start_ms, h.temp_c.shape[1])
        known = np.sum(~np.isnan(h.temp_c), axis=1)
        # fmin/fmax skip NaN and give NaN for a day without readings (nanmin would warn)
        tmin, tmax = np.fmin.reduce(h.temp_c, axis=1), np.fmax.reduce(h.temp_c, axis=1)
        wet = wetness(h.temp_c, h.rh_pct, h.leaf_wet_pct, h.rain_mm, night, self.p.wetness)
        downy, marssonina = self._wet_periods(wet, h.temp_c, h.start_ms)
        result = DayResult(
            h.start_ms,
            self._scab(wet, h.temp_c, night),
            self._blight(wet, h.temp_c),
            self._mould(wet, h.temp_c),
            downy,
            marssonina,
            self._stage(known, tmin, tmax),
        )
        for name in self.p.pest:
            result.pests[name] = self._pest(name, h.start_ms, known, tmin, tmax)
        return result

    def _spread(self, at: NDArray[np.intp], values: NDArray[Any], fill: float) -> NDArray[Any]:
        """A model's values for its rows, as an array over all sites (`fill` elsewhere)."""
        out = np.full(len(self.sites), fill, dtype=values.dtype)
        out[at] = values
        return out

    def _scab(self, wet: I8, temp_c: F64, night: NDArray[np.bool_]) -> ScabResult:
        at = self.scab_at
        d = scab_day(self.scab, wet[at], temp_c[at], night[at], self.p.scab)
        risk = np.where(d.level > 0, d.level, np.where(d.unknown_h > self.p.scab.max_unknown_h, Risk.UNKNOWN, 0))
        risk = np.where(self.has_humidity[at], risk, Risk.NO_DATA)
        risk = np.where(self.scab_season, risk, Risk.NONE)  # outside the primary season
        return ScabResult(self._spread(at, risk.astype(np.int8), Risk.NONE), self._spread(at, d.wet_h, 0.0),
                          self._spread(at, d.mean_c, np.nan))  # fmt: skip

    def _blight(self, wet: I8, temp_c: F64) -> BlightResult:
        at = self.blight_at
        d = blight_day(self.blight, wet[at], temp_c[at], self.p.fire_blight)
        infection = np.array([Risk.LOW, Risk.MODERATE, Risk.HIGH, Risk.HIGH], dtype=np.int8)[d.cls]
        risk = np.where(d.wetted, infection, Risk.LOW)  # no wetting: the bacteria do not enter the flowers
        risk = np.where(d.unknown & (risk < Risk.HIGH), Risk.UNKNOWN, risk)
        risk = np.where(self.has_humidity[at], risk, Risk.NO_DATA)
        risk = np.where(self.blight_season, risk, Risk.NONE)
        return BlightResult(self._spread(at, risk.astype(np.int8), Risk.NONE), self._spread(at, d.cls, 0),
                            self._spread(at, d.dh4, 0.0), self._spread(at, d.wet_h, 0))  # fmt: skip

    def _mould(self, wet: I8, temp_c: F64) -> MouldResult:
        d = mould_day(self.mould, wet, temp_c, self.p.grey_mould)
        risk = np.array([Risk.NONE, Risk.MODERATE, Risk.HIGH], dtype=np.int8)[d.level]
        risk = np.where(d.unknown, Risk.UNKNOWN, risk)
        risk = np.where(self.has_humidity, risk, Risk.NO_DATA)
        risk = np.where(self.mould_crop, risk, Risk.NONE)
        return MouldResult(risk.astype(np.int8), d.wet_mean, d.night_mean)

    def _wet_periods(self, wet: I8, temp_c: F64, start_ms: int) -> tuple[DownyResult, DownyResult]:
        """Downy mildew and Marssonina from the day's wet periods, computed once for the sites of either."""
        at = self.wet_at
        length, mean = wet_periods(self.wet_run, wet[at], temp_c[at])
        unknown_h = count((wet[at] == UNKNOWN) | np.isnan(temp_c[at]))
        dp, mp = self.p.downy_mildew, self.p.marssonina
        out = []
        for levels_of, max_unknown, applies in (
            (lambda x, m: downy_level(x, m, dp), dp.max_unknown_h, self.downy_of_wet),
            (
                lambda x, m: marssonina_levels(x, m, mp),
                mp.max_unknown_h,
                self.marssonina_of_wet & in_season(start_ms, mp),
            ),
        ):
            rows = np.flatnonzero(applies)  # each model classifies only its own sites' hours
            level, wet_h, mean_c = best_hour(levels_of(length[rows], mean[rows]), length[rows], mean[rows])
            risk = np.array([Risk.NONE, Risk.MODERATE, Risk.HIGH], dtype=np.int8)[level]
            risk = np.where((level == 0) & (unknown_h[rows] > max_unknown), Risk.UNKNOWN, risk)
            risk = np.where(self.has_humidity[at][rows], risk, Risk.NO_DATA)
            sites = at[rows]
            out.append(DownyResult(self._spread(sites, risk.astype(np.int8), Risk.NONE),
                                   self._spread(sites, wet_h, 0.0), self._spread(sites, mean_c, np.nan)))  # fmt: skip
        return out[0], out[1]

    def _stage(self, known: NDArray[np.int64], tmin: F64, tmax: F64) -> StageResult:
        n = len(self.sites)
        gdd, lo, hi = np.full(n, np.nan), np.full(n, -1, np.int16), np.full(n, -1, np.int16)
        off = np.full(n, -1, np.int16)
        risk = np.full(n, Risk.NONE, np.int8)
        names, next_names = np.full(n, None, object), np.full(n, None, object)
        for crop, at in self.stage_sites.items():
            p, st = self.p.phenology[crop], self.stage
            part = StageState(st.gdd[at], st.missing_days[at])
            stage_day(part, tmin[at], tmax[at], known[at], p)
            st.gdd[at], st.missing_days[at] = part.gdd, part.missing_days
            gdd[at] = part.gdd
            lo[at], hi[at] = stage_range(part.gdd, p)
            off[at] = stages_off(self.configured[at], lo[at], hi[at])
            risk[at] = np.where(part.missing_days > p.max_missing_days, Risk.UNKNOWN, Risk.NONE)
            order = np.array([*p.order, None], dtype=object)
            names[at], next_names[at] = order[lo[at]], order[hi[at]]
        return StageResult(risk, gdd, lo, hi, off, names, next_names)

    def _pest(self, name: str, start_ms: int, known: NDArray[np.int64], tmin: F64, tmax: F64) -> PestResult:
        p, st, at = self.p.pest[name], self.pest[name], self.pest_at[name]
        known, tmin, tmax = known[at], tmin[at], tmax[at]
        dd = np.where(known >= p.min_hours, single_sine(tmin, tmax, p.lower_c, p.upper_c), np.nan)
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
