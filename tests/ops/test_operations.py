"""docs/operations.md, played from top to bottom on this machine.

Every ` ```sh ` block runs in bash as written, with the box's folders moved under a temporary root
(`/etc/qyb` → ROOT/etc/qyb, ...), the box's address 192.168.1.10 → 127.0.0.1 and its ports → free ones.
`sudo` runs its command as is; `qyb-admin` does what deploy/qyb-admin does (read /etc/qyb/qyb.env and
the API's broker login) except switch to the qyb user, which CI does not have.

The ` ```sh root ` blocks are played line by line: `install` and `ln` copy the files they name (so each
must exist), `systemctl` starts, stops and signals what systemd would: Mosquitto with Debian's layout and
the conf.d files the page put there, and the units of deploy/systemd with their ExecStart and
EnvironmentFiles. Lines only a real box can run (apt-get, useradd, pip into /opt, ownership) are checked
by `bash -n` and listed in SKIPPED.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import REPO, free_port, need, wait_for, wait_port

pytestmark = pytest.mark.slow

PAGE = REPO / "docs" / "operations.md"
SKIPPED = (
    "apt-get ",
    "useradd ",
    "usermod ",
    "python3 -m venv ",
    "/opt/qyb/bin/pip ",
    "chgrp ",
    "systemctl daemon-reload",
)
QYB = str(Path(sys.executable).parent / "qyb")


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1).strip(), m.group(2)) for m in re.finditer(r"^```(sh(?: root)?)\n(.*?)^```$", PAGE.read_text(),
                                                                   re.S | re.M)]  # fmt: skip


@dataclass
class Box:
    root: Path
    ports: dict[str, int] = field(default_factory=lambda: {p: free_port() for p in ("1883", "8883", "8443", "9108")})
    broker: subprocess.Popen[bytes] | None = None
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    leaf: str = ""  # the new sensor's password, as the second credentials run printed it

    @property
    def db(self) -> Path:
        return self.root / "var/lib/qyb/qyb.sqlite"

    def map(self, text: str) -> str:
        for path in ("/etc/mosquitto/conf.d", "/etc/qyb", "/var/lib/qyb", "/var/backups/qyb", "/root/",
                     "/etc/systemd/system", "/usr/local/bin"):  # fmt: skip
            text = text.replace(path, f"{self.root}{path}")
        text = text.replace("192.168.1.10", "127.0.0.1").replace("/opt/qyb/bin/qyb", QYB)
        for port in ("1883", "8443"):
            text = text.replace(f":{port}", f":{self.ports[port]}").replace(f" {port}", f" {self.ports[port]}")
        return text

    @property
    def env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("QYB_")}

    def env_file(self, path: Path) -> dict[str, str]:
        lines = path.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))

    # -- the ```sh blocks ----------------------------------------------------------------------------------

    def run(self, block: str) -> str:
        etc = self.root / "etc/qyb"
        prelude = f"""
sudo() {{ "$@"; }}
qyb() {{ "{QYB}" "$@"; }}
qyb-admin() {{ (set -a; . {etc}/qyb.env; . {etc}/broker/api.env; set +a; exec "{QYB}" "$@"); }}
"""
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", prelude + self.map(block)], cwd=REPO, env=self.env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
        assert r.returncode == 0, f"{block}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
        return r.stdout

    # -- the ```sh root blocks -------------------------------------------------------------------------------

    def play(self, block: str) -> None:
        assert subprocess.run(["bash", "-n", "-c", block]).returncode == 0, block
        for line in filter(None, (raw.split("  #")[0].strip() for raw in block.splitlines())):
            if line.startswith(SKIPPED):
                continue
            argv = shlex.split(self.map(line))
            if argv[0] == "install":
                self.install(argv[1:])
            elif argv[:2] == ["ln", "-sf"]:
                assert Path(argv[2]).is_file(), line
                Path(argv[3]).parent.mkdir(parents=True, exist_ok=True)
                Path(argv[3]).unlink(missing_ok=True)
                Path(argv[3]).symlink_to(argv[2])
            elif argv[0] == "systemctl":
                self.systemctl(argv[1], [u for u in argv[2:] if u != "--now"])
            else:
                raise AssertionError(f"the test does not know how to play: {line}")

    def install(self, args: list[str]) -> None:
        files: list[str] = []
        folders = False
        it = iter(args)
        for a in it:
            if a in ("-m", "-o", "-g"):
                next(it)
            elif a == "-d":
                folders = True
            else:
                files.append(a)
        if folders:
            for f in files:
                Path(f).mkdir(parents=True, exist_ok=True)
            return
        *sources, dest = files
        for s in sources:
            src = REPO / s
            assert src.is_file(), f"install names {s}, which is not in the checkout"
            target = Path(dest) / src.name if len(sources) > 1 or dest.endswith("/") else Path(dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            text = src.read_text()
            if target.name == "qyb.env":  # the collector's metrics port, which the box leaves at 9108
                text += f"QYB_METRICS_PORT={self.ports['9108']}\n"
            target.write_text(self.map(text) if s.startswith("deploy/") else text)

    def systemctl(self, verb: str, units: list[str]) -> None:
        for u in units:
            name = u.removesuffix(".service")
            if verb in ("stop", "restart"):
                self.stop(name)
            if verb in ("start", "restart", "enable"):
                self.start(name)
            if verb == "reload":
                assert name == "mosquitto" and self.broker is not None
                self.broker.send_signal(signal.SIGHUP)

    def start(self, name: str) -> None:
        if name == "mosquitto":
            return self.start_broker()
        if name.endswith(".timer"):  # what it starts, once, and it must succeed
            proc = self.spawn(name.removesuffix(".timer"))
            assert proc.wait(120) == 0, (self.root / f"{name}.log").read_text()
            return None
        log = self.root / f"{name}.log"
        before = log.read_text().count("subscribed to") if log.exists() else 0
        self.services[name] = self.spawn(name)
        if name == "qyb-collect":
            wait_for(lambda: log.read_text().count("subscribed to") > before, 30, "the collector")
        if name == "qyb-api":
            wait_port(self.ports["8443"], 30)
        return None

    def spawn(self, name: str) -> subprocess.Popen[bytes]:
        unit = (self.root / "etc/systemd/system" / f"{name}.service").read_text()
        env = self.env
        for path in re.findall(r"^EnvironmentFile=(.+)$", unit, re.M):
            env |= self.env_file(Path(path))
        [command] = re.findall(r"^ExecStart=(.+)$", unit, re.M)
        with (self.root / f"{name}.log").open("ab") as log:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(shlex.split(command), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)

    def stop(self, name: str) -> None:
        if name == "mosquitto":
            if self.broker is not None:
                self.broker.terminate()
                self.broker.wait(10)
            self.broker = None
        elif (proc := self.services.pop(name, None)) is not None:
            proc.terminate()
            # uvicorn ends by raising the signal again after its graceful shutdown; systemd counts a
            # death by SIGTERM as a clean stop
            clean = (0, -signal.SIGTERM) if name == "qyb-api" else (0,)
            assert proc.wait(30) in clean, f"{name} did not stop cleanly on SIGTERM"

    def start_broker(self) -> None:
        """Debian's mosquitto.conf (persistence, include_dir conf.d), as the test's user."""
        confd, live = self.root / "etc/mosquitto/conf.d", self.root / "run/mosquitto"
        live.mkdir(parents=True, exist_ok=True)
        for old in live.glob("*.conf"):
            old.unlink()
        for f in sorted(confd.glob("*.conf")):  # the TLS listener on a free port, not 8883
            (live / f.name).write_text(f.read_text().replace("listener 8883", f"listener {self.ports['8883']}"))
        main = self.root / "etc/mosquitto/mosquitto.conf"
        main.write_text(f"user {getpass.getuser()}\npersistence true\npersistence_location {self.root}/\n"
                        f"include_dir {live}\n")  # fmt: skip
        with (self.root / "mosquitto.log").open("ab") as log:
            self.broker = subprocess.Popen([need("mosquitto"), "-c", str(main)], stdout=subprocess.DEVNULL, stderr=log)
        wait_port(self.ports["1883"])
        wait_port(self.ports["8883"])

    def close(self) -> None:
        for name in list(self.services):
            self.stop(name)
        self.stop("mosquitto")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    b = Box(tmp_path)
    (tmp_path / "root").mkdir()
    yield b
    b.close()


def publish_as(box: Box, user: str, password: str, topic: str, payload: bytes) -> int:
    """Over the TLS listener sensors use, as one device: the PUBACK's reason code."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}", protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.tls_set(ca_certs=str(box.root / "etc/qyb/tls/ca.crt"))
    acks: dict[int, int] = {}
    client.on_publish = lambda _c, _u, mid, rc, _p: acks.__setitem__(mid, int(rc.value))
    client.connect("127.0.0.1", box.ports["8883"])
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1)
        wait_for(lambda: info.mid in acks, 10, f"the PUBACK of {topic}")
        return acks[info.mid]
    finally:
        client.loop_stop()
        client.disconnect()


def test_the_operations_page_works_from_install_to_upgrade(box: Box) -> None:
    page = blocks()
    assert [k for k, _ in page].count("sh") >= 8 and [k for k, _ in page].count("sh root") >= 5
    said: list[str] = []
    for kind, block in page:
        if kind == "sh root":
            box.play(block)
            continue
        said.append(box.run(block))
        if "gh01-leaf" in block and "cat >>" in block:
            # the new sensor's password is the only one the second credentials run printed
            rows = [r.split("\t") for r in (box.root / "root/qyb-passwords.tsv").read_text().splitlines()]
            assert [r[0] for r in rows].count("gh01-leaf") == 1 and rows[-1][0] == "gh01-leaf"
            box.leaf = rows[-1][1]
        if "devices --unknown" in block:
            assert "gh01-leaf" in said[-1]  # the restarted collector knows it
            reading = b'{"m": {"leaf_wet_pct": 87.5}}'
            assert publish_as(box, "gh01-leaf", box.leaf, "qyb/lijiahe/gh01-leaf/up", reading) == 0
            assert publish_as(box, "gh01-leaf", box.leaf, "qyb/lijiahe/gh02-air/up", reading) == 135
            wait_for(lambda: stored_leaf(box.db) == [87.5], 20, "the new sensor's reading stored")
        if "status" in block:
            lines = said[-1].splitlines()
            for part in ("broker", "collector", "api", "disk"):
                assert any(line.startswith(f"✔ {part}") for line in lines), said[-1]
        if "users token" in block:
            assert "https://127.0.0.1:" in said[-1] and "#token=qyb_" in said[-1]
        if block.strip() == "sudo qyb-admin backup\nls /var/backups/qyb":
            assert re.search(r"qyb-\d{8}T\d{6}\d*Z\.sqlite", said[-1])
    assert "restored" in "".join(said) and "before-restore-" in "".join(said)
    assert "last backup 0 min ago" in said[-1]  # the final status: after the upgrade's backup


def stored_leaf(db: Path) -> list[float]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT r.value FROM reading r JOIN series s ON s.id = r.series WHERE s.device = 'gh01-leaf'"
        ).fetchall()
    return [v for (v,) in rows]
