"""Valve control on a real Mosquitto with the twin's valve controller: a command passes its interlocks, is
acknowledged, opens the valve, which closes by itself; the irrigation is recorded and every step audited.
A refused command never reaches the device; a controller that never answers, and a valve stuck open, are
alerts to the household and the maintainer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts.valves import MqttValveLink, ValveManager
from ingest.store.sqlite_alerts import SqliteAlertStore
from ingest.store.sqlite_water import SqliteWaterBook
from qingyubiao.config import Config
from qingyubiao.water import ValveRequest
from sensors_sim.valves import Failure, TwinValve
from tests.conftest import Mosquitto
from tests.notify.conftest import notify_config

pytestmark = pytest.mark.slow  # a broker and real time


def config_with_valve(tmp_path: Path, mqtt_url: str, mode: str = "confirm") -> Config:
    def edit(raw: dict[str, Any]) -> None:
        raw["deployment"]["store"]["db"] = str(tmp_path / "qyb.sqlite")
        v = raw["village"][0]
        v["device"].append({"id": "or01-valve", "site": "or01", "metrics": ["bat_v"]})
        v["pump"] = [{"id": "p1", "max_open_valves": 1}]
        for site in v["site"]:
            if site["id"] == "or01":
                site["irrigation"] |= {"valve": "or01-valve", "pump": "p1", "mode": mode}

    return notify_config(mqtt_url=mqtt_url, edit=edit)


@pytest.fixture
def loop(mosquitto: Mosquitto, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    failure: Failure = getattr(request, "param", "none")
    config = config_with_valve(tmp_path, mosquitto.url)
    db = config.deployment.store.db
    book, alerts = SqliteWaterBook(db), SqliteAlertStore(db)
    twin = TwinValve("127.0.0.1", mosquitto.port, "lijiahe", "or01-valve", failure)
    twin.start()
    link = MqttValveLink(config.deployment.mqtt, f"qyb-valves-{uuid.uuid4().hex[:6]}", [("lijiahe", "or01-valve")])
    manager = ValveManager(config, book, link, alerts, ack_timeout_s=1.0, overdue_grace_s=1.0)
    yield {"config": config, "book": book, "alerts": alerts, "twin": twin, "manager": manager}
    link.close()
    twin.stop()
    book.close()
    alerts.close()


def ask(book: SqliteWaterBook, seconds: int, by: str = "li-jianjun") -> ValveRequest:
    r = ValveRequest(f"r-{uuid.uuid4().hex[:8]}", "lijiahe", "or01", seconds, "确认灌溉", by, int(time.time() * 1000))
    book.request(r)
    return r


def run_until(manager: ValveManager, done: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        manager.tick()
        if done():
            return
        time.sleep(0.1)
    raise AssertionError("not reached in time")


def kinds(book: SqliteWaterBook) -> list[str]:
    return [e.kind for e in reversed(book.audit_log("lijiahe", {"or01"}))]


def test_a_command_is_acknowledged_opens_closes_by_itself_and_is_recorded(loop: dict[str, Any]) -> None:
    book, manager, twin = loop["book"], loop["manager"], loop["twin"]
    ask(book, 2)
    run_until(manager, lambda: book.irrigations("lijiahe", "2000-01-01"))
    assert kinds(book) == ["requested", "command", "ack", "state", "state", "irrigated"]
    [opened, closed] = twin.opened_s[0]
    assert 1.8 < closed - opened < 3.0  # the controller's own timer closed it
    [x] = book.irrigations("lijiahe", "2000-01-01")
    assert (x.source, x.by) == ("valve", "li-jianjun") and 0.02 < x.minutes < 0.06
    states = [e.detail["valve"] for e in reversed(book.audit_log("lijiahe", {"or01"})) if e.kind == "state"]
    assert states == ["open", "closed"]
    assert book.pending("lijiahe") == []


def test_a_refused_command_never_reaches_the_valve(loop: dict[str, Any]) -> None:
    book, manager, twin = loop["book"], loop["manager"], loop["twin"]
    book.lock("lijiahe", "or01", "王师傅", "换滴灌带", int(time.time() * 1000))
    ask(book, 60)
    manager.tick()
    refused = [e for e in book.audit_log("lijiahe", {"or01"}) if e.kind == "refused"]
    assert refused and "管路已被 王师傅 锁定" in refused[0].reason and refused[0].detail["code"] == "locked"
    too_long = ask(book, 10 * 24 * 3600)  # ten days
    book.unlock("lijiahe", "or01", "王师傅", int(time.time() * 1000))
    manager.tick()
    refusal = next(e for e in book.audit_log("lijiahe", {"or01"}) if e.detail.get("request") == too_long.id
                   and e.kind == "refused")  # fmt: skip
    assert refusal.detail["code"] == "max_open"
    time.sleep(1.0)
    manager.tick()
    assert twin.opened_s == [] and "command" not in kinds(book)


@pytest.mark.parametrize("loop", ["silent"], indirect=True)
def test_a_controller_that_never_answers_is_an_alert(loop: dict[str, Any]) -> None:
    book, manager, alerts = loop["book"], loop["manager"], loop["alerts"]
    ask(book, 60)
    run_until(manager, lambda: "timeout" in kinds(book))
    faults = [e for e in alerts.active_episodes("lijiahe") if e.kind == "valve_fault"]
    assert {e.audience for e in faults} == {"farmer", "maintainer"}
    assert faults[0].text_zh.startswith("阀门未响应：东沟苹果园的灌溉命令 1 秒内没有回复")


@pytest.mark.parametrize("loop", ["stuck_open"], indirect=True)
def test_a_valve_stuck_open_past_its_end_is_an_alert(loop: dict[str, Any]) -> None:
    book, manager, alerts = loop["book"], loop["manager"], loop["alerts"]
    ask(book, 1)
    run_until(manager, lambda: "overdue" in kinds(book))
    assert kinds(book)[:4] == ["requested", "command", "ack", "state"]
    faults = [e for e in alerts.active_episodes("lijiahe") if e.kind == "valve_fault"]
    assert faults and faults[0].text_zh.startswith("阀门超时未关：东沟苹果园应在")


def test_a_killed_collector_never_leaves_a_valve_open_and_its_audit_is_whole_after_restart(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """`qyb collect` sends a command, is SIGKILLed while the valve is open; the controller closes it at the
    command's end by itself; the restarted collector reads the retained closed state and records it."""
    import signal

    from qingyubiao.config import bundled_config_path
    from tests.conftest import qyb_env, spawn_qyb, wait_for

    text = Path(bundled_config_path()).read_text(encoding="utf-8")
    text = text.replace('irrigation = { soil = "silt_loam", emitter_lph = 4.0, emitters = 22200 }',
                        'irrigation = { soil = "silt_loam", emitter_lph = 4.0, emitters = 22200, valve = "or01-valve", '
                        'mode = "confirm" }', 1)  # fmt: skip
    text += '\n[[village.device]]\nid = "or01-valve"\nsite = "or01"\nmetrics = ["bat_v"]\n'
    config_file = tmp_path / "village.toml"
    config_file.write_text(text, encoding="utf-8")
    db = tmp_path / "qyb.sqlite"
    env = qyb_env(mosquitto, db, client_id="qyb-kill", QYB_AGRONOMY="0")
    twin = TwinValve("127.0.0.1", mosquitto.port, "lijiahe", "or01-valve")
    twin.start()
    book = SqliteWaterBook(db)
    try:
        log = tmp_path / "collect.log"
        proc = spawn_qyb("collect", "--config", str(config_file), env=env, log=log)
        wait_for(lambda: "subscribed to" in log.read_text(), 20, "the collector to subscribe")
        ask(book, 12)  # twelve seconds of water
        wait_for(lambda: twin._open_since is not None, 20, "the valve to open")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_for(lambda: twin.opened_s, 20, "the controller to close by itself")
        [(opened, closed)] = twin.opened_s
        assert 11.0 < closed - opened < 13.5  # at the command's end, with nobody to tell it
        proc = spawn_qyb("collect", "--config", str(config_file), env=env, log=log)
        try:
            wait_for(lambda: "irrigated" in kinds(book), 30, "the restarted collector to record the water")
        finally:
            proc.terminate()
            proc.wait(10)
        seen = kinds(book)
        # the restarted collector learned from the retained state which command the valve carried out
        assert seen[:2] == ["requested", "command"] and "ack" in seen and seen[-2:] == ["state", "irrigated"]
        last = next(e for e in book.audit_log("lijiahe", {"or01"}) if e.kind == "state")
        assert last.detail["valve"] == "closed"
        [x] = book.irrigations("lijiahe", "2000-01-01")
        assert x.source == "valve" and x.minutes == pytest.approx((closed - opened) / 60, abs=0.01)  # its own times
    finally:
        book.close()
        twin.stop()


def test_automatic_mode_waters_a_block_once_a_day_for_the_advised_time(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """The newest day's advice says water is due today: one request by `auto` for the advised drip time (held to
    the block's longest opening), sent through the interlocks and carried out; another pass asks nothing more,
    and a confirm-mode block is never watered by itself."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from ingest.store.sqlite_risks import SqliteRiskBook
    from qingyubiao.risks import DayRisk

    config = config_with_valve(tmp_path, mosquitto.url, mode="automatic")
    db = config.deployment.store.db
    book, alerts, risks = SqliteWaterBook(db), SqliteAlertStore(db), SqliteRiskBook(db)
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    # 0.011 mm at or01's 0.67 mm an hour: a minute of drip
    due = {"days_left": 0, "need_mm": 0.011, "due_mm": 0.011, "drip_hours": 0.0, "depletion_mm": 110.0}
    risks.write_risks([DayRisk("lijiahe", "or01", "irrigation", yesterday, 3, due),
                       DayRisk("lijiahe", "or02", "irrigation", yesterday, 3, due)])  # fmt: skip
    twin = TwinValve("127.0.0.1", mosquitto.port, "lijiahe", "or01-valve")
    twin.start()
    link = MqttValveLink(config.deployment.mqtt, f"qyb-auto-{uuid.uuid4().hex[:6]}", [("lijiahe", "or01-valve")])
    manager = ValveManager(config, book, link, alerts, risks=risks)
    try:
        run_until(manager, lambda: twin._open_since is not None)
        [r] = book.requests_since("lijiahe", 0)
        assert (r.id, r.site, r.by, r.duration_s) == (f"a-or01-{today.isoformat()}", "or01", "auto", 60)
        assert "自动灌溉：根层缺水约 0.011 毫米" in r.reason
        manager._auto_read_ms = 0  # the next reading of the advice, at once
        manager.tick()
        assert len(book.requests_since("lijiahe", 0)) == 1  # once a day, also after a restart (the id is the day)
        assert kinds(book)[:3] == ["requested", "command", "ack"]
    finally:
        link.close()
        twin.stop()
        for x in (book, alerts, risks):
            x.close()
