"""The models one site and one hour at a time, in plain Python: the reference the vectorized code is
tested against (tests/agronomy/test_equivalence.py) and timed against (bench/bench_agronomy.py)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from agronomy.params import (
    DownyParams,
    FireBlightParams,
    GreyMouldParams,
    MarssoninaParams,
    Params,
    PestParams,
    PhenologyParams,
    PowderyParams,
    ScabParams,
    WetnessParams,
)
from agronomy.risk import Risk

nan = float("nan")


def dew_point(t: float, rh: float) -> float:
    g = math.log(max(rh, 0.1) / 100.0) + 17.27 * t / (t + 237.3)
    return 237.3 * g / (17.27 - g)


def wet_hour(t: float, rh: float, leaf: float, rain: float, night: bool, p: WetnessParams) -> int:
    if not math.isnan(leaf):
        return int(leaf >= p.leaf_wet_pct)
    rained = not math.isnan(rain) and rain > 0
    if math.isnan(rh) or math.isnan(t):
        return 1 if rained else -1
    wet = rh >= p.rh_wet_pct or (night and t - dew_point(t, rh) <= p.night_dew_margin_c)
    return int(wet or rained)


def light_hours(mean_c: float, p: ScabParams) -> float:
    rows = [((f - 32.0) * 5.0 / 9.0, h) for f, h in p.table_f]
    if not rows[0][0] - 1e-9 <= mean_c <= rows[-1][0] + 1e-9:
        return math.inf
    for (t0, h0), (t1, h1) in itertools.pairwise(rows):
        if mean_c <= t1:
            return h0 + (h1 - h0) * (max(mean_c, t0) - t0) / (t1 - t0) - 1e-6
    return rows[-1][1] - 1e-6


@dataclass
class ScabSite:
    active: bool = False
    counting: bool = False
    wet_h: float = 0.0
    temp_sum: float = 0.0
    dry_run: int = 0
    level: int = 0


def scab_day(
    s: ScabSite, wet: list[int], temps: list[float], night: list[bool], p: ScabParams
) -> tuple[int, float, float, int]:
    """(level, wet hours, mean °C, unknown hours) of one site's day; advances `s`."""
    best, best_wet, best_mean, unknown = 0, 0.0, nan, 0
    for w, t, dark in zip(wet, temps, night, strict=True):
        if math.isnan(t):
            w = -1
        unknown += w < 0
        if w == 1 and not s.active:
            s.active, s.counting = True, not (dark and p.night_start_at_sunrise)
        if s.active and w == 1 and not dark:
            s.counting = True
        if s.active and w == 1 and s.counting:
            s.wet_h += 1
            s.temp_sum += t
        if w == 1:
            s.dry_run = 0
        elif w == 0 and s.active:
            s.dry_run += 1
        mean = s.temp_sum / s.wet_h if s.wet_h > 0 else nan
        now = 0
        if s.active and w == 1 and s.counting:  # the period grew this hour
            need = light_hours(mean, p)
            now = (
                3
                if s.wet_h >= need * p.severe_factor
                else 2
                if s.wet_h >= need * p.moderate_factor
                else 1
                if s.wet_h >= need
                else 0
            )
        s.level = max(s.level, now)
        if now > best or (now == best and now > 0 and s.wet_h > best_wet):
            best, best_wet, best_mean = now, s.wet_h, mean
        if s.active and s.dry_run >= p.max_dry_gap_h:
            s.active = s.counting = False
            s.wet_h = s.temp_sum = 0.0
            s.dry_run = s.level = 0
    return best, best_wet, best_mean, unknown


@dataclass
class BlightSite:
    days: list[tuple[float, int]] = field(default_factory=list)  # the previous days' (degree-hours, unknown hours)


def blight_day(
    s: BlightSite, wet: list[int], temps: list[float], has_humidity: bool, in_season: bool, p: FireBlightParams
) -> tuple[int, int, float]:
    """(risk, Cougarblight class, four-day degree-hours) of one site's day; advances `s`."""
    dh = sum(t - p.base_c for t in temps if not math.isnan(t) and t > p.base_c)
    unknown = sum(math.isnan(t) for t in temps)
    window = [*s.days[-(p.window_days - 1) :], (dh, unknown)] if p.window_days > 1 else [(dh, unknown)]
    s.days = window
    # the vectorized state starts as zeros: days before the first count as 0 degree-hours, 0 unknown
    dh4 = sum(d for d, _ in window)
    unknown4 = sum(u for _, u in window)
    cls = sum(dh4 >= limit - 1e-9 for limit in p.limits[p.history])
    longest = run = 0
    for w in wet:
        run = run + 1 if w == 1 else 0
        longest = max(longest, run)
    wetted = longest >= p.min_wet_h
    risk = [Risk.LOW, Risk.MODERATE, Risk.HIGH, Risk.HIGH][cls] if wetted else Risk.LOW
    too_few = unknown4 > p.max_unknown_h * p.window_days or (not wetted and wet.count(-1) > p.max_unknown_h)
    if too_few and risk < Risk.HIGH:
        risk = Risk.UNKNOWN
    if not has_humidity:
        risk = Risk.NO_DATA
    return int(risk if in_season else Risk.NONE), cls, dh4


@dataclass
class MouldSite:
    days: list[tuple[float, float, bool]] = field(default_factory=list)  # (wet h, mild night h, counts)


def mould_day(s: MouldSite, wet: list[int], temps: list[float], p: GreyMouldParams) -> tuple[int, float, float]:
    """(level 0/1/2 or -1 unknown, the week's mean wet hours a day, its mean mild night hours); advances `s`."""
    if not s.days:
        s.days = [(0.0, 0.0, False)] * (p.days - 1)
    wet_h = float(sum(w == 1 for w in wet))
    mild = 0.0
    for h, t in enumerate(temps):
        night = h >= p.night_from_h or h < p.night_to_h
        if night and not math.isnan(t) and p.night_min_c <= t <= p.night_max_c:
            mild += 1
    unknown = sum(w == -1 or math.isnan(t) for w, t in zip(wet, temps, strict=True))
    week = [*s.days, (wet_h, mild, unknown <= p.max_unknown_h)]
    s.days = week[1:]
    counted = [(w, m) for w, m, ok in week if ok]
    if len(counted) < p.min_known_days:
        return -1, nan, nan
    wet_mean = sum(w for w, _ in counted) / len(counted)
    night_mean = sum(m for _, m in counted) / len(counted)
    wet_ok, night_ok = wet_mean > p.wet_h_per_day, night_mean > p.night_h_per_day
    return (2 if wet_ok and night_ok else 1 if wet_ok else 0), wet_mean, night_mean


def downy_level(hours: float, mean_c: float, p: DownyParams) -> int:
    level, eps = 0, 1e-9
    for need, min_c, opt_lo, opt_hi in p.table:
        if hours >= need and mean_c <= p.max_c + eps:
            if opt_lo - eps <= mean_c <= opt_hi + eps:
                level = max(level, 2)
            elif mean_c >= min_c - eps:
                level = max(level, 1)
    return level


@dataclass
class DownySite:
    hours: float = 0.0
    temp_sum: float = 0.0


def downy_day(s: DownySite, wet: list[int], temps: list[float], p: DownyParams) -> tuple[int, float, float, int]:
    """(level, the period's wet hours, its mean °C, unknown hours) of one site's day; advances `s`."""
    best, best_h, best_mean, unknown = 0, 0.0, nan, 0
    for w, t in zip(wet, temps, strict=True):
        unknown += w == -1 or math.isnan(t)
        if w == 1 and not math.isnan(t):
            s.hours += 1
            s.temp_sum += t
            mean = s.temp_sum / s.hours
            level = downy_level(s.hours, mean, p)
            if level > best or (level == best and level > 0 and s.hours > best_h):
                best, best_h, best_mean = level, s.hours, mean
        else:
            s.hours = s.temp_sum = 0.0
    return best, best_h, best_mean, unknown


def marssonina_hours(mean_c: float, p: MarssoninaParams) -> float:
    if not p.min_c - 1e-9 <= mean_c <= p.max_c + 1e-9:
        return math.inf
    rows = list(p.table)
    if mean_c <= rows[0][0]:
        return rows[0][1] - 1e-6
    for (t0, h0), (t1, h1) in itertools.pairwise(rows):
        if mean_c <= t1:
            return h0 + (h1 - h0) * (mean_c - t0) / (t1 - t0) - 1e-6
    return rows[-1][1] - 1e-6


def marssonina_day(
    s: DownySite, wet: list[int], temps: list[float], p: MarssoninaParams
) -> tuple[int, float, float, int]:
    """(level 0/1/2, the period's wet hours, its mean °C, unknown hours) of one site's day; advances `s`."""
    best, best_h, best_mean, unknown = 0, 0.0, nan, 0
    for w, t in zip(wet, temps, strict=True):
        unknown += w == -1 or math.isnan(t)
        if w == 1 and not math.isnan(t):
            s.hours += 1
            s.temp_sum += t
            mean = s.temp_sum / s.hours
            need = marssonina_hours(mean, p)
            level = 2 if s.hours >= need * p.severe_factor else 1 if s.hours >= need else 0
            if level > best or (level == best and level > 0 and s.hours > best_h):
                best, best_h, best_mean = level, s.hours, mean
        else:
            s.hours = s.temp_sum = 0.0
    return best, best_h, best_mean, unknown


@dataclass
class PowderySite:
    index: float = 0.0
    started: bool = False
    streak: int = 0


def powdery_day(s: PowderySite, temps: list[float], p: PowderyParams) -> tuple[int, float, int]:
    """(risk, index, longest run of hours at min_c..max_c) of one site's day; advances `s`."""
    run = best = 0
    for t in temps:
        run = run + 1 if not math.isnan(t) and p.min_c <= t < p.max_c else 0
        best = max(best, run)
    seen = [t for t in temps if not math.isnan(t)]
    hot = bool(seen) and max(seen) >= p.hot_c
    counts = best >= p.run_h and not hot
    if len(temps) - len(seen) > p.max_unknown_h and not counts and not hot:
        return Risk.UNKNOWN, s.index, best
    if s.started:
        s.index = min(100.0, max(0.0, s.index + (p.gain if counts else -p.loss)))
    else:
        s.streak = s.streak + 1 if counts else 0
        s.index = p.gain * s.streak
        if s.streak >= p.start_days:
            s.started, s.streak, s.index = True, 0, p.gain * p.start_days
    if not s.started:
        return (Risk.LOW if s.index > 0 else Risk.NONE), s.index, best
    risk = Risk.HIGH if s.index > p.moderate_max else Risk.MODERATE if s.index > p.low_max else Risk.LOW
    return risk, s.index, best


@dataclass
class StageSite:
    gdd: float = 0.0
    missing: int = 0


def stage_day(
    s: StageSite, temps: list[float], configured: str | None, p: PhenologyParams
) -> tuple[int, int, int, int]:
    """(risk, estimated stage index, next table stage index, stages off) of one site's day; advances `s`."""
    known = [t for t in temps if not math.isnan(t)]
    if len(known) >= p.min_hours:
        s.gdd += single_sine(min(known), max(known), p.base_c, 100.0)
    else:
        s.missing += 1
    lo, hi = 0, p.order.index(p.sums[0][0])
    for k, (name, total) in enumerate(p.sums):
        if s.gdd + 1e-9 >= total:
            lo = p.order.index(name)
            hi = p.order.index(p.sums[k + 1][0]) if k + 1 < len(p.sums) else len(p.order)
    c = p.order.index(configured) if configured in p.order else -1
    off = -1 if c < 0 else lo - c if c < lo else c - hi + 1 if c >= hi else 0
    return (Risk.UNKNOWN if s.missing > p.max_missing_days else Risk.NONE), lo, hi, off


def single_sine(tmin: float, tmax: float, lower: float, upper: float) -> float:
    """Zalom et al. (1983), case by case as the leaflet writes them."""
    if math.isnan(tmin) or math.isnan(tmax):
        return nan
    tmin, tmax = min(tmin, tmax), max(tmin, tmax)
    mean, amp = (tmax + tmin) / 2, (tmax - tmin) / 2
    if tmax <= lower:
        return 0.0
    if tmin >= upper:
        return upper - lower
    if tmin >= lower and tmax <= upper:
        return mean - lower
    if tmin < lower and tmax <= upper:  # the lower threshold only
        th1 = math.asin((lower - mean) / amp)
        return ((mean - lower) * (math.pi / 2 - th1) + amp * math.cos(th1)) / math.pi
    if tmin >= lower:  # the upper threshold only
        th2 = math.asin((upper - mean) / amp)
        return (
            (mean - lower) * (th2 + math.pi / 2) + (upper - lower) * (math.pi / 2 - th2) - amp * math.cos(th2)
        ) / math.pi
    th1, th2 = math.asin((lower - mean) / amp), math.asin((upper - mean) / amp)  # both
    return (
        (mean - lower) * (th2 - th1) + amp * (math.cos(th1) - math.cos(th2)) + (upper - lower) * (math.pi / 2 - th2)
    ) / math.pi


@dataclass
class PestSite:
    cum_dd: float = nan
    recent: list[float] = field(default_factory=lambda: [nan] * 7)
    reached: list[int] = field(default_factory=list)


def pest_day(
    s: PestSite, temps: list[float], start_ms: int, applies: bool, p: PestParams
) -> tuple[int, float, int, float]:
    """(risk, the day's degree-days, milestone, days to it) of one site's day; advances `s`."""
    if not s.reached:
        s.reached = [-1] * len(p.milestone)
    known = [t for t in temps if not math.isnan(t)]
    dd = single_sine(min(known), max(known), p.lower_c, p.upper_c) if len(known) >= p.min_hours else nan
    counting = not math.isnan(s.cum_dd)
    if counting:
        s.cum_dd += 0.0 if math.isnan(dd) else dd
    s.recent = [*s.recent[1:], dd]
    seen = [x for x in s.recent if not math.isnan(x)]
    rate = sum(seen) / len(seen) if seen else nan
    for i, m in enumerate(p.milestone):
        if counting and s.cum_dd >= m.dd_c and s.reached[i] < 0:
            s.reached[i] = start_ms
    window = p.lead_days * 86_400_000
    m_idx, hit = -1, False
    for i in range(len(p.milestone)):
        recent = s.reached[i] >= 0 and start_ms - s.reached[i] < window + 1
        if recent or s.reached[i] < 0:
            m_idx, hit = i, recent
            break
    if m_idx < 0:
        eta = math.inf
    elif hit:
        eta = 0.0
    else:
        remaining = p.milestone[m_idx].dd_c - s.cum_dd
        if math.isnan(remaining):  # no biofix
            eta = nan
        elif remaining <= 0:
            eta = 0.0
        else:
            eta = math.ceil(remaining / rate) if rate > 0 else math.inf
    risk = Risk.HIGH if hit else Risk.MODERATE if eta <= p.lead_days else Risk.LOW
    if m_idx < 0:
        risk = Risk.NONE
    if math.isnan(dd) and not hit:
        risk = Risk.UNKNOWN
    if not (counting and applies):
        risk = Risk.NONE
    return int(risk), dd, m_idx, eta if counting else nan


def scab_risk(level: int, unknown: int, has_humidity: bool, in_season: bool, p: Params) -> int:
    risk = level if level > 0 else Risk.UNKNOWN if unknown > p.scab.max_unknown_h else Risk.NONE
    if not has_humidity:
        risk = Risk.NO_DATA
    return int(risk) if in_season else int(Risk.NONE)
