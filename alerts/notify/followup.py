"""Repeat and escalate: a firing alert nobody acknowledged is not forgotten.

- Critical and emergency crop alerts are re-sent to the same people every
  `repeat_ms` until acknowledged or resolved (Alertmanager's repeat_interval,
  with the ack it lacks).
- Any crop alert still unacknowledged `escalate_ms` after it was first due
  (after quiet hours, for a held warning) goes to the secretary, once, by SMS
  as well.
Acknowledgements are read from the alert store (the API writes them there).
"""

from __future__ import annotations

from collections.abc import Callable

from alerts.notify.notice import Why
from alerts.notify.outbox import Outbox
from alerts.notify.routing import URGENT, Router
from qingyubiao.alerting import Audience


class FollowUp:
    def __init__(
        self,
        outbox: Outbox,
        router: Router,
        repeat_ms: int,
        escalate_ms: int,
        acked: Callable[[], set[str]] | None = None,
        every_ms: int = 5_000,
    ) -> None:
        self.outbox, self.router = outbox, router
        self.every_ms, self._last = every_ms, -(2**62)  # minutes-scale timers: no need to look every pass
        self.repeat_ms, self.escalate_ms = repeat_ms, escalate_ms
        self.acked = acked

    def run(self, now_ms: int) -> None:
        if now_ms - self._last < self.every_ms:
            return
        self._last = now_ms
        episodes = self.outbox.open_episodes()
        if not episodes:
            return
        if self.acked is not None:
            done = self.acked() & {e.episode for e in episodes}
            if done:
                self.outbox.mark_acked(done)
                episodes = [e for e in episodes if e.episode not in done]
        for e in episodes:
            if e.audience != Audience.FARMER or now_ms < e.first_due_ms:
                continue
            if e.severity in URGENT and now_ms - e.last_page_ms >= self.repeat_ms:
                state = f"{Why.REPEAT}-{e.repeats + 1}"
                self.outbox.enqueue_followup(
                    e.episode, self.router.route(e.transition, state, e.started_ms, now_ms), now_ms, repeat=True
                )
            if not e.escalated and now_ms - e.first_due_ms >= self.escalate_ms:
                people = self.router.secretaries(e.village)
                queued = self.router.route(e.transition, Why.ESCALATION, e.started_ms, now_ms, people=people)
                self.outbox.enqueue_followup(e.episode, queued, now_ms, repeat=False)
