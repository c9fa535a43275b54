"""`qyb broker credentials` on a real Mosquitto started with the files it writes (issue 16).

A device may publish only its own uplink and status and read only its own commands; a stranger cannot log in;
only the notifier may publish alerts and loudspeaker text; the collector, the notifier and the API's health
check each log in as themselves, from the env files the command writes. What the broker refuses never reaches a
subscriber: each test publishes a marker after the refused messages, on the same connection, and looks at what
arrived before it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from alerts.notify.channels.mqtt import MqttLink
from qingyubiao import topics
from qingyubiao.broker_auth import BROKER_CONF, broker_users, read_passwd
from qingyubiao.config import Config, load_config
from tests.conftest import Mosquitto, need, qyb, running_collector, wait_for

pytestmark = pytest.mark.slow

V = "lijiahe"
NOT_AUTHORIZED = 135  # MQTT 5 reason code, in CONNACK and PUBACK


@dataclass
class Login:
    """One MQTT 5 connection as a broker user; what the broker answered and what it delivered."""

    port: int
    user: str
    password: str
    connack: ReasonCode | None = None
    acks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: dict[int, list[ReasonCode]] = field(default_factory=dict)
    got: list[tuple[str, bytes, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.answered = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{self.user}-{uuid.uuid4().hex[:6]}",
                                  protocol=mqtt.MQTTv5)  # fmt: skip
        self.client.username_pw_set(self.user, self.password)
        self.client.on_connect = self._on_connect
        self.client.on_publish = lambda _c, _u, mid, rc, _p: self.acks.__setitem__(mid, rc)
        self.client.on_subscribe = lambda _c, _u, mid, rcs, _p: self.subacks.__setitem__(mid, rcs)
        self.client.on_message = lambda _c, _u, m: self.got.append((m.topic, bytes(m.payload), bool(m.retain)))
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self.answered.wait(10), f"no CONNACK for {self.user}"

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        self.connack = rc
        self.answered.set()
        if rc.is_failure:
            self.client.disconnect()  # no reconnect loop against a refusal

    @property
    def refused(self) -> bool:
        return self.connack is not None and self.connack.value == NOT_AUTHORIZED

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        """The PUBACK's reason code: 0 or 16 (no subscribers) accepted, 135 refused."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        wait_for(lambda: info.mid in self.acks, 10, f"the PUBACK of {topic}")
        return int(self.acks[info.mid].value)

    def subscribe(self, topic: str) -> int:
        """The SUBACK's reason code (1: granted QoS 1)."""
        _, mid = self.client.subscribe(topic, qos=1)
        assert mid is not None
        wait_for(lambda: mid in self.subacks, 10, f"the SUBACK of {topic}")
        return int(self.subacks[mid][0].value)

    def topics_until(self, marker: bytes) -> list[str]:
        wait_for(lambda: any(p == marker for _, p, _ in self.got), 10, f"the marker {marker!r}")
        return [t for t, p, _ in self.got if p != marker]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class Broker:
    mosquitto: Mosquitto
    folder: Path
    passwords: dict[str, str]  # devices, gateways and ChirpStack: as printed, once

    def env_file(self, name: str) -> dict[str, str]:
        return dict(line.split("=", 1) for line in (self.folder / name).read_text().splitlines())

    def login(self, user: str, password: str | None = None) -> Login:
        return Login(self.mosquitto.port, user, self.passwords[user] if password is None else password)

    def accepts(self, user: str, password: str | None = None) -> bool:
        login = self.login(user, password)
        login.close()
        return not login.refused

    def service(self, env_file: str, prefix: str = "QYB_MQTT_") -> Login:
        env = self.env_file(env_file)
        return Login(self.mosquitto.port, env[f"{prefix}USERNAME"], env[f"{prefix}PASSWORD"])


def plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QYB_")}


def issued(stdout: str) -> dict[str, str]:
    rows = [line.split("\t") for line in stdout.splitlines()]
    return {user: password for user, password, _kind in rows}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / "broker"
    out = qyb("broker", "credentials", "--out", str(folder), env=plain_env())
    auth = (folder / BROKER_CONF).read_text()
    assert "allow_anonymous false" in auth
    mosquitto = Mosquitto(need("mosquitto"), tmp_path / "mosquitto", auth=auth)
    mosquitto.start()
    yield Broker(mosquitto, folder, issued(out.stdout))
    mosquitto.stop()


def test_every_device_gateway_and_service_gets_a_user_and_no_one_else(broker: Broker, village: Config) -> None:
    devices = [d for d in village.village[0].device]
    assert set(broker.passwords) == (
        {d.id for d in devices if d.dev_eui is None} | {"gw-east", "gw-west"} | {f"chirpstack-{V}"}
    )  # the LoRaWAN nodes reach the broker through ChirpStack only
    users = set(read_passwd(broker.folder / "passwd"))
    assert users == set(broker.passwords) | {"qyb-collector", "qyb-notify", "qyb-api"}
    assert {u.name for u in broker_users(village)} == users
    assert oct((broker.folder / "collector.env").stat().st_mode & 0o777) == "0o600"  # service passwords


def test_a_device_publishes_only_as_itself_and_only_the_notifier_raises_alerts(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "qyb.sqlite"
    env = {"QYB_MQTT_URL": broker.mosquitto.url, "QYB_DB": str(db), "QYB_METRICS_PORT": "0"}
    config = load_config(env=env | broker.env_file("collector.env"))
    # the collector and its dispatcher, logged in as themselves
    with running_collector(config) as system, closing(broker.service("collector.env")) as watch, \
            closing(broker.login("gh03-air")) as gh03:  # fmt: skip
        assert system.collector.subscribed.wait(15), "the collector logs in with collector.env"
        assert watch.subscribe("qyb/#") == 1
        assert gh03.subscribe(topics.device_cmd(V, "gh03-air")) == 1
        # Mosquitto 2.0 grants any subscription and checks each message against the ACL as it delivers it
        gh03.subscribe(topics.device_cmd(V, "gh04-air"))
        gh03.subscribe("qyb/#")
        reading = b'{"ts": %d, "m": {"air_temp_c": 21.5}}' % int(time.time() - 60)
        assert gh03.publish(topics.device_up(V, "gh03-air"), reading) in (0, 16)
        assert gh03.publish(topics.device_status(V, "gh03-air"), b"online", retain=True) in (0, 16)
        # on its own topic, but naming another device: the broker lets it through, the collector refuses it
        posing = b'{"dev": "gh04-air", "m": {"air_temp_c": -9.0}}'
        assert gh03.publish(topics.device_up(V, "gh03-air"), posing) in (0, 16)
        refused = [
            topics.device_up(V, "gh04-air"),
            topics.gateway_up(V, "gw-east"),
            topics.alerts(V),
            topics.broadcast(V),
            topics.device_status(V, "gh04-air"),
            topics.device_cmd(V, "gh04-air"),
        ]
        for topic in refused:
            assert gh03.publish(topic, b'{"m": {"air_temp_c": -9.0}}') == NOT_AUTHORIZED, topic
        # another device may not set gh03-air's retained status either
        gh04 = broker.login("gh04-air")
        assert gh04.publish(topics.device_status(V, "gh03-air"), b"offline", retain=True) == NOT_AUTHORIZED
        # the collector may command a valve, but not raise an alert; the notifier may
        collector = broker.service("collector.env")
        assert collector.publish(topics.device_cmd(V, "gh03-air"), b'{"valve": "open"}') in (0, 16)
        assert collector.publish(topics.device_cmd(V, "gh04-air"), b'{"valve": "open"}') in (0, 16)
        assert collector.publish(topics.alerts(V), b'{"fake": true}') == NOT_AUTHORIZED
        notifier = MqttLink(config.deployment.mqtt.for_notifier(), "t-notify")
        outcome = notifier.publish(topics.alerts(V), b'{"rule": "frost"}')
        notifier.close()
        assert outcome.ok, outcome.detail
        assert gh03.publish(topics.device_up(V, "gh03-air"), b"marker") in (0, 16)
        delivered = watch.topics_until(b"marker")
        assert sorted(delivered) == sorted([topics.device_up(V, "gh03-air"), topics.device_up(V, "gh03-air"),
                                            topics.device_status(V, "gh03-air"),
                                            topics.device_cmd(V, "gh03-air"), topics.device_cmd(V, "gh04-air"),
                                            topics.alerts(V)])  # fmt: skip
        # its own commands only (once per matching subscription: it asked for qyb/# as well)
        assert {t for t, _, _ in gh03.got} == {topics.device_cmd(V, "gh03-air")}
        late = broker.login("qyb-collector", broker.env_file("collector.env")["QYB_MQTT_PASSWORD"])
        assert late.subscribe(topics.device_status(V, "gh03-air")) == 1
        wait_for(lambda: late.got, 10, "the retained status")
        assert late.got == [(topics.device_status(V, "gh03-air"), b"online", True)]
        for c in (gh04, collector, late):
            c.close()

        def stored() -> list[tuple[str, str]]:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                return conn.execute(
                    "SELECT s.device, s.metric FROM reading r JOIN series s ON s.id = r.series"
                ).fetchall()

        wait_for(lambda: db.exists() and ("gh03-air", "air_temp_c") in stored(), 20, "gh03-air's reading stored")
        assert {d for d, _ in stored()} == {"gh03-air"}
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            letters = conn.execute("SELECT reason, device, payload FROM dead_letter ORDER BY id").fetchall()
            counted = dict(conn.execute("SELECT reason, n FROM reject_count").fetchall())
        assert ("foreign_device", "gh03-air", posing) in letters and counted["foreign_device"] == 1


def test_strangers_wrong_passwords_and_the_api_health_login(broker: Broker) -> None:
    assert not broker.accepts("stranger", "guess")
    assert not broker.accepts("gh03-air", broker.passwords["gh04-air"])
    assert not broker.accepts("", "")  # anonymous
    api = broker.service("api.env")
    assert not api.refused
    assert api.subscribe("$SYS/broker/uptime") == 1  # the API's health check: the broker is up
    wait_for(lambda: api.got, 20, "the broker's uptime")
    assert api.publish(topics.device_up(V, "gh03-air"), b'{"m": {"air_temp_c": 1}}') == NOT_AUTHORIZED
    api.close()


def test_rotating_one_password_leaves_the_others_alone(broker: Broker) -> None:
    before = read_passwd(broker.folder / "passwd")
    env_before = {n: (broker.folder / n).read_text() for n in ("collector.env", "api.env")}
    again = qyb("broker", "credentials", "--out", str(broker.folder), env=plain_env())
    assert again.stdout == "" and "0 new passwords" in again.stderr  # a re-run changes nothing
    out = qyb("broker", "credentials", "--out", str(broker.folder), "--rotate", "gh03-air", env=plain_env())
    fresh = issued(out.stdout)
    assert list(fresh) == ["gh03-air"] and fresh["gh03-air"] != broker.passwords["gh03-air"]
    after = read_passwd(broker.folder / "passwd")
    assert {u for u in after if after[u] != before[u]} == {"gh03-air"}
    assert {n: (broker.folder / n).read_text() for n in env_before} == env_before
    assert broker.mosquitto.proc is not None
    broker.mosquitto.proc.send_signal(signal.SIGHUP)  # `systemctl reload mosquitto`
    wait_for(lambda: not broker.accepts("gh03-air"), 10, "the old password refused after the reload")
    assert broker.accepts("gh03-air", fresh["gh03-air"])
    assert broker.accepts("gh04-air")  # its password still works
    assert broker.accepts("qyb-collector", broker.env_file("collector.env")["QYB_MQTT_PASSWORD"])
    unknown = qyb("broker", "credentials", "--out", str(broker.folder), "--rotate", "gh99", env=plain_env(),
                  check=False)  # fmt: skip
    assert unknown.returncode == 2 and "no broker user 'gh99'" in unknown.stderr


def test_a_collector_with_a_wrong_password_says_so_and_keeps_trying(broker: Broker, tmp_path: Path) -> None:
    env = {"QYB_MQTT_URL": broker.mosquitto.url, "QYB_DB": str(tmp_path / "qyb.sqlite"), "QYB_METRICS_PORT": "0"}
    wrong = broker.env_file("collector.env") | {"QYB_MQTT_PASSWORD": "an-old-password"}
    with running_collector(load_config(env=env | wrong)) as system:

        def said() -> str:
            return " ".join(p.detail for p in system.collector.health.problems())

        wait_for(lambda: "Not authorized" in said(), 15, "the refusal in the collector's health")
        assert "as qyb-collector" in said() and "QYB_MQTT_PASSWORD" in said()
        log = broker.mosquitto.folder / "mosquitto.log"
        tries = log.read_text().count("not authorised")
        wait_for(lambda: log.read_text().count("not authorised") > tries, 40, "another try")  # still retrying
