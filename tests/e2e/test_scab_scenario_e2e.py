"""The twin's scab scenario end to end, every part real and every part a process: `qyb sim --scenario
scab-infection --on <the newest complete village day>` publishes to real mosquitto, `qyb collect` stores it,
runs the agronomy models and pages or01's owner by SMS through a local SMS gateway that records the exact
request; `qyb api` serves the owner's phone page, read in headless Chromium.

The scenario is dated 20 April 2026; only the newest complete village day pages (docs/design.md "Agronomy
models"), so it is played on that day (`Scenario.moved_to`). Its readings reach the collector after that day
has ended, as a backfill does; the running collector computed that day when it started (no data yet) and
would fold the backfill in at its next hourly rerun, so the test restarts it instead of waiting up to an
hour: the restarted collector runs the season from 1 January on what it stored, and pages.
(tests/e2e/test_scab_alert.py is the in-process sibling: a hand-built wet day, the biofix, the overview.)"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alerts.agronomy import RERUN_MS, last_complete_day
from api.users import UserStore
from qingyubiao.config import Config, Village, bundled_config_path, load_config
from sensors_sim.scenario import Scenario, load
from tests.api.test_browser import LAUNCH_ARGS, phone_context
from tests.conftest import Mosquitto, free_port, need, qyb, qyb_env, spawn_qyb, wait_for
from tests.notify.conftest import SMS_KEY, Receiver, Request

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]
V = "/api/v1/villages/lijiahe"
SEED = 1
# Twin, publish and store of the scenario, with room for a loaded machine: the collector that stores it must
# not cross an hour (its hourly rerun would page a half-stored day) or the day's end while it does.
STORE_BUDGET_S = 120  # it takes 15 s on an idle machine


@pytest.fixture
def sms_gateway() -> Iterator[Receiver]:
    receiver = Receiver(reply=b'{"code":"OK"}')
    receiver.start()
    yield receiver
    receiver.stop()


def write_config(path: Path, scenario: Scenario, sms: Receiver, public_url: str) -> Config:
    """The bundled 李家河村 with the scenario's growth stages and notifications to the local SMS gateway; the
    orchard's lead (李红旗, of the co-operative that owns or01) takes the phone page and SMS."""
    text = Path(bundled_config_path()).read_text(encoding="utf-8")
    for site, stage in scenario.stage.items():
        text, n = re.subn(rf'(\[\[village\.site\]\]\nid = "{site}"\n(?:[^\[\n].*\n)*?stage = )"\w+"',
                          rf'\1"{stage}"', text, count=1)  # fmt: skip
        assert n == 1, site
    text += f"""
[deployment.notify]
public_url = "{public_url}"
ack_secret = "scab-e2e-ack-secret"
group_wait_s = 0

[deployment.notify.sms]
url = "{sms.url}/sms/send"
api_key = "{SMS_KEY}"
sign_name = "李家河村委"
template = "SMS_123456"

[deployment.notify.person.orchard-lead]
channels = ["app", "sms"]
"""
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def owner_of(config: Config, site: str) -> tuple[str, str, str]:
    """(person id, name, phone) of the farmer whose household owns the site."""
    village = config.village[0]
    household = next(s.owner for s in village.site if s.id == site)
    [person] = [p for p in village.person if p.household == household and p.role == "farmer"]
    assert person.phone is not None
    return person.id, person.name, person.phone


def wait_for_a_calm_stretch(village: Village, seconds: float) -> None:
    """Wait until the next `seconds` cross neither the collector's hourly rerun nor the end of a village day
    (its grace included), so the newest complete day and the collector's computing of it hold still."""

    def marks(ms: int) -> tuple[int, object]:
        return ms // RERUN_MS, last_complete_day(village, ms)

    while marks(now := int(time.time() * 1000)) != marks(now + int(seconds * 1000)):
        time.sleep(5)


def measurements(db: Path) -> tuple[int, float]:
    """How many metric values are stored (the health values, battery and radio, left out: what the twin
    counts), and the newest one's time (epoch seconds)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        n, newest = conn.execute(
            "SELECT count(*), max(r.ts) FROM reading r JOIN series s ON s.id = r.series"
            " WHERE s.metric NOT IN ('bat_v', 'rssi_dbm', 'snr_db')"
        ).fetchone()
    return int(n), (newest or 0) / 1000


def dead_letters(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT reason, detail FROM dead_letter").fetchall()


def risk_rows(db: Path, site: str, model: str, day: str) -> list[tuple[int, str]]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute(
                "SELECT risk, detail FROM agronomy_risk WHERE site=? AND model=? AND day=?", (site, model, day)
            ).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


def test_the_twins_scab_scenario_pages_the_owner_by_sms_and_shows_on_the_phone(
    mosquitto: Mosquitto, sms_gateway: Receiver, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = need("chromium")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    scenario = load("scab-infection")
    config = write_config(tmp_path / "lijiahe.toml", scenario, sms_gateway, base)
    village = config.village[0]
    assert next(s.stage for s in village.site if s.id == "or01") == scenario.stage["or01"] == "full_bloom"
    owner, owner_name, phone = owner_of(config, "or01")
    assert (owner, owner_name) == ("orchard-lead", "李红旗")
    db = tmp_path / "qyb.sqlite"
    env = qyb_env(mosquitto, db, client_id="qyb-scab-e2e")
    cfg = ("--config", str(tmp_path / "lijiahe.toml"))
    log = tmp_path / "collect.log"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        wait_for_a_calm_stretch(village, STORE_BUDGET_S)
        day = last_complete_day(village, int(time.time() * 1000))
        moved = scenario.moved_to(day)
        [expected] = [e for e in moved.expect_risk if e.site == "or01" and e.model == "apple_scab"]
        assert expected.day == day.isoformat() and expected.risk == "high"

        collector = spawn_qyb("collect", *cfg, env=env, log=log)
        procs.append(collector)
        wait_for(lambda: "subscribed to" in log.read_text(), 30, "the collector to subscribe")
        # its first pass computes the newest complete day, with nothing stored yet: no data, no alert
        wait_for(lambda: risk_rows(db, "or01", "apple_scab", day.isoformat()), 30, "the first pass of the models")
        [(risk, _)] = risk_rows(db, "or01", "apple_scab", day.isoformat())
        assert risk < 2  # below moderate (none, unknown or no data): nothing to page

        t0 = time.time()
        sim = qyb("sim", *cfg, "--scenario", "scab-infection", "--on", day.isoformat(), "--seed", str(SEED),
                  env=env)  # fmt: skip
        t1 = time.time()
        assert f"scenario scab-infection on {day.isoformat()}" in sim.stdout, sim.stdout
        published = int(sim.stdout.split("published ")[1].split()[0])
        cut = "stopped at now" in sim.stdout  # run before the scenario's second day ended: nothing from the future
        assert cut == (moved.end_s > t0), sim.stdout
        wait_for(lambda: measurements(db)[0] >= published, 120, f"{published} readings stored", interval=1.0)
        n, newest = measurements(db)
        assert n == published  # every reading the twin sent, once
        assert dead_letters(db) == []  # none refused: no reading from the future, none malformed
        assert newest <= t1 and (newest > t0 - 600 if cut else newest < moved.end_s)
        # the running collector computed the day before its readings came, and folds them in only at its next
        # hourly rerun: no scab message yet
        assert not [r for r in sms_gateway.requests if "黑星病" in r.json()["params"]["text"]]

        # restarted, the collector runs the season again on what it stored: the day's scab infection pages
        stop(collector)
        procs.remove(collector)
        procs.append(spawn_qyb("collect", *cfg, env=env, log=log))

        def to_owner() -> list[Request]:
            return [
                r for r in sms_gateway.requests if r.json()["phone"] == phone and "黑星病" in r.json()["params"]["text"]
            ]

        wait_for(to_owner, 60, "the scab SMS to or01's owner", interval=0.5)
        time.sleep(2)  # anything else on its way (a second copy would fail below)
        [sms] = to_owner()
        text = sms.json()["params"]["text"]
        # the exact request the gateway gets (docs/notifications.md "SMS")
        assert (sms.method, sms.path, sms.status) == ("POST", "/sms/send", 200)
        assert sms.headers["Authorization"] == f"Bearer {SMS_KEY}"
        assert sms.json() == {"phone": phone, "sign_name": "李家河村委", "template": "SMS_123456",
                              "params": {"text": text}}  # fmt: skip
        # what, why and what to do, with the numbers the collector stored for the day
        [(risk, detail_json)] = risk_rows(db, "or01", "apple_scab", day.isoformat())
        detail = json.loads(detail_json)
        assert risk == 3, detail  # high
        assert 15 <= detail["wet_h"] <= 19 and 12.0 <= detail["mean_c"] <= 14.0, detail
        assert "东沟苹果园" in text and "【严重】" in text, text
        assert f"苹果黑星病侵染风险高：叶面湿润 {detail['wet_h']:.0f} 小时，平均 {detail['mean_c']}℃" in text, text
        assert "建议 48 小时内喷施有治疗作用的杀菌剂" in text, text
        assert f"{base}/a/" in text  # the one-tap acknowledgement link

        # the owner's phone page, from `qyb api`
        procs.append(spawn_qyb("api", *cfg, "--port", str(port), env=env, log=tmp_path / "api.log"))
        users = UserStore(db, config)
        token = users.issue("lijiahe", owner)
        users.close()
        wait_for(lambda: _answers(f"{base}/healthz"), 30, "qyb api")
        risks = httpx.get(f"{base}{V}/risks", headers={"Authorization": f"Bearer {token}"}).json()
        [scab] = [r for r in risks if r["site"] == "or01" and r["model"] == "apple_scab"]
        assert (scab["day"], scab["risk_zh"]) == (day.isoformat(), "高")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
            try:
                page = phone_context(browser).new_page()
                page.goto(f"{base}/#token={token}")
                card = page.locator("#site-or01")
                expect(card).to_contain_text("东沟苹果园", timeout=15_000)
                chip = card.locator(".risks li[data-model=apple_scab]")
                expect(chip).to_have_text(f"苹果黑星病风险：高（{day.isoformat()}）")
                expect(chip).to_have_attribute("data-risk", "3")
                alert = card.locator(".alerts li[data-severity=critical]")
                expect(alert).to_contain_text(f"叶面湿润 {detail['wet_h']:.0f} 小时，平均 {detail['mean_c']}℃")
            finally:
                browser.close()
    finally:
        for proc in reversed(procs):
            stop(proc)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
