"""Failures nobody used to see: a full disk and an untrusted broker certificate are said at once — an ERROR
line naming the cause, `qyb_problem{part, detail}` on the collector's /metrics (which the overview's red
banner reads, api/routes/problems.py), a maintainer alert where one can still be queued — and they end
visibly too. Real mosquitto (a TLS listener with certificates made by openssl), a real full filesystem
(a 1 MiB tmpfs: mounting needs root, as CI runs), the real collector, a local webhook receiver."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from prometheus_client import generate_latest

from api.routes.problems import parse_problems
from qingyubiao.health import Part
from qyb.system import build_collector
from tests.conftest import Mosquitto, free_port, need, wait_for
from tests.e2e.test_no_loss import count
from tests.notify.conftest import Receiver, notify_config, receivers  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it

V = "lijiahe"


def metrics_text(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    # 4 MiB: after the filler goes, the 800 held readings, their rollups, WAL and alerts must fit
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def publish(port: int, n: int, start_s: float, client_id: str) -> None:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    for k in range(n):
        body = {"ts": start_s + k * 60, "m": {"air_temp_c": 20.0 + k % 7, "air_rh_pct": 60.0}}
        pub.publish(f"qyb/{V}/gh01-air/up", json.dumps(body), qos=1).wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()


def test_a_full_disk_is_said_at_once_shown_paged_and_ends_with_nothing_lost(
    mosquitto: Mosquitto,
    small_disk: Path,
    receivers: dict[str, Receiver],  # noqa: F811  (the fixture imported above)
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    db = small_disk / "qyb.sqlite"

    def edit(raw: dict[str, Any]) -> None:
        raw["deployment"]["store"]["db"] = str(db)
        raw["deployment"]["mqtt"]["client_id"] = "collector-full-disk"
        raw["deployment"]["metrics_port"] = 0
        raw["deployment"].setdefault("ingest", {})["page_after_s"] = 1

    config = notify_config(receivers, mqtt_url=f"mqtt://127.0.0.1:{mosquitto.port}", edit=edit, group_wait_s=0)
    system = build_collector(config)
    collector = system.collector
    stop = threading.Event()
    runner = threading.Thread(target=system.run, args=(stop,), daemon=True)
    runner.start()
    t0 = time.time() - 86_400
    text = lambda: caplog.text  # noqa: E731
    try:
        wait_for(lambda: "subscribed to" in text(), 20, "the collector to subscribe")
        publish(mosquitto.port, 20, t0, "dev-before")
        wait_for(lambda: count(db) == 40, 20, "the first readings stored")
        filler = small_disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)  # until ENOSPC
        publish(mosquitto.port, 400, t0 + 20 * 60, "dev-during")  # the broker acknowledges; the disk cannot take them
        failed_at = time.monotonic()
        wait_for(lambda: "cannot be written to the database" in text(), 10, "the ERROR line")
        said_after = time.monotonic() - failed_at
        problems = parse_problems(generate_latest(collector.metrics.registry).decode())
        assert [p.part for p in problems] == [Part.STORE]
        assert "full" in problems[0].detail, problems[0].detail  # sqlite3: "database or disk is full"
        assert "数据写不进数据库" in problems[0].text_zh
        # the outbox shares the full disk: the page goes around it, from memory, to the maintainers' channels
        wait_for(lambda: _maintainer_alerts(receivers["webhook"], "store_failing"), 10, "the page, a second later")
        (alert,) = _maintainer_alerts(receivers["webhook"], "store_failing")
        assert alert["state"] == "firing" and alert["severity"] == "critical"
        assert "数据写不进数据库" in alert["text_zh"]
        wait_for(lambda: receivers["sms"].requests, 10, "the technician's SMS")
        filler.unlink()
        wait_for(lambda: count(db) == 840, 60, "every reading stored once the disk has room")
        wait_for(lambda: "the store works again" in text(), 10, "the recovery line")
        assert parse_problems(generate_latest(collector.metrics.registry).decode()) == []
        # its end goes the way its start went (the outbox never heard of the episode)
        wait_for(lambda: len(_maintainer_alerts(receivers["webhook"], "store_failing")) == 2, 10, "the all-clear")
        assert _maintainer_alerts(receivers["webhook"], "store_failing")[1]["state"] == "resolved"
    finally:
        stop.set()
        runner.join(20)
        system.close()
    assert said_after < 5
    assert text().count("cannot be written to the database") == 1  # said once, not every second
    assert "could not queue the maintainer alert for the store (OperationalError" in text()
    assert "sending it from memory, once" in text()


def make_certificates(folder: Path) -> tuple[Path, Path, Path, Path]:
    """(ca, server cert, server key, another CA that did not sign it)."""
    folder.mkdir()

    def ssl(*args: str) -> None:
        subprocess.run([need("openssl"), *args], cwd=folder, check=True, capture_output=True)

    for ca in ("ca", "other-ca"):
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=qyb test {ca}",
            "-keyout", f"{ca}.key", "-out", f"{ca}.crt")  # fmt: skip
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "server.crt")  # fmt: skip
    return folder / "ca.crt", folder / "server.crt", folder / "server.key", folder / "other-ca.crt"


# paho 2.x leaves the socket of a failed TLS handshake to the garbage collector (client.py `_ssl_wrap_socket`:
# `do_handshake()` raises before anything closes it); the collector keeps retrying, so the warning repeats
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_untrusted_broker_certificate_is_said_at_once_and_maintainers_are_told(
    receivers: dict[str, Receiver],  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    ca, cert, key, other_ca = make_certificates(tmp_path / "certs")
    broker = Mosquitto(need("mosquitto"), tmp_path / "mosquitto")
    tls_port = free_port()
    broker.tuning += f"\nlistener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}"
    broker.start()
    wait_for(lambda: _port_open(tls_port), 10, "the TLS listener")

    def edit(raw: dict[str, Any]) -> None:
        raw["deployment"]["store"]["db"] = str(tmp_path / "qyb.sqlite")
        raw["deployment"]["mqtt"]["client_id"] = "qyb-tls-test"
        raw["deployment"]["mqtt"]["ca_file"] = str(other_ca)
        raw["deployment"]["metrics_port"] = 0
        raw["deployment"].setdefault("ingest", {})["page_after_s"] = 3  # (default 60 s)

    # the alerts' MQTT channel would need the broker that cannot be reached: webhook, WeCom, SMS only
    config = notify_config(receivers, edit=edit, group_wait_s=0)
    config = config.model_copy(
        update={
            "deployment": config.deployment.model_copy(
                update={"mqtt": config.deployment.mqtt.model_copy(update={"url": f"mqtts://127.0.0.1:{tls_port}"})}
            )
        }
    )
    system = build_collector(config)
    collector = system.collector
    stop = threading.Event()
    runner = threading.Thread(target=system.run, args=(stop,), daemon=True)
    started = time.monotonic()
    runner.start()
    try:
        wait_for(lambda: collector.health.problems(), 10, "the broker problem")
        said_after = time.monotonic() - started
        (problem,) = collector.health.problems()
        assert problem.part is Part.BROKER
        assert "not trusted (self-signed certificate in certificate chain); check ca_file" in problem.detail
        exposed = parse_problems(generate_latest(collector.metrics.registry).decode())
        assert [p.detail for p in exposed] == [problem.detail]
        # the admins hear it like a device fault: the webhook gets the maintainer alert
        wait_for(lambda: _maintainer_alerts(receivers["webhook"]), 30, "the maintainer alert at the webhook")
        (alert,) = _maintainer_alerts(receivers["webhook"])
        assert alert["state"] == "firing" and alert["severity"] == "critical"
        assert "服务器：连不上消息代理（MQTT），收不到传感器数据：TLS certificate of 127.0.0.1" in alert["text_zh"]
        assert "check the broker, the network, the certificate" in alert["text_en"]
        # and the technician, who maintains the box, gets it by SMS
        wait_for(lambda: receivers["sms"].requests, 30, "the technician's SMS")
    finally:
        stop.set()
        runner.join(15)
        system.close()
        broker.stop()
    assert said_after < 5


def _port_open(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _maintainer_alerts(webhook: Receiver, kind: str = "broker_unreachable") -> list[dict[str, Any]]:
    return [e for r in webhook.requests for e in r.json()["events"] if e["kind"] == kind]
