"""The store contract runs against every reader: SqliteStore and the InfluxQL reader on a real influxd 1.6.

Both are loaded with the same readings, written twice (stores are idempotent).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.store.influx import LineEncoder
from ingest.store.influxql import InfluxQLReader
from ingest.store.sqlite import SqliteStore
from qingyubiao.batch import Batch
from qingyubiao.config import Config, InfluxSettings
from qingyubiao.series import SeriesIndex
from qingyubiao.store import ReadingReader
from tests.conftest import need
from tests.influx.data import batches
from tests.influx.servers import Influxd1

EMPTY_SERIES = 0  # has no readings at all


@pytest.fixture(scope="session")
def dataset(index: SeriesIndex) -> Batch:
    """~40 readings per series over ~1 hour 40 minutes, 2 % out of range; series 0 has none."""
    all_ = Batch.concat(batches(index, 4, 3_240, seed=5, spacing_ms=150_000))
    return all_.take(all_.series != EMPTY_SERIES)


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd1]:
    server = Influxd1(need("influxd"), tmp_path_factory.mktemp("influxd"))
    server.start()
    yield server
    server.stop()


def load_sqlite(folder: Path, index: SeriesIndex, data: Batch) -> SqliteStore:
    store = SqliteStore(folder / "qyb.sqlite", index, synchronous="NORMAL")
    for _ in range(2):
        store.write(data)
    store.refresh_rollups()
    return store


def load_influx(server: Influxd1, village: Config, index: SeriesIndex, data: Batch, db: str) -> InfluxQLReader:
    server.create_database(db)
    encoder = LineEncoder(village, index)
    for _ in range(2):
        for start in range(0, len(data), 5_000):
            server.write_v1(db, encoder.encode(data.take(np.arange(start, min(start + 5_000, len(data)))))[0])
    return InfluxQLReader(village, index, InfluxSettings(url=server.url, database=db))


@pytest.fixture(scope="module", params=["sqlite", "influxql"])
def reader(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    village: Config,
    index: SeriesIndex,
    dataset: Batch,
) -> Iterator[ReadingReader]:
    if request.param == "sqlite":
        store = load_sqlite(tmp_path_factory.mktemp("sqlite"), index, dataset)
        yield store
        store.close()
    else:
        server: Influxd1 = request.getfixturevalue("influxd")
        db = f"contract_{request.module.__name__.rsplit('.', 1)[-1]}"
        r = load_influx(server, village, index, dataset, db)
        yield r
        r.close()
