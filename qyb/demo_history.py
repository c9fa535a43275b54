"""The demo's recent history, put through the collector's own steps on the history's own clock.

A day of village life replayed over MQTT on the wall clock arrives a day late: the alert core rightly
calls such readings backfill (补报) and the pages rightly call the sites stale (数据中断) until the
replay reaches the present. The demo's history is not a late delivery, it is what the village did
before the demo began, so it is decoded, stored and evaluated here, in this thread, each simulated
minute at that minute (`now_ms` = the newest message's time), with the alert core's ticks at the same
clock. The alert core's rule for real devices is untouched: the live collector still judges arrival
by the wall clock, so a real reading that comes late is still marked 补报. The history pages nobody
while it is replayed; what still fires when it reaches the present is paged then, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from alerts.manager import AlertManager
from alerts.notify.writer import NotifyingWriter
from ingest.decoders.context import Deduplicator
from ingest.decoding import Decoded, Limits, Message, decode_messages
from qingyubiao.alerting import State, Transition
from qingyubiao.batch import Batch
from qyb.system import CollectorSystem

SimMessage = tuple[float, str, bytes]  # simulated time (s), topic, payload: what the twin yields
# One twin step. Every reading of a minute is evaluated at the minute's newest message, so none is older than this
# on arrival: well inside the shortest staleness limit (3 × a 60 s interval), never late by the clock.
MINUTE_MS = 60_000
STORE_MINUTES = 30  # minutes stored per transaction: one commit a minute cost more than the evaluation
SNAPSHOT_EVERY_MS = 3_600_000  # the alert engine's, during the history (`_history_mode`)


@dataclass
class Replayed:
    messages: int = 0
    readings: int = 0  # stored
    rejected: int = 0
    until_ms: int = -1  # the clock at the last evaluated minute
    firing: dict[str, Transition] = field(default_factory=dict)  # the last firing transition of each episode
    paged: int = 0  # episodes still firing at the end, paged then


def replay(
    system: CollectorSystem,
    msgs: Iterable[SimMessage],
    done: Replayed | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> Replayed:
    """Store and evaluate `msgs` (in simulated-time order) minute by minute, as the collector would have
    when each minute was the present. Run it before the collector's thread starts: it writes the same
    store and drives the same alert manager, which have one writer each. Nobody is paged from here (see
    `page_still_firing`)."""
    done = done or Replayed()
    settings = system.collector.settings
    limits = Limits(settings.max_payload_bytes, settings.max_future_s)
    dedup = Deduplicator()  # ChirpStack retries within the history
    alerts = system.alerts
    others = [s for s in system.collector.sinks if s is not alerts]  # the InfluxDB forwarder, when configured
    minute: list[Message] = []
    decoded: list[tuple[int, Decoded]] = []  # minutes decoded, not yet stored and evaluated
    key, now_ms = -1, -1

    def evaluate() -> None:
        """Store the decoded minutes in one transaction, then evaluate each minute at its own clock."""
        rejects = [r for _, d in decoded for r in d.rejects]
        statuses = [s for _, d in decoded for s in d.statuses]
        system.store.write(Batch.concat([d.batch for _, d in decoded]), rejects, statuses)
        for at_ms, d in decoded:
            seen = alerts.handle(d.batch, at_ms) + alerts.tick(at_ms)  # ticks: staleness, offline devices
            for sink in others:
                sink.handle(d.batch, at_ms)
            done.firing |= {t.episode: t for t in seen if t.state == State.FIRING}
            done.readings += len(d.batch)
            done.until_ms = at_ms
        done.rejected += len(rejects)
        decoded.clear()

    def decode() -> None:
        decoded.append((now_ms, decode_messages(system.collector.index, limits, dedup, now_ms, minute)))
        done.messages += len(minute)
        minute.clear()
        if len(decoded) >= STORE_MINUTES:
            evaluate()

    with _history_mode(alerts):
        for t, topic, payload in msgs:
            t_ms = int(t * 1000)
            if minute and t_ms // MINUTE_MS != key:
                decode()
                if stop():
                    break
            key, now_ms = t_ms // MINUTE_MS, max(now_ms, t_ms)
            minute.append((topic, payload))
        if minute:
            decode()
        if decoded:
            evaluate()
    return done


@contextmanager
def _history_mode(alerts: AlertManager) -> Iterator[None]:
    """The alert manager records the history without queueing notices (what ended before the demo began
    would reach the phones and the loudspeaker as a burst of yesterday's news), and snapshots its engine
    once a simulated hour: a snapshot is for a restart, and after one the history is replayed anyway (at
    the live rate of one a minute it took a third of the replay's time)."""
    writer, every = alerts.writer, alerts.snapshot_every_ms
    if isinstance(writer, NotifyingWriter):
        alerts.writer = writer.inner
    alerts.snapshot_every_ms = SNAPSHOT_EVERY_MS
    try:
        yield
    finally:
        alerts.writer, alerts.snapshot_every_ms = writer, every


def page_still_firing(system: CollectorSystem, done: Replayed, now_ms: int) -> int:
    """Page, once and now, the history's episodes that are still firing: the farmer is told about the
    greenhouse that is cold now, as a live alert (its text and time are the firing's own)."""
    writer = system.alerts.writer
    if not isinstance(writer, NotifyingWriter):
        return 0
    active = system.alerts.active
    still = [t for e, t in done.firing.items() if e in active and active[e].state == State.FIRING]
    writer.queue(still, now_ms)
    done.paged = len(still)
    return len(still)


def catch_up(
    system: CollectorSystem,
    run_until: Callable[[float], Iterable[SimMessage]],
    twin_time: Callable[[], float],
    stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.time,
) -> Replayed:
    """Replay until the twin is less than a minute and a half behind the wall clock: each pass up to a
    minute before the present as the pass began (a twin step's messages reach up to a minute past its
    end: no history reading is stamped in the future), then another for the seconds it took; then page
    what still fires. `run_until(t)` yields the twin's messages up to t. What is left comes live, at
    most 90 s old: inside the shortest staleness limit (180 s), so it is not late either."""
    done = Replayed()
    step_s = MINUTE_MS / 1000
    while not stop() and clock() - twin_time() >= 1.5 * step_s:
        replay(system, run_until(clock() - step_s), done, stop)
    system.store.refresh_rollups()  # the pages' week and month charts read the rollups
    if not stop():
        page_still_firing(system, done, int(clock() * 1000))
    return done
