"""Shared fixtures: real servers on free loopback ports, in temporary folders.

Locally, a missing server skips its tests with the reason; in CI (CI=true) a
missing server fails the run instead.
"""

from __future__ import annotations

import getpass
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from qingyubiao.config import Config, load_config
from qingyubiao.series import SeriesIndex

if TYPE_CHECKING:
    from qyb.system import CollectorSystem

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parent.parent


def need(binary: str) -> str:
    """Path of a server binary; skip (locally) or fail (CI) when it is missing."""
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
    )
    if path is None:
        message = f"{binary} is not installed (apt-get install {binary}; .ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


_PORTS_PER_WORKER = 1000
_next_port = itertools.count()


def free_port() -> int:
    """A loopback port that is free now and that no other test worker hands out.

    Each pytest-xdist worker (gw0, gw1, …) takes ports from its own block of 1000 in 20000-31999, below
    the kernel's ephemeral range (32768+), so neither another worker nor a client socket's local port
    takes it between this check and the server's bind."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base = 20_000 + (int(worker) if worker.isdigit() else 0) % 12 * _PORTS_PER_WORKER
    for _ in range(_PORTS_PER_WORKER):
        port = base + next(_next_port) % _PORTS_PER_WORKER
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # in use, or in TIME_WAIT from an earlier test
                continue
            return port
    raise RuntimeError(f"no free port in {base}-{base + _PORTS_PER_WORKER - 1}")


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Mosquitto:
    """A real mosquitto broker with persistence, restartable on the same port."""

    binary: str
    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    # when the persistence database is written, how many messages a client may have unacknowledged
    # (README "Broker settings for production"; the tests' brokers let the collector take any number)
    tuning: str = "autosave_interval 1\nmax_inflight_messages 0"
    # who may connect: anyone, unless a test gives the files of `qyb broker credentials` (tests/ops/test_broker_acl.py)
    auth: str = "allow_anonymous true"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        conf = self.folder / "mosquitto.conf"
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        conf.write_text(
            f"""{self.auth}
listener {self.port} 127.0.0.1
user {getpass.getuser()}
persistence true
persistence_location {self.folder}/data/
{self.tuning}
max_queued_messages 1000000
log_dest file {self.folder}/mosquitto.log
log_type error
log_type warning
log_type notice
log_type information
"""
        )
        quiet = subprocess.DEVNULL
        self.proc = subprocess.Popen([self.binary, "-c", str(conf)], stdout=quiet, stderr=quiet)
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # SIGTERM saves the persistence database
            self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer would: nothing is saved on the way out."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def restart(self, down_s: float = 0.5) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(need("mosquitto"), tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def village() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def index(village: Config) -> SeriesIndex:
    return SeriesIndex(village)


def qyb_env(broker: Mosquitto, db: Path, client_id: str = "qyb-test", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")}
    env.update(QYB_MQTT_URL=broker.url, QYB_DB=str(db), QYB_MQTT_CLIENT_ID=client_id, QYB_METRICS_PORT="0")
    env.update(extra)
    return env


def qyb(*args: str, env: dict[str, str], check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "qyb", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"qyb {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def spawn_qyb(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "qyb", *args], env=env, stdout=out, stderr=subprocess.STDOUT)


@contextmanager
def running_collector(config: Config) -> Iterator[CollectorSystem]:
    """The collector (and its dispatcher) of `config` in a thread, stopped and closed on the way out."""
    from qyb.system import build_collector

    system = build_collector(config)
    stop = threading.Event()
    runner = threading.Thread(target=system.run, args=(stop,), daemon=True)
    runner.start()
    try:
        yield system
    finally:
        stop.set()
        runner.join(15)
        system.close()
