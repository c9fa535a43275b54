"""10-minute readings to hourly means and sums, against a plain per-hour computation: no gaps, a few gaps
(re-summed hour by hour), and mostly missing (a site without the sensor), which take different paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agronomy import hourly
from agronomy.hourly import hourly_mean, hourly_sum


def plain(values: np.ndarray, per_hour: int, total: bool, min_readings: int = 1) -> np.ndarray:
    out = np.full((values.shape[0], values.shape[1] // per_hour), np.nan)
    for i, row in enumerate(values.tolist()):
        for k in range(out.shape[1]):
            got = [x for x in row[k * per_hour : (k + 1) * per_hour] if not math.isnan(x)]
            if len(got) >= min_readings and got:
                out[i, k] = sum(got) if total else sum(got) / len(got)
    return out


@pytest.mark.parametrize("block", [hourly.BLOCK, 50])
@pytest.mark.parametrize("missing", [0.0, 0.03, 0.6, 1.0])
def test_hourly_means_and_sums_equal_the_plain_computation(
    missing: float, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hourly, "BLOCK", block)  # 50 hours a pass: blocks of every kind, the last one short
    rng = np.random.default_rng(7)
    values = rng.normal(15, 5, (300, 144))
    values[rng.random(values.shape) < missing] = np.nan
    values[:40] = np.nan  # sites without the sensor
    values[40:60, :6] = np.nan  # a whole hour missing
    np.testing.assert_allclose(hourly_mean(values, 6), plain(values, 6, False), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(hourly_mean(values, 6, 4), plain(values, 6, False, 4), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(hourly_sum(values, 6), plain(values, 6, True), rtol=1e-12, equal_nan=True)


def test_no_gaps_at_all() -> None:
    values = np.random.default_rng(8).normal(15, 5, (50, 144))
    np.testing.assert_allclose(hourly_mean(values, 6), plain(values, 6, False), rtol=1e-12)
    np.testing.assert_allclose(hourly_sum(values, 6), plain(values, 6, True), rtol=1e-12)


@pytest.mark.parametrize("missing", [0.03, 0.6])
def test_an_odd_number_of_slots_per_hour(missing: float) -> None:
    # 12-minute readings: five slots an hour (the gap counts take their general path)
    rng = np.random.default_rng(9)
    values = rng.normal(15, 5, (200, 120))
    values[rng.random(values.shape) < missing] = np.nan
    values[:30] = np.nan
    np.testing.assert_allclose(hourly_mean(values, 5), plain(values, 5, False), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(hourly_sum(values, 5), plain(values, 5, True), rtol=1e-12, equal_nan=True)
