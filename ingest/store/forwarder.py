"""Forward stored batches to a remote store (InfluxDB) through its own disk spool and sender thread.

The collector calls `handle(batch, now_ms)` after the local store has the
batch and before the MQTT acknowledgement. `handle` only encodes the batch as
line protocol and appends it to the spool on local disk: it never waits for
the network, so a slow or dead InfluxDB never holds up the local store, the
alerting or the acknowledgement, and an acknowledged reading is on disk in
the spool before its PUBACK leaves (the spool is the crash-safe queue; there
is no in-memory one).

The sender thread reads the oldest spooled records, joins them into requests
of at most `batch_size` lines (waiting up to `flush_interval_ms` for a fuller
one), writes them, and only then moves the spool's cursor. Failures:

- 429, 5xx, 401/403/404, timeouts, refused connections: retried, in order,
  with exponential backoff (honouring Retry-After) until they succeed; the
  data waits in the spool.
- 400/422 (the body is refused): logged with the server's reason, counted in
  `qyb_influx_rejected_readings`, and skipped; 413 splits the request in two.
- Spool full: the batch is not forwarded (it stays in the local store),
  counted in `qyb_influx_spool_dropped_readings` and logged as an error; a
  warning is logged when the spool passes `WARN_RATIO` of its bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ingest.metrics import IngestMetrics
from ingest.store.influx import LineEncoder, LineWriter, WriteFailed, influx_writer
from ingest.store.spool import Record, Spool
from qingyubiao.batch import Batch
from qingyubiao.config import Config, InfluxSettings
from qingyubiao.retry import backoff_s
from qingyubiao.series import SeriesIndex

log = logging.getLogger(__name__)

WARN_RATIO = 0.8  # warn when the spool holds this share of its bound


class Forwarder:
    """A BatchSink that forwards to one remote store; one spool and one thread per store."""

    def __init__(
        self,
        name: str,
        encoder: LineEncoder,
        writer: LineWriter,
        spool: Spool,
        settings: InfluxSettings,
        metrics: IngestMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.encoder = encoder
        self.writer = writer
        self.spool = spool
        self.settings = settings
        self.metrics = metrics or IngestMetrics()
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False
        self._last_drop_log = 0.0
        self.dropped_readings = 0  # since start; also in qyb_influx_spool_dropped_readings
        self.metrics.spool_limit.set(spool.max_bytes)
        self._update_gauges()

    # -- the collector's thread -------------------------------------------------------

    def handle(self, batch: Batch, now_ms: int) -> None:
        """Spool the batch for the sender; never waits for the network."""
        self.handle_lines(*self.encoder.encode(batch))

    def handle_lines(self, body: str, lines: int) -> None:
        """Spool ready line protocol (the alert transitions' copy, ingest/store/influx_alerts.py)."""
        if not lines:
            return
        data = body.encode()
        self._check_fill(len(data))  # warns before the first drop, even when one batch jumps past 80 %
        try:
            spooled = self.spool.append(data, lines, int(self.clock() * 1000))
        except OSError:  # the disk is full or failing: the batch is in the local store, say what is missing
            log.exception("%s spool cannot be written; %d readings NOT forwarded", self.name, lines)
            spooled = False
        if not spooled:
            self._dropped(lines)
        self._update_gauges()
        self._wake.set()

    def _check_fill(self, incoming: int) -> None:
        ratio = (self.spool.pending_bytes + incoming) / self.spool.max_bytes
        if ratio >= WARN_RATIO and not self._warned:
            self._warned = True
            log.warning(
                "%s spool is %.0f%% full (%d of %d bytes): InfluxDB is not keeping up or is away; at 100%% new "
                "batches are not forwarded (they stay in the local store)",
                self.name,
                min(ratio, 1.0) * 100,
                self.spool.pending_bytes + incoming,
                self.spool.max_bytes,
            )
        elif ratio < WARN_RATIO / 2:
            self._warned = False

    def _dropped(self, lines: int) -> None:
        self.metrics.spool_dropped.inc(lines)
        self.dropped_readings += lines
        now = time.monotonic()
        if now - self._last_drop_log >= 10:  # loud, but not a line per batch
            self._last_drop_log = now
            log.error(
                "%s spool is full (%d bytes): %d readings NOT forwarded to InfluxDB (kept in the local store; "
                "qyb store migrate can copy them later). Total not forwarded: %d",
                self.name,
                self.spool.max_bytes,
                lines,
                self.dropped_readings,
            )

    def _update_gauges(self) -> None:
        self.metrics.spool_depth.set(self.spool.depth)
        self.metrics.spool_bytes.set(self.spool.pending_bytes)

    # -- the sender thread ------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"forward-{self.name}", daemon=True)
            self._thread.start()

    def close(self, drain_s: float = 5.0) -> None:
        """Try to deliver what is spooled for up to `drain_s`, then stop; the rest waits in the spool."""
        deadline = time.monotonic() + drain_s
        while self._thread and self.spool.depth and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(10)
        self.spool.close()
        self.writer.close()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                records = self.spool.peek(self.settings.batch_size)
            except Exception:  # e.g. a spool file damaged behind our back: say so, and keep trying
                log.exception("%s: cannot read the spool", self.name)
                self._stop.wait(5)
                continue
            if not records:
                self._wake.clear()
                self._wake.wait(0.5)
                continue
            lines = sum(r.lines for r in records)
            wait_s = self.settings.flush_interval_ms / 1000 - (self.clock() - records[0].appended_ms / 1000)
            if lines < self.settings.batch_size and wait_s > 0 and attempt == 0:
                self._wake.clear()
                self._wake.wait(wait_s)  # wait for a fuller request, or the flush interval
                continue
            self.metrics.influx_lag.set(max(0.0, self.clock() - records[0].appended_ms / 1000))
            try:
                self._send(records)
            except Exception as e:  # WriteFailed, or anything unexpected: the thread must not die
                if not isinstance(e, WriteFailed):
                    log.exception("%s: unexpected error while writing", self.name)
                    self.metrics.influx_errors.labels("exception").inc()
                    e = WriteFailed("exception", True, repr(e)[:300])
                attempt += 1
                delay = self._backoff(attempt, e)
                loud = attempt <= 3 or attempt % 20 == 0 or e.status in ("401", "403", "404")
                log_fn = log.warning if loud else log.debug
                log_fn(
                    "%s: %s; retry %d in %.1f s (%d batches spooled)", self.name, e, attempt, delay, self.spool.depth
                )
                self._stop.wait(delay)
                continue
            if attempt:
                log.info("%s: writes succeed again after %d failed attempts", self.name, attempt)
            attempt = 0
            self.spool.consume(records)
            self._update_gauges()
            if not self.spool.depth:
                self.metrics.influx_lag.set(0)

    def _backoff(self, attempt: int, e: WriteFailed) -> float:
        s = self.settings
        return backoff_s(attempt, s.retry_initial_ms / 1000, s.retry_max_ms / 1000, e.retry_after_s)

    def _send(self, records: list[Record]) -> None:
        """Write the records' lines in requests of at most batch_size lines. Raises WriteFailed (retriable)."""
        size = self.settings.batch_size
        chunk: list[bytes] = []
        chunk_lines = 0
        for r in records:
            if r.lines > size:  # a large collector batch: split it by lines
                self._flush_chunk(chunk, chunk_lines)
                chunk, chunk_lines = [], 0
                lines = r.body.split(b"\n")
                for i in range(0, len(lines), size):
                    self._write(b"\n".join(lines[i : i + size]), len(lines[i : i + size]))
                continue
            if chunk_lines + r.lines > size:
                self._flush_chunk(chunk, chunk_lines)
                chunk, chunk_lines = [], 0
            chunk.append(r.body)
            chunk_lines += r.lines
        self._flush_chunk(chunk, chunk_lines)

    def _flush_chunk(self, chunk: list[bytes], lines: int) -> None:
        if chunk:
            self._write(b"\n".join(chunk), lines)

    def _write(self, body: bytes, lines: int) -> None:
        try:
            self.writer.write(body)
        except WriteFailed as e:
            self.metrics.influx_errors.labels(e.status).inc()
            if e.retriable:
                raise
            if e.status == "413" and lines > 1:
                parts = body.split(b"\n")
                half = len(parts) // 2
                self._write(b"\n".join(parts[:half]), half)
                self._write(b"\n".join(parts[half:]), len(parts) - half)
                return
            self.metrics.influx_rejected.inc(lines)
            log.error("%s refused %d readings, skipped (not retried): %s", self.name, lines, e)
            return
        self.metrics.influx_written.inc(lines)


def influx_forwarder(config: Config, index: SeriesIndex, metrics: IngestMetrics | None = None) -> Forwarder:
    """The started InfluxDB forwarder for `deployment.influx` (whose url must be set)."""
    s = config.deployment.influx
    spool = Spool(s.spool_dir, s.spool_max_bytes, fsync=s.spool_fsync)
    forwarder = Forwarder("influxdb", LineEncoder(config, index), influx_writer(s), spool, s, metrics)
    if spool.depth:
        log.info("%d batches (%d bytes) wait in the InfluxDB spool; replaying", spool.depth, spool.pending_bytes)
    forwarder.start()
    return forwarder
