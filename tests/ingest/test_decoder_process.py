"""The decoder process: the same results as decoding in-thread, and nothing lost when it dies."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.decoding import Decoded, DecoderProcess, InThreadDecoder, Limits, Message
from qingyubiao.series import SeriesIndex
from tests.ingest.conftest import MAX_BYTES, MAX_FUTURE_S, NOW_MS
from tests.ingest.test_decoders import CS, T, cs_event, j

LIMITS = Limits(MAX_BYTES, MAX_FUTURE_S)
UP = "qyb/lijiahe/gh01-air/up"

# Good and bad input of every format, and a ChirpStack uplink heard twice (dedup memory in the process).
MESSAGES: list[Message] = [
    (UP, j({"ts": T, "m": {"air_temp_c": 21.5, "air_rh_pct": 80}})),
    (UP, j({"ts": T, "m": {"air_temp_c": 99_999}})),  # out of range: flagged, kept
    (UP, b"{not json"),
    ("qyb/lijiahe/ghost/up", j({"m": {"air_temp_c": 1}})),
    *(
        (
            f"qyb/lijiahe/gw/{gw}/up",
            j(
                {
                    "gw": gw,
                    "readings": [{"dev": f"gh{i:02d}-air", "ts": T + i, "m": {"air_temp_c": i}} for i in devices],
                }
            ),
        )
        for gw, devices in (("gw-east", range(1, 13)), ("gw-west", range(13, 25)))
    ),
    (CS, j(cs_event())),
    (CS, j(cs_event(rxInfo=[{"rssi": -60, "snr": 10.0}]))),
    ("qyb/lijiahe/gh02-air/status", b"offline"),
    ("nonsense/topic", b"1"),
]


def same(a: Decoded, b: Decoded) -> None:
    for column in ("series", "ts_ms", "value", "flags"):
        x, y = getattr(a.batch, column), getattr(b.batch, column)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    assert a.rejects == b.rejects
    assert a.statuses == b.statuses
    assert a.duplicates == b.duplicates


def here(index: SeriesIndex, messages: list[Message] = MESSAGES) -> Decoded:
    return InThreadDecoder(index, LIMITS).decode(NOW_MS, messages)


def exited(pid: int) -> bool:
    """Gone, or a zombie (it has exited; PID 1 may not have reaped it yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_exited(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if exited(pid):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def process(index: SeriesIndex) -> Iterator[DecoderProcess]:
    p = DecoderProcess(index, LIMITS)
    yield p
    p.close()


def test_a_decoder_process_decodes_exactly_as_the_collector_would(process: DecoderProcess, index: SeriesIndex) -> None:
    there = process.decode(NOW_MS, MESSAGES)
    assert len(there.batch) > 30 and len(there.rejects) >= 3 and there.duplicates == 1 and there.statuses
    same(here(index), there)
    assert process.pid is not None and process.pid != os.getpid() and process.restarts == 0


def test_the_dedup_memory_spans_chunks_in_the_process(process: DecoderProcess) -> None:
    pid = process.pid
    assert process.decode(NOW_MS, [(CS, j(cs_event()))]).duplicates == 0
    assert process.decode(NOW_MS, [(CS, j(cs_event()))]).duplicates == 1
    assert process.pid == pid and process.restarts == 0  # the child answered, not the in-thread fallback


def test_when_the_process_dies_the_chunk_is_decoded_here_and_a_new_process_starts_a_minute_later(
    process: DecoderProcess, index: SeriesIndex, caplog: pytest.LogCaptureFixture
) -> None:
    first = process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert wait_exited(first, 5)
    with caplog.at_level(logging.ERROR):
        same(process.decode(NOW_MS, MESSAGES), here(index))
    assert "decoder process died (exit code -9)" in caplog.text
    no_chirpstack = MESSAGES[:5]  # the fallback remembers the uplink above: it would be a duplicate now
    same(process.decode(NOW_MS, no_chirpstack), here(index, no_chirpstack))
    assert process.pid is None and process.restarts == 0  # within the minute: no new process, a crash loop won't spin
    assert not process.in_child  # qyb_decoder_process shows 0 to the operator

    process._restart_at = time.monotonic()  # the minute has passed
    same(process.decode(NOW_MS, MESSAGES), here(index))
    assert process.restarts == 1 and process.pid not in (None, first) and process.in_child


def test_a_process_killed_while_it_decodes_costs_nothing(
    process: DecoderProcess, index: SeriesIndex, caplog: pytest.LogCaptureFixture
) -> None:
    big = MESSAGES * 10000  # half a second or more of decoding in the child
    pid = process.pid
    assert pid is not None
    process.decode(NOW_MS, MESSAGES[:1])  # up and serving
    kill = threading.Timer(0.1, os.kill, (pid, signal.SIGKILL))
    kill.start()
    with caplog.at_level(logging.ERROR):
        got = process.decode(NOW_MS, big)
    kill.join()
    assert "decoder process died" in caplog.text
    same(got, here(index, big))


def test_an_interrupted_call_never_gets_a_stale_answer(process: DecoderProcess, index: SeriesIndex) -> None:
    """Ctrl-C between sending a chunk and reading its answer: the next chunk must get its own answer."""
    big = MESSAGES * 10000
    process.decode(NOW_MS, MESSAGES[:1])
    previous = signal.signal(signal.SIGUSR1, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    interrupt = threading.Timer(0.1, signal.pthread_kill, (threading.main_thread().ident, signal.SIGUSR1))
    try:
        interrupt.start()
        with pytest.raises(KeyboardInterrupt):
            process.decode(NOW_MS, big)
    finally:
        interrupt.cancel()
        interrupt.join()
        signal.signal(signal.SIGUSR1, previous)
    status = [("qyb/lijiahe/gh02-air/status", b"online")]
    same(process.decode(NOW_MS, status), here(index, status))
    assert process.pid is not None  # a fresh child: an interruption is not a crash


def test_stop_signals_are_left_to_the_collector(process: DecoderProcess, index: SeriesIndex) -> None:
    """Ctrl-C and systemd's SIGTERM reach every process of the service; the collector still needs its decoder
    to decode what it holds while it stops."""
    assert process.pid is not None
    process.decode(NOW_MS, MESSAGES)  # the child is up and has set its handlers
    # the kernel says it ignores both (so a kill is discarded when sent, with nothing left to wait for)
    ignored = int(_proc_status(process.pid)["SigIgn"], 16)
    assert all(ignored >> (sig - 1) & 1 for sig in (signal.SIGINT, signal.SIGTERM)), hex(ignored)
    for sig in (signal.SIGINT, signal.SIGTERM):
        os.kill(process.pid, sig)
    same(process.decode(NOW_MS, MESSAGES[:2]), here(index, MESSAGES[:2]))
    assert process.restarts == 0 and process.pid is not None


def test_stop_signals_while_the_child_starts_do_not_kill_it(index: SeriesIndex) -> None:
    p = DecoderProcess(index, LIMITS)
    try:
        assert p.pid is not None
        os.kill(p.pid, signal.SIGTERM)  # long before it has imported anything
        os.kill(p.pid, signal.SIGINT)
        same(p.decode(NOW_MS, MESSAGES[:2]), here(index, MESSAGES[:2]))
        assert p.restarts == 0 and p.pid is not None
    finally:
        p.close()


def test_close_stops_the_process_at_once(index: SeriesIndex) -> None:
    p = DecoderProcess(index, LIMITS)
    p.decode(NOW_MS, MESSAGES[:1])
    proc = p._proc
    assert proc is not None
    started = time.monotonic()
    p.close()
    assert time.monotonic() - started < 2  # it saw EOF and left; close() would kill it only after 5 s
    assert proc.exitcode == 0


def run_parent(body: str) -> subprocess.Popen[str]:
    """A Python process that starts a decoder process, prints the decoder's pid, then runs `body`."""
    code = (
        "from ingest.decoding import DecoderProcess, Limits\n"
        "from qingyubiao.config import load_config\n"
        "from qingyubiao.series import SeriesIndex\n"
        "import time\n"
        "if __name__ == '__main__':\n"
        "    p = DecoderProcess(SeriesIndex(load_config()), Limits(4096, 600.0))\n"
        "    print(p.pid, flush=True)\n"
        f"    {body}\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_the_decoder_process_exits_when_its_collector_is_killed() -> None:
    """A SIGKILLed collector must not leave decoder processes behind (the e2e tests kill it twice)."""
    parent = run_parent("time.sleep(60)")
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert not exited(child)
    parent.kill()
    parent.wait(10)
    parent.stdout.close()
    assert wait_exited(child, 10), f"decoder process {child} outlived its collector"


@pytest.mark.slow
def test_a_collector_that_exits_without_closing_its_decoder_still_exits() -> None:
    """multiprocessing joins daemon children at exit without a timeout, after a SIGTERM the child ignores."""
    parent = run_parent("p.decode(0, []); raise SystemExit(3)")  # serving, then gone without close()
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert parent.wait(15) == 3
    finally:
        parent.kill()
        parent.stdout.close()
    assert wait_exited(child, 10)


def _proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, v in (line.split(":", 1) for line in lines if ":" in line)}
