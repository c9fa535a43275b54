"""The box's health as its operator sees it: `qyb status`, and the detail of the API's /healthz.

Each check is ok, warn or down, with the numbers behind it in Chinese and English. What lives in the
database (readings, offline devices, waiting notifications, the spool, the last backup) is gathered by the
store's side (ingest/box_facts.py) and handed in as `StoreFacts`; the probes here need only the network
and the disk. A probe never raises: a broken part is a `down` check, not a traceback.
"""

from __future__ import annotations

import os
import shutil
import ssl
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from qingyubiao.config import Config, MqttSettings
from qingyubiao.mqtt_login import client_for

UPTIME_TOPIC = "$SYS/broker/uptime"  # the ACL lets qyb-api read it (qingyubiao/broker_auth.py)
DISK_DOWN_FREE, DISK_WARN_FREE = 0.05, 0.15  # of the disk: below 5 % SQLite may soon fail to write
DISK_DOWN_BYTES = 512 * 1024**2
BACKUP_WARN_S = 36 * 3600  # the timer backs up nightly: one missed night is a warning
WAITING_WARN_MS = 10 * 60_000  # a notification due this long and not sent: a receiver or the dispatcher
READINGS_WINDOW_MS = 10 * 60_000


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    DOWN = "down"
    OFF = "off"  # not part of this box (no InfluxDB, no metrics port)


@dataclass(frozen=True, slots=True)
class Check:
    part: str
    level: Level
    text_zh: str
    text_en: str


@dataclass(frozen=True, slots=True)
class StoreFacts:
    """What the database says; read by ingest/box_facts.py."""

    readings_10min: int
    devices: int
    offline: list[str]  # devices with an open device_offline alert
    waiting: int  # notifications due and not yet delivered
    oldest_waiting_ms: int | None
    spool_bytes: int | None  # None: no InfluxDB to forward to
    last_backup_ms: int | None
    backup_dir: str


def collector_metrics_url(config: Config) -> str | None:
    """Where the collector's Prometheus endpoint answers (None: metrics_port = 0, not watched)."""
    d = config.deployment
    if not d.metrics_port:
        return None
    host = "127.0.0.1" if d.metrics_addr in ("0.0.0.0", "::") else d.metrics_addr
    return f"http://{host}:{d.metrics_port}/metrics"


def worst(checks: list[Check]) -> Level:
    levels = {c.level for c in checks}
    return next((lv for lv in (Level.DOWN, Level.WARN) if lv in levels), Level.OK)


def _duration(seconds: float) -> tuple[str, str]:
    if seconds < 3600:
        return f"{seconds / 60:.0f} 分钟", f"{seconds / 60:.0f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3600:.0f} 小时", f"{seconds / 3600:.0f} h"
    return f"{seconds / 86_400:.0f} 天", f"{seconds / 86_400:.0f} days"


def probe_broker(settings: MqttSettings, timeout_s: float = 3.0) -> Check:
    """Log in (with its own client id: the collector's would take the collector's session) and read the
    broker's uptime."""
    answered, uptime = threading.Event(), threading.Event()
    got: dict[str, object] = {}

    def on_connect(c: mqtt.Client, _u: object, _f: object, rc: mqtt.ReasonCode, _p: object) -> None:
        got["rc"] = rc
        answered.set()
        if not rc.is_failure:
            c.subscribe(UPTIME_TOPIC, qos=0)

    def on_message(_c: mqtt.Client, _u: object, m: mqtt.MQTTMessage) -> None:
        if m.topic != UPTIME_TOPIC:  # the demo's embedded broker (amqtt) also hands out other retained messages
            return
        try:
            got["uptime"] = float(m.payload.decode(errors="replace").split()[0])
        except (ValueError, IndexError):  # a broker with another $SYS format: up, for how long unsaid
            return
        uptime.set()

    try:
        client = client_for(settings, f"qyb-status-{os.getpid()}")
        client.on_connect, client.on_message = on_connect, on_message
        client.connect(settings.host, settings.port, keepalive=10)
    except (OSError, ssl.SSLError, ValueError) as e:
        return Check("broker", Level.DOWN, f"消息代理连不上 {settings.host}:{settings.port}：{e}",
                     f"broker unreachable at {settings.host}:{settings.port}: {e}")  # fmt: skip
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            return Check("broker", Level.DOWN, "消息代理不应答", f"the broker at {settings.host} does not answer")
        rc = got["rc"]
        assert isinstance(rc, mqtt.ReasonCode)
        if rc.is_failure:  # it is up, but will not let us in: the checks below still tell the rest
            login = "QYB_MQTT_USERNAME/PASSWORD"
            return Check("broker", Level.WARN, f"消息代理在运行，但拒绝了登录（{rc}）：检查 {login}",
                         f"the broker is up but refused our login ({rc}): check {login}")  # fmt: skip
        if uptime.wait(timeout_s):
            zh, en = _duration(float(str(got["uptime"])))
            return Check("broker", Level.OK, f"消息代理运行中，已运行 {zh}", f"broker up for {en}")
        return Check("broker", Level.OK, "消息代理运行中", "broker up")
    finally:
        client.disconnect()
        client.loop_stop()


def probe_http(part: str, url: str, name_zh: str, name_en: str, ca_file: str | None = None) -> Check:
    try:
        r = httpx.get(url, timeout=2.0, verify=ssl.create_default_context(cafile=ca_file) if ca_file else True)
    except httpx.HTTPError as e:
        return Check(part, Level.DOWN, f"{name_zh}没有运行（{url}：{e}）", f"{name_en} is not running ({url}: {e})")
    if r.status_code != 200:
        return Check(part, Level.DOWN, f"{name_zh}出错：HTTP {r.status_code}", f"{name_en} fails: HTTP {r.status_code}")
    return Check(part, Level.OK, f"{name_zh}运行中", f"{name_en} up")


def disk_check(folder: Path) -> Check:
    at = folder if folder.exists() else folder.parent
    try:
        usage = shutil.disk_usage(at)
    except OSError as e:
        return Check("disk", Level.DOWN, f"读不到磁盘 {at}：{e}", f"cannot read the disk of {at}: {e}")
    return disk_level(usage.free, usage.total)


def disk_level(free: int, total: int) -> Check:
    share, gib = free / total, free / 1024**3
    zh, en = f"磁盘剩余 {gib:.1f} GB（{share:.0%}）", f"disk {gib:.1f} GB free ({share:.0%})"
    if share < DISK_DOWN_FREE or free < DISK_DOWN_BYTES:
        return Check("disk", Level.DOWN, zh + "，快满了：数据将写不进去", en + ", almost full: writes will fail")
    return Check("disk", Level.WARN if share < DISK_WARN_FREE else Level.OK, zh, en)


def store_checks(facts: StoreFacts, now_ms: int) -> list[Check]:
    out = [
        Check("readings", Level.OK if facts.readings_10min else Level.WARN,
              f"最近 10 分钟收到 {facts.readings_10min} 条读数", f"{facts.readings_10min} readings in the last 10 min"),
    ]  # fmt: skip
    names = "、".join(facts.offline[:10]) + ("…" if len(facts.offline) > 10 else "")
    out.append(
        Check("devices", Level.WARN, f"{len(facts.offline)}/{facts.devices} 台设备离线：{names}",
              f"{len(facts.offline)} of {facts.devices} devices offline: {', '.join(facts.offline[:10])}")
        if facts.offline
        else Check("devices", Level.OK, f"{facts.devices} 台设备全部在线", f"all {facts.devices} devices online")
    )  # fmt: skip
    if facts.waiting and facts.oldest_waiting_ms is not None:
        zh, en = _duration((now_ms - facts.oldest_waiting_ms) / 1000)
        late = now_ms - facts.oldest_waiting_ms > WAITING_WARN_MS
        out.append(Check("dispatcher", Level.WARN if late else Level.OK, f"{facts.waiting} 条通知待发，最早的已等 {zh}",
                         f"{facts.waiting} notifications waiting, the oldest for {en}"))  # fmt: skip
    else:
        out.append(Check("dispatcher", Level.OK, "通知都已发出", "every notification delivered"))
    if facts.spool_bytes is None:
        out.append(Check("spool", Level.OFF, "未配置 InfluxDB，无暂存", "no InfluxDB, no spool"))
    else:
        kib = facts.spool_bytes / 1024
        out.append(Check("spool", Level.OK if facts.spool_bytes == 0 else Level.WARN,
                         f"InfluxDB 暂存 {kib:.0f} KB 待发", f"InfluxDB spool: {kib:.0f} KiB to send"))  # fmt: skip
    if facts.last_backup_ms is None:
        out.append(Check("backup", Level.WARN, f"{facts.backup_dir} 里还没有备份",
                         f"no backup in {facts.backup_dir} yet"))  # fmt: skip
    else:
        age = (now_ms - facts.last_backup_ms) / 1000
        zh, en = _duration(age)
        out.append(Check("backup", Level.WARN if age > BACKUP_WARN_S else Level.OK, f"上次备份在 {zh}前",
                         f"last backup {en} ago"))  # fmt: skip
    return out


MARK = {Level.OK: "✔", Level.WARN: "!", Level.DOWN: "✘", Level.OFF: "-"}


def report(checks: list[Check]) -> str:
    """One line per check, Chinese then English, and the verdict."""
    lines = [f"{MARK[c.level]} {c.part:<10} {c.text_zh} / {c.text_en}" for c in checks]
    verdict = {Level.OK: "正常 / healthy", Level.WARN: "需要注意 / needs a look", Level.DOWN: "有故障 / unhealthy"}
    lines.append(f"== {verdict[worst(checks)]}")
    return "\n".join(lines)
