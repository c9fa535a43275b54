"""InfluxDB goes away during ingestion of 60,000 readings and comes back.

The real VictoriaMetrics (InfluxDB's /api/v2/write) is stopped while batches
keep coming, then started again on the same port and data. The test drives
what the collector does per batch: local SQLite write, alerting sink, then
the forwarder's handle(). Stopped with SIGTERM: VictoriaMetrics loses the
last seconds it acknowledged on SIGKILL, which no client can make up for.
"""

from __future__ import annotations

import time
from pathlib import Path

from ingest.store.sqlite import SqliteStore
from qingyubiao.batch import Batch
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex
from tests.conftest import wait_for
from tests.influx.conftest import MakeForwarder
from tests.influx.data import batches
from tests.influx.expect import vm_expected
from tests.influx.servers import VictoriaMetrics


class AlertSink:
    """Stands in for the alert engine: records when each batch reached it."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, int]] = []

    def handle(self, batch: Batch, now_ms: int) -> None:
        self.seen.append((time.monotonic(), len(batch)))


def test_influx_outage_loses_nothing_duplicates_nothing_and_stalls_nothing(
    vm: VictoriaMetrics, make_forwarder: MakeForwarder, village: Config, index: SeriesIndex, tmp_path: Path
):
    bs = batches(index, 100, 600, seed=11)  # 60,000 readings
    store = SqliteStore(tmp_path / "local.sqlite", index, synchronous="NORMAL")
    alerts = AlertSink()
    fwd = make_forwarder(vm.url, batch_size=5_000, flush_interval_ms=100, retry_max_ms=500, timeout_ms=2_000)
    worst_step = 0.0
    down_at = up_at = 0.0
    depth_while_down = 0
    for i, b in enumerate(bs):
        if i == 30:
            vm.stop()
            down_at = time.monotonic()
        if i == 70:
            depth_while_down = fwd.spool.depth
            vm.start()
            up_at = time.monotonic()
        t0 = time.monotonic()
        store.write(b)  # what the collector does per batch, before the acknowledgement
        alerts.handle(b, 0)
        fwd.handle(b, 0)
        worst_step = max(worst_step, time.monotonic() - t0)
        time.sleep(0.05 if 30 <= i < 70 else 0.01)

    # the local store and the alerting went on while InfluxDB was away
    assert store.count() == 60_000
    during = [n for t, n in alerts.seen if down_at <= t < up_at]
    assert sum(during) == 40 * 600
    assert worst_step < 0.5, f"a batch waited {worst_step:.2f} s"
    assert depth_while_down >= 30, "the batches of the outage waited in the spool"
    reg = fwd.metrics.registry
    failed = sum(
        s.value
        for m in reg.collect()
        if m.name == "qyb_influx_write_errors"
        for s in m.samples
        if s.name.endswith("_total")
    )
    assert failed >= 1

    wait_for(lambda: fwd.spool.depth == 0, 60, "the spool to drain")
    assert fwd.spool.pending_bytes == 0
    assert reg.get_sample_value("qyb_spool_depth") == 0
    got = vm.samples()
    assert {k: v[0] for k, v in got.items()} == vm_expected(village, index, bs)  # every reading arrived
    assert sum(len(v) for v in got.values()) == 60_000  # exactly once
    assert reg.get_sample_value("qyb_influx_written_readings_total") == 60_000  # and none was sent twice
    store.close()
