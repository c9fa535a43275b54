"""The scalar reference evaluator: the engine's semantics, one reading and one cell at a time.

Plain Python over plain floats, written to be read, not to be fast. It shares
the compiled plan (which rule applies to which series, with which numbers) with
the engine, and nothing else: the property test in tests/alerts/ drives both
with the same random streams and requires identical events. See the module
docstring of alerts/engine.py for the rules both follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alerts.engine import (
    EV_CANCELLED,
    EV_FIRING,
    EV_PENDING,
    EV_RESOLVED,
    FIRING,
    OK,
    PENDING,
    SRC_CELL,
    SRC_DEVICE,
    SRC_GATEWAY,
    SRC_STALE,
)
from alerts.plan import CH, MEAN_MIN_HOURS, PEER_MIN, RATE_WINDOW_MS, WET_LEVEL, Plan
from qingyubiao.batch import Batch, Flag
from qingyubiao.sun import is_day

Event = tuple[int, int, int, int, float, bool, int]  # src, target, state, ts, value, late, start
NAN = float("nan")
_COUNT_CAP = 32_000


@dataclass
class _Series:
    last_ts: int = -1
    last_v: float = NAN
    last_vts: int = -1
    anchor_ts: int = -1
    anchor_v: float = NAN
    stuck_since: int = -1
    wet_since: int = -1
    stale_mark: int = -1
    stale: bool = False
    stale_start: int = -1
    buckets: dict[int, list[float]] = field(default_factory=dict)  # hour % 24 -> [hour, sum, n]


@dataclass
class _Cell:
    state: int = OK
    count: int = 0
    since: int = -1
    ep: int = -1
    fired_late: bool = False


def _es(t: float) -> float:
    return 0.6108 * math.exp(17.27 * t / (t + 237.3))


def _dew(t: float, rh: float) -> float:
    g = math.log(max(rh, 0.1) / 100.0) + 17.27 * t / (t + 237.3)
    return 237.3 * g / (17.27 - g)


class Reference:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        S, R = plan.shape
        self.R = R
        self.start_ms = -1
        self.series = [_Series() for _ in range(S)]
        self.cells = {(s, r): _Cell() for s in range(S) for r in range(R) if plan.rule_of[s, r] >= 0}
        self.dev_state = [OK] * len(plan.devices)
        self.dev_start = [-1] * len(plan.devices)
        self.gw_state = [OK] * len(plan.gateways)
        self.gw_start = [-1] * len(plan.gateways)
        self.peer_ts: dict[int, int] = {}
        self.pair_of = {}
        for i, row in enumerate(plan.pairs.tolist()):
            self.pair_of[row[0]] = (i, "t")
            self.pair_of[row[1]] = (i, "rh")

    def handle(self, batch: Batch, now_ms: int) -> list[Event]:
        if self.start_ms < 0:
            self.start_ms = now_ms
        seen: dict[tuple[int, int], tuple[float, bool]] = {}
        for s, ts, v, f in zip(
            batch.series.tolist(), batch.ts_ms.tolist(), batch.value.tolist(), batch.flags.tolist(), strict=True
        ):
            if (s, ts) not in seen:  # the first copy of a redelivered reading wins
                seen[(s, ts)] = (v, bool(f & Flag.OUT_OF_RANGE))
        temps: dict[tuple[int, int], float] = {}
        hums: dict[tuple[int, int], float] = {}
        for (s, ts), (v, bad) in seen.items():
            if s in self.pair_of and not bad:
                p, what = self.pair_of[s]
                (temps if what == "t" else hums)[(p, ts)] = v
        readings = [(s, ts, v, bad) for (s, ts), (v, bad) in seen.items()]
        for (p, ts), t in temps.items():
            if (p, ts) in hums:
                rh = hums[(p, ts)]
                _, _, vpd_s, dew_s, margin_s = (int(x) for x in self.plan.pairs[p])
                dew = _dew(t, rh)
                readings += [(vpd_s, ts, _es(t) * (1.0 - rh / 100.0), False), (dew_s, ts, dew, False)]
                readings.append((margin_s, ts, t - dew, False))
        readings.sort(key=lambda r: (r[0], r[1]))
        events: list[Event] = []
        touched: set[int] = set()
        for s, ts, v, bad in readings:
            if ts <= self.series[s].last_ts:
                continue  # out of order: not evaluated
            touched.add(s)
            self._reading(s, ts, v, bad, now_ms, events)
        events += self._back_online(touched, now_ms)
        return events

    def _reading(self, s: int, ts: int, v: float, oor: bool, now_ms: int, events: list[Event]) -> None:
        plan, st = self.plan, self.series[s]
        stale_ms = int(plan.stale_ms[s])
        gap = st.last_ts >= 0 and ts - st.last_ts > stale_ms
        late = ts <= st.stale_mark or now_ms - ts > stale_ms
        val = NAN if oor else v
        sig = self._signals(st, s, ts, val, oor, stale_ms)
        st.last_ts = ts
        vil = int(plan.village_of[s])
        daytime = bool(is_day(ts // 60_000 * 60_000, float(plan.lat[vil]), float(plan.lon[vil])))
        band = plan.band_day if daytime else plan.band_night
        for r in range(self.R):
            if plan.rule_of[s, r] < 0:
                continue
            chan = int(plan.channel[s, r])
            predicted = val + sig[CH["rate_10min"]] * float(plan.horizon_min[s, r])
            x = predicted if chan == CH["predict"] else sig[chan]
            lo, hi, clo, chi = (float(band[i, s, r]) for i in range(4))
            self._cell(s, r, ts, x, lo, hi, clo, chi, gap, late, events)

    def _cell(
        self, s: int, r: int, ts: int, x: float, lo: float, hi: float, clo: float, chi: float,
        gap: bool, late: bool, events: list[Event],
    ) -> None:  # fmt: skip
        c = self.cells[(s, r)]
        known = not math.isnan(x)
        bad = known and (x > hi or x < lo)
        good = known and clo <= x <= chi
        if gap:
            c.count = 0
        if bad:
            if c.count == 0:
                c.since = ts
            c.count = min(c.count, _COUNT_CAP) + 1
        elif good:
            c.count = 0
        ripe = bad and c.count >= int(self.plan.need[s, r]) and ts - c.since >= int(self.plan.for_ms[s, r])
        target = s * self.R + r
        if c.state == OK:
            if bad:
                c.ep = c.since
                c.state = FIRING if ripe else PENDING
                c.fired_late = late if ripe else c.fired_late
                events.append((SRC_CELL, target, EV_FIRING if ripe else EV_PENDING, ts, x, late, c.ep))
        elif c.state == PENDING:
            if ripe:
                c.state, c.fired_late = FIRING, late
                events.append((SRC_CELL, target, EV_FIRING, ts, x, late, c.ep))
            elif good:
                c.state = OK
                events.append((SRC_CELL, target, EV_CANCELLED, ts, x, late, c.ep))
        elif good:
            c.state = OK
            events.append((SRC_CELL, target, EV_RESOLVED, ts, x, late, c.ep))
        elif c.fired_late and known and not late:
            c.fired_late = False  # fired from backfill: page once now that it is live and still on
            events.append((SRC_CELL, target, EV_FIRING, ts, x, late, c.ep))

    def _signals(self, st: _Series, s: int, ts: int, val: float, oor: bool, stale_ms: int) -> list[float]:
        sig = [NAN] * len(CH)
        sig[CH["value"]] = val
        sig[CH["out_of_range"]] = 1.0 if oor else 0.0
        if oor:
            return sig
        cont = st.last_vts >= 0 and ts - st.last_vts <= stale_ms
        if cont:
            sig[CH["step"]] = abs(val - st.last_v)
        if not (cont and val == st.last_v):
            st.stuck_since = ts
        sig[CH["stuck_hours"]] = (ts - st.stuck_since) / 3_600_000.0
        span = ts - st.anchor_ts
        if cont and span >= RATE_WINDOW_MS:
            sig[CH["rate_10min"]] = (val - st.anchor_v) * RATE_WINDOW_MS / span
        if not cont or span >= RATE_WINDOW_MS:
            st.anchor_ts, st.anchor_v = ts, val
        if val >= WET_LEVEL:
            if not cont or st.wet_since < 0:
                st.wet_since = ts
            sig[CH["wet_hours"]] = (ts - st.wet_since) / 3_600_000.0
        else:
            st.wet_since = -1
            sig[CH["wet_hours"]] = 0.0
        if self.plan.mean_slot[s] >= 0:
            hour = ts // 3_600_000
            b = st.buckets.get(hour % 24)
            if b is None or b[0] != hour:
                b = st.buckets[hour % 24] = [hour, 0.0, 0]
            b[1] += val
            b[2] += 1
            total, n, hours = 0.0, 0, 0
            for j in range(24):
                bj = st.buckets.get(j)
                if bj is not None and bj[0] > hour - 24:
                    total += bj[1]
                    n += int(bj[2])
                    hours += 1
            sig[CH["mean_24h"]] = total / n if hours >= MEAN_MIN_HOURS else NAN
        st.last_v, st.last_vts = val, ts
        return sig

    def _back_online(self, touched: set[int], now_ms: int) -> list[Event]:
        events: list[Event] = []
        devs: set[int] = set()
        for s in sorted(touched):
            st = self.series[s]
            devs.add(int(self.plan.device_of[s]))
            if st.stale:
                st.stale = False
                events.append((SRC_STALE, s, EV_RESOLVED, now_ms, NAN, False, st.stale_start))
        gws: set[int] = set()
        for d in sorted(devs):
            gws.add(int(self.plan.device_gateway[d]))
            if self.dev_state[d] == FIRING:
                self.dev_state[d] = OK
                events.append((SRC_DEVICE, d, EV_RESOLVED, now_ms, NAN, False, self.dev_start[d]))
        for g in sorted(gws - {-1}):
            if self.gw_state[g] == FIRING:
                self.gw_state[g] = OK
                events.append((SRC_GATEWAY, g, EV_RESOLVED, now_ms, NAN, False, self.gw_start[g]))
        return events

    def _peers(self, now_ms: int, events: list[Event]) -> None:
        plan = self.plan
        peer_cells = [(s, r) for (s, r) in sorted(self.cells) if plan.channel[s, r] == CH["peer"]]
        fresh: dict[int, list[float]] = {}
        for s in sorted({s for s, _ in peer_cells}):
            st = self.series[s]
            if st.last_vts >= 0 and now_ms - st.last_vts <= int(plan.stale_ms[s]):
                fresh.setdefault(int(plan.peer_group[s]), []).append(st.last_v)
        median: dict[int, float] = {}
        for g, vals in fresh.items():
            if len(vals) >= PEER_MIN:
                v = sorted(vals)
                mid = len(v) // 2
                median[g] = v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2
        compared: set[int] = set()
        for s, r in peer_cells:
            st, g = self.series[s], int(plan.peer_group[s])
            fresh_s = st.last_vts >= 0 and now_ms - st.last_vts <= int(plan.stale_ms[s])
            if not fresh_s or st.last_vts <= self.peer_ts.get(s, -1) or g not in median:
                continue
            compared.add(s)
            t = st.last_vts
            vil = int(plan.village_of[s])
            daytime = bool(is_day(t // 60_000 * 60_000, float(plan.lat[vil]), float(plan.lon[vil])))
            band = plan.band_day if daytime else plan.band_night
            lo, hi, clo, chi = (float(band[i, s, r]) for i in range(4))
            self._cell(s, r, t, st.last_v - median[g], lo, hi, clo, chi, False, False, events)
        for s in compared:
            self.peer_ts[s] = self.series[s].last_vts

    def tick(self, now_ms: int) -> list[Event]:
        if self.start_ms < 0:
            self.start_ms = now_ms
        plan = self.plan
        events: list[Event] = []
        self._peers(now_ms, events)
        dev_alive: dict[int, int] = {}
        dev_limit: dict[int, int] = {}
        for s, st in enumerate(self.series):
            if not plan.watched[s]:
                continue
            alive = max(st.last_ts, self.start_ms)
            limit = int(plan.stale_ms[s])
            d = int(plan.device_of[s])
            dev_alive[d] = max(dev_alive.get(d, -1), alive)
            dev_limit[d] = max(dev_limit.get(d, 0), limit)
            if now_ms - alive > limit:
                st.stale_mark = now_ms
                if not st.stale:
                    st.stale, st.stale_start = True, alive + limit
                    events.append((SRC_STALE, s, EV_FIRING, st.stale_start, NAN, False, st.stale_start))
        offline = {d for d in dev_alive if now_ms - dev_alive[d] > dev_limit[d]}
        for d in sorted(offline):
            if self.dev_state[d] == OK:
                self.dev_state[d], self.dev_start[d] = FIRING, dev_alive[d] + dev_limit[d]
                events.append((SRC_DEVICE, d, EV_FIRING, self.dev_start[d], NAN, False, self.dev_start[d]))
        for g in range(len(plan.gateways)):
            members = [d for d in dev_alive if plan.device_gateway[d] == g]
            if not members or self.gw_state[g] != OK:
                continue
            heard = max(dev_alive[d] for d in members)
            limit = min(dev_limit[d] for d in members)
            if now_ms - heard > limit:  # none of its devices heard for k x the shortest interval
                self.gw_state[g], self.gw_start[g] = FIRING, heard + limit
                events.append((SRC_GATEWAY, g, EV_FIRING, self.gw_start[g], NAN, False, self.gw_start[g]))
        return events
