"""`qyb store migrate --from sqlite --to influx`: copy a village's stored history into InfluxDB.

Reads the SQLite store (deployment.store.db) in time order and writes it
through the same line-protocol encoder and writer as the live forwarder, so
the copy has exactly the schema of live data. Writes are idempotent: running
the migration again, or over a range the collector has already forwarded,
overwrites and never duplicates. A failed run can simply be started again.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from qingyubiao.batch import Batch
from qingyubiao.config import Config, InfluxSettings
from qingyubiao.retry import backoff_s
from qingyubiao.series import SeriesIndex
from qingyubiao.store import ExportRow
from qyb.args import Command

if TYPE_CHECKING:  # imported when used: every `qyb` command parses the arguments this module adds
    from ingest.store.influx import LineWriter

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # per request; the run stops after that (start it again: it is idempotent)


def register(command: Command) -> None:
    c = command("store", run, "copy history: store migrate --from sqlite --to influx")
    c.add_argument("action", choices=["migrate"], help="migrate: copy stored history from one store to another")
    c.add_argument("--from", dest="source", choices=["sqlite"], default="sqlite", help="source store")
    c.add_argument("--to", dest="target", choices=["influx"], default="influx", help="target store")
    c.add_argument("--village", help="only this village (default: every village in the config)")
    c.add_argument("--since", help="only readings from this time: 2026-11-01, an RFC 3339 time, or -30d")


def batches_of(rows: Iterable[ExportRow], index: SeriesIndex, size: int) -> Iterator[Batch]:
    """Exported rows as columnar batches of at most `size` readings (rows of unknown series are skipped)."""
    cols: tuple[list[int], list[int], list[float], list[int]] = ([], [], [], [])
    for r in rows:
        s = index.find(r.village, r.device, r.metric)
        if s is None:
            continue
        cols[0].append(s)
        cols[1].append(r.ts_ms)
        cols[2].append(r.value)
        cols[3].append(r.flags)
        if len(cols[0]) >= size:
            yield _batch(cols)
            cols = ([], [], [], [])
    if cols[0]:
        yield _batch(cols)


def _batch(cols: tuple[list[int], list[int], list[float], list[int]]) -> Batch:
    return Batch(
        np.array(cols[0], np.int32),
        np.array(cols[1], np.int64),
        np.array(cols[2], np.float64),
        np.array(cols[3], np.uint16),
    )


def write_with_retries(writer: LineWriter, body: str, settings: InfluxSettings) -> None:
    from ingest.store.influx import WriteFailed

    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            writer.write(body)
            return
        except WriteFailed as e:
            if not e.retriable or attempt == MAX_ATTEMPTS:
                raise
            delay = backoff_s(attempt, settings.retry_initial_ms / 1000, settings.retry_max_ms / 1000, e.retry_after_s)
            log.warning("%s; retry %d in %.1f s", e, attempt, delay)
            time.sleep(delay)


def migrate(config: Config, index: SeriesIndex, village: str | None, since_ms: int | None) -> int:
    """Copy readings from the SQLite store into InfluxDB. Returns how many were written."""
    from ingest.store.influx import LineEncoder, influx_writer
    from ingest.store.sqlite import SqliteStore

    db = Path(config.deployment.store.db)
    if not db.exists():
        raise FileNotFoundError(f"no database at {db} (set QYB_DB or deployment.store.db)")
    settings = config.deployment.influx
    if not settings.url:
        raise ValueError("set deployment.influx.url (QYB_INFLUX_URL) and bucket (QYB_INFLUX_BUCKET)")
    if village is not None:
        config.village_by_id(village)  # KeyError for an unknown village
    series = None if village is None else [i for i, k in enumerate(index.keys) if k.village == village]
    source = SqliteStore(db, index, readonly=True)
    writer = influx_writer(settings)
    encoder = LineEncoder(config, index)
    written, t0 = 0, time.monotonic()
    try:
        for batch in batches_of(source.export(since_ms, None, series), index, settings.batch_size):
            body, lines = encoder.encode(batch)
            if lines:
                write_with_retries(writer, body, settings)
                written += lines
            if written and written % (settings.batch_size * 50) < settings.batch_size:
                log.info("%d readings copied (%.0f/s)", written, written / (time.monotonic() - t0))
    finally:
        writer.close()
        source.close()
    return written


def run(args: argparse.Namespace) -> int:
    from ingest.store.influx import WriteFailed
    from qingyubiao.config import load_config
    from qyb.args import parse_when

    config = load_config(args.config)
    index = SeriesIndex(config)
    since = parse_when(args.since, ZoneInfo(config.village[0].tz)) if args.since else None
    if args.village:
        try:
            config.village_by_id(args.village)
        except KeyError:
            raise ValueError(f"unknown village {args.village!r}") from None
    t0 = time.monotonic()
    try:
        n = migrate(config, index, args.village, since)
    except WriteFailed as e:
        print(f"error: {e}; nothing is lost: run the migration again (it overwrites, never duplicates)")
        return 1
    s = config.deployment.influx
    print(
        f"copied {n} readings from {config.deployment.store.db} to {s.url} bucket {s.bucket} "
        f"in {time.monotonic() - t0:.1f} s"
    )
    return 0
