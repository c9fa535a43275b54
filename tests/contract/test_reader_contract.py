"""The ReadingReader contract (qingyubiao/store.py), checked against a numpy reference of the loaded readings."""

from __future__ import annotations

import numpy as np
import pytest

from qingyubiao.batch import Batch, Flag
from qingyubiao.series import SeriesIndex
from qingyubiao.store import ReadingReader
from tests.contract.conftest import EMPTY_SERIES

BAD = np.uint16(Flag.OUT_OF_RANGE)


def valid(data: Batch, series: int) -> tuple[np.ndarray, np.ndarray]:
    m = (data.series == series) & ((data.flags & BAD) == 0)
    order = np.argsort(data.ts_ms[m])
    return data.ts_ms[m][order], data.value[m][order]


def test_count_is_every_stored_reading_once(reader: ReadingReader, dataset: Batch):
    assert reader.count() == len(dataset)


def test_latest_is_the_newest_valid_reading(reader: ReadingReader, dataset: Batch, index: SeriesIndex):
    series = [EMPTY_SERIES, *range(1, len(index), 7)]
    got = reader.latest(series)
    for i, s in enumerate(series):
        ts, value = valid(dataset, s)
        if len(ts) == 0:
            assert got.ts_ms[i] == -1 and np.isnan(got.value[i])
        else:
            assert (got.ts_ms[i], got.value[i]) == (ts[-1], pytest.approx(value[-1]))
    assert reader.latest([]).ts_ms.shape == (0,)


def test_latest_skips_out_of_range_readings(reader: ReadingReader, dataset: Batch):
    flagged = dataset.take((dataset.flags & BAD) != 0)
    newest_bad: dict[int, int] = {}
    for s, t in zip(flagged.series.tolist(), flagged.ts_ms.tolist(), strict=True):
        newest_bad[s] = max(t, newest_bad.get(s, 0))
    # series whose newest reading of all is out of range: latest must be an older, valid one
    hit = [s for s, t in newest_bad.items() if t == dataset.ts_ms[dataset.series == s].max()]
    assert hit, "the data set must have such a series"
    got = reader.latest(hit)
    for i, s in enumerate(hit):
        assert got.ts_ms[i] == valid(dataset, s)[0][-1] < newest_bad[s]


@pytest.mark.parametrize(
    "step_ms, offset_ms",
    [(60_000, 0), (300_000, 0), (3_600_000, 0), (420_000, 0), (60_000, 12_345), (900_000, 0)],
    ids=["1min", "5min", "1h", "7min", "1min-unaligned", "15min"],
)
def test_history_buckets_match_the_reference(reader: ReadingReader, dataset: Batch, step_ms: int, offset_ms: int):
    series = 5
    ts, value = valid(dataset, series)
    start = int(ts[0]) // 3_600_000 * 3_600_000 + offset_ms  # hour-aligned (rollups serve it) or not
    end = int(ts[-1]) + 1
    h = reader.history(series, start, end, step_ms)
    keep = ts >= start
    bucket = (ts[keep] - start) // step_ms * step_ms + start
    ref_b, ref_n = np.unique(bucket, return_counts=True)
    assert h.bucket_ms.tolist() == ref_b.tolist()
    assert h.count.tolist() == ref_n.tolist()
    for j, b in enumerate(ref_b):
        v = value[keep][bucket == b]
        assert (h.vmin[j], h.vmax[j]) == (v.min(), v.max())
        assert h.vmean[j] == pytest.approx(v.mean(), rel=1e-9)


def test_history_of_an_empty_range_is_empty(reader: ReadingReader, dataset: Batch):
    h = reader.history(5, 0, 1_000_000, 60_000)
    assert len(h.bucket_ms) == len(h.count) == len(h.vmean) == 0


def test_history_refuses_a_bad_step_or_range(reader: ReadingReader):
    with pytest.raises(ValueError):
        reader.history(5, 1_000, 2_000, 0)
    with pytest.raises(ValueError):
        reader.history(5, 2_000, 1_000, 60_000)


def export_reference(dataset: Batch, index: SeriesIndex, start: int, end: int, series: set[int] | None) -> list:
    rows = []
    for s, t, v, f in zip(
        dataset.series.tolist(), dataset.ts_ms.tolist(), dataset.value.tolist(), dataset.flags.tolist(), strict=True
    ):
        if start <= t < end and (series is None or s in series):
            k = index.keys[s]
            rows.append((t, k.village, k.site, k.device, k.metric, v, f & int(BAD)))
    return sorted(rows)


def test_export_everything_in_order_with_the_out_of_range_flag(
    reader: ReadingReader, dataset: Batch, index: SeriesIndex
):
    got = [
        (r.ts_ms, r.village, r.site, r.device, r.metric, r.value, r.flags & int(BAD))
        for r in reader.export(None, None, None)
    ]
    assert got == export_reference(dataset, index, 0, 2**62, None)


def test_export_a_range_of_some_series(reader: ReadingReader, dataset: Batch, index: SeriesIndex):
    start = int(np.quantile(dataset.ts_ms, 0.3))
    end = int(np.quantile(dataset.ts_ms, 0.6))
    series = set(index.of_site("lijiahe", index.keys[40].site)) | {EMPTY_SERIES}
    got = [
        (r.ts_ms, r.village, r.site, r.device, r.metric, r.value, r.flags & int(BAD))
        for r in reader.export(start, end, sorted(series))
    ]
    ref = export_reference(dataset, index, start, end, series)
    assert got == ref and len(ref) > 10
