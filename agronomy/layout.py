"""The models' day layout: hours × sites copies of the day's arrays, the sites ordered by crop so that
each model's sites are one run of columns — a view instead of a gathered copy.

Picking a model's scattered sites out of an hours × sites array reads every row of it end to end, so it
costs the whole array whatever the model's share of the sites; a run of columns costs nothing. The
crops are put in an order in which every model's crops, where possible, sit side by side
(bench/bench_agronomy.py: the village's mix makes every model a run).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

Columns = slice | NDArray[np.intp]
T = TypeVar("T", bound=np.generic)
BLOCK = 1024  # sites a step of the transpose: their rows (192 kB of hourly floats) stay in the cache
SMALL = 4 << 20  # bytes: an array this small is transposed in one go (a day's wetness of 1e5 sites, 2.4 MB)
MAX_SEARCH = 7  # up to this many crops every order is tried (7! = 5040); beyond, they go by name


def crop_order(crops: Iterable[str], groups: Sequence[Iterable[str]]) -> list[str]:
    """An order of the crops in which as many groups (each a model's crops) as possible are runs."""
    present = sorted(set(crops))
    sets = [s for g in groups if len(s := set(g) & set(present)) > 1]  # one crop is always a run
    if len(present) > MAX_SEARCH:
        return present
    best, runs_best = present, -1
    for order in itertools.permutations(present):
        at = {c: i for i, c in enumerate(order)}
        runs = sum(max(p) - min(p) + 1 == len(p) for p in ([at[c] for c in s] for s in sets))
        if runs > runs_best:
            best, runs_best = list(order), runs
            if runs == len(sets):
                break
    return best


def site_order(crops: Sequence[str], groups: Sequence[Iterable[str]]) -> NDArray[np.intp]:
    """The sites grouped by crop in `crop_order`, each crop's in their own order."""
    rank = {c: i for i, c in enumerate(crop_order(crops, groups))}
    return np.argsort(np.array([rank[c] for c in crops], dtype=np.int64), kind="stable").astype(np.intp)


def run_or_index(cols: NDArray[np.intp]) -> Columns:
    """Ascending column indices: a slice when they are consecutive."""
    if cols.size and int(cols[-1]) - int(cols[0]) + 1 == cols.size:
        return slice(int(cols[0]), int(cols[-1]) + 1)
    return cols


def columns(x: NDArray[T], cols: Columns) -> NDArray[T]:
    """Hours × sites → those sites' columns (a view for a run)."""
    return x[:, cols] if isinstance(cols, slice) else np.take(x, cols, axis=1)


def hours_major(x: NDArray[T], order: NDArray[np.intp]) -> NDArray[T]:
    """Sites × hours → an hours × sites copy with the sites in `order`, a block of sites at a time when the
    array is larger than the cache holds (twice as fast as one strided copy of the whole array)."""
    if x.nbytes <= SMALL:
        return np.ascontiguousarray(np.take(x, order, axis=0).T)
    out = np.empty((x.shape[1], x.shape[0]), x.dtype)
    for start in range(0, x.shape[0], BLOCK):
        out[:, start : start + BLOCK] = np.take(x, order[start : start + BLOCK], axis=0).T
    return out
