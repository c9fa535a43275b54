"""Decode a flush of MQTT messages into one columnar batch, in this thread or in a decoder process.

Decoding held the GIL half of the collector's time, and Python runs one thread at a time: in its own
process it runs beside paho's network loop and the SQLite writer instead of taking turns with them
(1.4-1.6x the gateway readings/s, docs/performance.md). Only (topic, payload) pairs go there and only the finished
batch comes back, so the process boundary costs one pickled list per flush, not per reading.

The decoder process holds no state that matters: if it dies, the flush is decoded in the caller's
thread and a new process is started a minute later; messages are not acknowledged before they are
stored anyway.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Protocol

from ingest.decoders.context import DecodeContext, Deduplicator
from ingest.decoders.router import route
from qingyubiao.batch import Batch
from qingyubiao.rejects import Reject
from qingyubiao.series import SeriesIndex
from qingyubiao.store import DeviceStatus

log = logging.getLogger(__name__)

Message = tuple[str, bytes]  # topic, payload


@dataclass(frozen=True, slots=True)
class Limits:
    max_payload_bytes: int
    max_future_s: float


@dataclass(frozen=True, slots=True)
class Decoded:
    batch: Batch
    rejects: list[Reject]
    statuses: list[DeviceStatus]
    duplicates: int


def decode_messages(
    index: SeriesIndex, limits: Limits, dedup: Deduplicator, now_ms: int, messages: Sequence[Message]
) -> Decoded:
    ctx = DecodeContext(index, now_ms, limits.max_future_s, dedup)
    for topic, payload in messages:
        route(ctx, topic, payload, limits.max_payload_bytes)
    return Decoded(ctx.builder.build(index.lo, index.hi), ctx.rejects, ctx.statuses, ctx.duplicates)


class Decoder(Protocol):
    def decode(self, now_ms: int, messages: Sequence[Message]) -> Decoded: ...

    def close(self) -> None: ...


def start_decoder(index: SeriesIndex, limits: Limits, in_process: bool) -> Decoder:
    """A decoder process (`decoder_process = true`, the default) or decoding in the caller's thread."""
    return DecoderProcess(index, limits) if in_process else InThreadDecoder(index, limits)


class InThreadDecoder:
    """Decodes in the caller's thread (`decoder_process = false`, and the fallback of DecoderProcess)."""

    def __init__(self, index: SeriesIndex, limits: Limits, dedup: Deduplicator | None = None) -> None:
        self.index, self.limits, self.dedup = index, limits, dedup or Deduplicator()

    def decode(self, now_ms: int, messages: Sequence[Message]) -> Decoded:
        return decode_messages(self.index, self.limits, self.dedup, now_ms, messages)

    def close(self) -> None:
        pass


class DecoderProcess:
    """Decodes in a child process. It keeps the ChirpStack deduplication memory, so one process decodes all."""

    RESTART_AFTER_S = 60.0  # after a death, decode in-thread this long before starting another process

    def __init__(self, index: SeriesIndex, limits: Limits) -> None:
        self.index, self.limits = index, limits
        self._fallback = InThreadDecoder(index, limits)
        self._conn: Connection | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._restart_at = 0.0
        self.restarts = 0  # processes started after the first one died
        self._start()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _start(self) -> None:
        # spawn, not fork: the collector may share its process with other threads (the demo's API and broker).
        mp = multiprocessing.get_context("spawn")
        self._conn, child = mp.Pipe()
        self._proc = mp.Process(target=_serve, args=(child, self.index, self.limits), name="qyb-decoder", daemon=True)
        self._proc.start()
        child.close()

    def decode(self, now_ms: int, messages: Sequence[Message]) -> Decoded:
        if self._conn is None:
            if time.monotonic() < self._restart_at:
                return self._fallback.decode(now_ms, messages)
            self.restarts += 1
            self._start()
            assert self._conn is not None
        try:
            self._conn.send((now_ms, messages))
            result: Decoded = self._conn.recv()
            return result
        except (EOFError, OSError):
            code = None if self._proc is None else self._proc.exitcode
            log.error("the decoder process died (exit code %s); decoding in the collector's thread for now", code)
            self.close()
            self._restart_at = time.monotonic() + self.RESTART_AFTER_S
            return self._fallback.decode(now_ms, messages)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the child sees EOF and exits
            self._conn = None
        if self._proc is not None:
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(5)
            self._proc = None


def _serve(conn: Connection, index: SeriesIndex, limits: Limits) -> None:
    """The decoder process: decode each flush it is sent until the collector closes the pipe (or dies)."""
    # Ctrl-C, and systemd's SIGTERM to the whole service, are for the collector: it stores what it has in
    # hand, decoded here, then closes the pipe, and this loop ends.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    dedup = Deduplicator()
    while True:
        try:
            now_ms, messages = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(decode_messages(index, limits, dedup, now_ms, messages))
