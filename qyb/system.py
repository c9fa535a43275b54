"""The composition root: builds the running system from a config, with every collaborator passed in.

`build_collector(config)` is what `qyb collect` and `qyb demo` run (the collector, its store, the alert
manager and, when notifications are on, the outbox, router, dispatcher and maintainer pager);
`build_api(config)` is what `qyb api` serves. Command modules (qyb/*_cmd.py) use these and import no
other command. Edits made while the system runs travel through the shared database or the rules file,
never through this module (docs/design.md "How edits reach the running processes").
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qingyubiao.box import Check
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex

if TYPE_CHECKING:  # every `qyb` command imports this module: the heavy parts are imported when built
    from fastapi import FastAPI

    from alerts.manager import AlertManager
    from alerts.notify.build import Notifications
    from ingest.collector import Collector
    from ingest.health import Health
    from ingest.metrics import IngestMetrics
    from ingest.store.sqlite import SqliteStore
    from qingyubiao.store import ReadingReader

log = logging.getLogger("qyb")


def open_store(config: Config, index: SeriesIndex, readonly: bool = False) -> SqliteStore:
    from ingest.store.sqlite import SqliteStore

    s = config.deployment.store
    if readonly and not Path(s.db).exists():
        raise FileNotFoundError(f"no database at {s.db} (set QYB_DB or deployment.store.db)")
    try:
        return SqliteStore(
            s.db,
            index,
            synchronous=s.synchronous,
            retention_days=s.retention_days,
            dead_letter_limit=config.deployment.ingest.dead_letter_limit,
            readonly=readonly,
        )
    except sqlite3.DatabaseError as e:  # read-only on a file qyb never wrote, or not SQLite at all
        raise FileNotFoundError(f"{s.db} is not a qyb database ({e}); set QYB_DB or deployment.store.db") from e


def open_reader(config: Config, index: SeriesIndex) -> ReadingReader:
    """Where readings are read (deployment.store.read): the SQLite file, or InfluxDB through InfluxQL."""
    if config.deployment.store.read == "influx":
        from ingest.store.influxql import InfluxQLReader

        return InfluxQLReader(config, index, config.deployment.influx)
    return open_store(config, index, readonly=True)


@dataclass
class CollectorSystem:
    """What `qyb collect` runs. `run(stop)` until the event is set; `close()` afterwards."""

    collector: Collector
    store: SqliteStore
    alerts: AlertManager
    notifications: Notifications | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def metrics(self) -> IngestMetrics:
        return self.collector.metrics

    @property
    def health(self) -> Health:
        return self.collector.health

    def run(self, stop: threading.Event) -> None:
        """The dispatcher's threads beside the collector, for as long as the collector runs."""
        notify_stop = threading.Event()
        notifier = None
        if self.notifications is not None:
            notifier = threading.Thread(
                target=self.notifications.dispatcher.run, args=(notify_stop,), name="qyb-notify", daemon=True
            )
            notifier.start()
        try:
            self.collector.run(stop)
        finally:
            if notifier is not None:
                notify_stop.set()
                notifier.join(15)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self._closers.clear()
        self.store.refresh_rollups()
        self.store.close()


def build_collector(config: Config) -> CollectorSystem:
    """The collector with its store, alert manager, notifications and housekeeping."""
    from alerts.manager import AlertManager
    from alerts.notify.build import build_notifications
    from alerts.notify.system import MaintainerPager
    from alerts.notify.writer import NotifyingWriter
    from alerts.plan import compile_plan
    from alerts.rulebook import RulesFile
    from api.users import UserStore
    from ingest.collector import Collector
    from ingest.health import Health
    from ingest.metrics import IngestMetrics
    from ingest.store.sqlite_alerts import SqliteAlertStore
    from qingyubiao.alerting import AlertWriter
    from qingyubiao.store import BatchSink

    db = config.deployment.store.db
    index = SeriesIndex(config)
    store = open_store(config, index)
    closers: list[Callable[[], None]] = []
    metrics = IngestMetrics()  # one registry for /metrics: ingest's and the notification outbox's
    alert_store = SqliteAlertStore(db)
    closers.append(alert_store.close)
    writer: AlertWriter = alert_store
    forwarder = None
    if config.deployment.influx.url:  # forward to InfluxDB too, through its own spool and thread
        from ingest.store.forwarder import influx_forwarder
        from ingest.store.influx_alerts import InfluxAlertCopy

        forwarder = influx_forwarder(config, index, metrics)
        closers.append(forwarder.close)
        writer = InfluxAlertCopy(alert_store, forwarder)  # the transitions too, for Grafana's annotations
    notes, pager = None, None
    if config.deployment.notify.enabled:
        users = UserStore(db, config)  # people added through the API or `qyb users` are paged at once
        closers.append(users.close)
        notes = build_notifications(config, alerts=alert_store, registry=metrics.registry, directory=users.people)
        closers.append(notes.close)
        writer = NotifyingWriter(writer, notes.outbox, notes.router)
        pager = MaintainerPager(config, writer, notes.router, notes.dispatcher)
    rules = RulesFile(config.deployment.alerts.rules_file)
    manager = AlertManager(config, compile_plan(config, rules.load(), index), alert_store, writer=writer)
    health = Health(metrics.problem, on_change=pager, page_after_s=config.deployment.ingest.page_after_s)
    retention_due = [0.0]
    risks = None
    if config.deployment.agronomy.enabled:
        from agronomy.params import DEFAULT, load_params
        from alerts.agronomy import RiskWatch
        from ingest.store.sqlite_risks import SqliteRiskBook
        from ingest.store.sqlite_water import SqliteWaterBook

        book, water = SqliteRiskBook(db), SqliteWaterBook(db)
        closers += [book.close, water.close]
        params = load_params(Path(config.deployment.agronomy.params or DEFAULT))
        forecasts = None
        if config.deployment.agronomy.forecast_url:  # rain forecasts for the water advice, on their own thread
            from alerts.forecast import Forecasts

            forecasts = Forecasts(config, config.deployment.agronomy.forecast_url)
            forecasts.start()
            closers.append(forecasts.close)
        copy = None
        if forwarder is not None:  # the daily risks to InfluxDB too, for Grafana's risk dashboard
            from ingest.store.influx_alerts import InfluxRiskCopy

            copy = InfluxRiskCopy(config, forwarder)
        risks = RiskWatch(config, index, store, book, alert_store, writer, params, water_book=water,
                          forecasts=forecasts, copy=copy)  # fmt: skip

    valves = None
    valve_sites = [
        (v.id, s.irrigation.valve) for v in config.village for s in v.site if s.irrigation and s.irrigation.valve
    ]
    if valve_sites:  # valve controllers configured: commands out, their states in (alerts/valves.py)
        from agronomy.water import load_water
        from alerts.valves import MqttValveLink, SensorFacts, ValveManager
        from ingest.store.sqlite_risks import SqliteRiskBook
        from ingest.store.sqlite_water import SqliteWaterBook

        valve_book = SqliteWaterBook(db)
        link = MqttValveLink(config.deployment.mqtt, f"{config.deployment.mqtt.client_id}-valves", valve_sites)
        closers += [link.close, valve_book.close]
        facts = SensorFacts(index, store, {k: x.fc for k, x in load_water().soil.items()}, alert_store)
        advice = SqliteRiskBook(db) if config.deployment.agronomy.enabled else None  # the automatic mode's
        if advice is not None:
            closers.append(advice.close)
        valves = ValveManager(config, valve_book, link, writer, facts.wetter_than_fc, facts.raining, risks=advice)

    def maintenance() -> None:  # on the collector's writer thread, between batches
        changed = rules.changed()
        if changed is not None:
            manager.use_plan(compile_plan(config, changed, index))
        manager.tick(int(time.time() * 1000))
        store.refresh_rollups()
        if risks is not None:  # once a village day has ended, or a biofix was set: the season again
            risks.tick()
        if valves is not None:  # requests out through their interlocks; acknowledgements, states, timeouts in
            valves.tick()
        if time.monotonic() >= retention_due[0]:
            store.enforce_retention()
            retention_due[0] = time.monotonic() + 3600

    sinks: list[BatchSink] = [manager]
    if forwarder is not None:
        sinks.append(forwarder)
    collector = Collector(config, index, store, sinks=sinks, metrics=metrics, maintenance=maintenance, health=health)
    return CollectorSystem(collector, store, manager, notes, closers)


def build_api(config: Config, stream_poll_s: float = 2.0) -> FastAPI:
    """The API and pages over the configured SQLite file (what `qyb api` serves)."""
    from alerts.notify.outbox import Outbox
    from alerts.rulebook import AlertRuleBook
    from api.app import create_app
    from api.users import UserStore
    from ingest.store.sqlite import SqliteStore
    from ingest.store.sqlite_alerts import SqliteAlertStore
    from ingest.store.sqlite_risks import SqliteRiskBook
    from ingest.store.sqlite_water import SqliteWaterBook

    index = SeriesIndex(config)
    db = config.deployment.store.db
    # Create the schema and series ids if the collector has not yet, so the reader knows every series.
    SqliteStore(db, index, synchronous=config.deployment.store.synchronous).close()
    local = SqliteStore(db, index, readonly=True)  # the collector's own log: dead letters, devices' status
    outbox = Outbox(db, readonly=True)  # the collector's: the phone page's notices and the ack links' references
    return create_app(
        config,
        index=index,
        stream_poll_s=stream_poll_s,
        ack_secret=config.deployment.notify.ack_secret,  # the collector signs with the same one
        reader=open_reader(config, index),
        ingest_log=local,
        device_statuses=local.device_statuses,
        alerts=SqliteAlertStore(db),
        users=UserStore(db, config),
        rules=AlertRuleBook(config, config.deployment.alerts.rules_file),
        risks=SqliteRiskBook(db),
        water=SqliteWaterBook(db),
        feed=outbox,
        ack_refs=outbox,
        box=box_checks(config),
    )


BOX_CACHE_S = 15.0  # /healthz is polled by monitors; the broker probe is a login, at most this often


def box_checks(config: Config) -> Callable[[], list[Check]]:
    """The API's view of the box (`qyb status` without the API line, which is the API itself), cached."""
    from ingest.box_facts import box_status

    lock, kept = threading.Lock(), [(-BOX_CACHE_S, list[Check]())]

    def checks() -> list[Check]:
        with lock:
            at, found = kept[0]
            if time.monotonic() - at >= BOX_CACHE_S:
                found = box_status(config, int(time.time() * 1000))
                kept[0] = (time.monotonic(), found)
            return found

    return checks


class ApiThread:
    """The API and pages served from a thread (`qyb demo`), with login links for a farmer and the secretary."""

    def __init__(self, config: Config, port: int) -> None:
        import uvicorn

        self.base = f"http://127.0.0.1:{port}"
        app = build_api(config, stream_poll_s=1.0)
        users = app.state.api.users
        village = config.village[0]
        farmer = next(p for p in village.person if p.role == "farmer" and village.sites_of(p))
        secretary = next(p for p in village.person if p.role == "secretary")
        farmer_token = users.issue(village.id, farmer.id, "demo")
        secretary_token = users.issue(village.id, secretary.id, "demo")
        self.links = {
            f"农户 {farmer.name} 的手机页 (phone page)": f"{self.base}/#token={farmer_token}",
            f"{secretary.name} 的全村总览 (overview)": f"{self.base}/overview#token={secretary_token}",
        }
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)  # print the links only once they answer

    @property
    def banner(self) -> str:
        lines = [f"  pages         {name}\n                {url}" for name, url in self.links.items()]
        return "\n".join(lines) + f"\n  API docs      {self.base}/api/v1/docs\n"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
