"""Valve control: requests → interlocks → a command over MQTT → the controller's acknowledgement and state →
the irrigation recorded; a command not acknowledged in time, or a valve open past its end, is an alert.

`ValveManager.tick()` runs in the collector's maintenance pass. A block in automatic mode whose advice
(the newest day's `irrigation` row) says the water is due today gets one request a day, for the advised
drip time. Each pending request (a farmer's 确认灌溉, the automatic mode) is checked against the block's
interlocks (qingyubiao.interlocks) with what is true now; a refusal is audited with its reason and
nothing is sent. A command says how long, and that the controller closes by itself when that time ends,
so a dropped link or a killed collector never leaves a valve open. Everything — command, refusal,
acknowledgement, state change, timeout — goes to the audit.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt

from qingyubiao import topics
from qingyubiao.alerting import AlertReader, AlertWriter, Audience, Episode, Kind, Severity, State, Transition
from qingyubiao.config import Config, MqttSettings, Site, Village
from qingyubiao.interlocks import Now, Request, check
from qingyubiao.mqtt_login import client_for
from qingyubiao.risks import WATER_MODEL, RiskBook
from qingyubiao.series import SeriesIndex
from qingyubiao.store import ReadingReader
from qingyubiao.valves import Command, ValveStatus, parse_status
from qingyubiao.water import AuditEntry, Irrigated, ValveRequest, WaterBook, advised_minutes

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 30.0  # a controller that has not answered a command by then is at fault
OVERDUE_GRACE_S = 120.0  # a valve still open this long after its end is stuck
AUTO = "auto"  # who asks in automatic mode
AUTO_EVERY_MS = 60_000  # how often the automatic mode reads the advice


class ValveLink(Protocol):
    def publish(self, topic: str, payload: bytes) -> bool: ...

    def received(self) -> list[tuple[str, str, bytes, int]]:
        """Status messages since the last call: (village, device, payload, received ms)."""
        ...


class MqttValveLink:
    """The collector's connection to the valve controllers: their status topics in, commands out (QoS 1)."""

    def __init__(self, settings: MqttSettings, client_id: str, valves: list[tuple[str, str]]) -> None:
        self._inbox: queue.Queue[tuple[str, str, bytes, int]] = queue.Queue()
        self._filters = [topics.device_status(v, d) for v, d in valves]
        self.client = client_for(settings, client_id)
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.connect_async(settings.host, settings.port, keepalive=settings.keepalive_s)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        for f in self._filters:  # the retained last state of each valve arrives at once
            client.subscribe(f, qos=1)
        self.connected.set()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if len(parts) == 4:
            self._inbox.put((parts[1], parts[2], bytes(msg.payload), int(time.time() * 1000)))

    def publish(self, topic: str, payload: bytes) -> bool:
        if not self.connected.wait(5.0):
            return False
        info = self.client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(5.0)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def received(self) -> list[tuple[str, str, bytes, int]]:
        out = []
        while True:
            try:
                out.append(self._inbox.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class InFlight:
    request: ValveRequest
    command: Command
    device: str
    sent_ms: int
    acked: bool = False
    opened_ms: int | None = None
    until_ms: int | None = None
    overdue_said: bool = False


class ValveManager:
    def __init__(
        self,
        config: Config,
        book: WaterBook,
        link: ValveLink,
        writer: AlertWriter,
        wetter_than_fc: Callable[[Village, Site], bool | None] = lambda v, s: None,
        raining: Callable[[Village, Site], bool] = lambda v, s: False,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        overdue_grace_s: float = OVERDUE_GRACE_S,
        risks: RiskBook | None = None,
    ) -> None:
        self.config, self.book, self.link, self.writer, self.risks = config, book, link, writer, risks
        self._auto_read_ms = 0
        self.wetter_than_fc, self.raining = wetter_than_fc, raining
        self.ack_timeout_ms, self.grace_ms = int(ack_timeout_s * 1000), int(overdue_grace_s * 1000)
        # (village, device) -> (village, site) for every valve in the config
        self.valves = {(v.id, s.irrigation.valve): (v, s) for v in config.village for s in v.site
                       if s.irrigation is not None and s.irrigation.valve}  # fmt: skip
        self.state: dict[tuple[str, str], ValveStatus] = {}  # each valve's last reported state
        self.flight: dict[str, InFlight] = {}  # command id -> what is happening to it
        self._recover()

    def _recover(self) -> None:
        """After a restart: each valve's last audited state, and the commands sent in the last day that
        nothing ended (irrigated, refused, timed out), so the state a controller retained — the last command
        it carried out, when it opened and closed — still records the water and completes the audit."""
        now = int(time.time() * 1000)
        for (vid, device), (_v, site) in self.valves.items():
            log = self.book.audit_log(vid, {site.id}, 500)  # newest first
            last = next((e for e in log if e.kind == "state"), None)
            if last is not None:
                self.state[(vid, device)] = ValveStatus(last.detail.get("valve", "closed"), None,
                                                        last.detail.get("until_ms"), last.ts_ms)  # fmt: skip
            ended = {e.detail.get("command") for e in log if e.kind in ("irrigated", "timeout", "overdue")}
            for e in log:
                d = e.detail
                if e.kind != "command" or d.get("command") in ended or now - e.ts_ms > 86_400_000:
                    continue
                r = ValveRequest(d.get("request", ""), vid, site.id, int(d.get("duration_s", 0)), e.reason, e.by,
                                 e.ts_ms, float(d.get("fertigation_l") or 0.0), False, "sent")  # fmt: skip
                c = Command(d["command"], "open", r.duration_s, r.reason, r.fertigation_l)
                acked = any(x.kind == "ack" and x.detail.get("command") == c.id for x in log)
                opened = next((x.ts_ms for x in log if x.kind == "state" and x.detail.get("command") == c.id
                               and x.detail.get("valve") == "open"), None)  # fmt: skip
                # the ack timeout counts from now: the controller's retained state is on its way
                self.flight[c.id] = InFlight(r, c, device, now, acked, opened)

    # -- one pass ---------------------------------------------------------------------

    def tick(self, now_ms: int | None = None) -> None:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        for village, device, payload, at in self.link.received():
            self._status(village, device, payload, at)
        self._watch(now)
        if self.risks is not None and now - self._auto_read_ms >= AUTO_EVERY_MS:
            self._auto_read_ms = now
            for v in self.config.village:
                self._automatic(v, now)
        for v in self.config.village:
            for r in self.book.pending(v.id):
                self._send(v, r, now)

    # -- automatic mode ---------------------------------------------------------------

    def _automatic(self, v: Village, now: int) -> None:
        """One request a village day per automatic block whose newest advice (yesterday's) says water is due
        today; its id names the block and the day, so a restart or a second pass asks nothing more."""
        blocks = [s for s in v.site if s.irrigation and s.irrigation.valve and s.irrigation.mode == "automatic"]
        if not blocks or self.risks is None:
            return
        today = dt.datetime.fromtimestamp(now / 1000, ZoneInfo(v.tz)).date()
        yesterday = (today - dt.timedelta(days=1)).isoformat()
        advice = {x.site: x for x in self.risks.risks(v.id, yesterday) if x.model == WATER_MODEL}
        busy = {f.request.site for f in self.flight.values()}
        for s in blocks:
            x = advice.get(s.id)
            assert s.irrigation is not None
            minutes = advised_minutes(x.detail, s) if x is not None else 0
            if x is None or not minutes or s.id in busy:
                continue
            due = x.detail.get("due_mm")
            r = ValveRequest(f"a-{s.id}-{today.isoformat()}", v.id, s.id, minutes * 60,
                             f"自动灌溉：根层缺水约 {due} 毫米 / automatic: about {due} mm due", AUTO, now)  # fmt: skip
            self.book.request(r)

    # -- requests out -----------------------------------------------------------------

    def _send(self, v: Village, r: ValveRequest, now: int) -> None:
        site = next((s for s in v.site if s.id == r.site), None)
        if site is None or site.irrigation is None or not site.irrigation.valve:
            self._refuse(v.id, r, now, "no_valve", "该地块没有阀门控制器", "the block has no valve controller")
            return
        req = Request(r.site, r.duration_s, r.reason, r.by, r.frost, r.fertigation_l)
        refusal = check(req, site.irrigation, self._now(v, site, now))
        if refusal is not None:
            self._refuse(v.id, r, now, refusal.code, refusal.zh, refusal.en)
            return
        command = Command(f"c-{uuid.uuid4().hex[:12]}", "open", r.duration_s, r.reason, r.fertigation_l)
        device = site.irrigation.valve
        sent = self.link.publish(topics.device_cmd(v.id, device), command.payload(now))
        detail = {"request": r.id, "command": command.id, "valve": device, "duration_s": r.duration_s,
                  "fertigation_l": r.fertigation_l}  # fmt: skip
        if not sent:
            self.book.set_request_state(r.id, "failed")
            self.book.audit(
                AuditEntry(now, v.id, r.site, "send_failed", "system", "消息代理不可用 / broker down", detail)
            )
            return
        self.book.set_request_state(r.id, "sent")
        self.book.audit(AuditEntry(now, v.id, r.site, "command", r.by, r.reason, detail))
        self.flight[command.id] = InFlight(r, command, device, now)

    def _refuse(self, village: str, r: ValveRequest, now: int, code: str, zh: str, en: str) -> None:
        self.book.set_request_state(r.id, "refused")
        self.book.audit(AuditEntry(now, village, r.site, "refused", r.by, f"{zh} / {en}",
                                   {"request": r.id, "code": code}))  # fmt: skip

    def _now(self, v: Village, site: Site, now: int) -> Now:
        irr = site.irrigation
        assert irr is not None
        pump = next((p for p in v.pump if p.id == irr.pump), None)
        on_pump = {
            s.irrigation.valve for s in v.site if s.irrigation and s.irrigation.pump == irr.pump and s.id != site.id
        }
        open_on_pump = sum(
            1 for (vid, d), st in self.state.items() if vid == v.id and d in on_pump and st.valve == "open"
        )
        today = dt.datetime.fromtimestamp(now / 1000, ZoneInfo(v.tz)).date().isoformat()
        watered = sum(x.minutes for x in self.book.irrigations(v.id, today) if x.site == site.id and x.day == today)
        watered += sum(f.command.duration_s / 60 for f in self.flight.values() if f.request.site == site.id)
        dosed = sum(f.command.fertigation_l for f in self.flight.values() if f.request.site == site.id)
        dosed += sum(float(e.detail.get("fertigation_l") or 0.0) for e in self.book.audit_log(v.id, {site.id}, 2000)
                     if e.kind == "command" and _day(e.ts_ms, v) == today)  # fmt: skip
        return Now(
            open_on_pump if pump else 0,
            int(watered * 60),
            dosed,
            self.wetter_than_fc(v, site),
            self.raining(v, site),
            self.book.locks(v.id).get(site.id),
            pump.max_open_valves if pump else None,
        )

    # -- the controllers' answers ----------------------------------------------------------

    def _status(self, village: str, device: str, payload: bytes, at: int) -> None:
        found = self.valves.get((village, device))
        status = parse_status(payload)
        if found is None or status is None:
            return
        v, site = found
        before = self.state.get((village, device))
        self.state[(village, device)] = status
        flight = self.flight.get(status.ack or "") or self.flight.get(status.command or "")
        if flight is not None and not flight.acked:
            flight.acked = True
            self.book.set_request_state(flight.request.id, "acked")
            self.book.audit(AuditEntry(at, village, site.id, "ack", device, "", {"command": flight.command.id}))
        if flight is None and (before.valve if before else "closed") == status.valve:
            return  # the same state again (a retained repeat), or a first sight of a closed valve
        self.book.audit(AuditEntry(at, village, site.id, "state", device, "",
                                   {"valve": status.valve, "until_ms": status.until_ms,
                                    "command": status.ack}))  # fmt: skip
        current = flight or next((f for f in self.flight.values() if f.device == device and f.acked), None)
        if current is None:
            return
        if status.valve == "open":
            current.opened_ms = current.opened_ms or status.opened_ms or at
            current.until_ms = status.until_ms or at + current.command.duration_s * 1000
        elif current.opened_ms is not None or (status.command == current.command.id and status.opened_ms):
            # closed after opening: the water went on; the controller's own times where it gives them
            if status.command == current.command.id and status.opened_ms:
                current.opened_ms = status.opened_ms
            self._done(v, site, current, status.closed_ms if status.command == current.command.id and
                       status.closed_ms else at)  # fmt: skip

    def _done(self, v: Village, site: Site, f: InFlight, closed_ms: int) -> None:
        minutes = (closed_ms - (f.opened_ms or closed_ms)) / 60_000
        rate = site.drip_mm_h or 0.0
        day = _day(f.opened_ms or closed_ms, v)
        x = Irrigated(v.id, site.id, day, f.opened_ms or closed_ms, round(minutes, 2), round(minutes / 60 * rate, 2),
                      "valve", f.request.by, f.command.id)  # fmt: skip
        self.book.record_irrigation(x, f.request.reason)
        self.book.set_request_state(f.request.id, "done")
        self.flight.pop(f.command.id, None)

    # -- faults ------------------------------------------------------------------------

    def _watch(self, now: int) -> None:
        for cid, f in list(self.flight.items()):
            v, site = self.valves[(f.request.village, f.device)]
            if not f.acked and now - f.sent_ms > self.ack_timeout_ms:
                self.book.set_request_state(f.request.id, "timeout")
                self.book.audit(AuditEntry(now, v.id, site.id, "timeout", "system", "", {"command": cid}))
                secs = self.ack_timeout_ms // 1000
                self._alert(v, site, f"{cid}/timeout", now,
                            f"阀门未响应：{site.name}的灌溉命令 {secs} 秒内没有回复，请检查阀门控制器和网络。",
                            f"Valve not answering: {site.name}'s irrigation command had no reply in {secs} s; "
                            "check the valve controller and the network.")  # fmt: skip
                self.flight.pop(cid)
            elif f.acked and f.until_ms is not None and not f.overdue_said and now > f.until_ms + self.grace_ms:
                f.overdue_said = True
                self.book.audit(AuditEntry(now, v.id, site.id, "overdue", "system", "", {"command": cid}))
                end = dt.datetime.fromtimestamp(f.until_ms / 1000, ZoneInfo(v.tz)).strftime("%H:%M")
                self._alert(v, site, f"{cid}/overdue", now,
                            f"阀门超时未关：{site.name}应在 {end} 关闭，现在仍开着，请马上到现场关阀。",
                            f"Valve still open: {site.name} should have closed at {end}; close it now.")  # fmt: skip

    def _alert(self, v: Village, site: Site, key: str, now: int, zh: str, en: str) -> None:
        transitions, episodes = [], []
        for audience in (Audience.FARMER, Audience.MAINTAINER):  # the household and the one who fixes it
            eid = f"{v.id}/{site.id}/valve/{key}/{audience}"
            device = site.irrigation.valve if site.irrigation and site.irrigation.valve else ""
            transitions.append(Transition(eid, "valve", Kind.VALVE_FAULT, Severity.CRITICAL, audience, State.FIRING,
                                          now, v.id, site.id, device, "", float("nan"), float("nan"), text_zh=zh,
                                          text_en=en))  # fmt: skip
            episodes.append(Episode(eid, "valve", Kind.VALVE_FAULT, Severity.CRITICAL, audience, v.id, site.id, device,
                                    "", State.FIRING, now, now, None, False, float("nan"), zh, en))  # fmt: skip
        self.writer.record(transitions, episodes, None, now)


class SensorFacts:
    """What the block's own sensors say for the interlocks: wetter than field capacity (its soil probe's
    newest reading within 2 hours above the soil's θFC), raining (its rain gauge's within the last hour)."""

    def __init__(
        self, index: SeriesIndex, readings: ReadingReader, soils: dict[str, float], alerts: AlertReader | None = None
    ) -> None:
        self.readings, self.soils, self.alerts = readings, soils, alerts  # soils: texture -> θFC (m3 m-3)
        self.series: dict[tuple[str, str, str], int] = {}
        for i, k in enumerate(index.keys):
            self.series.setdefault((k.village, k.site, k.metric), i)

    def _newest(self, v: Village, s: Site, metric: str, within_ms: int) -> float | None:
        at = self.series.get((v.id, s.id, metric))
        if at is None:
            return None
        got = self.readings.latest([at])
        fresh = got.ts_ms[0] >= 0 and time.time() * 1000 - got.ts_ms[0] <= within_ms
        return float(got.value[0]) if fresh else None

    def wetter_than_fc(self, v: Village, s: Site) -> bool | None:
        if self.alerts is not None and any(  # a probe the alert core calls faulty says nothing
            e.kind == Kind.SENSOR_FAULT and e.site == s.id and e.metric == "soil_vwc_pct"
            for e in self.alerts.active_episodes(v.id)
        ):
            return None
        vwc = self._newest(v, s, "soil_vwc_pct", 2 * 3_600_000)
        fc = self.soils.get(s.irrigation.soil) if s.irrigation else None
        return None if vwc is None or fc is None else vwc / 100.0 > fc

    def raining(self, v: Village, s: Site) -> bool:
        rain = self._newest(v, s, "rain_mm", 3_600_000)
        return rain is not None and rain > 0.0


def _day(ms: int, v: Village) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(v.tz)).date().isoformat()
