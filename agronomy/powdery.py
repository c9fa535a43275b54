"""Powdery mildew (白粉病) of greenhouse strawberry (Podosphaera aphanis): the Gubler-Thomas risk index.

The UC Davis powdery mildew risk index (Gubler, Thomas et al.) is built for grape; Pessl Instruments'
FieldClimate runs its strawberry form "with the same conditions, other temperature thresholds". A day
counts for the fungus when it has at least `run_h` consecutive hours at `min_c` <= T < `max_c` (strawberry:
6 h at 15-25 °C): +20 points; any other day -10, and a day reaching `hot_c` (32 °C) -10 whatever else
it had. The index stays within 0-100. It starts only after `start_days` (3) such days in a row, at 60;
before that it reverts to 0 on any day that does not count. Once started it runs for good (the source:
"it is no longer a function of the model"). UC Davis's reading of the index: 0-30 low (spray intervals
may be stretched), 40-60 moderate (the usual interval), above 60 high (shorten it).

The index is temperature alone: the fungus needs no free water (and a wet leaf harms its conidia).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agronomy.params import PowderyParams
from agronomy.risk import Risk

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]


@dataclass
class PowderyState:
    index: F64  # 0-100 once started; before, 20 × the days in a row so far
    started: NDArray[np.bool_]
    streak: NDArray[np.int16]  # counting days in a row before the start

    @staticmethod
    def empty(n: int) -> PowderyState:
        return PowderyState(np.zeros(n), np.zeros(n, bool), np.zeros(n, np.int16))


@dataclass
class PowderyDay:
    risk: I8
    index: F64
    run_h: NDArray[np.int16]  # the day's longest run of hours at min_c..max_c
    tmax: F64


def longest_run(inside: NDArray[np.bool_]) -> NDArray[np.int16]:
    """Hours × sites of True/False → each site's longest run of True."""
    run = np.zeros(inside.shape[1], np.int16)
    best = np.zeros(inside.shape[1], np.int16)
    for row in inside:  # one contiguous row of sites per hour
        run += 1
        run *= row  # outside the range: back to 0
        np.maximum(best, run, out=best)
    return best


def powdery_day(state: PowderyState, temp_c: F64, p: PowderyParams) -> PowderyDay:
    """One village day of hourly mean temperatures (hours × sites): the index and its risk; advances `state`."""
    with np.errstate(invalid="ignore"):
        inside = (temp_c >= p.min_c) & (temp_c < p.max_c)
    run = longest_run(inside)
    tmax = np.fmax.reduce(temp_c, axis=0)
    with np.errstate(invalid="ignore"):
        hot = tmax >= p.hot_c
    counts = (run >= p.run_h) & ~hot
    unknown_h = np.count_nonzero(np.isnan(temp_c), axis=0)
    # a day with readings missing that showed neither a counting run nor the heat: nothing is known of it
    known = (unknown_h <= p.max_unknown_h) | counts | hot
    streak = np.where(counts, state.streak + 1, 0).astype(np.int16)
    starts = ~state.started & (streak >= p.start_days)
    change = np.where(counts, p.gain, -p.loss)
    index = np.where(state.started, np.clip(state.index + change, 0.0, 100.0), p.gain * streak)
    index = np.where(starts, p.gain * p.start_days, index)
    started = state.started | starts
    state.index = np.where(known, index, state.index)
    state.started = np.where(known, started, state.started)
    state.streak = np.where(known, np.where(started, 0, streak), state.streak).astype(np.int16)
    level = np.select(
        [state.index > p.moderate_max, state.index > p.low_max],
        [Risk.HIGH, Risk.MODERATE],
        Risk.LOW,
    )
    risk = np.where(state.started, level, np.where(state.index > 0, Risk.LOW, Risk.NONE))
    risk = np.where(known, risk, Risk.UNKNOWN).astype(np.int8)
    return PowderyDay(risk, state.index.copy(), run, tmax)
