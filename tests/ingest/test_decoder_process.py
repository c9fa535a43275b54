"""The decoder process: the same results as decoding in-thread, and nothing lost when it dies."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest

from ingest.decoding import Decoded, DecoderProcess, InThreadDecoder, Limits, Message
from qingyubiao.series import SeriesIndex
from tests.ingest.conftest import MAX_BYTES, MAX_FUTURE_S, NOW_MS
from tests.ingest.test_decoders import CS, GW, T, cs_event, j

LIMITS = Limits(MAX_BYTES, MAX_FUTURE_S)
UP = "qyb/lijiahe/gh01-air/up"

# Good and bad input of every format, and a ChirpStack uplink heard twice (dedup memory in the process).
MESSAGES: list[Message] = [
    (UP, j({"ts": T, "m": {"air_temp_c": 21.5, "air_rh_pct": 80}})),
    (UP, j({"ts": T, "m": {"air_temp_c": 99_999}})),  # out of range: flagged, kept
    (UP, b"{not json"),
    ("qyb/lijiahe/ghost/up", j({"m": {"air_temp_c": 1}})),
    (
        GW,
        j(
            {
                "gw": "gw-east",
                "readings": [{"dev": f"gh{i:02d}-air", "ts": T + i, "m": {"air_temp_c": i}} for i in range(1, 25)],
            }
        ),
    ),
    (CS, j(cs_event())),
    (CS, j(cs_event(rxInfo=[{"rssi": -60, "snr": 10.0}]))),
    ("qyb/lijiahe/gh02-air/status", b"offline"),
    ("nonsense/topic", b"1"),
]


def same(a: Decoded, b: Decoded) -> None:
    for column in ("series", "ts_ms", "value", "flags"):
        np.testing.assert_array_equal(getattr(a.batch, column), getattr(b.batch, column))
    assert [(r.reason, r.detail, r.payload) for r in a.rejects] == [(r.reason, r.detail, r.payload) for r in b.rejects]
    assert a.statuses == b.statuses
    assert a.duplicates == b.duplicates


@pytest.fixture
def process(index: SeriesIndex) -> Iterator[DecoderProcess]:
    p = DecoderProcess(index, LIMITS)
    yield p
    p.close()


def test_a_decoder_process_decodes_exactly_as_the_collectors_thread(
    process: DecoderProcess, index: SeriesIndex
) -> None:
    here = InThreadDecoder(index, LIMITS).decode(NOW_MS, MESSAGES)
    there = process.decode(NOW_MS, MESSAGES)
    assert len(there.batch) > 30 and len(there.rejects) >= 3 and there.duplicates == 1 and there.statuses
    same(here, there)
    assert process.pid is not None and process.pid != os.getpid()


def test_the_dedup_memory_spans_flushes_in_the_process(process: DecoderProcess) -> None:
    assert process.decode(NOW_MS, [(CS, j(cs_event()))]).duplicates == 0
    assert process.decode(NOW_MS, [(CS, j(cs_event()))]).duplicates == 1


def test_when_the_process_dies_the_flush_is_decoded_here_and_a_new_process_starts_later(
    process: DecoderProcess, index: SeriesIndex, caplog: pytest.LogCaptureFixture
) -> None:
    first = process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    time.sleep(0.2)
    with caplog.at_level(logging.ERROR):
        same(process.decode(NOW_MS, MESSAGES), InThreadDecoder(index, LIMITS).decode(NOW_MS, MESSAGES))
    assert "decoder process died" in caplog.text
    assert process.pid is None and process.restarts == 0  # not restarted at once: a crash loop must not spin

    process._restart_at = 0.0  # the back-off has passed
    again = process.decode(NOW_MS, MESSAGES)
    assert process.restarts == 1 and process.pid not in (None, first)
    same(again, InThreadDecoder(index, LIMITS).decode(NOW_MS, MESSAGES))


def test_stop_signals_are_left_to_the_collector(process: DecoderProcess, index: SeriesIndex) -> None:
    """Ctrl-C and systemd's SIGTERM reach every process of the service; the collector still needs its decoder
    to decode what it holds while it stops."""
    assert process.pid is not None
    process.decode(NOW_MS, MESSAGES)  # the child is up and has set its handlers
    for sig in (signal.SIGINT, signal.SIGTERM):
        os.kill(process.pid, sig)
    time.sleep(0.2)
    same(process.decode(NOW_MS, MESSAGES[:2]), InThreadDecoder(index, LIMITS).decode(NOW_MS, MESSAGES[:2]))
    assert process.restarts == 0 and process.pid is not None


def test_close_stops_the_process(index: SeriesIndex) -> None:
    p = DecoderProcess(index, LIMITS)
    pid = p.pid
    assert pid is not None
    p.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_decoder_process_exits_when_its_collector_is_killed() -> None:
    """A SIGKILLed collector must not leave decoder processes behind (the e2e tests kill it twice)."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from ingest.decoding import DecoderProcess, Limits\n"
            "from qingyubiao.config import load_config\n"
            "from qingyubiao.series import SeriesIndex\n"
            "import time\n"
            "if __name__ == '__main__':\n"
            "    p = DecoderProcess(SeriesIndex(load_config()), Limits(4096, 600.0))\n"
            "    print(p.pid, flush=True)\n"
            "    time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(child, 0)  # alive
    parent.kill()
    parent.wait(10)
    parent.stdout.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"decoder process {child} outlived its collector")
