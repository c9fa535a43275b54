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
from agronomy.wetness import DRY, WET

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
    """Advance `state` through one day of hourly wetness (sites × hours) and say what the day reached."""
    n, hours = wet.shape
    day = ScabDay(np.zeros(n, np.int8), np.zeros(n), np.full(n, np.nan), np.zeros(n, np.int32))
    known_t = ~np.isnan(temp_c)
    is_wet = (wet == WET) & known_t  # wet without a temperature is unknown
    is_dry = (wet == DRY) & known_t
    day.unknown_h = np.sum(~(is_wet | is_dry), axis=1, dtype=np.int32)
    temps = np.where(known_t, temp_c, 0.0)
    waits = night & p.night_start_at_sunrise
    s = state
    for h in range(hours):
        w, d = is_wet[:, h], is_dry[:, h]
        start = w & ~s.active
        s.active |= start
        s.counting = np.where(start, ~waits[:, h], s.counting) | (s.active & w & ~night[:, h])
        add = s.active & w & s.counting
        s.wet_h += add
        s.temp_sum += temps[:, h] * add
        s.dry_run = np.where(w, 0, s.dry_run + (d & s.active)).astype(np.int32)
        counted = s.wet_h > 0
        mean = np.where(counted, s.temp_sum / np.where(counted, s.wet_h, 1.0), np.nan)
        # a day reports a period in the hours it grows: the dry hours after an infection do not repeat it
        ratio = np.where(add, s.wet_h / light_hours(np.where(counted, mean, -99.0), p), 0.0)
        now = ((ratio >= 1.0).view(np.int8) + (ratio >= p.moderate_factor) + (ratio >= p.severe_factor)).astype(np.int8)
        s.level = np.maximum(s.level, now)
        better = (now > day.level) | ((now == day.level) & (now > 0) & (s.wet_h > day.wet_h))
        if better.any():
            day.level = np.where(better, now, day.level).astype(np.int8)
            day.wet_h = np.where(better, s.wet_h, day.wet_h)
            day.mean_c = np.where(better, mean, day.mean_c)
        end = s.active & (s.dry_run >= p.max_dry_gap_h)
        if end.any():
            s.active &= ~end
            s.counting &= ~end
            s.wet_h[end] = 0.0
            s.temp_sum[end] = 0.0
            s.dry_run[end] = 0
            s.level[end] = 0
    return day
