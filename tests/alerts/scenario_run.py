"""Drive the alert manager with a simulator scenario, the way the collector would (decode, batch, tick)."""

from __future__ import annotations

from functools import lru_cache

from alerts.manager import AlertManager
from alerts.plan import compile_plan
from alerts.rules import bundled_rules
from ingest.decoders.context import DecodeContext, Deduplicator
from ingest.decoders.router import route
from qingyubiao.alerting import Transition
from qingyubiao.config import load_config
from qingyubiao.series import SeriesIndex
from sensors_sim import scenario as scenarios
from sensors_sim.twin import run_scenario

FLUSH_MS = 60_000  # one batch and one tick per simulated minute


@lru_cache(maxsize=8)  # several tests look at the same run; transitions are immutable
def run(name: str, seed: int = 0) -> tuple[scenarios.Scenario, tuple[Transition, ...]]:
    sc = scenarios.load(name)
    config = sc.apply_stages(load_config())
    index = SeriesIndex(config)
    mgr = AlertManager(config, compile_plan(config, bundled_rules(), index))
    dedup = Deduplicator()
    out: list[Transition] = []
    pending: list[tuple[str, bytes]] = []
    window_end = int(sc.start_s * 1000) + FLUSH_MS
    max_bytes = config.deployment.ingest.max_payload_bytes

    def flush(now_ms: int) -> None:
        ctx = DecodeContext(index, now_ms, config.deployment.ingest.max_future_s, dedup)
        for topic, payload in pending:
            route(ctx, topic, payload, max_bytes)
        pending.clear()
        out.extend(mgr.handle(ctx.builder.build(index.lo, index.hi), now_ms))
        out.extend(mgr.tick(now_ms))

    for sim_s, topic, payload in run_scenario(config, sc, seed):
        t_ms = int(sim_s * 1000)
        while t_ms >= window_end:
            flush(window_end)
            window_end += FLUSH_MS
        pending.append((topic, payload))
    flush(window_end)
    return sc, tuple(out)
