"""Alert state and records survive a restart: nothing fires twice, no pending timer is forgotten."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.manager import AlertManager
from alerts.plan import compile_plan
from alerts.rules import bundled_rules, parse_rules
from ingest.store.sqlite import SqliteStore
from ingest.store.sqlite_alerts import SqliteAlertStore
from qingyubiao.alerting import Silence, State
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex
from tests.alerts.helpers import MIN, NIGHT, batch, feed, of


@pytest.fixture(scope="module")
def plan(village: Config, index: SeriesIndex):
    return compile_plan(village, bundled_rules(), index)


def test_a_pending_timer_survives_a_restart_and_a_firing_alert_does_not_fire_again(
    tmp_path: Path, village, plan, index
):
    db = tmp_path / "qyb.sqlite"
    readings = SqliteStore(db, index)  # the reading store shares the file
    store = SqliteAlertStore(db)
    mgr = AlertManager(village, plan, store)
    out = []
    for i in range(15):  # gh01 tomato below 10 °C at night: pending, fires after 30 minutes
        b = batch(index, [("gh01-air", "air_temp_c", NIGHT + i * MIN, 9.0)])
        readings.write(b)
        out += mgr.handle(b, NIGHT + i * MIN + 1_000)
    for i in range(3):  # and below 3 °C on gh02 (cucumber): emergency, fires at once
        out += feed(mgr, index, "gh02-air", {"air_temp_c": 2.0}, NIGHT + i * MIN)
    assert [t.state for t in of(out, rule="tomato-cold-warning")] == [State.PENDING]
    fired = of(out, rule="cucumber-cold-emergency", state=State.FIRING)
    assert len(fired) == 1
    mgr.acknowledge(fired[0].episode, "li-jianjun", NIGHT + 3 * MIN)
    mgr.silence(Silence("s1", "secretary", "检修", NIGHT, NIGHT + 86_400_000, site="gh05"))
    store.close()

    store2 = SqliteAlertStore(db)
    mgr2 = AlertManager(village, plan, store2)
    assert fired[0].episode in mgr2.active and mgr2.active[fired[0].episode].ack_by == "li-jianjun"
    assert [s.id for s in mgr2.silences] == ["s1"]
    out2 = []
    for i in range(15, 32):
        out2 += feed(mgr2, index, "gh01-air", {"air_temp_c": 9.0}, NIGHT + i * MIN)
        out2 += feed(mgr2, index, "gh02-air", {"air_temp_c": 2.0}, NIGHT + i * MIN)
    warn = of(out2, rule="tomato-cold-warning")
    assert [(t.state, t.ts_ms) for t in warn] == [(State.FIRING, NIGHT + 30 * MIN)]  # the timer kept running
    assert warn[0].episode == of(out, rule="tomato-cold-warning")[0].episode
    assert not of(out2, rule="cucumber-cold-emergency")  # already firing: not again

    # the read side sees episodes and their transitions without the engine
    reader = SqliteAlertStore(db, readonly=True)
    ep = warn[0].episode
    assert [t.state for t in reader.transitions(ep)] == [State.PENDING, State.FIRING]
    active = {e.id: e for e in reader.active_episodes("lijiahe")}
    assert active[ep].state == State.FIRING and active[ep].fired_ms == NIGHT + 30 * MIN
    assert active[fired[0].episode].ack_by == "li-jianjun"
    assert readings.count() == 15
    reader.close()
    store2.close()
    readings.close()


def test_a_snapshot_from_other_rules_is_not_forced_onto_the_engine(tmp_path: Path, village, plan, index):
    db = tmp_path / "a.sqlite"
    store = SqliteAlertStore(db)
    store.record([], [], b"not a snapshot", NIGHT)
    mgr = AlertManager(village, plan, store)  # logs a warning and starts fresh
    assert mgr.status()["firing"] == 0
    store.close()


def test_editing_the_rules_and_restarting_neither_re_pages_nor_keeps_old_numbers(tmp_path: Path, village, index):
    """A technician lowers gh01's night warning to 8 °C and adds a rule, then restarts the collector."""
    db = tmp_path / "qyb.sqlite"
    store = SqliteAlertStore(db)
    mgr = AlertManager(village, compile_plan(village, bundled_rules(), index), store)
    out = []
    for i in range(40):
        out += feed(mgr, index, "gh01-air", {"air_temp_c": 2.5}, NIGHT + i * MIN)  # emergency and warning fire
    assert of(out, rule="tomato-cold-emergency", state=State.FIRING)
    assert of(out, rule="tomato-cold-warning", state=State.FIRING)
    store.close()

    edited = parse_rules(
        """
[[override]]
site = "gh01"
rule = "tomato-cold-warning"
night = 8.0

[[rule]]
id = "gh01-very-cold"
kind = "air_temp_low"
severity = "warning"
metric = "air_temp_c"
when = "below"
day = 4.0
scope = { site = ["gh01"] }
"""
    )
    plan2 = compile_plan(village, bundled_rules().merged(edited), index)
    assert plan2.shape != compile_plan(village, bundled_rules(), index).shape  # the cells moved
    store2 = SqliteAlertStore(db)
    mgr2 = AlertManager(village, plan2, store2)
    out2 = []
    for i in range(40, 45):
        out2 += feed(mgr2, index, "gh01-air", {"air_temp_c": 2.5}, NIGHT + i * MIN)
    assert not of(out2, rule="tomato-cold-emergency") and not of(out2, rule="tomato-cold-warning")  # still firing
    assert [t.state for t in of(out2, rule="gh01-very-cold")] == [State.FIRING]  # the new rule starts fresh
    out2 += feed(mgr2, index, "gh01-air", {"air_temp_c": 9.5}, NIGHT + 45 * MIN)  # back above 8 + 1 °C
    warn = of(out2, rule="tomato-cold-warning")
    assert [t.state for t in warn] == [State.RESOLVED] and warn[0].threshold == 8.0  # the new number, at once
    store2.close()
