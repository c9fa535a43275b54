"""A crop's stage sums from a county's own observations, for a `[phenology.<crop>]` table.

Pear has no published stage sums from 1 January (docs/agronomy.md), so the stage estimate needs the
county's own: the days its blocks were seen at each bud stage. The degree-days from 1 January through
each of those days, by the estimate's own rules (`phenology.day_degree_days`), averaged per stage, are
the sums. Fed back to the estimate, they put each stage on about the day it was seen.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StageSum:
    stage: str
    n: int  # observations
    mean: float  # °C-DD since 1 January
    sd: float  # 0 for one observation
    lo: float
    hi: float


def stage_sums(seen: Sequence[tuple[str, float]], order: Sequence[str]) -> list[StageSum]:
    """Per observed stage, in the crop's order, the degree-days it was seen at. ValueError when the means do
    not rise with the stages (the estimate needs rising sums: an observation is probably wrong)."""
    by_stage: dict[str, list[float]] = {}
    for stage, gdd in seen:
        if stage not in order:
            raise ValueError(f"stage {stage!r} is not one of {', '.join(order)}")
        by_stage.setdefault(stage, []).append(gdd)
    out = []
    for stage in sorted(by_stage, key=order.index):
        x = np.array(by_stage[stage])
        sd = float(x.std(ddof=1)) if len(x) > 1 else 0.0
        out.append(StageSum(stage, len(x), float(x.mean()), sd, float(x.min()), float(x.max())))
    for a, b in itertools.pairwise(out):
        if tenths_down(b.mean) <= tenths_down(a.mean):
            raise ValueError(
                f"the sums do not rise: {b.stage} at {b.mean:.1f} °C-DD is not above {a.stage} at {a.mean:.1f}; "
                "check those observations (a block or a date wrong?)"
            )
    return out


def phenology_table(
    crop: str,
    sums: Sequence[StageSum],
    order: Sequence[str],
    base_c: float,
    min_hours: int,
    max_missing_days: int,
    where: str,
    today: dt.date,
) -> str:
    """The `[phenology.<crop>]` TOML table for agronomy/params/models.toml, with what it was made from."""
    lines = [
        f"[phenology.{crop}]",
        f"# From the county's own observations ({where}), made by `qyb agronomy stage-sums` on {today}.",
        "# Degree-days since 1 January (single sine, no upper cutoff) on the days each stage was seen:",
        "# stage: observations, mean ± sd (lowest–highest)",
    ]
    lines += [f"#   {s.stage}: {s.n}, {tenths_down(s.mean)} ± {s.sd:.1f} ({s.lo:.1f}–{s.hi:.1f})" for s in sums]
    lines += [
        f"base_c = {base_c}",
        f"min_hours = {min_hours}",
        f"max_missing_days = {max_missing_days}",
        f"order = {json.dumps(list(order))}",
        "sums = [" + ", ".join(f"[{json.dumps(s.stage)}, {tenths_down(s.mean)}]" for s in sums) + "]",
    ]
    return "\n".join(lines) + "\n"


def tenths_down(x: float) -> float:
    """Rounded down to 0.1: a stage is then reached on the day it was seen, not the day after."""
    return math.floor(x * 10 + 1e-9) / 10
