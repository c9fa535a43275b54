"""Fire blight (Erwinia amylovora) blossom infection at bloom: Cougarblight's four-day degree-hours.

Every hour above `base_c` (15.5 °C) adds its excess as degree-hours; the model sums the day and the
three days before it. A wetting of the flowers for `min_wet_h` consecutive hours or more (rain or dew)
on a day whose four-day sum has reached a class is a potential infection of that class. The class
limits depend on the neighbourhood's fire blight history (`history`): low / caution / high / extreme
(Smith 1999, Cougarblight 98C; the limits as Pessl's FieldClimate documents them, docs/agronomy.md).
Without a wetting the day stays low: the bacteria multiply but do not enter the flowers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from agronomy.params import FireBlightParams
from agronomy.wetness import UNKNOWN, WET, count_hours

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]
CLASS_NAMES = ("low", "caution", "high", "extreme")


@dataclass
class BlightState:
    """The three days before today, per site: their degree-hours and their hours without a temperature."""

    dh: F64  # sites × (window_days − 1)
    unknown_h: NDArray[np.int32]

    @staticmethod
    def empty(n: int, window_days: int) -> BlightState:
        return BlightState(np.zeros((n, window_days - 1)), np.zeros((n, window_days - 1), np.int32))

    def copy(self) -> BlightState:
        return BlightState(*(getattr(self, f.name).copy() for f in fields(self)))


@dataclass
class BlightDay:
    cls: I8  # 0 low, 1 caution, 2 high, 3 extreme: the four-day sum's class
    dh4: F64  # the four-day degree-hours
    wetted: NDArray[np.bool_]  # a wetting of at least min_wet_h hours
    wet_h: NDArray[np.int32]  # the day's wet hours
    unknown: NDArray[np.bool_]  # too many hours without a temperature or a wetness to say low


def degree_hours(temp_c: F64, base_c: float) -> F64:
    """Hours × sites → each site's degree-hours above `base_c` (hours without a reading add nothing), summed
    hour after hour as the reference does."""
    return np.fmax(temp_c - base_c, 0.0).sum(axis=0)  # fmax: a NaN hour gives 0


def wet_runs(is_wet: NDArray[np.bool_], k: int) -> NDArray[np.bool_]:
    """Hours × sites → the sites with `k` consecutive wet hours somewhere."""
    width = is_wet.shape[0] - k + 1
    if width <= 0:
        return np.zeros(is_wet.shape[1], dtype=bool)
    run = is_wet[:width].copy()
    for j in range(1, k):
        run &= is_wet[j : j + width]
    return np.asarray(run.any(axis=0))


def blight_day(state: BlightState, wet: I8, temp_c: F64, p: FireBlightParams) -> BlightDay:
    """Advance `state` by one day (hours × sites) and classify the day."""
    dh_today = degree_hours(temp_c, p.base_c)
    unknown_today = count_hours(np.isnan(temp_c))
    dh4 = state.dh.sum(axis=1) + dh_today
    unknown4 = state.unknown_h.sum(axis=1) + unknown_today
    state.dh = np.concatenate([state.dh[:, 1:], dh_today[:, None]], axis=1)
    state.unknown_h = np.concatenate([state.unknown_h[:, 1:], unknown_today[:, None]], axis=1)
    limits = np.asarray(p.limits[p.history], dtype=np.float64)
    # a sum of hourly excesses that lands on a limit may fall an ulp short of it: it has reached it
    cls = np.sum(dh4[:, None] >= limits[None, :] - 1e-9, axis=1).astype(np.int8)
    is_wet = wet == WET
    runs = wet_runs(is_wet, p.min_wet_h)
    unknown = (unknown4 > p.max_unknown_h * p.window_days) | (~runs & (count_hours(wet == UNKNOWN) > p.max_unknown_h))
    return BlightDay(cls, dh4, runs, count_hours(is_wet), unknown)
