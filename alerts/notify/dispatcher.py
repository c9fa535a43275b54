"""The dispatcher: delivers the outbox, per channel target, in order, within budget, with retries.

One pass (`run_once(now_ms)`) per channel target:

1. a send that failed earlier is retried (same notices, same key) once its
   backoff has passed; nothing newer for that target goes before it, so a
   site's messages arrive in order;
2. otherwise the due notices are grouped by site (a site's notices within
   `group_wait` go as one message); notices held over quiet hours go as one
   morning digest; when more sites are waiting than the budget has requests
   left, they all go as digests (split at the channel's `max_items`), so an
   alert storm is told in full without exceeding 20 requests a minute.

A request in flight when the process dies (no answer recorded) is sent again
after the restart, before anything newer for its target: with the same
idempotency key where the receiver dedups (webhook, MQTT events, feed), and
marked as a possible repeat (（可能重复）) where it cannot (robots, SMS,
loudspeaker). A farmer may see a labelled duplicate, never silence.

Time comes from the caller (`now_ms`), so tests drive it with a fake clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from alerts.notify.budget import WINDOW_MS, Budget
from alerts.notify.channels.base import Channel, Outcome
from alerts.notify.followup import FollowUp
from alerts.notify.metrics import NotifyMetrics
from alerts.notify.notice import Notice
from alerts.notify.outbox import Outbox, Pending, Send
from alerts.notify.routing import Queued
from qingyubiao.retry import backoff_s

log = logging.getLogger(__name__)

GROUPED = ("webhook", "wecom", "dingtalk", "sms", "broadcast")  # people read these; machines get each notice at once
METRICS_EVERY_MS = 10_000  # the status gauges count the whole outbox: not on every one-second pass


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        channels: list[Channel],
        followup: FollowUp | None = None,
        group_wait_ms: int = 30_000,
        retry_initial_ms: int = 5_000,
        retry_max_ms: int = 600_000,
        give_up_ms: int = 24 * 3_600_000,
        now_ms: int | None = None,
        metrics: NotifyMetrics | None = None,
    ) -> None:
        self.outbox = outbox
        self.channels = {c.name: c for c in channels}
        self.followup = followup
        self.group_wait_ms = group_wait_ms
        self.retry_initial_ms, self.retry_max_ms, self.give_up_ms = retry_initial_ms, retry_max_ms, give_up_ms
        self.budgets: dict[tuple[str, str], Budget] = {}
        self.metrics = metrics
        self._metrics_due = 0
        start = int(time.time() * 1000) if now_ms is None else now_ms
        self.recovered = outbox.recover(start)  # (channel, target) of the requests cut off by the last stop
        for name, target in self.recovered:
            marked = not (name in self.channels and self.channels[name].idempotent)
            log.warning("%s to %s was in flight at the last stop: resending it%s", name, target,
                        " marked as a possible repeat" if marked else " with the same idempotency key")  # fmt: skip
            if metrics is not None:
                metrics.failed_attempts.labels(name).inc()  # the cut-off try is in notify_attempt as failed too

    def budget(self, channel: Channel, target: str, now_ms: int) -> Budget | None:
        if channel.per_minute is None:
            return None
        scope = target if channel.budget_per_target else None
        key = (channel.name, scope or "*")
        if key not in self.budgets:  # seeded from the attempts on record: a restart does not reset the window
            self.budgets[key] = Budget(
                channel.per_minute, self.outbox.attempts_since(channel.name, scope, now_ms - WINDOW_MS)
            )
        return self.budgets[key]

    def run_once(self, now_ms: int, only: set[str] | None = None, followup: bool = True) -> int:
        """Deliver what is due (on the channels in `only`, default all); returns the number of requests tried."""
        if followup and self.followup is not None:
            self.followup.run(now_ms)
        tried = 0
        for channel_name, target in self.outbox.targets(now_ms):
            channel = self.channels.get(channel_name)
            if channel is not None and (only is None or channel_name in only):
                tried += self._drain(channel, target, now_ms)
        if followup and self.metrics is not None and now_ms >= self._metrics_due:  # the main loop's job
            self._metrics_due = now_ms + METRICS_EVERY_MS
            self.metrics.observe(self.outbox)
        return tried

    def _drain(self, channel: Channel, target: str, now_ms: int) -> int:
        tried = 0
        budget = self.budget(channel, target, now_ms)
        while True:
            send = self.outbox.open_send(channel.name, target)
            if send is not None and send.next_ms > now_ms:
                return tried
            if send is None:
                ids = self._next_group(channel, target, now_ms, budget)
                if not ids:
                    return tried
                if budget is not None and budget.available(now_ms) <= 0:
                    return tried
                send = self.outbox.form_send(channel.name, target, ids, now_ms)
            if budget is not None and not budget.take(now_ms):
                return tried
            tried += 1
            if not self._attempt(channel, send, now_ms):
                return tried

    def _next_group(self, channel: Channel, target: str, now_ms: int, budget: Budget | None) -> list[int]:
        pending = self.outbox.pending(channel.name, target, now_ms)
        if not pending:
            return []
        if channel.name not in GROUPED:
            return [p.id for p in pending[: channel.max_items]]
        held = [p for p in pending if p.held]
        if held:  # the morning digest: everything that waited out the night, together
            return [p.id for p in held[: channel.max_items]]
        wait = self.group_wait_ms
        by_site: dict[str, list[Pending]] = {}
        for p in pending:
            by_site.setdefault(p.site, []).append(p)
        ready = [ps for ps in by_site.values() if min(p.due_ms for p in ps) + wait <= now_ms]
        if not ready:
            return []
        ready.sort(key=lambda ps: ps[0].id)
        left = budget.available(now_ms) if budget is not None else len(ready)
        if len(ready) <= left:
            return [p.id for p in ready[0][: channel.max_items]]
        # more sites than requests left: a digest of many sites, each site's notices kept together
        ids: list[int] = []
        for ps in ready:
            if ids and len(ids) + len(ps) > channel.max_items:
                break
            ids += [p.id for p in ps]
        return ids[: max(channel.max_items, 1)]

    def _attempt(self, channel: Channel, send: Send, now_ms: int) -> bool:
        self.outbox.begin_attempt(send)  # a retry in flight at a crash is recovered like a first try
        try:
            outcome = channel.deliver(send, now_ms)
        except Exception as e:  # a channel bug must not stop the others; recorded and retried
            log.exception("channel %s failed on send %d", channel.name, send.id)
            outcome = Outcome(False, True, f"{type(e).__name__}: {e}")
        backoff = int(1000 * backoff_s(send.attempts + 1, self.retry_initial_ms / 1000, self.retry_max_ms / 1000,
                                       outcome.retry_after_s))  # fmt: skip
        give_up = now_ms - send.created_ms >= self.give_up_ms
        detail = outcome.detail
        if send.recovered:  # the attempt log says why this request went again
            detail = ("recovery resend, same key: " if channel.idempotent
                      else "recovery resend, marked possible repeat: ") + detail  # fmt: skip
        status = self.outbox.record_attempt(send, now_ms, outcome.ok, outcome.retry, detail,
                                            now_ms + backoff, give_up)  # fmt: skip
        if not outcome.ok and self.metrics is not None:
            self.metrics.failed_attempts.labels(channel.name).inc()
        if status == "failed":
            # ERROR, not WARNING: these people were not told; the operator must tell them another way
            why = f"gave up after {(now_ms - send.created_ms) // 60_000} min" if give_up else "refused"
            log.error("%s to %s failed for good (%s, %d attempts; %d messages, %s): %s", channel.name, send.target,
                      why, send.attempts + 1, len(send.notices), send.key, outcome.detail)  # fmt: skip
        elif status == "retry":
            log.info("%s to %s: %s; retry in %.0f s", channel.name, send.target, outcome.detail, backoff / 1000)
        return status == "sent"

    def deliver_unqueued(self, queued: Sequence[Queued], now_ms: int) -> int:
        """Send notices the outbox could not store (its disk is full), from memory: once, grouped per channel
        target, within the budget, with no retry and no record (there is no disk to keep them). The feed
        is skipped: it lives on that disk. Returns how many requests arrived."""
        groups: dict[tuple[str, str], list[Notice]] = {}
        for q in queued:
            groups.setdefault((q.notice.channel, q.notice.target), []).append(q.notice)
        arrived = 0
        for (name, target), notices in groups.items():
            channel = self.channels.get(name)
            if channel is None or name == "feed":
                continue
            budget = self.budget(channel, target, now_ms)
            if budget is not None and not budget.take(now_ms):
                log.error("%s to %s: no request left in this minute for the unqueued alert", name, target)
                continue
            send = Send(0, name, target, f"unqueued|{notices[0].key}", now_ms, "sending", 0, now_ms, notices)
            try:
                outcome = channel.deliver(send, now_ms)
            except Exception as e:  # as in _attempt: one channel's bug must not stop the others
                outcome = Outcome(False, False, f"{type(e).__name__}: {e}")
            arrived += outcome.ok
            (log.warning if outcome.ok else log.error)(
                "%s to %s, sent from memory: %s", name, target, outcome.detail or ("ok" if outcome.ok else "failed")
            )
        return arrived

    # -- running in the collector ---------------------------------------------------------

    def run(self, stop: threading.Event, interval_s: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        """One thread per channel, so a slow SMS gateway does not hold up the group robots or MQTT;
        repeats and escalation on this one."""
        threads = [
            threading.Thread(target=self._loop, args=(stop, interval_s, clock, {name}, False),
                             name=f"qyb-notify-{name}", daemon=True)
            for name in self.channels
        ]  # fmt: skip
        for t in threads:
            t.start()
        self._loop(stop, interval_s, clock, set(), True)
        for t in threads:
            t.join(30)

    def _loop(
        self, stop: threading.Event, interval_s: float, clock: Callable[[], float], only: set[str], followup: bool
    ) -> None:
        while not stop.is_set():
            try:
                self.run_once(int(clock() * 1000), only, followup)
            except Exception:  # keep notifying; the outbox keeps what was not delivered
                log.exception("notification pass failed (%s)", ", ".join(sorted(only)) or "follow-up")
            stop.wait(interval_s)
