"""The collector's problems: said at once, paged only once they last (a broker restart is not a phone call)."""

from __future__ import annotations

from ingest.health import Health
from ingest.metrics import IngestMetrics
from qingyubiao.health import Part, Problem


def test_a_blip_is_logged_not_paged_and_a_lasting_problem_is_paged_once_with_its_end() -> None:
    now = [1_000.0]
    calls: list[tuple[Problem, bool]] = []
    metrics = IngestMetrics()
    health = Health(metrics.problem, on_change=lambda p, ended: calls.append((p, ended)), clock=lambda: now[0],
                    page_after_s=60)  # fmt: skip
    health.failing(Part.BROKER, "127.0.0.1:1883: Connection refused")
    now[0] += 1
    health.recovered(Part.BROKER)  # a broker restart: back within a second
    assert calls == []
    health.failing(Part.STORE, "OperationalError: database or disk is full")
    for _ in range(70):  # the writer retries every second
        now[0] += 1
        health.failing(Part.STORE, "OperationalError: database or disk is full")
    assert [(p.part, ended) for p, ended in calls] == [(Part.STORE, False)]  # once, after 60 s
    assert calls[0][0].since_ms == 1_001_000  # since the first failure
    health.recovered(Part.STORE)
    assert [(p.part, ended) for p, ended in calls] == [(Part.STORE, False), (Part.STORE, True)]
    [family] = metrics.problem.collect()
    assert family.samples == []  # gone from /metrics
