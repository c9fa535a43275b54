"""The embedded SQLite store: idempotent writes, rollups checked against numpy, reads, retention, readers."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.store.sqlite import SqliteStore
from qingyubiao.batch import Batch, BatchBuilder, Flag
from qingyubiao.config import Config
from qingyubiao.rejects import Reason, Reject
from qingyubiao.series import SeriesIndex
from qingyubiao.store import History

DAY, HOUR, MIN5, MIN = 86_400_000, 3_600_000, 300_000, 60_000
T0 = 1_763_769_600_000  # 2025-11-22T00:00:00Z: aligned to the day
OOR = int(Flag.OUT_OF_RANGE)
ROLLUP_SERIES = [("gh01-air", "air_temp_c"), ("gh01-air", "air_rh_pct"), ("gh02-air", "air_temp_c")]


@pytest.fixture
def store(tmp_path: Path, index: SeriesIndex) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "qyb.sqlite", index, synchronous="NORMAL", dead_letter_limit=10, retention_days=30)
    yield s
    s.close()


def batch(index: SeriesIndex, series: list[int], ts: list[int], values: list[float], flags: int = 0) -> Batch:
    b = BatchBuilder()
    for s, t, v in zip(series, ts, values, strict=True):
        b.add(s, t, v, flags)
    return b.build(index.lo, index.hi)


def sid(index: SeriesIndex, device: str, metric: str) -> int:
    s = index.find("lijiahe", device, metric)
    assert s is not None
    return s


def raw_rows(store: SqliteStore, series: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ts, value, flags) of one series straight from the reading table."""
    db_id = int(store._db_id[series])
    with closing(sqlite3.connect(store.path)) as db:
        rows = db.execute("SELECT ts, value, flags FROM reading WHERE series = ? ORDER BY ts", (db_id,)).fetchall()
    ts, value, flags = zip(*rows, strict=True) if rows else ((), (), ())
    return np.array(ts, np.int64), np.array(value, np.float64), np.array(flags, np.int64)


def reference(store: SqliteStore, series: int, start: int, end: int, step: int) -> History:
    """The history numpy computes from the raw rows: valid readings of [start, end) per step, empty buckets absent."""
    ts, value, flags = raw_rows(store, series)
    keep = (ts >= start) & (ts < end) & ((flags & OOR) == 0)
    ts, value = ts[keep], value[keep]
    bucket = start + (ts - start) // step * step
    buckets = np.unique(bucket)
    groups = [value[bucket == b] for b in buckets]
    return History(
        buckets.astype(np.int64),
        np.array([len(g) for g in groups], np.int64),
        np.array([g.min() for g in groups]),
        np.array([g.mean() for g in groups]),
        np.array([g.max() for g in groups]),
    )


def assert_history_equal(got: History, want: History) -> None:
    np.testing.assert_array_equal(got.bucket_ms, want.bucket_ms)
    np.testing.assert_array_equal(got.count, want.count)
    np.testing.assert_array_equal(got.vmin, want.vmin)
    np.testing.assert_array_equal(got.vmax, want.vmax)
    np.testing.assert_allclose(got.vmean, want.vmean, rtol=1e-12)


def random_readings(index: SeriesIndex, rng: np.random.Generator, n: int, start: int, span: int) -> Batch:
    """Irregular readings of three series, about 5 % of them out of range."""
    s = rng.choice([sid(index, d, m) for d, m in ROLLUP_SERIES], n)
    ts = start + rng.choice(span, n, replace=False)  # distinct times: no two readings share (series, ts) by accident
    values = np.round(rng.normal(20, 8, n), 2)
    values[rng.random(n) < 0.05] = 150.0  # out of range for both metrics
    return batch(index, s.tolist(), ts.tolist(), values.tolist())


# -- writing ------------------------------------------------------------------------


def test_wal_mode(store: SqliteStore) -> None:
    with closing(sqlite3.connect(store.path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_writes_are_idempotent_and_the_newer_value_wins(store: SqliteStore, index: SeriesIndex) -> None:
    s = sid(index, "gh01-air", "air_temp_c")
    first = batch(index, [s, s], [T0, T0 + MIN], [20.0, 21.0])
    store.write(first)
    store.write(first)  # redelivery
    assert store.count() == 2
    store.write(batch(index, [s], [T0 + MIN], [21.5]))
    assert store.count() == 2
    assert raw_rows(store, s)[1].tolist() == [20.0, 21.5]
    store.write(batch(index, [s], [T0 + MIN], [99.0]))  # now out of range: the flag is replaced too
    assert raw_rows(store, s)[2].tolist() == [0, OOR]
    assert store.out_of_range_count() == 1


def test_the_same_time_on_two_series_is_two_rows(store: SqliteStore, index: SeriesIndex) -> None:
    a, b = sid(index, "gh01-air", "air_temp_c"), sid(index, "gh02-air", "air_temp_c")
    store.write(batch(index, [a, b], [T0, T0], [1.0, 2.0]))
    assert store.count() == 2


def test_dead_letters_are_bounded_but_totals_are_kept(store: SqliteStore) -> None:
    def reject(i: int, reason: Reason = Reason.MALFORMED_JSON) -> Reject:
        return Reject(
            reason, "qyb/lijiahe/gh01-air/up", f"bad {i}", b"{" + str(i).encode(), T0 + i, "lijiahe", "gh01-air"
        )

    for part in range(3):
        store.write(Batch.empty(), [reject(part * 10 + i) for i in range(10)])
    store.write(Batch.empty(), [reject(30, Reason.OVERSIZED)])
    kept = store.dead_letters(limit=100)
    assert len(kept) == store.dead_letter_limit == 10
    assert [r.detail for r in kept] == [f"bad {i}" for i in range(30, 20, -1)]  # newest first
    assert kept[0] == reject(30, Reason.OVERSIZED)
    assert store.rejection_counts() == {"malformed_json": 30, "oversized": 1}
    assert [r.detail for r in store.dead_letters(limit=3, reason="malformed_json")] == ["bad 29", "bad 28", "bad 27"]


def test_dead_letter_payload_and_detail_are_bounded(store: SqliteStore) -> None:
    big = Reject(Reason.BAD_SCHEMA, "t", "d" * 5000, b"x" * 100_000, T0)
    store.write(Batch.empty(), [big])
    (got,) = store.dead_letters()
    assert got.payload == b"x" * 16 * 1024
    assert got.detail == "d" * 500


def test_unknown_devices_are_upserted_with_counts(store: SqliteStore) -> None:
    def ghost(ms: int, topic: str = "qyb/lijiahe/ghost/up") -> Reject:
        return Reject(Reason.UNKNOWN_DEVICE, topic, "not configured", b"{}", ms, "lijiahe", "ghost")

    store.write(Batch.empty(), [ghost(T0), ghost(T0 + 5)])
    store.write(Batch.empty(), [ghost(T0 + 9, "qyb/lijiahe/gw/gw-east/up")])
    store.write(Batch.empty(), [Reject(Reason.MALFORMED_JSON, "t", "x", b"", T0, "lijiahe", "gh01-air")])
    (u,) = store.unknown_devices()
    assert (u.village, u.device, u.first_ms, u.last_ms, u.count) == ("lijiahe", "ghost", T0, T0 + 9, 3)
    assert u.topic == "qyb/lijiahe/gw/gw-east/up"


def test_device_statuses(store: SqliteStore) -> None:
    store.write(Batch.empty(), statuses=[("lijiahe", "gh01-air", True, T0), ("lijiahe", "gh02-air", False, T0)])
    store.write(Batch.empty(), statuses=[("lijiahe", "gh01-air", False, T0 + 1)])
    assert sorted(store.device_statuses()) == [
        ("lijiahe", "gh01-air", False, T0 + 1),
        ("lijiahe", "gh02-air", False, T0),
    ]


# -- rollups ------------------------------------------------------------------------


def check_rollups(store: SqliteStore, index: SeriesIndex, start: int, end: int) -> None:
    for device, metric in ROLLUP_SERIES:
        s = sid(index, device, metric)
        for step in (MIN5, HOUR, 2 * HOUR, DAY):
            assert_history_equal(store.history(s, start, end, step), reference(store, s, start, end, step))


def test_rollups_equal_numpy_and_survive_redelivery_and_backfill(store: SqliteStore, index: SeriesIndex) -> None:
    rng = np.random.default_rng(42)
    first = random_readings(index, rng, 3000, T0, 6 * HOUR)
    store.write(first)
    assert store.refresh_rollups() > 0
    check_rollups(store, index, T0, T0 + DAY)
    assert store.refresh_rollups() == 0  # nothing dirty

    # redelivery: the same readings again, some with corrected values (one now out of range)
    again = Batch(first.series, first.ts_ms, first.value.copy(), first.flags.copy())
    again.value[:300] += 1.5
    again.value[300] = 150.0
    b = BatchBuilder()
    for s, t, v in zip(again.series.tolist(), again.ts_ms.tolist(), again.value.tolist(), strict=True):
        b.add(s, t, v, 0)
    store.write(b.build(index.lo, index.hi))
    store.refresh_rollups()
    check_rollups(store, index, T0, T0 + DAY)

    # late readings into old buckets (a gateway back from an outage) and new ones further on
    store.write(random_readings(index, rng, 500, T0 + 6 * HOUR + 1, 6 * HOUR))
    store.write(random_readings(index, rng, 200, T0 - HOUR, HOUR))  # older than everything so far
    store.refresh_rollups()
    check_rollups(store, index, T0 - DAY, T0 + DAY)


def test_a_bucket_whose_readings_all_turn_bad_disappears(store: SqliteStore, index: SeriesIndex) -> None:
    s = sid(index, "gh01-air", "air_temp_c")
    store.write(batch(index, [s, s], [T0, T0 + HOUR], [20.0, 21.0]))
    store.refresh_rollups()
    store.write(batch(index, [s], [T0], [500.0]))
    store.refresh_rollups()
    for step in (MIN5, HOUR, DAY):
        h = store.history(s, T0, T0 + DAY, step)
        assert h.count.tolist() == [1] and h.vmax.tolist() == [21.0]


# -- history, latest, export --------------------------------------------------------


def test_history_raw_steps_and_gaps(store: SqliteStore, index: SeriesIndex) -> None:
    s = sid(index, "gh01-air", "air_temp_c")
    ts = [T0 + 10_000, T0 + 50_000, T0 + MIN + 1, T0 + 3 * MIN, T0 + 3 * MIN + 5]
    store.write(batch(index, [s] * 5, ts, [10.0, 12.0, 14.0, 16.0, 99.0]))  # 99 °C is out of range
    h = store.history(s, T0, T0 + 10 * MIN, MIN)
    assert h.bucket_ms.tolist() == [T0, T0 + MIN, T0 + 3 * MIN]  # minute 2 had nothing: no bucket
    assert h.count.tolist() == [2, 1, 1]
    assert h.vmin.tolist() == [10.0, 14.0, 16.0]
    assert h.vmean.tolist() == [11.0, 14.0, 16.0]
    assert h.vmax.tolist() == [12.0, 14.0, 16.0]
    assert_history_equal(h, reference(store, s, T0, T0 + 10 * MIN, MIN))
    # end is exclusive, start inclusive
    assert store.history(s, T0 + 10_000, T0 + 50_000, MIN).count.tolist() == [1]


def test_history_rollup_steps_keep_gaps(store: SqliteStore, index: SeriesIndex) -> None:
    s = sid(index, "gh01-air", "air_rh_pct")
    ts = [T0 + 1000, T0 + 2 * HOUR + 1000, T0 + 2 * DAY + 1000]
    store.write(batch(index, [s] * 3, ts, [50.0, 60.0, 70.0]))
    store.refresh_rollups()
    assert store.history(s, T0, T0 + 3 * DAY, MIN5).bucket_ms.tolist() == [T0, T0 + 2 * HOUR, T0 + 2 * DAY]
    assert store.history(s, T0, T0 + 3 * DAY, HOUR).bucket_ms.tolist() == [T0, T0 + 2 * HOUR, T0 + 2 * DAY]
    day = store.history(s, T0, T0 + 3 * DAY, DAY)
    assert day.bucket_ms.tolist() == [T0, T0 + 2 * DAY]  # no reading on the second day
    assert day.count.tolist() == [2, 1] and day.vmean.tolist() == [55.0, 70.0]


@pytest.mark.parametrize("offset", [MIN, 7 * MIN + 13_000])
@pytest.mark.parametrize("step", [MIN5, HOUR])
def test_history_with_an_unaligned_window_agrees_with_raw(
    store: SqliteStore, index: SeriesIndex, offset: int, step: int
) -> None:
    s = sid(index, "gh01-air", "air_temp_c")
    store.write(random_readings(index, np.random.default_rng(3), 2000, T0, 4 * HOUR))
    store.refresh_rollups()
    start, end = T0 + offset, T0 + 3 * HOUR + offset
    assert_history_equal(store.history(s, start, end, step), reference(store, s, start, end, step))


@pytest.mark.parametrize("end_offset", [1, 17 * MIN + 4_000, HOUR - 1])
@pytest.mark.parametrize("step", [MIN5, HOUR, DAY])
def test_history_to_now_merges_rollups_with_the_raw_tail(
    store: SqliteStore, index: SeriesIndex, end_offset: int, step: int
) -> None:
    """The API asks for whole buckets up to "now": rollups up to the last grid point, raw rows after it."""
    s = sid(index, "gh01-air", "air_rh_pct")
    store.write(random_readings(index, np.random.default_rng(5), 3000, T0, 6 * HOUR))
    store.refresh_rollups()
    end = T0 + 5 * HOUR + end_offset
    assert_history_equal(store.history(s, T0, end, step), reference(store, s, T0, end, step))


def test_values_timestamps_and_flags_come_back_bit_for_bit(store: SqliteStore, index: SeriesIndex) -> None:
    """Every double survives the trip through SQLite exactly, extremes included."""
    s = sid(index, "gh01-air", "air_temp_c")
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.normal(20, 10, 20_000),
            rng.uniform(-50, 70, 20_000).round(1),
            np.exp(rng.uniform(-700, 700, 20_000)),
            [
                0.0,
                5e-324,
                2.2250738585072014e-308,
                1.7976931348623157e308,
                -1e-300,
                0.1,
                1 / 3,
            ],
        ]
    )
    ts = T0 + np.arange(len(values), dtype=np.int64) * 1_000 + 123
    flags = rng.integers(0, 8, len(values)).astype(np.uint16)
    series = np.full(len(values), s, dtype=np.int32)
    store.write(Batch(series, ts, values, flags))
    got_ts, got_value, got_flags = raw_rows(store, s)
    assert np.array_equal(got_ts, ts) and np.array_equal(got_flags, flags)
    expected = values + 0.0  # -0.0 -> 0.0: SQLite keeps a zero REAL as 0 (executemany did the same)
    wrong = np.flatnonzero(got_value.view(np.int64) != expected.view(np.int64))
    assert wrong.size == 0, f"{values[wrong[:5]].tolist()} came back as {got_value[wrong[:5]].tolist()}"  # bit for bit


@pytest.mark.parametrize("step", [MIN5, HOUR, DAY])
def test_history_shows_readings_written_since_the_last_rollup_refresh(
    store: SqliteStore, index: SeriesIndex, step: int
) -> None:
    """A phone asking right after a write, before the collector refreshed its rollups, sees every reading."""
    s = sid(index, "gh01-air", "air_rh_pct")
    rng = np.random.default_rng(11)
    store.write(random_readings(index, rng, 3000, T0, 6 * HOUR))
    store.refresh_rollups()
    store.write(random_readings(index, rng, 3000, T0 + 2 * HOUR, 8 * HOUR))  # some buckets again, some new
    end = T0 + 7 * HOUR + 4 * MIN  # "now", just after a bucket boundary
    assert_history_equal(store.history(s, T0, end, step), reference(store, s, T0, end, step))
    store.refresh_rollups()
    assert_history_equal(store.history(s, T0, end, step), reference(store, s, T0, end, step))


def test_history_to_now_still_shows_days_beyond_raw_retention(store: SqliteStore, index: SeriesIndex) -> None:
    s = sid(index, "gh01-air", "air_temp_c")
    now = T0 + 40 * DAY + 7 * HOUR + 123_456  # not on any grid
    store.write(batch(index, [s, s, s], [T0 + HOUR, T0 + 2 * DAY, now - MIN], [10.0, 11.0, 12.0]))
    store.refresh_rollups()
    store.enforce_retention(now)  # 30 days: the first two raw rows go, their rollups stay
    h = store.history(s, T0, now, DAY)
    assert h.count.tolist() == [1, 1, 1]
    assert h.vmean.tolist() == [10.0, 11.0, 12.0]


@pytest.mark.parametrize(
    ("start", "end", "step"), [(T0, T0 + HOUR, 0), (T0, T0 + HOUR, -MIN), (T0, T0, MIN), (T0 + 1, T0, MIN)]
)
def test_history_bad_arguments(store: SqliteStore, index: SeriesIndex, start: int, end: int, step: int) -> None:
    with pytest.raises(ValueError):
        store.history(0, start, end, step)


def test_history_of_a_series_without_data_is_empty(store: SqliteStore) -> None:
    h = store.history(0, T0, T0 + DAY, HOUR)
    assert len(h.bucket_ms) == len(h.count) == len(h.vmean) == 0
    assert h.bucket_ms.dtype == np.int64 and h.vmean.dtype == np.float64


def test_latest_skips_out_of_range_and_marks_missing(store: SqliteStore, index: SeriesIndex) -> None:
    a, b, c = (
        sid(index, "gh01-air", "air_temp_c"),
        sid(index, "gh01-air", "air_rh_pct"),
        sid(index, "gh05-air", "air_temp_c"),
    )
    store.write(batch(index, [a, a, a, b], [T0, T0 + 2 * MIN, T0 + MIN, T0], [20.0, 500.0, 21.0, 55.0]))
    latest = store.latest([a, b, c])
    assert latest.ts_ms.tolist() == [T0 + MIN, T0, -1]
    assert latest.value[:2].tolist() == [21.0, 55.0] and np.isnan(latest.value[2])
    assert len(store.latest([]).ts_ms) == 0


def test_export_order_and_filters(store: SqliteStore, index: SeriesIndex) -> None:
    a, b = sid(index, "gh02-air", "air_temp_c"), sid(index, "gh01-air", "air_rh_pct")
    store.write(batch(index, [a, b, a, b], [T0 + MIN, T0 + MIN, T0, T0 + 2 * MIN], [1.0, 2.0, 3.0, 200.0]))
    rows = list(store.export())
    assert [(r.ts_ms, r.device, r.metric, r.value, r.flags) for r in rows] == [
        (T0, "gh02-air", "air_temp_c", 3.0, 0),
        (T0 + MIN, "gh01-air", "air_rh_pct", 2.0, 0),  # same time: ordered by site, device, metric
        (T0 + MIN, "gh02-air", "air_temp_c", 1.0, 0),
        (T0 + 2 * MIN, "gh01-air", "air_rh_pct", 200.0, OOR),  # export keeps flagged rows, with their flags
    ]
    assert {(r.village, r.site) for r in rows} == {("lijiahe", "gh01"), ("lijiahe", "gh02")}
    assert [r.ts_ms for r in store.export(start_ms=T0 + MIN)] == [T0 + MIN, T0 + MIN, T0 + 2 * MIN]
    assert [r.ts_ms for r in store.export(end_ms=T0 + MIN)] == [T0]
    assert [r.value for r in store.export(series=[a])] == [3.0, 1.0]
    assert list(store.export(series=[])) == []
    assert [r.value for r in store.export(T0, T0 + 2 * MIN, [b])] == [2.0]


# -- retention, readers, stable ids ---------------------------------------------------


def test_retention_deletes_only_old_raw_rows_and_keeps_rollups(store: SqliteStore, index: SeriesIndex) -> None:
    s = sid(index, "gh01-air", "air_temp_c")
    now = T0 + 40 * DAY
    store.write(batch(index, [s, s, s], [T0, T0 + 5 * DAY, now - DAY], [10.0, 11.0, 12.0]))
    store.refresh_rollups()
    before = store.history(s, T0, now, DAY)
    assert store.enforce_retention(now) == 2  # retention is 30 days
    assert raw_rows(store, s)[0].tolist() == [now - DAY]
    assert_history_equal(store.history(s, T0, now, DAY), before)  # rollups are kept
    assert store.history(s, T0, now, MIN).count.tolist() == [1]  # raw history only has what is left
    assert store.enforce_retention(now) == 0


def test_a_read_only_store_sees_the_writer(store: SqliteStore, index: SeriesIndex) -> None:
    s = sid(index, "gh01-air", "air_temp_c")
    reader = SqliteStore(store.path, index, readonly=True)
    try:
        store.write(batch(index, [s], [T0], [20.0]))
        assert reader.count() == 1  # WAL: a reader sees commits while the writer stays open
        store.write(batch(index, [s], [T0 + MIN], [21.0]))
        store.refresh_rollups()
        assert reader.latest([s]).value.tolist() == [21.0]
        assert_history_equal(reader.history(s, T0, T0 + DAY, HOUR), store.history(s, T0, T0 + DAY, HOUR))
        with pytest.raises(sqlite3.OperationalError):
            reader.write(batch(index, [s], [T0 + 2 * MIN], [22.0]))
    finally:
        reader.close()


def test_a_read_only_store_opens_after_the_writer_closed(tmp_path: Path, index: SeriesIndex) -> None:
    s = sid(index, "gh01-air", "air_temp_c")
    writer = SqliteStore(tmp_path / "qyb.sqlite", index)
    writer.write(batch(index, [s], [T0], [20.0]))
    writer.close()
    reader = SqliteStore(tmp_path / "qyb.sqlite", index, readonly=True)
    try:
        assert reader.latest([s]).value.tolist() == [20.0]
    finally:
        reader.close()


def test_series_ids_are_stable_when_the_config_order_changes(
    tmp_path: Path, village: Config, index: SeriesIndex
) -> None:
    path = tmp_path / "qyb.sqlite"
    first = SqliteStore(path, index)
    pairs = [("gh01-air", "air_temp_c"), ("or01-air", "rssi_dbm"), ("gh24-soil", "soil_vwc_pct")]
    series = [sid(index, d, m) for d, m in pairs]
    first.write(batch(index, series, [T0, T0, T0], [1.0, -90.0, 30.0]))
    first.close()

    v = village.village[0]
    shuffled = village.model_copy(update={"village": [v.model_copy(update={"device": list(reversed(v.device))})]})
    index2 = SeriesIndex(shuffled)
    series2 = [index2.find("lijiahe", d, m) for d, m in pairs]
    assert series2 != series  # the dense numbering did change
    second = SqliteStore(path, index2)
    try:
        assert second.latest(series2).value.tolist() == [1.0, -90.0, 30.0]  # type: ignore[arg-type]
        assert [(r.device, r.metric) for r in second.export()] == sorted(pairs)
        assert second.count() == 3
    finally:
        second.close()


@pytest.mark.parametrize("folder", ["with space", "gh#1", "what?", "100%", "李家河村"])
def test_read_only_opening_and_export_work_in_any_folder(tmp_path: Path, index: SeriesIndex, folder: str) -> None:
    path = tmp_path / folder / "qyb.sqlite"
    s = sid(index, "gh01-air", "air_temp_c")
    writer = SqliteStore(path, index)
    reader = None
    try:
        writer.write(batch(index, [s], [T0], [20.0]))
        assert [r.value for r in writer.export()] == [20.0]
        reader = SqliteStore(path, index, readonly=True)
        assert reader.count() == 1
    finally:
        writer.close()
        if reader is not None:
            reader.close()
    assert sorted(
        p.name for p in tmp_path.rglob("*") if p.is_file() and "wal" not in p.name and "shm" not in p.name
    ) == ["qyb.sqlite"]  # no stray database was created beside it


def test_the_same_reading_twice_in_one_batch_keeps_the_later(store: SqliteStore, index: SeriesIndex) -> None:
    s = sid(index, "gh01-air", "air_temp_c")
    store.write(batch(index, [s, s, s], [T0, T0 + MIN, T0], [1.0, 5.0, 2.0]))
    assert raw_rows(store, s)[1].tolist() == [2.0, 5.0]


def test_days_at_local_midnight_come_from_hourly_rollups(store: SqliteStore, index: SeriesIndex) -> None:
    """The village's day starts at 00:00 Asia/Shanghai (16:00 UTC): on the hourly grid, so rollups serve it."""
    store.write(random_readings(index, np.random.default_rng(11), 3000, T0 - 2 * DAY, 4 * DAY))
    store.refresh_rollups()
    local_midnight = T0 - 8 * HOUR
    s = sid(index, "gh02-air", "air_temp_c")
    starts = (local_midnight - DAY, local_midnight)
    want = [reference(store, s, start, start + 3 * DAY, DAY) for start in starts]
    assert store.enforce_retention(T0 + 100 * DAY) == 3000  # no raw rows left: only rollups can answer
    for start, expected in zip(starts, want, strict=True):
        got = store.history(s, start, start + 3 * DAY, DAY)
        assert len(got.bucket_ms) == 3
        assert_history_equal(got, expected)


# -- rollups under any interleaving of writes and refreshes -----------------------

write_steps = st.lists(
    st.tuples(
        st.lists(
            st.tuples(
                st.sampled_from(range(len(ROLLUP_SERIES))),
                st.integers(min_value=0, max_value=3 * HOUR),  # readings spread over three hours
                st.sampled_from([10.0, 20.5, -3.25, 150.0]),  # 150 is out of range
            ),
            min_size=1,
            max_size=20,
        ),
        st.booleans(),  # refresh the rollups after this write?
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=30, deadline=None)
@given(steps=write_steps)
def test_rollups_match_raw_rows_after_any_interleaving(
    index: SeriesIndex, steps: list[tuple[list[tuple[int, int, float]], bool]]
) -> None:
    series = [sid(index, d, m) for d, m in ROLLUP_SERIES]
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "qyb.sqlite", index, synchronous="NORMAL")
        try:
            for readings, refresh in steps:
                store.write(
                    batch(
                        index,
                        [series[i] for i, _, _ in readings],
                        [T0 + t for _, t, _ in readings],
                        [v for *_, v in readings],
                    )
                )
                if refresh:
                    store.refresh_rollups()
            store.refresh_rollups()
            for s in series:
                for step in (MIN5, HOUR):
                    assert_history_equal(
                        store.history(s, T0, T0 + 4 * HOUR, step), reference(store, s, T0, T0 + 4 * HOUR, step)
                    )
        finally:
            store.close()
