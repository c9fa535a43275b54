"""The disk spool: order, crash safety (torn records, cursor), segments, and the bound."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.store.forwarder import WARN_RATIO
from ingest.store.spool import Spool, SpoolBusy
from qingyubiao.batch import Batch
from qingyubiao.series import SeriesIndex
from tests.conftest import REPO, wait_for
from tests.influx.conftest import MakeForwarder
from tests.influx.data import batches
from tests.influx.fake import Answer, FakeInflux


def bodies(spool: Spool) -> list[str]:
    return [r.body.decode() for r in spool.peek(10**9)]


def test_records_come_back_in_order_across_segments_and_reopening(tmp_path: Path):
    spool = Spool(tmp_path, 10**6, segment_bytes=200)
    sent = [f"m,d=x f={i} {i}" for i in range(50)]
    for body in sent:
        assert spool.append(body.encode(), 1, 0)
    assert len(list(tmp_path.glob("*.seg"))) > 5
    assert bodies(spool) == sent
    spool.consume(spool.peek(20))
    spool.close()
    again = Spool(tmp_path, 10**6, segment_bytes=200)  # a restart continues after the delivered records
    assert bodies(again) == sent[20:]
    assert again.depth == 30
    again.consume(again.peek(10**9))
    assert again.depth == 0 and again.pending_bytes == 0
    assert len(list(tmp_path.glob("*.seg"))) <= 1  # delivered segments are deleted


def test_a_record_torn_by_a_crash_is_cut_off(tmp_path: Path):
    spool = Spool(tmp_path, 10**6)
    spool.append(b"m f=1 1", 1, 0)
    spool.append(b"m f=2 2", 1, 0)
    spool.close()
    seg = next(tmp_path.glob("*.seg"))
    whole = seg.stat().st_size
    with open(seg, "ab") as f:  # the process died in the middle of a write
        f.write(b"QSP1\x40\x00\x00\x00garbage")
    again = Spool(tmp_path, 10**6)
    assert bodies(again) == ["m f=1 1", "m f=2 2"]
    assert seg.stat().st_size == whole
    assert again.append(b"m f=3 3", 1, 0)
    assert bodies(again) == ["m f=1 1", "m f=2 2", "m f=3 3"]


def test_a_half_written_cursor_is_never_seen(tmp_path: Path):
    spool = Spool(tmp_path, 10**6)
    for i in range(3):
        spool.append(f"m f={i} {i}".encode(), 1, 0)
    spool.consume(spool.peek(1))
    spool.close()
    (tmp_path / "cursor.tmp").write_text("99")  # a crash before the rename leaves only the temporary file
    assert bodies(Spool(tmp_path, 10**6)) == ["m f=1 1", "m f=2 2"]


def test_bound_keeps_the_oldest_warns_before_dropping_and_replays_in_order(
    fake_influx: FakeInflux, make_forwarder: MakeForwarder, index: SeriesIndex, caplog: pytest.LogCaptureFixture
):
    """Documented behaviour at the bound: the oldest data is kept, new batches are not forwarded (they stay in the
    local store), a warning comes at 80 % and an error plus a metric when readings are dropped."""
    fake_influx.default = Answer(503)  # InfluxDB is away
    bound = 64 * 1024
    fwd = make_forwarder(fake_influx.url, spool_max_bytes=bound)
    bs = batches(index, 60, 20)
    kept: list[Batch] = []
    dropped: list[Batch] = []
    with caplog.at_level(logging.WARNING, logger="ingest.store.forwarder"):
        for b in bs:
            before = fwd.spool.depth
            fwd.handle(b, 0)
            (kept if fwd.spool.depth > before else dropped).append(b)
            assert fwd.spool.pending_bytes <= bound
    assert kept and dropped, "the test must pass the bound"
    assert kept == bs[: len(kept)], "the oldest batches are the ones kept"
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    warn_at = next(i for i, (lvl, m) in enumerate(messages) if lvl == logging.WARNING and "% full" in m)
    drop_at = next(i for i, (lvl, m) in enumerate(messages) if lvl == logging.ERROR and "NOT forwarded" in m)
    assert warn_at < drop_at
    assert int(messages[warn_at][1].split("% full")[0].split()[-1]) >= WARN_RATIO * 100
    reg = fwd.metrics.registry
    assert reg.get_sample_value("qyb_influx_spool_dropped_readings_total") == 20 * len(dropped)
    assert reg.get_sample_value("qyb_influx_spool_bytes") == fwd.spool.pending_bytes
    assert reg.get_sample_value("qyb_influx_spool_limit_bytes") == bound
    assert reg.get_sample_value("qyb_spool_depth") == len(kept)

    fake_influx.default = Answer(204)  # InfluxDB is back
    wait_for(lambda: fwd.spool.depth == 0, 20, "the spool to drain")
    expected = [line for b in kept for line in fwd.encoder.encode(b)[0].split("\n")]
    assert fake_influx.lines() == expected  # in order, each once, nothing of the dropped batches
    fwd.handle(bs[-1], 0)  # room again: new batches are forwarded
    wait_for(lambda: fwd.spool.depth == 0, 10, "the new batch")
    assert fake_influx.lines()[-20:] == fwd.encoder.encode(bs[-1])[0].split("\n")


@pytest.mark.slow
def test_spool_survives_a_process_killed_while_appending(tmp_path: Path):
    """SIGKILL in the middle of appending: every record that was whole is there, in order, and the spool works on."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom ingest.store.spool import Spool\ns = Spool(sys.argv[1], 10**9, fsync=False)\n"
            "i = 0\nwhile True:\n    s.append((f'm f={i} {i}' + 'x' * 5000).encode(), 1, 0)\n    i += 1",
            str(tmp_path),
        ],
        cwd=REPO,
    )
    wait_for(lambda: sum(p.stat().st_size for p in tmp_path.glob("*.seg")) > 2_000_000, 20, "appends")
    child.send_signal(signal.SIGKILL)
    child.wait()
    got = bodies(Spool(tmp_path, 10**9))
    assert len(got) > 300
    assert got == [f"m f={i} {i}" + "x" * 5000 for i in range(len(got))]


@pytest.mark.slow
def test_one_process_per_spool(tmp_path: Path):
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom ingest.store.spool import Spool\nSpool(sys.argv[1], 10**6)\n"
            "print('open', flush=True)\ntime.sleep(60)",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"open\n"
        with pytest.raises(SpoolBusy, match="in use by another process"):
            Spool(tmp_path, 10**6)
    finally:
        child.kill()
        child.communicate()
    Spool(tmp_path, 10**6).close()  # free again once that process is gone


def test_a_batch_larger_than_what_is_left_is_warned_about_before_it_is_dropped(
    fake_influx: FakeInflux, make_forwarder: MakeForwarder, index: SeriesIndex, caplog: pytest.LogCaptureFixture
):
    fake_influx.default = Answer(503)
    fwd = make_forwarder(fake_influx.url, start=False, spool_max_bytes=8 * 1024)  # no sender: only handle() logs
    small, big = batches(index, 1, 10)[0], batches(index, 1, 200, seed=2)[0]  # ~1 KiB, then ~19 KiB
    with caplog.at_level(logging.WARNING, logger="ingest.store.forwarder"):
        fwd.handle(small, 0)
        assert not caplog.records  # 12 % full: quiet
        fwd.handle(big, 0)
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.ERROR]
    assert fwd.spool.depth == 1 and fwd.dropped_readings == 200
