"""Alert lifecycle around the engine: episodes, acknowledgement, silences, inhibition, restart.

`AlertManager` is the collector's batch sink: `handle(batch, now_ms)` after each
durable write, `tick(now_ms)` every few seconds. Engine events become
`Transition` records with an episode id that stays the same from pending to
resolved (rule/village/device/metric@start). Transitions and the engine's
snapshot are written to the store in one transaction, so a restart restores
exactly the state that produced the recorded transitions: nothing fires twice,
no pending timer is forgotten.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Protocol

import numpy as np

from alerts.engine import EV_CANCELLED, EV_FIRING, EV_PENDING, EV_RESOLVED, SRC_CELL, SRC_DEVICE, SRC_GATEWAY, Engine
from alerts.engine import FIRING as S_FIRING
from alerts.plan import Plan
from alerts.text import describe
from qingyubiao.alerting import (
    AlertReader,
    AlertWriter,
    Audience,
    Episode,
    Kind,
    Severity,
    Silence,
    State,
    Transition,
)
from qingyubiao.batch import Batch
from qingyubiao.config import Config

log = logging.getLogger(__name__)
SILENCE_REFRESH_MS = 5_000  # a silence set on the overview holds from the next maintenance pass

_STATE = {
    EV_PENDING: State.PENDING,
    EV_FIRING: State.FIRING,
    EV_RESOLVED: State.RESOLVED,
    EV_CANCELLED: State.CANCELLED,
}


class AlertStore(AlertWriter, AlertReader, Protocol):
    """Where episodes, transitions, silences and the engine snapshot are kept (ingest/store/sqlite_alerts.py)."""


class AlertManager:
    def __init__(
        self,
        config: Config,
        plan: Plan,
        store: AlertStore | None = None,
        snapshot_every_ms: int = 60_000,
        writer: AlertWriter | None = None,
    ) -> None:
        """`store` is read at start and for silences; `writer` (default: the store) records transitions,
        acknowledgements and silences, e.g. a NotifyingWriter that queues the notices first."""
        self.plan = plan
        self.engine = Engine(plan)
        self.store = store
        self.writer = writer if writer is not None else store
        self.snapshot_every_ms = snapshot_every_ms
        self._last_snapshot = -1
        self.sites = {(v.id, s.id): s for v in config.village for s in v.site}
        self.active: dict[str, Episode] = {}
        self.silences: list[Silence] = []
        self.recent: list[Transition] = []  # the last transitions, for `qyb alerts` and tests
        self._closed: dict[str, Episode] = {}  # episodes ended by the transitions being committed
        self._silences_read = -1
        if store is not None:
            self._restore(store)

    # -- the sink interface -----------------------------------------------------

    def handle(self, batch: Batch, now_ms: int) -> list[Transition]:
        return self._commit(self._transitions(self.engine.handle(batch, now_ms).rows(), now_ms), now_ms)

    def tick(self, now_ms: int) -> list[Transition]:
        if self.store is not None and now_ms - self._silences_read >= SILENCE_REFRESH_MS:
            self.silences = self.store.silences()  # `qyb alerts silence` and the API write them to the store
            self._silences_read = now_ms
        return self._commit(self._transitions(self.engine.tick(now_ms).rows(), now_ms), now_ms)

    def use_plan(self, plan: Plan) -> None:
        """New rules in force while running (the rules file changed): the state moves by name, as it does
        across a restart, so a pending timer or a firing episode of a rule that still exists carries on."""
        engine = Engine(plan)
        engine.restore(self.engine.snapshot())
        self.plan, self.engine = plan, engine
        log.info("alert plan replaced: %d rules over %d series", len(plan.rules), len(plan.keys))

    # -- people ------------------------------------------------------------------

    def acknowledge(self, episode: str, who: str, now_ms: int) -> bool:
        """Mark an active episode as seen by `who`; False if there is no such active episode.

        The first acknowledgement stays (who went to look, and when); later ones change nothing."""
        ep = self.active.get(episode)
        if ep is None:
            return False
        if ep.ack_by is None:
            self.active[episode] = replace(ep, ack_by=who, ack_ms=now_ms)
        if self.writer is not None:
            self.writer.acknowledge(episode, who, now_ms)
        return True

    def silence(self, s: Silence) -> None:
        self.silences.append(s)
        if self.writer is not None:
            self.writer.save_silence(s)

    # -- internals -----------------------------------------------------------------

    def _restore(self, store: AlertStore) -> None:
        blob = store.load_snapshot()
        if blob is not None:
            try:
                self.engine.restore(blob)
            except (ValueError, KeyError) as e:
                log.warning("alert state not restored (%s); starting fresh", e)
        self.active = {e.id: e for e in store.active_episodes()}
        self.silences = store.silences()

    def _commit(self, transitions: list[Transition], now_ms: int) -> list[Transition]:
        self._closed = {}
        for t in transitions:
            self._episode(t)
        self.recent = (self.recent + transitions)[-1000:]
        if self.writer is not None:
            due = now_ms - self._last_snapshot >= self.snapshot_every_ms
            if transitions or due:
                episodes = [self._episode_of(t) for t in transitions]
                self.writer.record(transitions, episodes, self.engine.snapshot(), now_ms)
                self._last_snapshot = now_ms
        return transitions

    def _episode_of(self, t: Transition) -> Episode:
        return self.active.get(t.episode) or self._closed[t.episode]

    def _episode(self, t: Transition) -> None:
        ep = self.active.get(t.episode)
        if ep is None:
            ep = Episode(
                t.episode, t.rule, t.kind, t.severity, t.audience, t.village, t.site, t.device, t.metric,
                t.state, t.ts_ms, None, None, t.late, t.value, t.text_zh, t.text_en,
            )  # fmt: skip
        fired = t.ts_ms if t.state == State.FIRING and ep.fired_ms is None else ep.fired_ms
        ended = t.ts_ms if t.state in (State.RESOLVED, State.CANCELLED) else None
        ep = replace(ep, state=t.state, fired_ms=fired, ended_ms=ended, value=t.value, late=ep.late and t.late)
        if t.state in (State.FIRING, State.PENDING):
            ep = replace(ep, text_zh=t.text_zh, text_en=t.text_en)
        if ended is None:
            self.active[t.episode] = ep
        else:
            self.active.pop(t.episode, None)
            self._closed[t.episode] = ep

    def _transitions(self, rows: list[tuple[int, int, int, int, float, bool, int]], now_ms: int) -> list[Transition]:
        if not rows:
            return []
        out = []
        plan, engine = self.plan, self.engine
        R = engine.R
        for src, target, code, ts, value, late, start in rows:
            state = _STATE[code]
            if src == SRC_CELL:
                s, r = divmod(target, R)
                t = self._cell(s, r, state, ts, value, late, start)
            elif src == SRC_GATEWAY:
                vid, gw = plan.gateways[target]
                zh, en = describe(Kind.DEVICE_OFFLINE, "critical", state, f"网关 {gw}", f"gateway {gw}", "", math.nan,
                                  math.nan, "", "value", None, False)  # fmt: skip
                t = Transition(
                    f"gateway_down/{vid}/{gw}@{start}", "gateway_down", Kind.DEVICE_OFFLINE, Severity.CRITICAL,
                    Audience.MAINTAINER, state, ts, vid, "", gw, "", math.nan, math.nan, False, text_zh=zh, text_en=en,
                )  # fmt: skip
            else:
                t = self._health(src, target, state, ts, start)
            out.append(self._suppress(t, now_ms))
        return out

    def _place(self, village: str, site: str) -> tuple[str, str]:
        s = self.sites.get((village, site))
        return (s.name, site) if s else (site, site)

    def _cell(self, s: int, r: int, state: State, ts: int, value: float, late: bool, start: int) -> Transition:
        plan, engine = self.plan, self.engine
        rule = plan.rules[int(plan.rule_of[s, r])]
        key = plan.keys[s]
        lo, hi = float(engine.cur[0, r, s]), float(engine.cur[1, r, s])
        threshold = hi if rule.when == "above" or (rule.when == "outside" and value > hi) else lo
        eta = None
        shown = value
        if rule.signal == "predict":
            now_v = float(engine.last_v[s])
            shown = now_v
            if value != now_v and not math.isnan(value):
                minutes = rule.horizon / 60_000 * (threshold - now_v) / (value - now_v)
                eta = max(0.0, minutes)
        place_zh, place_en = self._place(key.village, key.site)
        zh, en = describe(rule.kind, rule.severity, state, place_zh, place_en, key.metric, shown, threshold,
                          rule.when, rule.signal, eta, late)  # fmt: skip
        return Transition(
            f"{rule.id}/{key.village}/{key.device}/{key.metric}@{start}", rule.id, rule.kind, rule.severity,
            rule.who, state, ts, key.village, key.site, key.device, key.metric, value, threshold, late,
            eta_min=eta, text_zh=zh, text_en=en,
        )  # fmt: skip

    def _health(self, src: int, target: int, state: State, ts: int, start: int) -> Transition:
        plan = self.plan
        if src == SRC_DEVICE:
            vid, site, dev = plan.devices[target]
            kind, rule, metric, sev = Kind.DEVICE_OFFLINE, "device_offline", "", Severity.WARNING
        else:
            key = plan.keys[target]
            vid, site, dev, metric = key.village, key.site, key.device, key.metric
            kind, rule, sev = Kind.STALE, "stale", Severity.WARNING
        place_zh, place_en = self._place(vid, site)
        zh, en = describe(kind, sev, state, f"{place_zh} {dev}", f"{place_en} {dev}", metric, math.nan, math.nan, "",
                          "value", None, False)  # fmt: skip
        return Transition(
            f"{rule}/{vid}/{dev}/{metric}@{start}", rule, kind, sev, Audience.MAINTAINER, state, ts, vid, site, dev,
            metric, math.nan, math.nan, False, text_zh=zh, text_en=en,
        )  # fmt: skip

    def _suppress(self, t: Transition, now_ms: int) -> Transition:
        """Inhibition (device offline, gateway down) and silences: recorded, not paged."""
        plan, engine = self.plan, self.engine
        inhibited = None
        if t.kind != Kind.DEVICE_OFFLINE or t.rule == "device_offline":
            d = self._device_number(t.village, t.device)
            if d is not None:
                g = int(plan.device_gateway[d])
                if t.rule != "device_offline" and engine.dev_state[d] == S_FIRING:
                    inhibited = f"device_offline:{t.device}"
                elif g >= 0 and engine.gw_state[g] == S_FIRING:
                    inhibited = f"gateway_down:{plan.gateways[g][1]}"
        silenced = next((s.id for s in self.silences if s.matches(t, now_ms)), None)
        if inhibited is None and silenced is None:
            return t
        return replace(t, inhibited_by=inhibited, silenced_by=silenced)

    def _device_number(self, village: str, device: str) -> int | None:
        if not hasattr(self, "_dnum"):
            self._dnum = {(v, d): i for i, (v, _, d) in enumerate(self.plan.devices)}
        return self._dnum.get((village, device))

    def status(self) -> dict[str, int]:
        """Counts for `qyb alerts` and metrics: cells by state, stale series, offline devices."""
        e = self.engine
        return {
            "cells": int(self.plan.rule_of.size),
            "pending": int(np.count_nonzero(e.state == 1)),
            "firing": int(np.count_nonzero(e.state == S_FIRING)),
            "stale_series": int(np.count_nonzero(e.stale_state)),
            "offline_devices": int(np.count_nonzero(e.dev_state)),
            "dropped_out_of_order": e.dropped_out_of_order,
        }
