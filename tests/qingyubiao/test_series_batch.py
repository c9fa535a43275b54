"""The series index and columnar batches: dense numbering, health series, range flags."""

from __future__ import annotations

import numpy as np
import pytest

from qingyubiao.batch import Batch, BatchBuilder, Flag
from qingyubiao.catalogue import HEALTH_METRICS, METRICS
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex


def test_series_are_dense_and_findable(index: SeriesIndex) -> None:
    assert len(index) == len(index.keys) == len(index.lo) == len(index.hi) == len(index.interval_s)
    assert len(set(index.keys)) == len(index)
    for i, k in enumerate(index.keys):
        assert index.find(k.village, k.device, k.metric) == i
    assert index.find("lijiahe", "gh01-air", "co2_ppm") is None
    assert index.find("nowhere", "gh01-air", "air_temp_c") is None


def test_every_device_has_its_metrics_and_health_series(village: Config, index: SeriesIndex) -> None:
    v = village.village[0]
    for d in v.device:
        ref = index.devices[(v.id, d.id)]
        assert set(ref.series) == set(d.metrics) | set(HEALTH_METRICS)
        assert len(ref.series) == len(set(ref.series.values()))  # a listed health metric is not doubled
        for metric, s in ref.series.items():
            assert index.keys[s].metric == metric
            assert index.keys[s].device == d.id and index.keys[s].site == d.site
            assert index.interval_s[s] == d.interval_s
    expected = sum(len(set(d.metrics) | set(HEALTH_METRICS)) for d in v.device)
    assert len(index) == expected


def test_ranges_come_from_the_catalogue(index: SeriesIndex) -> None:
    lo = np.array([METRICS[k.metric].lo for k in index.keys])
    hi = np.array([METRICS[k.metric].hi for k in index.keys])
    np.testing.assert_array_equal(index.lo, lo)
    np.testing.assert_array_equal(index.hi, hi)
    assert (index.lo < index.hi).all()


def test_dev_eui_lookup_and_object_keys(village: Config, index: SeriesIndex) -> None:
    lorawan = [d for d in village.village[0].device if d.dev_eui]
    assert lorawan
    for d in lorawan:
        ref = index.by_dev_eui[d.dev_eui or ""]
        assert ref.device.id == d.id
        for key, metric in d.object_keys.items():
            assert ref.object_keys[key] == metric
        for metric in d.metrics:
            assert ref.object_keys[metric] == metric  # catalogue names work as codec keys too
        assert ref.object_ignore == frozenset(d.object_ignore)


def test_of_site(index: SeriesIndex) -> None:
    gh01 = index.of_site("lijiahe", "gh01")
    assert gh01 and all(index.keys[s].site == "gh01" for s in gh01)
    assert len(gh01) == sum(k.site == "gh01" for k in index.keys)
    assert index.of_site("lijiahe", "gh99") == []


# -- BatchBuilder.build: range flags ---------------------------------------------------


def build(index: SeriesIndex, series: list[int], values: list[float], flags: list[int] | None = None) -> Batch:
    b = BatchBuilder()
    for i, (s, v) in enumerate(zip(series, values, strict=True)):
        b.add(s, 1_763_800_000_000 + i, v, 0 if flags is None else flags[i])
    return b.build(index.lo, index.hi)


def test_boundaries_are_valid_and_just_outside_is_flagged(index: SeriesIndex) -> None:
    s = index.find("lijiahe", "gh01-air", "air_rh_pct")
    assert s is not None
    lo, hi = index.lo[s], index.hi[s]
    values = [lo, hi, np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf), (lo + hi) / 2, -1e300, 1e300]
    batch = build(index, [s] * len(values), values)
    bad = (batch.flags & Flag.OUT_OF_RANGE) != 0
    assert bad.tolist() == [False, False, True, True, False, True, True]


def test_flags_are_kept_and_out_of_range_added(index: SeriesIndex) -> None:
    s = index.find("lijiahe", "gh01-air", "air_temp_c")
    assert s is not None
    batch = build(index, [s, s], [20.0, 200.0], [Flag.BUFFERED | Flag.ARRIVAL_TIME, Flag.BUFFERED])
    assert batch.flags.tolist() == [Flag.BUFFERED | Flag.ARRIVAL_TIME, Flag.BUFFERED | Flag.OUT_OF_RANGE]


def test_flags_match_a_scalar_reference_on_random_readings(index: SeriesIndex) -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    series = rng.integers(0, len(index), n)
    # values around each series' range, with many exactly on a boundary
    span = index.hi[series] - index.lo[series]
    values = index.lo[series] + span * rng.uniform(-0.2, 1.2, n)
    on_edge = rng.random(n) < 0.1
    values[on_edge] = np.where(rng.random(on_edge.sum()) < 0.5, index.lo[series][on_edge], index.hi[series][on_edge])
    prior = rng.choice([0, int(Flag.BUFFERED), int(Flag.ARRIVAL_TIME)], n)
    batch = build(index, series.tolist(), values.tolist(), prior.tolist())

    expected = [
        p
        | (Flag.OUT_OF_RANGE if not (METRICS[index.keys[s].metric].lo <= v <= METRICS[index.keys[s].metric].hi) else 0)
        for s, v, p in zip(series.tolist(), values.tolist(), prior.tolist(), strict=True)
    ]
    assert batch.flags.tolist() == expected
    assert on_edge.any() and (batch.flags & Flag.OUT_OF_RANGE).any()


def test_build_gives_typed_columns(index: SeriesIndex) -> None:
    batch = build(index, [0, 1], [1.0, 2.0])
    assert (batch.series.dtype, batch.ts_ms.dtype, batch.value.dtype, batch.flags.dtype) == (
        np.int32,
        np.int64,
        np.float64,
        np.uint16,
    )
    assert batch.ts_ms.tolist() == [1_763_800_000_000, 1_763_800_000_001]
    empty = BatchBuilder().build(index.lo, index.hi)
    assert len(empty) == 0 and empty.flags.dtype == np.uint16 and empty.series.dtype == np.int32


def test_concat_and_take(index: SeriesIndex) -> None:
    a, b = build(index, [0, 1], [1.0, 2.0]), build(index, [2], [3.0])
    both = Batch.concat([a, Batch.empty(), b])
    assert both.series.tolist() == [0, 1, 2] and both.value.tolist() == [1.0, 2.0, 3.0]
    assert len(Batch.concat([])) == 0
    picked = both.take(np.array([True, False, True]))
    assert picked.series.tolist() == [0, 2] and picked.ts_ms.tolist() == [a.ts_ms[0], b.ts_ms[0]]


@pytest.mark.parametrize("reordered", [False, True])
def test_numbering_follows_the_config(village: Config, reordered: bool) -> None:
    v = village.village[0]
    devices = list(reversed(v.device)) if reordered else list(v.device)
    config = village.model_copy(update={"village": [v.model_copy(update={"device": devices})]})
    idx = SeriesIndex(config)
    assert idx.keys[0].device == devices[0].id
    assert {(k.device, k.metric) for k in idx.keys} == {(k.device, k.metric) for k in SeriesIndex(village).keys}
