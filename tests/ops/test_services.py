"""The village box's services (deploy/): systemd units that systemd itself accepts, command lines qyb
accepts, environment files qyb writes or knows, and the broker settings on the real Mosquitto.

systemd does not run here (no PID 1 to start units), so the units are checked by `systemd-analyze
verify`, the check systemd runs on load, with the qyb of this checkout in place of /opt/qyb/bin/qyb.
"""

from __future__ import annotations

import configparser
import getpass
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from qingyubiao.broker_auth import BROKER_CONF, SERVICE_ENV_FILES
from qingyubiao.config import ENV_OVERRIDES
from qyb.cli import _parser
from tests.conftest import free_port, need, qyb, wait_port
from tests.ops.test_broker_acl import Login, plain_env

DEPLOY = Path(__file__).parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").iterdir())
INSTALLED_QYB = "/opt/qyb/bin/qyb"


def unit(path: Path) -> configparser.ConfigParser:
    parsed = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parsed.optionxform = str  # type: ignore[assignment,method-assign]
    parsed.read(path)
    return parsed


def services() -> list[Path]:
    return [u for u in UNITS if u.suffix == ".service"]


def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    here = Path(sys.executable).parent / "qyb"
    assert here.is_file()
    for u in UNITS:
        (tmp_path / u.name).write_text(u.read_text().replace(INSTALLED_QYB, str(here)))
    r = subprocess.run(
        [need("systemd-analyze"), "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert (r.returncode, r.stderr.strip()) == (0, ""), r.stderr


def test_the_services_restart_start_in_order_and_log_to_journald() -> None:
    for path in services():
        u = unit(path)
        assert u["Service"]["StandardOutput"] == "journal" and u["Service"]["User"] == "qyb", path.name
        if path.name == "qyb-backup.service":
            assert u["Service"]["Type"] == "oneshot"
            continue
        assert u["Service"]["Restart"] == "on-failure" and "mosquitto.service" in u["Unit"]["After"], path.name
        assert u["Install"]["WantedBy"] == "multi-user.target"
    timer = unit(DEPLOY / "systemd" / "qyb-backup.timer")["Timer"]
    assert timer["Persistent"] == "true"  # a night the box was off is made up at the next boot


def example_env() -> dict[str, str]:
    lines = (DEPLOY / "qyb.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.mark.parametrize("path", services(), ids=lambda p: p.name)
def test_each_command_line_is_one_qyb_accepts(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = shlex.split(unit(path)["Service"]["ExecStart"])
    assert argv[0] == INSTALLED_QYB
    monkeypatch.setenv("QYB_CONFIG", example_env()["QYB_CONFIG"])  # from /etc/qyb/qyb.env
    args = _parser().parse_args(argv[1:])
    assert args.config == "/etc/qyb/village.toml"


def test_the_environment_files_are_qyb_s_own() -> None:
    made_by_credentials = {f"/etc/qyb/broker/{name}" for name in SERVICE_ENV_FILES}
    for path in services():
        for line in path.read_text().splitlines():
            if line.startswith("EnvironmentFile="):
                assert line.split("=", 1)[1] in made_by_credentials | {"/etc/qyb/qyb.env"}, line
    known = set(ENV_OVERRIDES) | {"QYB_CONFIG"}  # the one the CLI reads itself
    assert example_env() and set(example_env()) <= known, set(example_env()) - known


@pytest.mark.slow
def test_the_broker_settings_let_qyb_in_on_loopback_and_no_one_anonymous(tmp_path: Path) -> None:
    # Debian's mosquitto.conf, with qyb's files in conf.d
    broker, confd = tmp_path / "broker", tmp_path / "conf.d"
    qyb("broker", "credentials", "--out", str(broker), env=plain_env())
    confd.mkdir()
    port = free_port()
    ours = (DEPLOY / "mosquitto" / "qyb-broker.conf").read_text()
    assert "listener 1883 127.0.0.1" in ours
    (confd / "qyb-broker.conf").write_text(ours.replace("listener 1883 ", f"listener {port} "))
    (confd / BROKER_CONF).symlink_to(broker / BROKER_CONF)
    main = tmp_path / "mosquitto.conf"
    main.write_text(  # and the test's user, not Debian's mosquitto, who cannot read pytest's folders
        f"user {getpass.getuser()}\npersistence true\npersistence_location {tmp_path}/\ninclude_dir {confd}\n"
    )
    proc = subprocess.Popen([need("mosquitto"), "-c", str(main)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        env = dict(line.split("=", 1) for line in (broker / "collector.env").read_text().splitlines())
        collector = Login(port, env["QYB_MQTT_USERNAME"], env["QYB_MQTT_PASSWORD"])
        assert collector.connack is not None and not collector.connack.is_failure
        assert collector.subscribe("qyb/#") == 1
        collector.close()
        stranger = Login(port, "nobody", "guess")
        assert stranger.refused
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_admin_wrapper_is_sound_shell_reading_the_services_files() -> None:
    script = DEPLOY / "qyb-admin"
    assert subprocess.run(["sh", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    assert ". /etc/qyb/qyb.env" in text and ". /etc/qyb/broker/api.env" in text and "api.env" in SERVICE_ENV_FILES
    assert f"runuser -u qyb -- {INSTALLED_QYB}" in text
