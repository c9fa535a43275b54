"""`qyb alerts silence` and `qyb alerts ack` write to the database the running collector reads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from alerts.manager import SILENCE_REFRESH_MS, AlertManager
from alerts.plan import compile_plan
from alerts.rules import bundled_rules
from ingest.store.sqlite_alerts import SqliteAlertStore
from qingyubiao.alerting import State
from qyb.cli import main
from tests.alerts.helpers import MIN, NIGHT, feed, of


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "qyb.sqlite"
    monkeypatch.setenv("QYB_DB", str(path))
    return path


def test_a_silence_set_from_the_command_line_reaches_the_running_manager(db, village, index, capsys):
    store = SqliteAlertStore(db)
    mgr = AlertManager(village, compile_plan(village, bundled_rules(), index), store)
    start = int(time.time() * 1000)
    mgr.tick(start)
    rc = main(["alerts", "silence", "--site", "gh01", "--for", "1h", "--reason", "修棚膜", "--by", "secretary"])
    assert rc == 0 and "silence" in capsys.readouterr().out
    (silence,) = SqliteAlertStore(db, readonly=True).silences()
    assert silence.site == "gh01" and silence.end_ms - silence.start_ms == 3_600_000 and silence.reason == "修棚膜"
    t0 = start + SILENCE_REFRESH_MS
    mgr.tick(t0)  # the collector ticks every 5 s and re-reads silences every 30 s
    out = []
    for i in range(2):
        out += feed(mgr, index, "gh01-air", {"air_temp_c": 1.0}, t0 + i * MIN)
        out += feed(mgr, index, "gh02-air", {"air_temp_c": 1.0}, t0 + i * MIN)
    gh02 = of(out, site="gh02", state=State.FIRING)
    assert gh02 and all(t.pages for t in gh02)  # live, not silenced
    fired = of(out, site="gh01", state=State.FIRING)
    assert fired and all(t.silenced_by == silence.id and not t.pages and not t.late for t in fired)
    store.close()


def test_acknowledge_from_the_command_line_and_it_outlives_the_resolution(db, village, index, capsys):
    store = SqliteAlertStore(db)
    mgr = AlertManager(village, compile_plan(village, bundled_rules(), index), store)
    (fired,) = of(feed(mgr, index, "gh01-air", {"air_temp_c": 1.0}, NIGHT), rule="tomato-cold-emergency")
    assert main(["alerts", "ack", fired.episode, "--by", "li-jianjun"]) == 0
    assert main(["alerts", "ack", "no-such-episode", "--by", "li-jianjun"]) == 1
    capsys.readouterr()
    for i in range(1, 4):
        feed(mgr, index, "gh01-air", {"air_temp_c": 15.0}, NIGHT + i * MIN)  # warm again: resolved
    (ep,) = [e for e in SqliteAlertStore(db, readonly=True).episodes(NIGHT - 1) if e.id == fired.episode]
    assert ep.state == State.RESOLVED and ep.ack_by == "li-jianjun" and ep.ended_ms == NIGHT + MIN
    store.close()
