"""Fixtures for the InfluxDB store tests: a strict fake receiver, VictoriaMetrics, influxd 1.6."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.metrics import IngestMetrics
from ingest.store.forwarder import Forwarder
from ingest.store.influx import InfluxWriter, LineEncoder
from ingest.store.spool import Spool
from qingyubiao.config import Config, InfluxSettings
from qingyubiao.series import SeriesIndex
from tests.conftest import need
from tests.influx.fake import FakeInflux
from tests.influx.servers import VictoriaMetrics

MakeForwarder = Callable[..., Forwarder]


@pytest.fixture
def fake_influx() -> Iterator[FakeInflux]:
    fake = FakeInflux()
    yield fake
    fake.close()


@pytest.fixture
def vm(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    server = VictoriaMetrics(need("victoria-metrics"), tmp_path / "vm")
    server.start()
    yield server
    server.stop()


def fast_settings(url: str, spool_dir: Path, **changes: object) -> InfluxSettings:
    """Settings for tests: short timeouts and backoff, no waiting for fuller requests."""
    base = {
        "url": url,
        "token": "s3cr3t",
        "org": "lijiahe-org",
        "bucket": "qyb",
        "batch_size": 1_000,
        "flush_interval_ms": 0,
        "timeout_ms": 500,
        "retry_initial_ms": 20,
        "retry_max_ms": 200,
        "spool_dir": str(spool_dir),
        "spool_fsync": False,
    }
    return InfluxSettings.model_validate(base | changes)


@pytest.fixture
def make_forwarder(village: Config, index: SeriesIndex, tmp_path: Path) -> Iterator[MakeForwarder]:
    """forwarder(url, **settings): started, with its own metrics registry; closed at the end."""
    made: list[Forwarder] = []

    def make(url: str, start: bool = True, **changes: object) -> Forwarder:
        s = fast_settings(url, tmp_path / f"spool{len(made)}", **changes)
        spool = Spool(s.spool_dir, s.spool_max_bytes, fsync=s.spool_fsync)
        f = Forwarder("influxdb", LineEncoder(village, index), InfluxWriter(s), spool, s, IngestMetrics())
        if start:
            f.start()
        made.append(f)
        return f

    yield make
    for f in made:
        f.close(drain_s=0)
