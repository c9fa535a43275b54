"""A village's rain forecast: what the collector fetched (alerts/forecast.py) and the water advice reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RainDay:
    day: str  # YYYY-MM-DD, village date
    mm: float  # the day's forecast precipitation
    probability_pct: float | None  # the chance of it (None: the source does not say)


@dataclass(frozen=True, slots=True)
class RainForecast:
    village: str
    source: str  # where it came from (the URL's host), said beside the advice
    fetched_ms: int
    days: tuple[RainDay, ...]

    def ahead(self, first: dt.date, n: int, min_probability_pct: float) -> list[float | None]:
        """mm for each of n days from `first`: the forecast rain where its chance is at least the minimum
        (0 where it is lower), None where the forecast does not reach."""
        by_day = {d.day: d for d in self.days}
        out: list[float | None] = []
        for k in range(n):
            d = by_day.get((first + dt.timedelta(days=k)).isoformat())
            if d is None:
                out.append(None)
            elif d.probability_pct is not None and d.probability_pct < min_probability_pct:
                out.append(0.0)
            else:
                out.append(d.mm)
        return out
