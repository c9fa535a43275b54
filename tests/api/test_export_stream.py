"""The CSV download over a real server: bytes Excel reads (BOM, UTF-8 names, header), streamed while the store
is still reading, concurrent exports arrive whole, and a failure after the first byte breaks the download
instead of ending it like a short, clean-looking file."""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn

from api.app import create_app
from api.users import UserStore
from ingest.store.sqlite import SqliteStore
from qingyubiao.batch import Batch
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex
from qingyubiao.spreadsheet import CHUNK_ROWS
from qingyubiao.store import ExportRow
from tests.conftest import free_port, wait_port

V = "/api/v1/villages/lijiahe"
ROWS = 50_000


@contextmanager
def serve(app: object) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def filled(village: Config, index: SeriesIndex, tmp_path: Path) -> tuple[Path, int, int]:
    """50,000 readings of gh01's air temperature, one a second; returns (db, start_ms, end_ms)."""
    db = tmp_path / "qyb.sqlite"
    store = SqliteStore(db, index, synchronous="NORMAL")
    start = 1_790_000_000_000
    ts = start + np.arange(ROWS, dtype=np.int64) * 1000
    series = np.full(ROWS, index.find("lijiahe", "gh01-air", "air_temp_c"), dtype=np.int32)
    store.write(Batch(series, ts, 15.0 + (np.arange(ROWS) % 100) / 10, np.zeros(ROWS, dtype=np.uint16)))
    store.close()
    return db, start, start + ROWS * 1000


class FailingReader:
    """The real store, whose export fails after `after` rows (as a disk error in the middle of a read would)."""

    def __init__(self, store: SqliteStore, after: int) -> None:
        self.store, self.after = store, after

    def export(self, start_ms: int | None, end_ms: int | None, series: Sequence[int] | None) -> Iterator[ExportRow]:
        for n, row in enumerate(self.store.export(start_ms, end_ms, series)):
            if n == self.after:
                raise sqlite3.OperationalError("disk I/O error")
            yield row

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


class GatedReader:
    """The real store, whose export stops after `after` rows until the test opens the gate."""

    def __init__(self, store: SqliteStore, after: int) -> None:
        self.store, self.after = store, after
        self.gate, self.done = threading.Event(), threading.Event()

    def export(self, start_ms: int | None, end_ms: int | None, series: Sequence[int] | None) -> Iterator[ExportRow]:
        for n, row in enumerate(self.store.export(start_ms, end_ms, series)):
            if n == self.after and not self.gate.wait(60):
                raise TimeoutError("the test never opened the gate")
            yield row
        self.done.set()

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def api(village: Config, index: SeriesIndex, db: Path, reader: object) -> tuple[object, str]:
    users = UserStore(db, village)
    token = users.issue("lijiahe", "secretary")
    app = create_app(village, reader=reader, ingest_log=reader, users=users, index=index)  # type: ignore[arg-type]
    return app, token


@pytest.mark.slow
def test_eight_concurrent_exports_of_50000_rows_each_arrive_whole(
    village: Config, index: SeriesIndex, filled: tuple[Path, int, int]
) -> None:
    db, start, end = filled
    reader = SqliteStore(db, index, readonly=True)
    app, token = api(village, index, db, reader)
    with serve(app) as base:
        url = f"{base}{V}/export.csv?start={start}&end={end}&site=gh01"

        def download(_: int) -> list[dict[str, str]]:
            r = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
            assert r.status_code == 200
            return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(download, range(8)))
    reader.close()
    for rows in results:
        assert len(rows) == ROWS
        assert rows[0]["value"] == "15.0" and rows[-1]["value"] == "24.9"  # the first and the 50,000th


def test_a_failure_after_the_first_byte_breaks_the_download(
    village: Config, index: SeriesIndex, filled: tuple[Path, int, int]
) -> None:
    db, start, end = filled
    store = SqliteStore(db, index, readonly=True)
    app, token = api(village, index, db, FailingReader(store, after=5_000))
    with serve(app) as base:
        url = f"{base}{V}/export.csv?start={start}&end={end}&site=gh01"
        received = bytearray()
        with (
            pytest.raises(httpx.RemoteProtocolError),  # the chunked body never ends properly
            httpx.stream("GET", url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as r,
        ):
            assert r.status_code == 200
            for chunk in r.iter_bytes():
                received += chunk
    store.close()
    text = received.decode()
    assert text.count("\n") > 1_000  # rows had gone out before the failure
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    assert last.startswith("#") and "导出中断" in last and "export failed" in last  # said in the file as well


HEADER = "ts,village,site,device,metric,value,site_name,metric_name,metric_name_en,unit,time_local,time_utc"


def test_the_download_is_what_excel_reads_bom_utf8_names_and_local_time(
    village: Config, index: SeriesIndex, filled: tuple[Path, int, int]
) -> None:
    db, start, _ = filled
    reader = SqliteStore(db, index, readonly=True)
    app, token = api(village, index, db, reader)
    auth = {"Authorization": f"Bearer {token}"}
    with serve(app) as base:
        url = f"{base}{V}/export.csv?start={start}&end={start + 3000}&site=gh01"
        r = httpx.get(url, headers=auth)
        plain = httpx.get(f"{url}&bom=false", headers=auth)
    reader.close()
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="lijiahe-20260921.csv"'  # the village's day
    raw = r.content
    assert raw.startswith(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n")  # the BOM is the first three bytes
    lines = raw[3:].split(b"\r\n")
    # 2026-09-21T14:13:20Z is 22:13:20 in the village; names in UTF-8 (3 bytes a character), the unit too
    first = ("2026-09-21T22:13:20.000+08:00,lijiahe,gh01,gh01-air,air_temp_c,15.0,"
             "1号棚,气温,air temperature,°C,2026-09-21 22:13:20,2026-09-21T14:13:20.000+00:00")  # fmt: skip
    assert lines[1] == first.encode()
    assert len(lines) == 1 + 3 + 1  # header, three readings, and the empty piece after the last line end
    assert plain.content == raw[3:]  # bom=false: the same file without the mark


@pytest.mark.slow
def test_a_big_export_streams_while_the_store_is_still_reading(
    village: Config, index: SeriesIndex, filled: tuple[Path, int, int]
) -> None:
    """The store's read is held after 3 pieces' worth of rows: the browser must already have the first pieces
    (the BOM first of all), so a year's download neither waits for the whole file nor holds it in memory."""
    db, start, end = filled
    store = SqliteStore(db, index, readonly=True)
    reader = GatedReader(store, after=3 * CHUNK_ROWS + 500)
    app, token = api(village, index, db, reader)
    received = bytearray()
    with serve(app) as base:
        url = f"{base}{V}/export.csv?start={start}&end={end}&site=gh01"
        with httpx.stream("GET", url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as r:
            assert r.status_code == 200 and "content-length" not in r.headers  # chunked: the size is not known
            pieces = r.iter_bytes()
            while received.count(b"\n") < 2 * CHUNK_ROWS:  # gzip may hold back the tail of the last piece
                received += next(pieces)
            assert not reader.done.is_set()  # the rest is not read yet
            assert received.startswith(b"\xef\xbb\xbf" + HEADER.encode())
            reader.gate.set()
            for piece in pieces:
                received += piece
    store.close()
    assert reader.done.is_set()
    rows = list(csv.DictReader(io.StringIO(received.decode("utf-8-sig"))))
    assert len(rows) == ROWS and rows[-1]["value"] == "24.9" and rows[-1]["site_name"] == "1号棚"
