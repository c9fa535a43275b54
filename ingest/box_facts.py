"""The box's health, checks and facts together: what `qyb status` prints and /healthz details.

The facts come from the database, opened read-only (the collector and the API go on writing), the
InfluxDB spool's files and the backup folder; the probes (broker, collector, API, disk) from
qingyubiao/box.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alerts.notify.outbox import Outbox
from ingest.store.backup import backups
from ingest.store.spool import pending_bytes_in
from ingest.store.sqlite_alerts import SqliteAlertStore
from qingyubiao.box import (
    READINGS_WINDOW_MS,
    Check,
    Level,
    StoreFacts,
    collector_metrics_url,
    disk_check,
    probe_broker,
    probe_http,
    store_checks,
)
from qingyubiao.config import Config
from qingyubiao.sqlite import open_sqlite


def store_facts(config: Config, now_ms: int) -> StoreFacts:
    store = config.deployment.store
    db = open_sqlite(store.db, readonly=True)
    try:
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        # per series through the (series, ts) key: no scan of a year of readings
        (recent,) = (
            db.execute(
                "SELECT count(*) FROM reading WHERE series IN (SELECT id FROM series) AND ts >= ?",
                (now_ms - READINGS_WINDOW_MS,),
            ).fetchone()
            if {"reading", "series"} <= tables
            else (0,)
        )
    finally:
        db.close()
    offline: list[str] = []
    if "alert_episode" in tables:  # the collector makes these on its first start
        alerts = SqliteAlertStore(store.db, readonly=True)
        try:
            offline = sorted({e.device for e in alerts.active_episodes() if e.kind == "device_offline" and e.device})
        finally:
            alerts.close()
    waiting, oldest = 0, None
    if "notify_message" in tables:
        outbox = Outbox(store.db, readonly=True)
        try:
            waiting, oldest = outbox.waiting(now_ms)
        finally:
            outbox.close()
    influx = config.deployment.influx
    made = backups(Path(store.backup_dir)) if Path(store.backup_dir).is_dir() else []
    return StoreFacts(
        readings_10min=int(recent),
        devices=sum(len(v.device) for v in config.village),
        offline=offline,
        waiting=waiting,
        oldest_waiting_ms=oldest,
        spool_bytes=pending_bytes_in(influx.spool_dir) if influx.url else None,
        last_backup_ms=int(made[-1].stat().st_mtime * 1000) if made else None,
        backup_dir=store.backup_dir,
    )


def box_status(config: Config, now_ms: int, api_url: str | None = None, ca_file: str | None = None) -> list[Check]:
    """Every check, in the order an operator reads them; `api_url` None: asked by the API itself."""
    d = config.deployment
    checks = [probe_broker(d.mqtt)]
    metrics = collector_metrics_url(config)
    checks.append(
        probe_http("collector", metrics, "采集程序", "the collector")
        if metrics
        else Check("collector", Level.OFF, "采集程序未开指标端口，无法检查", "the collector has no metrics port to ask")
    )
    if api_url is not None:
        checks.append(probe_http("api", api_url.rstrip("/") + "/healthz", "网页与接口", "the API", ca_file))
    db = Path(d.store.db)
    try:
        facts = store_facts(config, now_ms) if db.is_file() else None
    except (sqlite3.Error, ValueError, OSError) as e:  # damaged, newer than this qyb, unreadable
        checks.append(Check("store", Level.DOWN, f"数据库读不了：{e}", f"the database cannot be read: {e}"))
    else:
        if facts is None:
            checks.append(Check("store", Level.DOWN, f"没有数据库 {db}", f"no database at {db}"))
        else:
            checks.extend(store_checks(facts, now_ms))
        if any(c.part == "collector" and c.level is Level.DOWN for c in checks):  # the dispatcher is its thread
            checks = [
                Check("dispatcher", Level.DOWN, "通知程序随采集程序停止了", "the dispatcher stopped with the collector")
                if c.part == "dispatcher"
                else c
                for c in checks
            ]
    checks.append(disk_check(db.parent))
    return checks
