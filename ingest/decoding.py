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
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.util import Finalize
from typing import Protocol

from ingest.decoders.context import DecodeContext, Deduplicator
from ingest.decoders.router import route
from qingyubiao import LOG_FORMAT
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
    @property
    def in_child(self) -> bool: ...

    def decode(self, now_ms: int, messages: Sequence[Message]) -> Decoded: ...

    def close(self) -> None: ...


def start_decoder(index: SeriesIndex, limits: Limits, child_process: bool) -> Decoder:
    """A decoder process (`decoder_process = true`, the default) or decoding in the caller's thread."""
    return DecoderProcess(index, limits) if child_process else InThreadDecoder(index, limits)


class InThreadDecoder:
    """Decodes in the caller's thread (`decoder_process = false`, and the fallback of DecoderProcess)."""

    in_child = False

    def __init__(self, index: SeriesIndex, limits: Limits) -> None:
        self.index, self.limits, self.dedup = index, limits, Deduplicator()

    def decode(self, now_ms: int, messages: Sequence[Message]) -> Decoded:
        return decode_messages(self.index, self.limits, self.dedup, now_ms, messages)

    def close(self) -> None:
        pass


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class DecoderProcess:
    """Decodes in a child process. It keeps the ChirpStack deduplication memory, so one process decodes all."""

    RESTART_AFTER_S = 60.0  # after a death, decode in-thread this long before starting another process

    def __init__(self, index: SeriesIndex, limits: Limits) -> None:
        self.index, self.limits = index, limits
        self._fallback = InThreadDecoder(index, limits)
        self._conn: Connection | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._closing_at_exit: Finalize | None = None
        self._seq = 0
        self._restart_at = 0.0
        self.restarts = 0  # new processes tried after the first one died
        self._start()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def in_child(self) -> bool:
        """False while a dead child's work is done in the caller's thread (until the restart)."""
        return self._conn is not None

    def _start(self) -> None:
        # spawn, not fork: the collector may share its process with other threads (the demo's API and broker).
        mp = multiprocessing.get_context("spawn")
        conn, child = mp.Pipe()
        level = logging.getLogger().getEffectiveLevel()
        proc = mp.Process(target=_serve, args=(child, self.index, self.limits, level), name="qyb-decoder", daemon=True)
        # The child inherits this mask: a stop signal while it is still importing must not kill it. It ignores
        # them from then on (see _serve) and leaves stopping to the collector.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            proc.start()
        except BaseException:
            conn.close()
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            child.close()
        self._conn, self._proc = conn, proc
        # At interpreter exit multiprocessing terminates daemon children (SIGTERM, which the child ignores) and
        # then joins them without a timeout: close the pipe before that, so the child sees EOF and exits.
        self._closing_at_exit = Finalize(self, conn.close, exitpriority=10)

    def decode(self, now_ms: int, messages: Sequence[Message]) -> Decoded:
        if self._conn is None and (time.monotonic() < self._restart_at or not self._restart()):
            return self._fallback.decode(now_ms, messages)
        assert self._conn is not None
        self._seq += 1
        try:
            self._conn.send((self._seq, now_ms, messages))
            seq, result = self._conn.recv()
        except (EOFError, OSError):
            code = None if self._proc is None else self._proc.exitcode
            log.error("the decoder process died (exit code %s); decoding in the collector's thread for now", code)
            self._give_up_on_process()
            return self._fallback.decode(now_ms, messages)
        except BaseException:  # interrupted between send and recv: a late reply must never answer the next call
            self.close()
            raise
        if seq != self._seq or not isinstance(result, Decoded):
            log.error("the decoder process answered out of turn; decoding in the collector's thread for now")
            self._give_up_on_process()
            return self._fallback.decode(now_ms, messages)
        return result

    def _restart(self) -> bool:
        self.restarts += 1
        try:
            self._start()
            return True
        except Exception:
            log.exception("could not start a decoder process; decoding in the collector's thread for now")
            self._restart_at = time.monotonic() + self.RESTART_AFTER_S
            return False

    def _give_up_on_process(self) -> None:
        self.close()
        self._restart_at = time.monotonic() + self.RESTART_AFTER_S

    def close(self) -> None:
        if self._closing_at_exit is not None:
            self._closing_at_exit.cancel()
            self._closing_at_exit = None
        if self._conn is not None:
            self._conn.close()  # the child sees EOF and exits
            self._conn = None
        if self._proc is not None:
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(5)
            self._proc = None


def _serve(conn: Connection, index: SeriesIndex, limits: Limits, log_level: int) -> None:
    """The decoder process: decode each chunk it is sent until the collector closes the pipe (or dies)."""
    # Ctrl-C, and systemd's SIGTERM to the whole service, are for the collector: it stores what it has in
    # hand, decoded here, then closes the pipe, and this loop ends.
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    logging.basicConfig(level=log_level, format=LOG_FORMAT, stream=sys.stderr)
    dedup = Deduplicator()
    while True:
        try:
            seq, now_ms, messages = conn.recv()
        except (EOFError, OSError):
            return
        decoded = decode_messages(index, limits, dedup, now_ms, messages)
        try:
            conn.send((seq, decoded))
        except OSError:  # the collector closed the pipe while we decoded: it is stopping
            return
