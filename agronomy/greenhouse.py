"""Greenhouse diseases: grey mould (Botrytis cinerea) and cucumber downy mildew (Pseudoperonospora cubensis).

Grey mould follows Yunis et al. (1994), built in unheated greenhouses like the village's: an outbreak
is likely when, as a mean over the last week, the foliage is wet more than 7 h a day and the night
(18:00-08:00) spends more than 9.5 h between 9 and 21 °C.

Downy mildew follows Cohen (1977): a wet period infects when it has lasted long enough for its mean
temperature: 2 h at 20 °C, 6 h from 10 °C, 12 h from 5 °C, never above 25 °C (possible, `moderate`);
at the optimum of each duration (20 °C at 2 h, 15-20 °C at 6 h, 10-20 °C at 12 h, 5-20 °C at 24 h)
infection is heavy (`high`). Wet periods run over midnight; a dry or unknown hour ends one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from agronomy.params import DownyParams, GreyMouldParams
from agronomy.wetness import UNKNOWN, WET, count_hours

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]


# -- grey mould ---------------------------------------------------------------------------


@dataclass
class MouldState:
    """The six days before today, day-major (days × sites, so a week's sum adds rows): wet hours, night
    hours at 9-21 °C, and whether the day counts."""

    wet_h: F64
    night_h: F64
    known: NDArray[np.bool_]

    @staticmethod
    def empty(n: int, days: int) -> MouldState:
        return MouldState(np.zeros((days - 1, n)), np.zeros((days - 1, n)), np.zeros((days - 1, n), bool))

    def copy(self) -> MouldState:
        return MouldState(*(getattr(self, f.name).copy() for f in fields(self)))


@dataclass
class MouldDay:
    level: I8  # 0 none of the two, 1 wet only, 2 both (Yunis's outbreak conditions)
    wet_mean: F64  # the week's mean wet hours a day (NaN: too few days known)
    night_mean: F64  # the week's mean night hours at 9-21 °C
    unknown: NDArray[np.bool_]


def night_hours(hours: int, p: GreyMouldParams) -> NDArray[np.bool_]:
    """The hours of a village day (from midnight) that are Yunis's night: 18:00 to 08:00."""
    h = np.arange(hours)
    return (h >= p.night_from_h) | (h < p.night_to_h)


def mould_day(state: MouldState, wet: I8, temp_c: F64, p: GreyMouldParams) -> MouldDay:
    """One day (hours × sites) into the week: the week's means and Yunis's conditions; advances `state`."""
    night_t = temp_c[night_hours(temp_c.shape[0], p)]
    with np.errstate(invalid="ignore"):
        mild = (night_t >= p.night_min_c) & (night_t <= p.night_max_c)
    unknown_h = count_hours((wet == UNKNOWN) | np.isnan(temp_c))
    wet_h = np.concatenate([state.wet_h, count_hours(wet == WET)[None, :].astype(np.float64)])
    night_h = np.concatenate([state.night_h, count_hours(mild)[None, :].astype(np.float64)])
    known = np.concatenate([state.known, (unknown_h <= p.max_unknown_h)[None, :]])
    state.wet_h, state.night_h, state.known = wet_h[1:], night_h[1:], known[1:]
    days = np.count_nonzero(known, axis=0)
    enough = days >= p.min_known_days
    safe = np.maximum(days, 1)
    wet_mean = np.where(enough, (wet_h * known).sum(axis=0) / safe, np.nan)  # whole hours: exact in any order
    night_mean = np.where(enough, (night_h * known).sum(axis=0) / safe, np.nan)
    wet_ok = enough & (wet_mean > p.wet_h_per_day)
    night_ok = enough & (night_mean > p.night_h_per_day)
    level = np.where(wet_ok & night_ok, 2, np.where(wet_ok, 1, 0)).astype(np.int8)
    return MouldDay(level, wet_mean, night_mean, ~enough)


# -- downy mildew -------------------------------------------------------------------------


def downy_shortest(p: DownyParams) -> float:
    """The fewest wet hours any row of the table needs: shorter periods are never infective."""
    return min(row[0] for row in p.table)


def downy_level(hours: F64, mean_c: F64, p: DownyParams) -> I8:
    """Cohen's classes for periods of `hours` wet at `mean_c` (any shape)."""
    eps = 1e-9  # a mean of readings on a row's edge, summed in another order, is still on it
    possible, heavy = np.zeros(np.shape(hours), bool), np.zeros(np.shape(hours), bool)
    with np.errstate(invalid="ignore"):
        for need, min_c, opt_lo, opt_hi in p.table:
            long_enough = hours >= need
            possible |= long_enough & (mean_c >= min_c - eps)
            heavy |= long_enough & (mean_c >= opt_lo - eps) & (mean_c <= opt_hi + eps)
        not_too_warm = mean_c <= p.max_c + eps
    # an optimum lies above its row's least temperature (params), so heavy is always possible too
    return (possible & not_too_warm).view(np.int8) + (heavy & not_too_warm).view(np.int8)
