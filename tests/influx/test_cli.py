"""The `qyb` command with InfluxDB: `qyb collect` forwards (through an outage), `qyb store migrate` copies history."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest

from ingest.store.sqlite import SqliteStore
from qingyubiao.config import Config, bundled_config_path
from qingyubiao.series import SeriesIndex
from tests.conftest import Mosquitto, qyb, qyb_env, spawn_qyb, wait_for
from tests.influx.data import batches
from tests.influx.expect import VmKey, vm_expected
from tests.influx.servers import VictoriaMetrics

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it


def config_with_spool(tmp_path: Path) -> Path:
    """The bundled village with the InfluxDB spool in the test's folder."""
    path = tmp_path / "village.toml"
    text = bundled_config_path().read_text(encoding="utf-8")
    path.write_text(
        f'{text}\n[deployment.influx]\nspool_dir = "{tmp_path / "spool"}"\nflush_interval_ms = 100\n'
        "retry_max_ms = 500\n",
        encoding="utf-8",
    )
    return path


def influx_env(vm: VictoriaMetrics) -> dict[str, str]:
    return {"QYB_INFLUX_URL": vm.url, "QYB_INFLUX_BUCKET": "qyb", "QYB_INFLUX_ORG": "lijiahe", "QYB_INFLUX_TOKEN": "t"}


def local_as_vm_keys(db: Path, config: Config, index: SeriesIndex) -> dict[VmKey, float]:
    """What VictoriaMetrics should hold: everything in the local SQLite store."""
    store = SqliteStore(db, index, readonly=True)
    try:
        kinds = {(v.id, s.id): s.kind for v in config.village for s in v.site}
        return {
            (
                f"{'out_of_range' if r.flags & 1 else kinds[(r.village, r.site)]}_{r.metric}",
                r.site,
                r.device,
                r.ts_ms,
            ): r.value
            for r in store.export()
        }
    finally:
        store.close()


def local_count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM reading").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.mark.mosquitto
def test_collect_forwards_to_influx_through_an_outage_and_a_killed_collector(
    mosquitto: Mosquitto, vm: VictoriaMetrics, village: Config, index: SeriesIndex, tmp_path: Path
):
    db = tmp_path / "qyb.sqlite"
    conf = config_with_spool(tmp_path)
    env = qyb_env(mosquitto, db, **influx_env(vm))
    log = tmp_path / "collect.log"
    collector = spawn_qyb("collect", "--config", str(conf), env=env, log=log)
    try:
        wait_for(lambda: "subscribed to" in log.read_text(), 20, "the collector to subscribe")
        qyb("sim", "--config", str(conf), "--count", "3000", "--start=-48h", env=env)
        wait_for(lambda: local_count(db) >= 3000, 30, "the first readings stored")
        vm.stop()  # InfluxDB goes away; the collector keeps storing and acknowledging
        qyb("sim", "--config", str(conf), "--count", "3000", "--start=-24h", "--seed", "2", env=env)
        wait_for(lambda: local_count(db) >= 6000, 30, "the readings of the outage stored locally")
        assert list((tmp_path / "spool").glob("*.seg")), "the outage's batches wait in the spool"
        collector.send_signal(signal.SIGKILL)  # and the collector dies too: the spool is on disk
        collector.wait(10)
        before = log.read_text().count("subscribed to")
        collector = spawn_qyb("collect", "--config", str(conf), env=env, log=log)
        wait_for(lambda: log.read_text().count("subscribed to") > before, 20, "the collector to come back")
        assert "wait in the InfluxDB spool; replaying" in log.read_text()
        vm.start()
        expected = local_as_vm_keys(db, village, index)
        assert len(expected) == local_count(db) >= 6000

        def readings() -> dict[tuple[str, str, str, int], list[float]]:  # the alert transitions' copy aside
            return {k: v for k, v in vm.samples().items() if not k[0].startswith("alert_")}

        wait_for(lambda: len(readings()) >= len(expected), 60, "the spool to replay", interval=0.5)
        got = readings()
        assert {k: v[0] for k, v in got.items()} == expected
        assert any(k[0] == "alert_level" for k in vm.samples())  # the run's alert transitions arrived too
        assert all(len(v) == 1 for v in got.values())
    finally:
        collector.terminate()
        collector.wait(30)
    assert "Traceback" not in log.read_text()


def test_store_migrate_copies_history_once(vm: VictoriaMetrics, village: Config, index: SeriesIndex, tmp_path: Path):
    db = tmp_path / "qyb.sqlite"
    bs = batches(index, 5, 2_000, seed=3)
    store = SqliteStore(db, index)
    for b in bs:
        store.write(b)
    store.close()
    env = {**qyb_env(Mosquitto("", tmp_path), db), **influx_env(vm)}
    for _ in range(2):  # a second run overwrites: nothing doubles
        out = qyb(
            "store",
            "migrate",
            "--from",
            "sqlite",
            "--to",
            "influx",
            "--config",
            str(config_with_spool(tmp_path)),
            env=env,
        )
        assert "copied 10000 readings" in out.stdout
    got = vm.samples()
    assert {k: v[0] for k, v in got.items()} == vm_expected(village, index, bs)
    assert all(len(v) == 1 for v in got.values())


def test_store_migrate_without_influx_settings_says_what_to_set(tmp_path: Path):
    db = tmp_path / "qyb.sqlite"
    SqliteStore(
        db, SeriesIndex(Config.model_validate({"village": [{"id": "x", "name": "x", "lat": 0, "lon": 0}]}))
    ).close()
    env = qyb_env(Mosquitto("", tmp_path), db)
    out = qyb("store", "migrate", env=env, check=False)
    assert out.returncode == 2 and "QYB_INFLUX_URL" in out.stderr


def test_store_migrate_since_copies_only_the_newer_readings(
    vm: VictoriaMetrics, village: Config, index: SeriesIndex, tmp_path: Path
):
    from datetime import UTC, datetime

    db = tmp_path / "qyb.sqlite"
    bs = batches(index, 2, 3_000, seed=4, spacing_ms=60_000)
    store = SqliteStore(db, index)
    for b in bs:
        store.write(b)
    store.close()
    cut = int(sorted(int(t) for b in bs for t in b.ts_ms)[4_000])
    since = datetime.fromtimestamp(cut / 1000, UTC).isoformat()
    env = {**qyb_env(Mosquitto("", tmp_path), db), **influx_env(vm)}
    out = qyb(
        "store",
        "migrate",
        "--village",
        "lijiahe",
        f"--since={since}",
        "--config",
        str(config_with_spool(tmp_path)),
        env=env,
    )
    newer = [b.take(b.ts_ms >= cut) for b in bs]
    assert f"copied {sum(len(b) for b in newer)} readings" in out.stdout
    got = vm.samples()
    assert {k: v[0] for k, v in got.items()} == vm_expected(village, index, newer)
