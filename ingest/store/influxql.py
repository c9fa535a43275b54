"""The InfluxDB reader: the ReadingReader interface (as SqliteStore) over InfluxQL on /query.

/query with `db` (and `rp`) is answered by InfluxDB 1.8+, by 2.x through a
DBRP mapping onto the bucket, and by 3.x, so one reader serves all three
(docs/deploy.md). Aggregation ("rollups") runs in the server: `GROUP BY
time(step, offset)` with the offset that aligns buckets on the requested
start, as SqliteStore aligns them. Times are epoch milliseconds (`epoch=ms`).

The schema is the writer's (ingest/store/influx.py): measurement = site kind,
tags village/site/device/crop, one field per metric; readings out of physical
range are in `out_of_range` and are left out of `latest` and `history`, as the
SQLite store leaves them out. Only the OUT_OF_RANGE flag is kept remotely;
provenance flags (arrival time, buffered) stay in the local store.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import urllib3

from ingest.store.influx import OUT_OF_RANGE_MEASUREMENT, series_tags
from qingyubiao.batch import Flag
from qingyubiao.config import Config, InfluxSettings
from qingyubiao.series import SeriesIndex
from qingyubiao.store import ExportRow, History, Latest, ReadFailed

EXPORT_WINDOW_MS = 86_400_000  # export one day per query, so memory stays bounded
_BAD = int(Flag.OUT_OF_RANGE)


class QueryFailed(ReadFailed):
    """/query answered with an HTTP error or a statement error, or could not be asked."""


def ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(text: str) -> str:
    """An InfluxQL string literal in single quotes."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _any_of(tag: str, values: Sequence[str]) -> str:
    return "(" + " OR ".join(f"{ident(tag)} = {literal(v)}" for v in values) + ")"


class InfluxQLReader:
    """Reads what InfluxWriter wrote. Thread-safe (urllib3's pool)."""

    def __init__(self, config: Config, index: SeriesIndex, settings: InfluxSettings) -> None:
        if not settings.url:
            raise ValueError("deployment.influx.url (QYB_INFLUX_URL) is not set")
        db = settings.database or (settings.bucket or "").split("/")[0]
        if not db:
            raise ValueError("set deployment.influx.database or bucket: the InfluxQL database to read")
        self.index = index
        self.url = settings.url.rstrip("/") + "/query"
        self.params = {"db": db, "epoch": "ms"}
        if settings.bucket and "/" in settings.bucket:  # InfluxDB 1.8 style "database/retention-policy"
            self.params["rp"] = settings.bucket.split("/", 1)[1]
        self.headers = {"Authorization": f"Token {settings.token}"} if settings.token else {}
        self.timeout = urllib3.Timeout(total=settings.timeout_ms / 1000)
        self._http = urllib3.PoolManager(maxsize=4)
        tags = series_tags(config, index)
        self._measurement = [m for m, _ in tags]
        self._measurements = sorted({*self._measurement, OUT_OF_RANGE_MEASUREMENT})
        self._site = {(k.village, k.device): k.site for k in index.keys}

    def _query(self, statements: Sequence[str]) -> list[dict[str, Any]]:
        """Run statements in one request; the result of each, in order."""
        fields = {**self.params, "q": ";\n".join(statements)}
        # GET: the one method InfluxDB 1.x, 2.x and 3.x all document for /query (we only ever SELECT).
        try:
            r = self._http.request("GET", self.url, fields=fields, headers=self.headers, timeout=self.timeout)
        except (urllib3.exceptions.HTTPError, OSError) as e:  # refused, timed out, no such host
            why = str(getattr(e, "reason", None) or e)[:300]  # MaxRetryError: the last try's own error
            raise QueryFailed(f"InfluxDB at {self.url} cannot be reached: {why}") from e
        if r.status != 200:
            raise QueryFailed(f"InfluxQL /query answered {r.status}: {r.data[:300].decode(errors='replace')}")
        results: list[dict[str, Any]] = json.loads(r.data).get("results", [])
        for res in results:
            if "error" in res:
                raise QueryFailed(f"InfluxQL error: {res['error']}")
        return sorted(results, key=lambda res: int(res.get("statement_id", 0)))

    # -- ReadingReader ----------------------------------------------------------------

    def latest(self, series: Sequence[int]) -> Latest:
        ts = np.full(len(series), -1, dtype=np.int64)
        value = np.full(len(series), np.nan)
        groups: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
        for pos, s in enumerate(series):
            k = self.index.keys[s]
            groups[(self._measurement[s], k.village, k.metric)].append((pos, k.device))
        if not groups:
            return Latest(ts, value)
        keys = list(groups)
        statements = [
            f"SELECT last({ident(metric)}) FROM {ident(m)} WHERE {ident('village')} = {literal(village)}"
            f" AND {_any_of('device', sorted({d for _, d in groups[(m, village, metric)]}))} GROUP BY {ident('device')}"
            for m, village, metric in keys
        ]
        for key, res in zip(keys, self._query(statements), strict=True):
            found = {s["tags"]["device"]: s["values"][0] for s in res.get("series", [])}
            for pos, device in groups[key]:
                if device in found:
                    ts[pos], value[pos] = found[device][0], found[device][1]
        return Latest(ts, value)

    def history(self, series: int, start_ms: int, end_ms: int, step_ms: int) -> History:
        if step_ms <= 0 or end_ms <= start_ms:
            raise ValueError("history needs step > 0 and end > start")
        k = self.index.keys[series]
        f = ident(k.metric)
        q = (
            f"SELECT count({f}), min({f}), mean({f}), max({f}) FROM {ident(self._measurement[series])}"
            f" WHERE {ident('village')} = {literal(k.village)} AND {ident('device')} = {literal(k.device)}"
            f" AND time >= {start_ms}ms AND time < {end_ms}ms"
            f" GROUP BY time({step_ms}ms, {start_ms % step_ms}ms) fill(none)"
        )
        rows = [row for s in self._query([q])[0].get("series", []) for row in s["values"]]
        rows = [r for r in rows if r[1]]
        cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
        return History(
            np.array(cols[0], dtype=np.int64),
            np.array(cols[1], dtype=np.int64),
            np.array(cols[2], dtype=np.float64),
            np.array(cols[3], dtype=np.float64),
            np.array(cols[4], dtype=np.float64),
        )

    def count(self) -> int:
        q = f"SELECT count(*) FROM {', '.join(ident(m) for m in self._measurements)}"
        total = 0
        for s in self._query([q])[0].get("series", []):
            for row in s["values"]:
                total += sum(int(v) for v in row[1:] if v)
        return total

    def _time_range(self) -> tuple[int, int] | None:
        """(first, last) reading time over all measurements, or None when empty."""
        frm = ", ".join(ident(m) for m in self._measurements)
        res = self._query(
            [f"SELECT * FROM {frm} ORDER BY time ASC LIMIT 1", f"SELECT * FROM {frm} ORDER BY time DESC LIMIT 1"]
        )
        first = [s["values"][0][0] for s in res[0].get("series", [])]
        last = [s["values"][0][0] for s in res[1].get("series", [])]
        return (min(first), max(last)) if first else None

    def export(
        self, start_ms: int | None = None, end_ms: int | None = None, series: Sequence[int] | None = None
    ) -> Iterator[ExportRow]:
        """Readings in [start, end), ordered by time, village, site, device, metric (as SqliteStore)."""
        if start_ms is None or end_ms is None:
            bounds = self._time_range()
            if bounds is None:
                return
            start_ms = bounds[0] if start_ms is None else start_ms
            end_ms = bounds[1] + 1 if end_ms is None else end_ms
        wanted = None if series is None else set(series)
        frm = ", ".join(ident(m) for m in self._measurements)
        for a in range(start_ms, end_ms, EXPORT_WINDOW_MS):
            b = min(a + EXPORT_WINDOW_MS, end_ms)
            rows: list[ExportRow] = []
            res = self._query([f"SELECT * FROM {frm} WHERE time >= {a}ms AND time < {b}ms GROUP BY *"])[0]
            for s in res.get("series", []):
                flags = _BAD if s["name"] == OUT_OF_RANGE_MEASUREMENT else 0
                village, device = s["tags"].get("village", ""), s["tags"].get("device", "")
                cols = s["columns"]
                for row in s["values"]:
                    for metric, v in zip(cols[1:], row[1:], strict=True):
                        if v is None:
                            continue
                        idx = self.index.find(village, device, metric)
                        if idx is None or (wanted is not None and idx not in wanted):
                            continue
                        rows.append(
                            ExportRow(row[0], village, s["tags"].get("site", ""), device, metric, float(v), flags)
                        )
            rows.sort(key=lambda r: (r.ts_ms, r.village, r.site, r.device, r.metric))
            yield from rows

    def close(self) -> None:
        self._http.clear()
