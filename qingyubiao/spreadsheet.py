"""CSV for the village office's spreadsheet (Excel, WPS): one way to write names, times and the BOM.

Excel opens a CSV as UTF-8 only when it starts with a byte order mark; without it 3号棚 turns into mojibake.
Excel reads `2026-12-05 08:00:00` as a date-time but not an ISO time with `T` and an offset, so a sheet gets
the village's local time in that form and the exact UTC time beside it for scripts. The irrigation audit
(`GET …/irrigation/audit.csv`) and the readings export (`qyb export`, `GET …/export.csv`) both write through here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from qingyubiao.catalogue import METRICS
from qingyubiao.config import Village
from qingyubiao.store import ExportRow

BOM = "\ufeff"
LINE_END = "\r\n"  # RFC 4180, and what Excel writes
CHUNK_ROWS = 2_000  # rows per piece of a streamed CSV: a few hundred KB, never the whole file in memory

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at(ms: int, tz: tzinfo) -> datetime:
    """Epoch ms as an aware datetime, exactly (ms / 1000 as a float can land on .122999 for .123)."""
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(tz)


def local_time(ms: int, tz: tzinfo) -> str:
    """`2026-12-05 08:00:00`: the village's wall clock, a form Excel reads as a date-time."""
    return at(ms, tz).strftime("%Y-%m-%d %H:%M:%S")


def utc_time(ms: int) -> str:
    """`2026-12-05T00:00:00.000+00:00`: exact, for scripts and for comparing villages in other time zones."""
    return at(ms, UTC).isoformat(timespec="milliseconds")


def site_names(villages: Iterable[Village]) -> dict[tuple[str, str], str]:
    """(village id, site id) → the config's name (3号棚)."""
    return {(v.id, s.id): s.name for v in villages for s in v.site}


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[object]], bom: bool) -> Iterator[str]:
    """The CSV text in pieces of CHUNK_ROWS rows, the BOM (when asked) and the header first."""
    buf = io.StringIO()
    if bom:
        buf.write(BOM)
    writer = csv.writer(buf, lineterminator=LINE_END)
    writer.writerow(header)
    try:
        for n, row in enumerate(rows, 1):
            writer.writerow(row)
            if n % CHUNK_ROWS == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
    except Exception:
        yield buf.getvalue()  # the rows read before a failure still go out; the caller says the file is short
        raise
    yield buf.getvalue()


# The readings' columns. Scripts read the first six (and `flags`) as before; the named ones follow.
READING_COLUMNS = ("ts", "village", "site", "device", "metric", "value")
FLAGS_COLUMN = "flags"
NAMED_COLUMNS = ("site_name", "metric_name", "metric_name_en", "unit", "time_local", "time_utc")


class ReadingTable:
    """Stored readings as spreadsheet rows: ids, value and (optionally) flags, then names, unit and times."""

    def __init__(self, villages: Sequence[Village], include_flagged: bool) -> None:
        self.include_flagged = include_flagged
        self.columns = (*READING_COLUMNS, *((FLAGS_COLUMN,) if include_flagged else ()), *NAMED_COLUMNS)
        self._names = site_names(villages)
        self._tz: dict[str, tzinfo] = {v.id: ZoneInfo(v.tz) for v in villages}  # names checked by the config

    def rows(self, readings: Iterable[ExportRow]) -> Iterator[list[object]]:
        """One row per reading; sensor faults (out of physical range) only when include_flagged."""
        for r in readings:
            if r.out_of_range and not self.include_flagged:
                continue
            yield self.row(r)

    def row(self, r: ExportRow) -> list[object]:
        tz = self._tz.get(r.village, UTC)
        metric = METRICS.get(r.metric)
        ts = at(r.ts_ms, tz).isoformat(timespec="milliseconds")
        values: list[object] = [ts, r.village, r.site, r.device, r.metric, r.value]
        if self.include_flagged:
            values.append(r.flags)
        values += [
            self._names.get((r.village, r.site), r.site),
            metric.zh if metric else r.metric,
            metric.en if metric else r.metric,
            metric.unit if metric else "",
            local_time(r.ts_ms, tz),
            utc_time(r.ts_ms),
        ]
        return values
