"""Alert engine vs the scalar reference, same rules, same batches, same run.

Synthetic village: N series of air temperature, 10 threshold rules on each
(above/below, day and night values, hysteresis, for-durations, N-consecutive),
so N x 10 (rule, series) cells. Every batch holds one reading per series, one
minute apart, values a random walk around the thresholds. The engine is timed
on every size; the reference on the whole batch up to 1e5 series and on a 1e5
sample for 1e6 (its cost is linear in cells; the extrapolation is printed as such).

    .venv/bin/python bench/bench_alerts.py                 # 1e3, 1e5, 1e6 series
    .venv/bin/python bench/bench_alerts.py --sizes 1000 100000 --batches 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from alerts.engine import Engine
from alerts.plan import Plan, _cells
from alerts.reference import Reference
from alerts.rules import Rule, parse_rules
from qingyubiao.batch import Batch

T0 = 1_763_830_000_000  # 2025-11-23 00:46 Beijing time: night
RULES = parse_rules(
    "\n".join(
        f"""
[[rule]]
id = "r{i}"
kind = "{"air_temp_high" if i % 2 else "air_temp_low"}"
severity = "warning"
metric = "air_temp_c"
when = "{"above" if i % 2 else "below"}"
day = {20.0 + i if i % 2 else 10.0 - i}
night = {16.0 + i if i % 2 else 8.0 - i}
clear = 1.0
for = "{i % 4}m"
consecutive = {1 + i % 3}
"""
        for i in range(10)
    )
).rule


def synthetic_plan(n: int, rules: list[Rule]) -> Plan:
    """A plan for n air-temperature series, every rule on every series, 2 series per device, 100 per gateway."""
    R = len(rules)
    rule_of = np.tile(np.arange(R, dtype=np.int32), (n, 1))
    dev = np.arange(n, dtype=np.int32) // 2
    D = int(dev[-1]) + 1
    return Plan(
        keys=[None] * n,  # type: ignore[list-item]  # names are not needed to evaluate
        n_raw=n,
        interval_ms=np.full(n, 60_000, np.int64),
        stale_ms=np.full(n, 180_000, np.int64),
        watched=np.ones(n, bool),
        village_of=np.zeros(n, np.int32),
        lat=np.array([37.45]),
        lon=np.array([110.7]),
        village_ids=["v"],
        device_of=dev,
        devices=[("v", "s", f"d{i}") for i in range(D)],
        device_gateway=np.arange(D, dtype=np.int32) // 50,
        gateways=[("v", f"gw{i}") for i in range((D + 49) // 50)],
        pairs=np.empty((0, 5), np.int64),
        mean_slot=np.full(n, -1, np.int32),
        peer_group=np.full(n, -1, np.int32),
        rules=rules,
        rule_of=rule_of,
        **_cells(rule_of, rules),
    )


def batches(n: int, count: int, step: float, seed: int = 0) -> list[Batch]:
    """One reading per series per minute: a random walk starting inside the comfortable band (8..17 °C)."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(8, 17, n)
    out = []
    series = np.arange(n, dtype=np.int32)
    for k in range(count):
        v = v + rng.normal(0, step, n)
        out.append(Batch(series, np.full(n, T0 + k * 60_000, np.int64), v.copy(), np.zeros(n, np.uint16)))
    return out


def time_engine(n: int, count: int, step: float, keep: int) -> tuple[list[float], int, tuple[int, int, int], list]:
    """Engine times per batch, event count, bytes per cell, and the events of the first `keep` batches."""
    plan = synthetic_plan(n, RULES)
    engine = Engine(plan)
    times, events, kept = [], 0, []
    for k, b in enumerate(batches(n, count, step)):
        t = time.perf_counter()
        ev = engine.handle(b, T0 + k * 60_000 + 1_000)
        times.append(time.perf_counter() - t)
        events += len(ev)
        if k < keep:
            kept += ev.rows()
    cells = plan.rule_of.size
    state = sum(getattr(engine, k).nbytes for k in ("state", "count", "since", "ep", "flate")) // cells
    bands = engine.cur.nbytes // cells  # thresholds in force (day or night)
    params = sum(getattr(engine, k).nbytes for k in ("_band_day", "_band_night", "_need", "_for", "_chan", "_horizon"))
    return times, events, (state, bands, params // cells), kept


def time_reference(n: int, count: int, step: float) -> tuple[list[float], list]:
    ref = Reference(synthetic_plan(n, RULES))
    times, events = [], []
    for k, b in enumerate(batches(n, count, step)):
        t = time.perf_counter()
        events += ref.handle(b, T0 + k * 60_000 + 1_000)
        times.append(time.perf_counter() - t)
    return times, events


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    p.add_argument("--batches", type=int, default=7, help="engine batches per size (first one warms up)")
    p.add_argument("--ref-batches", type=int, default=3)
    p.add_argument("--ref-sample", type=int, default=100_000, help="largest size the reference runs in full")
    p.add_argument("--step", type=float, default=0.3, help="random-walk step per minute, °C (3 = a storm of alerts)")
    args = p.parse_args()
    R = len(RULES)
    print(f"{R} rules per series; one reading per series per batch; medians over batches after the first\n")
    print(f"{'series':>9} {'cells':>10} {'engine ms':>10} {'ns/cell':>8} {'ref ms':>10} {'ns/cell':>8} {'speed-up':>9}")
    for n in args.sizes:
        sample = min(n, args.ref_sample)
        keep = args.ref_batches if sample == n else 0
        et, ev, per_cell, kept = time_engine(n, args.batches, args.step, keep)
        e_med = statistics.median(et[1:] if len(et) > 1 else et)
        rt, ref_events = time_reference(sample, args.ref_batches, args.step)
        if keep:  # the same work: identical events from both on the batches both ran
            agree = sorted(kept) == sorted(ref_events)
            print(f"{'':>9} events of the first {keep} batches identical in engine and reference: {agree}")
            assert agree
        r_med = statistics.median(rt[1:] if len(rt) > 1 else rt) * (n / sample)
        note = f"  (reference timed on {sample:,} series, scaled x{n / sample:g})" if sample < n else ""
        cells = n * R
        print(
            f"{n:>9,} {cells:>10,} {e_med * 1e3:>10.2f} {e_med / cells * 1e9:>8.2f} "
            f"{r_med * 1e3:>10.1f} {r_med / cells * 1e9:>8.0f} {r_med / e_med:>8.0f}x{note}"
        )
        print(
            f"{'':>9} engine events {ev:,}; bytes per (rule, series) cell: {per_cell[0]} state, "
            f"{per_cell[1]} thresholds in force, {per_cell[2]} rule parameters"
        )


if __name__ == "__main__":
    main()
