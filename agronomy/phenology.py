"""A block's bud stage estimated from growing degree-days since 1 January, beside the configured stage.

Degree-days above the crop's base (apple: 43 °F, 6.1 °C) by the single sine without an upper cutoff,
from 1 January; a stage is reached at its published sum (WSU's Red Delicious figures, docs/agronomy.md).
The sums name only some stages, so the estimate is a range: from the last stage reached up to (not
including) the next one in the table. The configured stage still decides the thresholds; the estimate
only says when the two disagree by more than one stage, for the secretary to look.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agronomy.degree_days import single_sine
from agronomy.params import PhenologyParams

F64 = NDArray[np.float64]
I16 = NDArray[np.int16]
NO_CUTOFF_C = 100.0  # the single sine needs an upper threshold; nothing reaches this one


@dataclass
class StageState:
    gdd: F64
    missing_days: NDArray[np.int32]

    @staticmethod
    def empty(n: int) -> StageState:
        return StageState(np.zeros(n), np.zeros(n, np.int32))

    def copy(self) -> StageState:
        return StageState(self.gdd.copy(), self.missing_days.copy())


def stage_range(gdd: F64, p: PhenologyParams) -> tuple[I16, I16]:
    """Indices into `p.order` of the estimated stage and of the next stage in the table (len(order): none)."""
    sums = np.array([s for _, s in p.sums])
    reached = np.searchsorted(sums, gdd + 1e-9, side="right")  # table stages reached
    at = np.array([p.order.index(name) for name, _ in p.sums] + [len(p.order)])
    lo = np.where(reached > 0, at[np.maximum(reached - 1, 0)], 0).astype(np.int16)
    return lo, at[reached].astype(np.int16)


def stages_off(configured: I16, lo: I16, hi: I16) -> I16:
    """How many stages the configured one lies outside the estimate's range (0 inside; -1 not configured)."""
    off = np.where(configured < lo, lo - configured, np.where(configured >= hi, configured - hi + 1, 0))
    return np.where(configured < 0, -1, off).astype(np.int16)


def day_degree_days(
    tmin: F64, tmax: F64, known_hours: NDArray[np.int32], base_c: float, min_hours: int
) -> tuple[F64, NDArray[np.bool_]]:
    """A day's degree-days for the stage estimate, and whether it had enough hours (if not, it adds none)."""
    enough = known_hours >= min_hours
    return np.where(enough, np.nan_to_num(single_sine(tmin, tmax, base_c, NO_CUTOFF_C)), 0.0), enough


def stage_day(state: StageState, tmin: F64, tmax: F64, known_hours: NDArray[np.int32], p: PhenologyParams) -> None:
    """Add one day's degree-days (a day with too few hours adds none and is counted as missing)."""
    dd, enough = day_degree_days(tmin, tmax, known_hours, p.base_c, p.min_hours)
    state.gdd = state.gdd + dd
    state.missing_days = state.missing_days + (~enough)
