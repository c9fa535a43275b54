"""The vectorized alert engine: one numpy pass per round of readings over all cells.

Semantics (the scalar reference in alerts/reference.py implements the same, one
reading and one cell at a time; a property test requires identical events):

* A batch is de-duplicated on (series, event time), keeping the first copy;
  derived series (VPD, dew point, dew margin) get a reading wherever the batch
  has a valid temperature and humidity of one device at the same time.
* Readings no newer than the last evaluated reading of their series are
  out of order: stored, but not evaluated (event time only moves forward).
* The rest is evaluated in time order per series, in rounds holding at most
  one reading per series; each round is a handful of array operations.
* A reading is late ("happened while offline") when it is no newer than the
  moment its series was last seen stale, or older than the staleness limit.
* Per cell: x = the rule's signal; NaN (no valid value: out of range, no rate
  yet) holds the state. Bad = outside the trigger band, good = inside the
  clear band; between the two (hysteresis) nothing changes. A run starts at
  the first bad reading and ends at the next good one; a gap longer than the
  staleness limit restarts it. A cell fires at a bad reading once its run has
  lasted `for` ms of event time and counted `consecutive` bad readings; a
  pending or firing cell returns to OK (cancelled / resolved) only when good. A cell fired by a late reading fires again
  (live) at its first live reading that is still not good.
* tick(now): peer cells compare each series' newest valid value (if not yet
  compared) with the median of the fresh values of its group (same village,
  crop and metric; at least PEER_MIN of them), at that reading's event time.
  Then series with no reading for k × interval are stale; a device with
  all its series stale is offline; a gateway is
  down when none of its devices was heard for k × the shortest interval among
  them. Any evaluated reading resolves these.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from alerts.plan import CH, MEAN_MIN_HOURS, PEER_MIN, RATE_WINDOW_MS, WET_LEVEL, Plan
from qingyubiao import humidity
from qingyubiao.batch import Batch, Flag
from qingyubiao.sun import is_day

OK, PENDING, FIRING = 0, 1, 2
# event states
EV_PENDING, EV_FIRING, EV_RESOLVED, EV_CANCELLED = 1, 2, 3, 4
# event sources
SRC_CELL, SRC_STALE, SRC_DEVICE, SRC_GATEWAY = 0, 1, 2, 3
_COUNT_CAP = 32_000
_H = 3_600_000.0
_NAN = np.float64(np.nan)


@dataclass(frozen=True, slots=True)
class Events:
    """State changes, one per row. target: flat cell index (series * R + slot), series, device or gateway."""

    src: NDArray[np.int8]
    target: NDArray[np.int64]
    state: NDArray[np.int8]
    ts_ms: NDArray[np.int64]
    value: NDArray[np.float64]
    late: NDArray[np.bool_]
    start_ms: NDArray[np.int64]  # episode start (first bad reading, or when it went stale)

    def __len__(self) -> int:
        return int(self.src.shape[0])

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        if not parts:
            z = np.empty(0, np.int64)
            return Events(z.astype(np.int8), z, z.astype(np.int8), z, z.astype(np.float64), z.astype(bool), z)
        if len(parts) == 1:
            return parts[0]
        return Events(*(np.concatenate([getattr(p, f) for p in parts]) for f in Events.__slots__))

    def rows(self) -> list[tuple[int, int, int, int, float, bool, int]]:
        return list(
            zip(
                self.src.tolist(),
                self.target.tolist(),
                self.state.tolist(),
                self.ts_ms.tolist(),
                self.value.tolist(),
                self.late.tolist(),
                self.start_ms.tolist(),
                strict=True,
            )
        )


def _ev(
    src: int,
    target: NDArray[np.int64],
    state: NDArray[np.int8] | int,
    ts: NDArray[np.int64] | int,
    value: NDArray[np.float64] | float,
    late: NDArray[np.bool_] | bool,
    start: NDArray[np.int64],
) -> Events:
    n = target.shape[0]
    return Events(
        np.full(n, src, np.int8),
        target.astype(np.int64),
        np.broadcast_to(np.asarray(state, np.int8), n).copy(),
        np.broadcast_to(np.asarray(ts, np.int64), n).copy(),
        np.broadcast_to(np.asarray(value, np.float64), n).copy(),
        np.broadcast_to(np.asarray(late, bool), n).copy(),
        start.astype(np.int64),
    )


class Engine:
    """State arrays over all series and cells; `handle` and `tick` return Events."""

    SERIES_STATE = (
        "last_ts", "last_v", "last_vts", "anchor_ts", "anchor_v", "stuck_since", "wet_since",
        "stale_mark", "stale_state", "stale_start", "cur_day", "peer_ts",
    )  # fmt: skip
    CELL_STATE = ("state", "count", "since", "ep", "flate")

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        S, R = plan.shape
        self.S, self.R = S, R
        self.start_ms = -1
        # per series
        self.last_ts = np.full(S, -1, np.int64)  # last evaluated reading (event time)
        self.last_v = np.full(S, np.nan)  # last valid value
        self.last_vts = np.full(S, -1, np.int64)
        self.anchor_ts = np.full(S, -1, np.int64)  # start of the current rate window
        self.anchor_v = np.full(S, np.nan)
        self.stuck_since = np.full(S, -1, np.int64)
        self.wet_since = np.full(S, -1, np.int64)
        self.stale_mark = np.full(S, -1, np.int64)
        self.stale_state = np.zeros(S, np.int8)
        self.stale_start = np.full(S, -1, np.int64)
        self.cur_day = np.full(S, -1, np.int8)  # which band `cur` holds: 1 day, 0 night
        M = int(plan.mean_slot.max()) + 1 if S else 0
        self.mean_sum = np.zeros((M, 24))
        self.mean_n = np.zeros((M, 24), np.int64)
        self.mean_hour = np.full((M, 24), -1, np.int64)
        # per cell, stored rule-major (R, S) so that every array operation runs along series
        self.state = np.zeros((R, S), np.int8)
        self.count = np.zeros((R, S), np.int16)
        self.since = np.full((R, S), -1, np.int64)
        self.ep = np.full((R, S), -1, np.int64)
        self.flate = np.zeros((R, S), bool)
        self._band_day = np.ascontiguousarray(plan.band_day.transpose(0, 2, 1))
        self._band_night = np.ascontiguousarray(plan.band_night.transpose(0, 2, 1))
        self._need = np.ascontiguousarray(plan.need.T).reshape(-1)
        self._for = np.ascontiguousarray(plan.for_ms.T).reshape(-1)
        self._chan = np.ascontiguousarray(plan.channel.T).astype(np.intp)
        self._horizon = np.ascontiguousarray(plan.horizon_min.T)
        self._peer_g = np.flatnonzero(self._chan.reshape(-1) == CH["peer"])  # flat cells comparing with peers
        self._peer_s = self._peer_g % S
        self.peer_ts = np.full(S, -1, np.int64)  # newest reading already compared with its peers
        finite = np.isfinite(self._band_day) | np.isfinite(self._band_night)  # (4, R, S)
        self._has_lo, self._has_hi = finite[0].any(axis=1), finite[1].any(axis=1)  # (R,) per rule slot
        # the band in force, switched at sunrise and sunset (only when day and night differ)
        self.cur = (self._band_night if plan.daynight else self._band_day).astype(np.float64)
        # devices and gateways
        D, G = len(plan.devices), len(plan.gateways)
        self.dev_state = np.zeros(D, np.int8)
        self.dev_start = np.full(D, -1, np.int64)
        self.gw_state = np.zeros(G, np.int8)
        self.gw_start = np.full(G, -1, np.int64)
        self.dev_stale_ms = np.zeros(D, np.int64)
        np.maximum.at(self.dev_stale_ms, plan.device_of[plan.watched], plan.stale_ms[plan.watched])
        self.dev_watched = np.zeros(D, bool)
        self.dev_watched[plan.device_of[plan.watched]] = True
        member = self.dev_watched & (plan.device_gateway >= 0)
        self.gw_size = np.bincount(plan.device_gateway[member], minlength=G)
        self.gw_stale_ms = np.full(G, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(self.gw_stale_ms, plan.device_gateway[member], self.dev_stale_ms[member])
        is_pair = np.full(S, -1, np.int64)
        if len(plan.pairs):
            is_pair[plan.pairs[:, 0]] = np.arange(len(plan.pairs))
            is_pair[plan.pairs[:, 1]] = np.arange(len(plan.pairs))
        self._pair_of = is_pair
        self._is_rh = np.zeros(S, bool)
        if len(plan.pairs):
            self._is_rh[plan.pairs[:, 1]] = True
        self.dropped_out_of_order = 0
        self._names: tuple[NDArray[np.str_], ...] | None = None

    # -- batches ---------------------------------------------------------------

    def handle(self, batch: Batch, now_ms: int) -> Events:
        """Evaluate a stored batch. now_ms: arrival (wall) time, used only to tell late readings."""
        if self.start_ms < 0:
            self.start_ms = now_ms
        s, ts, v, oor = self._prepare(batch)
        parts: list[Events] = []
        if s.shape[0]:
            first = np.empty(s.shape[0], bool)
            first[0] = True
            np.not_equal(s[1:], s[:-1], out=first[1:])
            if first.all():  # one reading per series: a single round, already sorted
                self._round(s, ts, v, oor, now_ms, parts)
            else:
                starts = np.flatnonzero(first)
                group = np.cumsum(first) - 1
                rank = np.arange(s.shape[0]) - starts[group]
                order = np.lexsort((s, rank))
                s, ts, v, oor, rank = s[order], ts[order], v[order], oor[order], rank[order]
                bounds = np.searchsorted(rank, np.arange(int(rank[-1]) + 2))
                for r in range(int(rank[-1]) + 1):
                    a, b = bounds[r], bounds[r + 1]
                    self._round(s[a:b], ts[a:b], v[a:b], oor[a:b], now_ms, parts)
            parts.append(self._back_online(np.unique(s) if not first.all() else s, now_ms))
        return Events.concat(parts)

    def _prepare(
        self, batch: Batch
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
        """De-duplicate, add derived readings, drop out-of-order ones; sorted by (series, ts)."""
        s = batch.series.astype(np.int64)
        ts, v = batch.ts_ms, batch.value
        oor = (batch.flags & np.uint16(Flag.OUT_OF_RANGE)) != 0
        if s.shape[0] > 1 and not np.all(s[1:] > s[:-1]):
            order = np.lexsort((ts, s))
            s, ts, v, oor = s[order], ts[order], v[order], oor[order]
            keep = np.ones(s.shape[0], bool)
            keep[1:] = (s[1:] != s[:-1]) | (ts[1:] != ts[:-1])
            if not keep.all():
                s, ts, v, oor = s[keep], ts[keep], v[keep], oor[keep]
        if len(self.plan.pairs):
            d = self._derived(s, ts, v, oor)
            if d is not None:
                s, ts, v, oor = (np.concatenate([a, b]) for a, b in zip((s, ts, v, oor), d, strict=True))
                order = np.lexsort((ts, s))
                s, ts, v, oor = s[order], ts[order], v[order], oor[order]
        fresh = ts > self.last_ts[s]
        if not fresh.all():
            self.dropped_out_of_order += int((~fresh).sum())
            s, ts, v, oor = s[fresh], ts[fresh], v[fresh], oor[fresh]
        return s, ts, v, oor

    def _derived(
        self, s: NDArray[np.int64], ts: NDArray[np.int64], v: NDArray[np.float64], oor: NDArray[np.bool_]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]] | None:
        pair = self._pair_of[s]
        m = (pair >= 0) & ~oor
        if not m.any():
            return None
        p, t, val, rh = pair[m], ts[m], v[m], self._is_rh[s[m]]
        order = np.lexsort((rh, t, p))
        p, t, val, rh = p[order], t[order], val[order], rh[order]
        hit = np.flatnonzero((p[1:] == p[:-1]) & (t[1:] == t[:-1]))  # temperature then humidity
        if not hit.shape[0]:
            return None
        tc, rhp, pp, tt = val[hit], val[hit + 1], p[hit], t[hit]
        dew = humidity.dew_point_c(tc, rhp)
        cols = self.plan.pairs[pp]
        series = np.concatenate([cols[:, 2], cols[:, 3], cols[:, 4]])
        values = np.concatenate([humidity.vpd_kpa(tc, rhp), dew, tc - dew])
        times = np.concatenate([tt, tt, tt])
        return series, times, values, np.zeros(series.shape[0], bool)

    def _round(
        self,
        s: NDArray[np.int64],
        ts: NDArray[np.int64],
        v: NDArray[np.float64],
        oor: NDArray[np.bool_],
        now_ms: int,
        out: list[Events],
    ) -> None:
        """At most one reading per series, series ascending.

        Two passes: a dense one over every cell of the round's series finds the
        active cells (bad now, or not OK before); the state machine then runs
        on those only. Inactive cells cannot change: they are OK with a zero
        run count (a run only starts when bad, and every way back to OK ends it).
        """
        plan, n, R = self.plan, s.shape[0], self.R
        full = n == self.S  # every series once, in order: no gathers
        sel: slice | NDArray[np.int64] = slice(None) if full else s
        stale_ms = plan.stale_ms[sel]
        last_ts = self.last_ts[sel]
        gap = (last_ts >= 0) & (ts - last_ts > stale_ms)
        late = (ts <= self.stale_mark[sel]) | (now_ms - ts > stale_ms)
        val = np.where(oor, _NAN, v)
        sig = self._signals(sel, ts, val, oor)
        self.last_ts[sel] = ts
        self._switch_bands(s, ts, sel)

        # dense pass
        if sig is None:
            x = val[None, :]
        else:
            chan = self._chan[:, sel]
            x = np.take_along_axis(sig.T, chan, axis=0)
            if CH["predict"] in plan.uses:
                predicted = val[None, :] + sig[None, :, CH["rate_10min"]] * self._horizon[:, sel]
                x = np.where(chan == CH["predict"], predicted, x)
        bad = np.empty((R, n), bool)
        for r in range(R):  # per rule slot, skipping the side no rule in that slot has
            xr = x[0] if x.shape[0] == 1 else x[r]
            if self._has_hi[r]:
                np.greater(xr, self.cur[1, r, sel], out=bad[r])
                if self._has_lo[r]:
                    bad[r] |= xr < self.cur[0, r, sel]
            elif self._has_lo[r]:
                np.less(xr, self.cur[0, r, sel], out=bad[r])
            else:
                bad[r] = False
        act = self.state[:, sel] != OK
        act |= bad
        a = np.flatnonzero(act)
        if not a.shape[0]:
            return
        # sparse pass over active cells; g: flat index of the cell in the (R, S) arrays
        col = a % n
        g = a if full else (a // n) * self.S + s[col]
        xa = x.ravel()[a] if x.shape[0] == R else val[col]
        self._advance(g, xa, bad.ravel()[a], ts[col], late[col], gap[col], out)

    def _advance(
        self,
        g: NDArray[np.int64],
        xa: NDArray[np.float64],
        bad_a: NDArray[np.bool_],
        t: NDArray[np.int64],
        lt: NDArray[np.bool_],
        gap: NDArray[np.bool_],
        out: list[Events],
    ) -> None:
        """The state machine for cells g (flat, rule-major) seeing signal xa at event time t."""
        S, R = self.S, self.R
        known = ~np.isnan(xa)
        cur = self.cur.reshape(4, -1)
        good = known & (xa <= cur[3, g]) & (xa >= cur[2, g])
        flat = self.count.reshape(-1), self.since.reshape(-1), self.state.reshape(-1)
        count, since, state = flat[0][g], flat[1][g], flat[2][g]
        count = np.where(gap, np.int16(0), count)
        newcount = np.where(bad_a, np.minimum(count, _COUNT_CAP) + np.int16(1), np.where(good, np.int16(0), count))
        since = np.where(bad_a & (count == 0), t, since)
        ripe = bad_a & (newcount >= self._need[g]) & (t - since >= self._for[g])
        flate_all, ep_all = self.flate.reshape(-1), self.ep.reshape(-1)
        flate = flate_all[g]
        is_ok, is_fire = state == OK, state == FIRING
        to_fire = ripe & ~is_fire
        to_pend = bad_a & ~ripe & is_ok
        to_cancel = (state == PENDING) & good
        to_resolve = is_fire & good
        confirm = is_fire & flate & known & ~good & ~lt
        newstate = np.where(to_fire, np.int8(FIRING), np.where(to_pend, np.int8(PENDING), state))
        newstate[to_cancel | to_resolve] = OK
        ep = np.where(to_pend | (to_fire & is_ok), since, ep_all[g])
        flat[0][g], flat[1][g], flat[2][g] = newcount, since, newstate
        ep_all[g], flate_all[g] = ep, np.where(to_fire, lt, flate & ~confirm)
        hit = np.flatnonzero(to_fire | to_pend | to_cancel | to_resolve | confirm)
        if hit.shape[0]:
            code = np.where(
                to_pend[hit],
                EV_PENDING,
                np.where(to_resolve[hit], EV_RESOLVED, np.where(to_cancel[hit], EV_CANCELLED, EV_FIRING)),
            ).astype(np.int8)
            target = (g[hit] % S) * R + g[hit] // S  # reported as series * R + slot
            out.append(_ev(SRC_CELL, target, code, t[hit], xa[hit], lt[hit], ep[hit]))

    def _peers(self, now_ms: int, out: list[Events]) -> None:
        """Peer comparison: each series' newest valid value minus the median of its group's fresh values.

        Evaluated at ticks, once per new reading, at that reading's event time; a group needs at
        least PEER_MIN fresh members (a median of two says nothing about which one is wrong).
        """
        plan = self.plan
        if not self._peer_g.shape[0]:
            return
        s = self._peer_s
        fresh = (self.last_vts[s] >= 0) & (now_ms - self.last_vts[s] <= plan.stale_ms[s])
        group = plan.peer_group[s]
        med = np.full(int(group.max()) + 1, np.nan)
        members = np.unique(s[fresh])
        for gi in range(med.shape[0]):
            vals = self.last_v[members[plan.peer_group[members] == gi]]
            if vals.shape[0] >= PEER_MIN:
                med[gi] = np.median(vals)
        new = fresh & (self.last_vts[s] > self.peer_ts[s]) & ~np.isnan(med[group])
        if not new.any():
            return
        g, ss = self._peer_g[new], s[new]
        self.peer_ts[ss] = self.last_vts[ss]
        xa = self.last_v[ss] - med[group[new]]
        cur = self.cur.reshape(4, -1)
        bad = (xa > cur[1, g]) | (xa < cur[0, g])
        no = np.zeros(g.shape[0], bool)
        self._advance(g, xa, bad, self.last_vts[ss], no, no, out)

    def _switch_bands(self, s: NDArray[np.int64], ts: NDArray[np.int64], sel: slice | NDArray[np.int64]) -> None:
        """Load the day or night band of the cells whose series crossed sunrise or sunset."""
        if not self.plan.daynight:
            return
        day = self._is_day(s, ts).astype(np.int8)
        changed = np.flatnonzero(day != self.cur_day[sel])
        if changed.shape[0]:
            cols = s[changed]
            dm = day[changed].astype(bool)[None, None, :]
            self.cur[:, :, cols] = np.where(dm, self._band_day[:, :, cols], self._band_night[:, :, cols])
            self.cur_day[cols] = day[changed]

    def _is_day(self, s: NDArray[np.int64], ts: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Day or night at the series' village, decided per minute of event time."""
        minute = ts // 60_000
        lo, hi = int(minute.min()), int(minute.max())
        vil = self.plan.village_of[s]
        if hi - lo < 100_000:
            grid = np.arange(lo, hi + 1, dtype=np.int64) * 60_000
            table = np.stack([is_day(grid, la, lo_) for la, lo_ in zip(self.plan.lat, self.plan.lon, strict=True)])
            if table.size == 1:  # one village, one minute: the common case of a live batch
                return np.full(s.shape[0], bool(table[0, 0]))
            return table.reshape(-1)[vil * (hi - lo + 1) + (minute - lo)]
        out = np.empty(s.shape[0], bool)
        for i, (la, lo_) in enumerate(zip(self.plan.lat, self.plan.lon, strict=True)):
            m = vil == i
            out[m] = is_day(minute[m] * 60_000, la, lo_)
        return out

    def _signals(
        self,
        sel: slice | NDArray[np.int64],
        ts: NDArray[np.int64],
        val: NDArray[np.float64],
        oor: NDArray[np.bool_],
    ) -> NDArray[np.float64] | None:
        """Per-series signal channels (n, K) for this round, updating their state; None if only values are used."""
        uses = self.plan.uses
        if uses <= {CH["value"]}:
            return None
        n = ts.shape[0]
        sig = np.full((n, len(CH)), np.nan)
        sig[:, CH["value"]] = val
        sig[:, CH["out_of_range"]] = oor.astype(np.float64)
        valid = ~oor
        stale_ms = self.plan.stale_ms[sel]
        last_vts, last_v = self.last_vts[sel], self.last_v[sel]
        cont = valid & (last_vts >= 0) & (ts - last_vts <= stale_ms)  # continues a run of valid readings
        restart = valid & ~cont
        # jump from the previous valid reading, and how long the value has not changed
        sig[:, CH["step"]] = np.where(cont, np.abs(val - last_v), np.nan)
        same = cont & (val == last_v)
        stuck = np.where(valid & ~same, ts, self.stuck_since[sel])
        sig[:, CH["stuck_hours"]] = np.where(valid, (ts - stuck) / _H, np.nan)
        # rate over at least RATE_WINDOW_MS, re-anchored once the window has passed
        a_ts, a_v = self.anchor_ts[sel], self.anchor_v[sel]
        span = ts - a_ts
        ready = cont & (span >= RATE_WINDOW_MS)
        sig[:, CH["rate_10min"]] = np.where(ready, (val - a_v) * RATE_WINDOW_MS / np.where(ready, span, 1), np.nan)
        move = restart | ready
        # hours at or above the wet level
        wet = valid & (val >= WET_LEVEL)
        w_since = self.wet_since[sel]
        w_since = np.where(wet & (restart | (w_since < 0)), ts, np.where(valid & ~wet, -1, w_since))
        sig[:, CH["wet_hours"]] = np.where(valid, np.where(wet, (ts - w_since) / _H, 0.0), np.nan)
        if CH["mean_24h"] in uses:
            sig[:, CH["mean_24h"]] = self._mean24(sel, ts, val, valid)
        self.stuck_since[sel] = stuck
        self.anchor_ts[sel] = np.where(move, ts, a_ts)
        self.anchor_v[sel] = np.where(move, val, a_v)
        self.wet_since[sel] = w_since
        self.last_v[sel] = np.where(valid, val, last_v)
        self.last_vts[sel] = np.where(valid, ts, last_vts)
        return sig

    def _mean24(
        self, sel: slice | NDArray[np.int64], ts: NDArray[np.int64], val: NDArray[np.float64], valid: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        slot = self.plan.mean_slot[sel]
        m = valid & (slot >= 0)
        out = np.full(ts.shape[0], np.nan)
        if not m.any():
            return out
        rows, t, x = slot[m], ts[m], val[m]
        hour = t // 3_600_000
        b = hour % 24
        reset = self.mean_hour[rows, b] != hour
        self.mean_sum[rows[reset], b[reset]] = 0.0
        self.mean_n[rows[reset], b[reset]] = 0
        self.mean_hour[rows, b] = hour
        self.mean_sum[rows, b] += x
        self.mean_n[rows, b] += 1
        total = np.zeros(rows.shape[0])
        count = np.zeros(rows.shape[0], np.int64)
        hours = np.zeros(rows.shape[0], np.int64)
        for j in range(24):  # fixed order, so the scalar reference adds up the same way
            inside = self.mean_hour[rows, j] > hour - 24
            total += np.where(inside, self.mean_sum[rows, j], 0.0)
            count += np.where(inside, self.mean_n[rows, j], 0)
            hours += inside
        out[m] = np.where(hours >= MEAN_MIN_HOURS, total / count, np.nan)
        return out

    def _back_online(self, touched: NDArray[np.int64], now_ms: int) -> Events:
        """Resolve staleness, device offline and gateway down for series that reported."""
        parts: list[Events] = []
        if not (self.stale_state.any() or self.dev_state.any() or self.gw_state.any()):
            return Events.concat(parts)
        st = touched[self.stale_state[touched] == FIRING]
        if st.shape[0]:
            self.stale_state[st] = OK
            parts.append(_ev(SRC_STALE, st, EV_RESOLVED, now_ms, _NAN, False, self.stale_start[st]))
        devs = np.unique(self.plan.device_of[touched])
        dv = devs[self.dev_state[devs] == FIRING]
        if dv.shape[0]:
            self.dev_state[dv] = OK
            parts.append(_ev(SRC_DEVICE, dv, EV_RESOLVED, now_ms, _NAN, False, self.dev_start[dv]))
        gws = np.unique(self.plan.device_gateway[devs])
        gws = gws[gws >= 0]
        gw = gws[self.gw_state[gws] == FIRING]
        if gw.shape[0]:
            self.gw_state[gw] = OK
            parts.append(_ev(SRC_GATEWAY, gw, EV_RESOLVED, now_ms, _NAN, False, self.gw_start[gw]))
        return Events.concat(parts)

    # -- time passing ------------------------------------------------------------

    def tick(self, now_ms: int) -> Events:
        """Staleness, device offline and gateway down as of wall time now_ms."""
        if self.start_ms < 0:
            self.start_ms = now_ms
        plan = self.plan
        parts: list[Events] = []
        self._peers(now_ms, parts)
        alive = np.maximum(self.last_ts, self.start_ms)
        stale = plan.watched & (now_ms - alive > plan.stale_ms)
        new = np.flatnonzero(stale & (self.stale_state == OK))
        if new.shape[0]:
            self.stale_state[new] = FIRING
            self.stale_start[new] = alive[new] + plan.stale_ms[new]
            parts.append(_ev(SRC_STALE, new, EV_FIRING, self.stale_start[new], _NAN, False, self.stale_start[new]))
        self.stale_mark = np.where(stale, now_ms, self.stale_mark)
        D = len(plan.devices)
        dev_alive = np.full(D, -1, np.int64)
        w = plan.watched
        np.maximum.at(dev_alive, plan.device_of[w], alive[w])
        off = self.dev_watched & (now_ms - dev_alive > self.dev_stale_ms)
        newd = np.flatnonzero(off & (self.dev_state == OK))
        if newd.shape[0]:
            self.dev_state[newd] = FIRING
            self.dev_start[newd] = dev_alive[newd] + self.dev_stale_ms[newd]
            parts.append(_ev(SRC_DEVICE, newd, EV_FIRING, self.dev_start[newd], _NAN, False, self.dev_start[newd]))
        G = len(plan.gateways)
        if G:  # down when none of its devices was heard for k x the shortest interval among them
            has = self.dev_watched & (plan.device_gateway >= 0)
            gw_alive = np.full(G, -1, np.int64)
            np.maximum.at(gw_alive, plan.device_gateway[has], dev_alive[has])
            down = (self.gw_size > 0) & (now_ms - gw_alive > self.gw_stale_ms)
            newg = np.flatnonzero(down & (self.gw_state == OK))
            if newg.shape[0]:
                self.gw_state[newg] = FIRING
                self.gw_start[newg] = gw_alive[newg] + self.gw_stale_ms[newg]
                parts.append(_ev(SRC_GATEWAY, newg, EV_FIRING, self.gw_start[newg], _NAN, False, self.gw_start[newg]))
        return Events.concat(parts)

    # -- restart -------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """All state arrays (pending timers included) and what each row and cell is, as an .npz blob."""
        arrays = {k: getattr(self, k) for k in (*self.SERIES_STATE, *self.CELL_STATE)}
        arrays |= {k: getattr(self, k) for k in ("mean_sum", "mean_n", "mean_hour", "dev_state", "dev_start")}
        arrays |= {"gw_state": self.gw_state, "gw_start": self.gw_start, "mean_slot": self.plan.mean_slot}
        for key, names in zip(("series_ids", "cell_ids", "device_ids", "gateway_ids"), self._ids(), strict=True):
            arrays[key] = np.frombuffer("\n".join(names.ravel().tolist()).encode(), np.uint8)  # 4x smaller than U
            arrays[key + "_shape"] = np.array(names.shape, np.int64)
        arrays["meta"] = np.array([self.start_ms, self.S, self.R, self.dropped_out_of_order], np.int64)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def _ids(self) -> tuple[NDArray[np.str_], ...]:
        """Stable names of series, cells (rule@series), devices and gateways, to restore across rule changes."""
        if self._names is None:
            plan = self.plan
            series = np.array(
                [f"{k.village}|{k.device}|{k.metric}" if k is not None else str(i) for i, k in enumerate(plan.keys)]
            )
            rule_ids = np.array([r.id for r in plan.rules] + [""])
            ro = plan.rule_of.T
            cells = np.char.add(np.char.add(rule_ids[np.where(ro >= 0, ro, len(plan.rules))], "@"), series[None, :])
            cells = np.where(ro >= 0, cells, "")
            devices = np.array([f"{v}|{d}" for v, _, d in plan.devices])
            gateways = np.array([f"{v}|{g}" for v, g in plan.gateways])
            self._names = (series, cells, devices, gateways)
        return self._names

    def restore(self, blob: bytes) -> None:
        """Load a snapshot. State moves by name, so a snapshot taken before the rules or the config
        changed keeps every cell, series and device that still exists (new ones start fresh). The
        thresholds in force are rebuilt from the current rules. Raises ValueError on a bad blob."""
        try:
            with np.load(io.BytesIO(blob)) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, EOFError) as e:
            raise ValueError(f"not an alert snapshot: {e}") from None
        if "series_ids" not in data or "meta" not in data:
            raise ValueError("not an alert snapshot (no names)")
        start, _, _, dropped = (int(x) for x in data["meta"])
        for key in ("series_ids", "cell_ids", "device_ids", "gateway_ids"):
            text = data[key].tobytes().decode()
            shape = tuple(int(x) for x in data[key + "_shape"])
            data[key] = np.array(text.split("\n") if int(np.prod(shape)) else [], dtype=str).reshape(shape)
        names = dict(zip(("series_ids", "cell_ids", "device_ids", "gateway_ids"), self._ids(), strict=True))
        old_s, new_s = _match(data["series_ids"], names["series_ids"])
        for k in self.SERIES_STATE:
            getattr(self, k)[new_s] = data[k][old_s]
        old_c, new_c = _match(data["cell_ids"].reshape(-1), names["cell_ids"].reshape(-1))
        for k in self.CELL_STATE:
            getattr(self, k).reshape(-1)[new_c] = data[k].reshape(-1)[old_c]
        old_d, new_d = _match(data["device_ids"], names["device_ids"])
        self.dev_state[new_d], self.dev_start[new_d] = data["dev_state"][old_d], data["dev_start"][old_d]
        old_g, new_g = _match(data["gateway_ids"], names["gateway_ids"])
        self.gw_state[new_g], self.gw_start[new_g] = data["gw_state"][old_g], data["gw_start"][old_g]
        old_m, new_m = data["mean_slot"][old_s], self.plan.mean_slot[new_s]
        both = (old_m >= 0) & (new_m >= 0)
        for k in ("mean_sum", "mean_n", "mean_hour"):
            getattr(self, k)[new_m[both]] = data[k][old_m[both]]
        if self.plan.daynight:  # the bands of the current rules, for the half of the day each series was in
            self.cur = np.where(self.cur_day[None, None, :] == 1, self._band_day, self._band_night).astype(np.float64)
        self.start_ms, self.dropped_out_of_order = start, dropped


def _match(old: NDArray[np.str_], new: NDArray[np.str_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Positions (in old, in new) of the names present in both (empty names never match)."""
    where = {name: i for i, name in enumerate(old.tolist()) if name}
    pairs = [(where[name], j) for j, name in enumerate(new.tolist()) if name in where]
    if not pairs:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    o, n = zip(*pairs, strict=True)
    return np.array(o, np.intp), np.array(n, np.intp)
