"""Sites and days for the agronomy models: hourly arrays built by hand, one site per case."""

from __future__ import annotations

import numpy as np
import pytest

from agronomy.daily import Agronomy, Hours, SiteInfo
from agronomy.params import Params, load_params

LAT, LON = 37.45, 110.7  # 李家河村, Wubu county
# 2026-04-20 00:00 China Standard Time: a spring day in the primary scab season
APRIL_20 = 1_776_614_400_000


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params()


def orchard(n: int, stage: str | None = "full_bloom", crop: str = "apple", humidity: bool = True) -> list[SiteInfo]:
    return [SiteInfo(crop, stage, LAT, LON, humidity) for _ in range(n)]


def hours(
    temp: np.ndarray, rh: np.ndarray | None = None, leaf: np.ndarray | None = None, start_ms: int = APRIL_20
) -> Hours:
    t = np.atleast_2d(np.asarray(temp, dtype=np.float64))
    nan = np.full(t.shape, np.nan)
    return Hours(
        start_ms,
        t,
        nan.copy() if rh is None else np.atleast_2d(np.asarray(rh, dtype=np.float64)),
        nan.copy() if leaf is None else np.atleast_2d(np.asarray(leaf, dtype=np.float64)),
        nan.copy(),
    )


def run_days(model: Agronomy, days: list[Hours]) -> list:
    return [model.day(d) for d in days]
