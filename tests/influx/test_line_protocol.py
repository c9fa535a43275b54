"""The bulk line protocol is byte-for-byte what influxdb-client's Point produces."""

from __future__ import annotations

import math

import numpy as np
import pytest
from influxdb_client import Point, WritePrecision

from ingest.store.influx import OUT_OF_RANGE_MEASUREMENT, LineEncoder, line_prefix, series_tags
from qingyubiao.batch import Batch, Flag
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex

AWKWARD = ["樱桃 番茄", "a,b", "k=v", "x\\", "tab\there", "苹果（红富士）", "", "plain"]


def point_line(measurement: str, tags: dict[str, str], field: str, value: float, ts_ms: int) -> str:
    p = Point(measurement).field(field, value).time(ts_ms, WritePrecision.MS)
    for k, v in tags.items():
        p.tag(k, v)
    return p.to_line_protocol()


def village_with_crops(village: Config, crops: list[str]) -> Config:
    """The bundled village, its sites' crops replaced by awkward names."""
    raw = village.model_dump()
    for i, site in enumerate(raw["village"][0]["site"]):
        site["crop"] = crops[i % len(crops)]
    return Config.model_validate(raw)


@pytest.mark.parametrize("crop", AWKWARD)
def test_prefix_matches_point_for_awkward_tag_values(crop: str):
    tags = {"village": "李家河村", "site": "gh 01", "device": "d=1,a", "crop": crop}
    for value in (23.4, 23.0, -0.0, 1e16, 1.5e-7, -12.25):
        expected = point_line("greenhouse", tags, "air_temp_c", value, 1_763_800_000_123)
        assert f"{line_prefix('greenhouse', tags, 'air_temp_c')}{value!r}".removesuffix(".0") + " 1763800000123" == (
            expected
        )


def test_encoded_batch_matches_point_line_by_line(village: Config):
    config = village_with_crops(village, AWKWARD)
    index = SeriesIndex(config)
    tags = series_tags(config, index)
    rng = np.random.default_rng(3)
    n = 2_000
    series = rng.integers(0, len(index), n).astype(np.int32)
    ts = (1_763_800_000_000 + rng.integers(0, 10**9, n)).astype(np.int64)
    value = np.round(rng.normal(20, 15, n) * 10 ** rng.integers(0, 4, n)) / 10 ** rng.integers(0, 3, n)  # whole too
    flags = np.where(rng.random(n) < 0.1, Flag.OUT_OF_RANGE, 0).astype(np.uint16)
    flags[::7] |= np.uint16(Flag.BUFFERED)
    text, lines = LineEncoder(config, index).encode(Batch(series, ts, value, flags))
    expected = [
        point_line(
            OUT_OF_RANGE_MEASUREMENT if f & Flag.OUT_OF_RANGE else tags[s][0],
            tags[s][1],
            index.keys[s].metric,
            float(v),
            int(t),
        )
        for s, t, v, f in zip(series, ts, value, flags, strict=True)
    ]
    assert lines == n
    assert text.split("\n") == expected
    for escaped in ("\\ ", "\\,", "\\=", "\\t", "樱桃", "crop=x\\ "):  # every kind of escaping was exercised
        assert any(escaped in line for line in expected), escaped


def test_non_finite_values_are_left_out_as_point_leaves_them(village: Config, index: SeriesIndex):
    value = np.array([1.5, math.nan, math.inf, -2.0])
    batch = Batch(np.zeros(4, np.int32), np.arange(4, dtype=np.int64), value, np.zeros(4, np.uint16))
    text, lines = LineEncoder(village, index).encode(batch)
    assert lines == 2
    assert [line.rsplit(" ", 2)[1].split("=")[1] for line in text.split("\n")] == ["1.5", "-2"]
