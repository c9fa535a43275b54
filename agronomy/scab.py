"""Apple scab primary infection: the Mills table as revised by MacHardy & Gadoury (1989).

A wet period accumulates its wet hours and their mean temperature; dry spells shorter than
`max_dry_gap_h` do not end it (their hours do not count). A period that begins at night counts from the
first wet daylight hour (ascospores are released in daylight). Infection is light once the wet hours
reach the revised table's hours at the period's mean temperature, moderate and severe at
`moderate_factor` and `severe_factor` times those hours. A day reports what a period reached in its
wet hours of that day: the dry morning after a night's infection does not report it again. One hour at
a time, vectorized over sites.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from agronomy.params import ScabParams
from agronomy.wetness import DRY, WET, best_period, count_hours

F64 = NDArray[np.float64]


def f_to_c(f: F64 | float) -> F64:
    return (np.asarray(f, dtype=np.float64) - 32.0) * 5.0 / 9.0


def light_hours(mean_c: F64, p: ScabParams) -> F64:
    """Hours of wetness for a light infection at a mean temperature (°C); inf outside the table."""
    temps = f_to_c(np.array([t for t, _ in p.table_f]))
    hours = np.array([h for _, h in p.table_f], dtype=np.float64)
    t = np.asarray(mean_c, dtype=np.float64)
    inside = (t >= temps[0] - 1e-9) & (t <= temps[-1] + 1e-9)
    # less a millionth of an hour: a mean of equal readings an ulp beside its row still needs the row's hours
    return np.where(inside, np.interp(t, temps, hours) - 1e-6, np.inf)


@dataclass
class ScabState:
    """The wet period in progress at each site, carried from one hour (and day) to the next."""

    active: NDArray[np.bool_]  # a wet period is under way
    counting: NDArray[np.bool_]  # its hours count (false while a night-begun period waits for sunrise)
    wet_h: F64  # wet hours counted
    temp_sum: F64  # sum of the counted hours' temperatures
    dry_run: NDArray[np.int32]  # dry hours since the last wet one
    level: NDArray[np.int8]  # highest infection class the period reached: 0 none, 1 light, 2 moderate, 3 severe

    @staticmethod
    def empty(n: int) -> ScabState:
        return ScabState(
            np.zeros(n, bool), np.zeros(n, bool), np.zeros(n), np.zeros(n), np.zeros(n, np.int32), np.zeros(n, np.int8)
        )

    def copy(self) -> ScabState:
        return ScabState(*(getattr(self, f.name).copy() for f in fields(self)))


@dataclass
class ScabDay:
    """What one day's hours gave, per site: the highest class, the period behind it, the unknown hours."""

    level: NDArray[np.int8]
    wet_h: F64  # wet hours of the period that reached `level` (0 when none)
    mean_c: F64  # its mean temperature (NaN when none)
    unknown_h: NDArray[np.int32]


def scab_day(state: ScabState, wet: NDArray[np.int8], temp_c: F64, night: NDArray[np.bool_], p: ScabParams) -> ScabDay:
    """Advance `state` through one day of hourly wetness (hours × sites) and say what the day reached.

    The hour-by-hour loop carries only the period's bookkeeping (cheap boolean and counting steps on
    one row of sites each); the infection classes of every hour the period grew are worked out
    afterwards, all hours at once, from the counts it recorded."""
    hours, n = wet.shape
    known_t = ~np.isnan(temp_c)
    is_wet = (wet == WET) & known_t  # wet without a temperature is unknown
    is_dry = (wet == DRY) & known_t
    unknown_h = hours - count_hours(is_wet) - count_hours(is_dry)
    temps = np.where(is_wet, temp_c, 0.0)
    no_wait = ~night if p.night_start_at_sunrise else np.ones_like(night)
    wet_by_day = is_wet & ~night  # a wet daylight hour sets a waiting period counting
    grown = np.empty((hours, n), bool)  # the period grew that hour
    wet_h, temp_sum = np.empty((hours, n)), np.empty((hours, n))  # the period's counts after the hour
    last_end = np.full(n, -1)  # the last hour a period ended
    s = state
    for h in range(hours):
        w = is_wet[h]
        start = w > s.active  # wet, and no period under way
        s.active |= w
        s.counting = np.where(start, no_wait[h], s.counting) | wet_by_day[h]
        add = np.logical_and(w, s.counting, out=grown[h])
        s.wet_h += add
        s.temp_sum += temps[h] * add
        wet_h[h], temp_sum[h] = s.wet_h, s.temp_sum
        s.dry_run += is_dry[h] & s.active
        s.dry_run *= ~w  # a wet hour: back to 0
        end = s.active & (s.dry_run >= p.max_dry_gap_h)
        if end.any():
            last_end[end] = h
            s.active &= ~end
            s.counting &= ~end
            s.wet_h[end] = 0.0
            s.temp_sum[end] = 0.0
            s.dry_run[end] = 0
    # the class reached in each hour the period grew (0 in the others), worked out for those hours alone
    at = np.flatnonzero(grown)
    grew_h = wet_h.ravel().take(at)
    ratio = grew_h / light_hours(temp_sum.ravel().take(at) / grew_h, p)
    now = np.zeros((hours, n), np.int8)
    now.ravel()[at] = (ratio >= 1.0).view(np.int8) + (ratio >= p.moderate_factor) + (ratio >= p.severe_factor)
    # the day reports its highest class, the longest period at it, the first hour that reached both: a
    # day reports a period in the hours it grows, so the dry hours after an infection do not repeat it
    level, picked_h, picked_mean = best_period(now, wet_h, temp_sum)
    day = ScabDay(level, picked_h, picked_mean, unknown_h)
    # the period running at the day's end: the highest class since it began (an ended one starts at 0)
    reached = np.where(np.arange(hours)[:, None] > last_end[None, :], now, 0).max(axis=0)
    s.level = np.where(last_end < 0, np.maximum(s.level, reached), reached).astype(np.int8)
    return day
