"""Write requests and error handling against a strict local receiver (exact request, 400/401/413/429/503/timeouts)."""

from __future__ import annotations

import gzip
import logging
import time

import pytest

from ingest.store.influx import LineEncoder
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex
from tests.conftest import wait_for
from tests.influx.conftest import MakeForwarder
from tests.influx.data import batches
from tests.influx.fake import Answer, FakeInflux


def sample(registry, name: str, labels: dict[str, str] | None = None) -> float:
    value = registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


def test_request_is_exactly_what_influxdb_expects(
    fake_influx: FakeInflux, make_forwarder: MakeForwarder, village: Config, index: SeriesIndex
):
    batch = batches(index, 1, 300)[0]
    fwd = make_forwarder(fake_influx.url)
    fwd.handle(batch, 0)
    wait_for(lambda: len(fake_influx.requests) == 1, 10, "one write request")
    req = fake_influx.requests[0]
    assert req.path == "/api/v2/write"
    assert req.query == {"org": "lijiahe-org", "bucket": "qyb", "precision": "ms"}
    assert req.headers["Authorization"] == "Token s3cr3t"
    assert req.headers["Content-Encoding"] == "gzip"
    assert req.headers["Content-Type"].startswith("text/plain")
    assert gzip.decompress(req.raw).decode() == req.body
    assert req.body == LineEncoder(village, index).encode(batch)[0]
    wait_for(lambda: fwd.spool.depth == 0, 5, "the spool to empty")
    assert sample(fwd.metrics.registry, "qyb_influx_written_readings_total") == 300


def test_without_gzip_the_body_is_plain(fake_influx: FakeInflux, make_forwarder: MakeForwarder, index: SeriesIndex):
    fwd = make_forwarder(fake_influx.url, gzip=False)
    fwd.handle(batches(index, 1, 10)[0], 0)
    wait_for(lambda: len(fake_influx.requests) == 1, 10, "one write request")
    assert "Content-Encoding" not in fake_influx.requests[0].headers
    assert fake_influx.requests[0].raw.decode().count("\n") == 9


@pytest.mark.parametrize(
    "failures",
    [
        [Answer(503, body='{"code":"unavailable"}'), Answer(503)],
        [Answer(429, headers={"Retry-After": "1"})],
        [Answer(401, body='{"code":"unauthorized","message":"unauthorized access"}')],
        [Answer(500), Answer(502), Answer(404, body='{"message":"bucket \\"qyb\\" not found"}')],
        [Answer(204, delay_s=1.5)],  # longer than the 0.5 s timeout
    ],
    ids=["503", "429-retry-after", "401", "5xx-then-404", "timeout"],
)
def test_retriable_failures_are_retried_in_order_until_written(
    failures: list[Answer],
    fake_influx: FakeInflux,
    make_forwarder: MakeForwarder,
    index: SeriesIndex,
    caplog: pytest.LogCaptureFixture,
):
    fake_influx.script = list(failures)
    fwd = make_forwarder(fake_influx.url, batch_size=100)
    bs = batches(index, 3, 100)
    expected = [line for b in bs for line in fwd.encoder.encode(b)[0].split("\n")]
    with caplog.at_level(logging.WARNING, logger="ingest.store.forwarder"):
        for b in bs:
            fwd.handle(b, 0)
        wait_for(lambda: fwd.spool.depth == 0, 15, "the spool to drain")
    ok = fake_influx.lines()
    if failures[0].delay_s:  # the timed-out request may have been taken: idempotent, so it may come twice
        assert sorted(set(ok)) == sorted(expected)
    else:
        assert ok == expected  # in order, every line once
    assert [r.status for r in fake_influx.requests[: len(failures)]] == [a.status for a in failures]
    for a in failures:
        label = "timeout" if a.delay_s else str(a.status)
        assert sample(fwd.metrics.registry, "qyb_influx_write_errors_total", {"status": label}) >= 1
    assert any("retry 1" in r.getMessage() for r in caplog.records)


def test_retry_after_is_honoured(fake_influx: FakeInflux, make_forwarder: MakeForwarder, index: SeriesIndex):
    fake_influx.script = [Answer(429, headers={"Retry-After": "1"})]
    fwd = make_forwarder(fake_influx.url, retry_max_ms=5_000)
    t0 = time.monotonic()
    fwd.handle(batches(index, 1, 10)[0], 0)
    wait_for(lambda: len(fake_influx.requests) == 2, 10, "the retry")
    assert time.monotonic() - t0 >= 0.95


def test_malformed_body_400_is_counted_logged_and_skipped(
    fake_influx: FakeInflux, make_forwarder: MakeForwarder, index: SeriesIndex, caplog: pytest.LogCaptureFixture
):
    fake_influx.script = [Answer(400, body='{"code":"invalid","message":"unable to parse \'x\': bad timestamp"}')]
    fwd = make_forwarder(fake_influx.url, batch_size=50)
    first, second = batches(index, 2, 50)
    with caplog.at_level(logging.ERROR, logger="ingest.store.forwarder"):
        fwd.handle(first, 0)
        wait_for(lambda: fwd.spool.depth == 0, 10, "the refused batch to be skipped")
        fwd.handle(second, 0)
        wait_for(lambda: fwd.spool.depth == 0 and len(fake_influx.requests) == 2, 10, "the next batch")
    assert fake_influx.lines() == fwd.encoder.encode(second)[0].split("\n")
    assert sample(fwd.metrics.registry, "qyb_influx_rejected_readings_total") == 50
    assert sample(fwd.metrics.registry, "qyb_influx_write_errors_total", {"status": "400"}) == 1
    assert any("bad timestamp" in r.getMessage() and "refused 50 readings" in r.getMessage() for r in caplog.records)


def test_too_large_413_is_split(fake_influx: FakeInflux, make_forwarder: MakeForwarder, index: SeriesIndex):
    fake_influx.script = [Answer(413)]
    fwd = make_forwarder(fake_influx.url, batch_size=100)
    b = batches(index, 1, 100)[0]
    fwd.handle(b, 0)
    wait_for(lambda: fwd.spool.depth == 0, 10, "the split writes")
    assert [len(r.body.split("\n")) for r in fake_influx.requests] == [100, 50, 50]
    assert fake_influx.lines() == fwd.encoder.encode(b)[0].split("\n")


def test_large_collector_batch_is_written_in_requests_of_batch_size(
    fake_influx: FakeInflux, make_forwarder: MakeForwarder, index: SeriesIndex
):
    fwd = make_forwarder(fake_influx.url, batch_size=400)
    b = batches(index, 1, 1_000)[0]
    fwd.handle(b, 0)
    wait_for(lambda: fwd.spool.depth == 0, 10, "the writes")
    assert [len(r.body.split("\n")) for r in fake_influx.requests] == [400, 400, 200]
    assert fake_influx.lines() == fwd.encoder.encode(b)[0].split("\n")


def test_handle_never_waits_for_the_network(fake_influx: FakeInflux, make_forwarder: MakeForwarder, index: SeriesIndex):
    fake_influx.default = Answer(204, delay_s=0.4)  # a slow server, under the timeout
    fwd = make_forwarder(fake_influx.url, batch_size=10)
    worst = 0.0
    for b in batches(index, 20, 10):
        t0 = time.perf_counter()
        fwd.handle(b, 0)
        worst = max(worst, time.perf_counter() - t0)
    assert worst < 0.1
    assert fwd.spool.depth > 10  # the sender is behind; the collector did not wait for it


class FlakyWriter:
    """A writer whose first call fails with an error that is not a WriteFailed (a bug, a library surprise)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.calls = 0

    def write(self, body: bytes | str) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("surprise")
        self.bodies.append(body.encode() if isinstance(body, str) else body)

    def close(self) -> None:
        pass


def test_an_unexpected_error_does_not_kill_the_sender(
    village: Config, index: SeriesIndex, tmp_path, caplog: pytest.LogCaptureFixture
):
    from ingest.metrics import IngestMetrics
    from ingest.store.forwarder import Forwarder
    from ingest.store.spool import Spool
    from tests.influx.conftest import fast_settings

    s = fast_settings("http://127.0.0.1:1", tmp_path)
    writer = FlakyWriter()
    fwd = Forwarder("influxdb", LineEncoder(village, index), writer, Spool(tmp_path, 10**6), s, IngestMetrics())
    fwd.start()
    b = batches(index, 1, 20)[0]
    with caplog.at_level(logging.ERROR, logger="ingest.store.forwarder"):
        fwd.handle(b, 0)
        wait_for(lambda: fwd.spool.depth == 0, 10, "the retry after the surprise")
    fwd.close(drain_s=0)
    assert writer.bodies == [fwd.encoder.encode(b)[0].encode()]
    assert any("unexpected error" in r.getMessage() for r in caplog.records)
    assert fwd.metrics.registry.get_sample_value("qyb_influx_write_errors_total", {"status": "exception"}) == 1
