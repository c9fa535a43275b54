"""mqtts:// and https:// with the village's own CA, made by `qyb broker tls` in the test (issue 16).

The real Mosquitto serves TLS with the server certificate; `qyb collect` and `qyb sim` verify it against
QYB_MQTT_CA_FILE, and with `require_certificate` the collector shows its own certificate (QYB_MQTT_CERT_FILE,
QYB_MQTT_KEY_FILE). An expired server certificate is said in words and the collector goes on trying; the API
serves https:// with the same CA's certificate. (A CA that did not sign the broker's certificate:
tests/e2e/test_visible_failures.py.)
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest.health import Part
from qingyubiao.config import load_config
from qyb.system import build_collector
from tests.conftest import Mosquitto, free_port, need, qyb, running_collector, spawn_qyb, wait_for, wait_port

pytestmark = pytest.mark.slow


def plain_env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | extra


def make_tls(folder: Path, *extra: str) -> Path:
    qyb("broker", "tls", "--out", str(folder), "--host", "localhost", "--host", "127.0.0.1", *extra, env=plain_env())
    return folder


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    return make_tls(tmp_path / "tls", "--client", "qyb-collector")


def tls_broker(folder: Path, certs: Path, require_certificate: bool = False) -> tuple[Mosquitto, int]:
    broker = Mosquitto(need("mosquitto"), folder)
    port = free_port()
    conf = (certs / "mosquitto-tls.conf").read_text().replace("listener 8883", f"listener {port} 127.0.0.1")
    if require_certificate:
        conf = conf.replace("# require_certificate true", "require_certificate true\n#")
    broker.tuning += "\n" + conf
    broker.start()
    wait_port(port)
    return broker, port


@pytest.fixture
def broker(tmp_path: Path, certs: Path) -> Iterator[tuple[Mosquitto, int]]:
    broker, port = tls_broker(tmp_path / "mosquitto", certs)
    yield broker, port
    broker.stop()


def tls_env(port: int, certs: Path, tmp_path: Path) -> dict[str, str]:
    return {"QYB_MQTT_URL": f"mqtts://127.0.0.1:{port}", "QYB_MQTT_CA_FILE": str(certs / "ca.crt"),
            "QYB_DB": str(tmp_path / "qyb.sqlite"), "QYB_METRICS_PORT": "0"}  # fmt: skip


def count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM reading").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_mqtts_end_to_end_the_simulator_and_the_collector_verify_the_village_ca(
    broker: tuple[Mosquitto, int], certs: Path, tmp_path: Path
) -> None:
    _, port = broker
    db, log = tmp_path / "qyb.sqlite", tmp_path / "collect.log"
    env = plain_env(QYB_MQTT_URL=f"mqtts://localhost:{port}", QYB_MQTT_CA_FILE=str(certs / "ca.crt"),
                    QYB_DB=str(db), QYB_METRICS_PORT="0")  # fmt: skip
    collector = spawn_qyb("collect", env=env, log=log)
    try:
        wait_for(lambda: "subscribed to" in log.read_text(), 20, "the collector to subscribe over TLS")
        qyb("sim", "--count", "400", env=env)
        wait_for(lambda: count(db) >= 400, 60, "400 readings stored", interval=0.3)
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(20)
    assert count(db) == 400
    assert "plain text" not in log.read_text()


def test_a_broker_that_asks_for_client_certificates_takes_the_collector_s(certs: Path, tmp_path: Path) -> None:
    broker, port = tls_broker(tmp_path / "mosquitto", certs, require_certificate=True)
    base = tls_env(port, certs, tmp_path)
    mine = {"QYB_MQTT_CERT_FILE": str(certs / "qyb-collector.crt"),
            "QYB_MQTT_KEY_FILE": str(certs / "qyb-collector.key")}  # fmt: skip
    try:
        with running_collector(load_config(env=base | mine)) as system:
            assert system.collector.subscribed.wait(15), "the collector with its certificate"
        with running_collector(load_config(env=base)) as system:  # without: hung up on, said, tried again
            health = system.collector.health
            wait_for(health.problems, 20, "the refusal said")
            (problem,) = health.problems()
            assert "asks for a client certificate: set QYB_MQTT_CERT_FILE" in problem.detail
            assert not system.collector.connected.is_set()
    finally:
        broker.stop()
    with pytest.raises(ValueError, match="needs its key"):
        load_config(env=base | {"QYB_MQTT_CERT_FILE": mine["QYB_MQTT_CERT_FILE"]})


# paho 2.x leaves the socket of a failed TLS handshake to the garbage collector (see test_visible_failures.py)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_expired_server_certificate_is_said_and_the_collector_keeps_trying(certs: Path, tmp_path: Path) -> None:
    make_tls(certs, "--days", "-1")  # the same CA, a server certificate that ended yesterday
    broker, port = tls_broker(tmp_path / "mosquitto", certs)
    log = broker.folder / "mosquitto.log"
    try:
        with running_collector(load_config(env=tls_env(port, certs, tmp_path))) as system:
            health = system.collector.health
            wait_for(health.problems, 15, "the broker problem")
            (problem,) = health.problems()
            assert problem.part is Part.BROKER
            assert "not trusted (certificate has expired); renew the broker's certificate" in problem.detail
            tries = log.read_text().count("New connection from")
            wait_for(lambda: log.read_text().count("New connection from") > tries + 1, 60, "more tries")
            make_tls(certs)  # renewed; the broker loads it on restart, and the collector gets through by itself
            broker.restart()
            wait_port(port)
            assert system.collector.subscribed.wait(45), "the collector reconnects once the certificate is valid"
            assert not health.problems()
    finally:
        broker.stop()


def test_the_api_serves_https_with_the_village_certificate(certs: Path, tmp_path: Path) -> None:
    port = free_port()
    env = plain_env(QYB_DB=str(tmp_path / "qyb.sqlite"), QYB_API_CERT_FILE=str(certs / "server.crt"),
                    QYB_API_KEY_FILE=str(certs / "server.key"))  # fmt: skip
    api = spawn_qyb("api", "--port", str(port), env=env, log=tmp_path / "api.log")
    try:
        wait_port(port, 30)
        village_ca = ssl.create_default_context(cafile=certs / "ca.crt")
        answer = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=village_ca)
        assert answer.status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/healthz")  # not a CA the system knows
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"http://127.0.0.1:{port}/healthz")  # no plain HTTP beside it
    finally:
        api.terminate()
        api.wait(15)
    assert f"API on https://127.0.0.1:{port}/" in (tmp_path / "api.log").read_text()


def test_plain_text_to_another_machine_is_warned_at_start(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    env = {"QYB_MQTT_URL": "mqtt://192.0.2.10:1883", "QYB_DB": str(tmp_path / "qyb.sqlite"), "QYB_METRICS_PORT": "0"}
    system = build_collector(load_config(env=env))  # 192.0.2.0/24: documentation addresses, never routed
    with caplog.at_level(logging.WARNING):
        system.collector.start()
    system.close()
    assert "MQTT to 192.0.2.10:1883 is plain text" in caplog.text
    caplog.clear()
    local = build_collector(load_config(env=env | {"QYB_MQTT_URL": "mqtt://127.0.0.1:1883"}))
    with caplog.at_level(logging.WARNING):
        local.collector.start()
    local.close()
    assert "plain text" not in caplog.text
