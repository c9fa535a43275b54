"""Problems of the box itself (ingest/health.py) as maintainer alerts, routed like a device fault."""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable

from alerts.notify.dispatcher import Dispatcher
from alerts.notify.outbox import started_ms
from alerts.notify.routing import Router
from alerts.notify.writer import NotifyingWriter
from qingyubiao.alerting import Audience, Kind, Severity, State, Transition
from qingyubiao.config import Config
from qingyubiao.health import Part, Problem

log = logging.getLogger(__name__)

KINDS = {Part.STORE: Kind.STORE_FAILING, Part.BROKER: Kind.BROKER_UNREACHABLE}


def system_transitions(config: Config, problem: Problem, ended: bool, now_ms: int) -> list[Transition]:
    """One transition per village (each village's admins maintain the box that serves it)."""
    kind = KINDS[problem.part]
    return [
        Transition(
            episode=f"system-{problem.part.value}-{problem.since_ms}-{v.id}",
            rule=f"system.{problem.part.value}",
            kind=kind.value,
            severity=Severity.CRITICAL.value,
            audience=Audience.MAINTAINER.value,
            state=(State.RESOLVED if ended else State.FIRING).value,
            ts_ms=now_ms if ended else problem.since_ms,
            village=v.id,
            site="",
            device="collector",
            metric=problem.part.value,
            value=math.nan,  # no measurement: the texts say what is wrong
            threshold=math.nan,
            text_zh=("已恢复：" if ended else "") + problem.text_zh,
            text_en=("recovered: " if ended else "") + problem.text_en,
        )
        for v in config.village
    ]


class MaintainerPager:
    """`Health`'s on_change: queues the maintainer alert in the outbox like any other. When the outbox cannot
    take it (SQLite's "database or disk is full": it shares the full disk), the alert is sent from memory,
    once, on every channel that needs no disk, and so is its end."""

    def __init__(
        self,
        config: Config,
        writer: NotifyingWriter,
        router: Router,
        dispatcher: Dispatcher,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.writer, self.router, self.dispatcher, self.clock = config, writer, router, dispatcher, clock
        self._from_memory: set[str] = set()  # episodes paged around the outbox: their end goes the same way

    def __call__(self, problem: Problem, ended: bool) -> None:
        now_ms = int(self.clock() * 1000)
        transitions = system_transitions(self.config, problem, ended, now_ms)
        around = [t for t in transitions if ended and t.episode in self._from_memory]
        try:
            self.writer.queue([t for t in transitions if t not in around], now_ms)
        except sqlite3.OperationalError as e:
            log.error("could not queue the maintainer alert for the %s (%s: %s): sending it from memory, once",
                      problem.part.value, type(e).__name__, e)  # fmt: skip
            around = transitions
        if around:
            queued = [q for t in around for q in self.router.route(t, t.state, started_ms(t), now_ms)]
            self.dispatcher.deliver_unqueued(queued, now_ms)
            if ended:
                self._from_memory.difference_update(t.episode for t in around)
            else:
                self._from_memory.update(t.episode for t in around)
