"""`qyb demo`: the whole village on one machine with nothing installed but Python.

An embedded MQTT broker (amqtt) unless the config or QYB_MQTT_URL names a broker,
the collector storing into SQLite under ./data/demo unless the config or QYB_DB
names a database, and simulated sensors reporting every few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from qingyubiao.config import Config, load_config
from qingyubiao.series import SeriesIndex
from qyb.args import Command
from qyb.system import ApiThread, CollectorSystem, build_collector, open_store

if TYPE_CHECKING:  # every `qyb` command imports this module: the rest when the demo runs
    from qingyubiao.notifying import FeedEvent
    from qyb.demo_terminal import Loudspeaker, Notices
    from sensors_sim.twin import SimMessage, Twin
    from sensors_sim.valves import TwinValve

log = logging.getLogger("qyb.demo")


def register(command: Command) -> None:
    c = command("demo", run_demo, "run the village demo: broker, collector, simulated sensors, pages")
    c.add_argument("--data", default="data/demo", help="folder for the demo's database, rules file and ack-link key")
    c.add_argument("--port", type=int, default=1883, help="MQTT port of the embedded broker (another if taken)")
    c.add_argument("--api-port", type=int, default=8000, help="port of the pages and the API (another if taken)")
    c.add_argument("--history", type=_hours, default=24.0,
                   help="hours of village life replayed before the data goes live (default 24)")  # fmt: skip
    c.add_argument("--speed", type=_speed,
                   help="replay the history at this many times real time (default: as fast as it goes, seconds "
                        "for a day); once at the present the twin reports in real time")  # fmt: skip
    c.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    c.add_argument("--metrics-port", type=int, default=9108)


def _hours(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 24 * 30:
        raise argparse.ArgumentTypeError(f"历史应为 0 到 720 小时 / history must be 0 to 720 hours: {text}")
    return value


def _speed(text: str) -> float:
    value = _number(text)
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"回放速度至少为 1 / the speed must be at least 1 (real time): {text}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"不是数字 / not a number: {text}") from None


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: a restart keeps its port
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port")


class EmbeddedBroker:
    """amqtt in a thread of its own: MQTT 3.1.1 on 127.0.0.1, for the demo only."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="amqtt", daemon=True)

    def start(self) -> None:
        try:
            import amqtt  # noqa: F401  (an extra: a village box runs Mosquitto)
        except ImportError:
            raise ValueError(
                "the demo's embedded broker needs amqtt: pip install 'qingyubiao[demo]' (scripts/demo does), "
                "or name a broker with QYB_MQTT_URL"
            ) from None
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the embedded broker did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        from amqtt.broker import Broker

        broker = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            }
        )
        await broker.start()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await broker.shutdown()

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


def demo_config(config: Config, data: str, broker_url: str | None, api_url: str | None = None) -> Config:
    """The demo's own database, rules file and ack-link key under `data`, and its pages' address in the
    notices' links, for whichever of these the config (or QYB_*) does not name (pydantic's
    `model_fields_set` says which settings were given); the embedded broker's url when there is one.
    So rule editing, one-tap ack links and notifications work in the demo as on a village box."""
    dep = config.deployment
    mqtt = dep.mqtt.model_copy(update={"url": broker_url, "protocol": 311}) if broker_url else dep.mqtt
    store, alerts, notify = dep.store, dep.alerts, dep.notify
    if "db" not in store.model_fields_set:
        store = store.model_copy(update={"db": str(Path(data) / "qyb.sqlite"), "synchronous": "NORMAL"})
    if "rules_file" not in alerts.model_fields_set:  # the overview's rule editor writes here
        alerts = alerts.model_copy(update={"rules_file": str(Path(data) / "rules.toml")})
    if "ack_secret" not in notify.model_fields_set:
        notify = notify.model_copy(update={"ack_secret": demo_ack_secret(Path(data))})
    if api_url and "public_url" not in notify.model_fields_set:  # links in notices open the demo's pages
        notify = notify.model_copy(update={"public_url": api_url})
    update = {"mqtt": mqtt, "store": store, "alerts": alerts, "notify": notify}
    return config.model_copy(update={"deployment": dep.model_copy(update=update)})


def demo_ack_secret(data: Path) -> str:
    """The key that signs the demo's ack links, kept in `data` so links sent before a restart still work."""
    path = data / "ack-secret"
    data.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # a credential: the owner's only
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secret := secrets.token_urlsafe(32))
    return secret


# The bundled 李家河村 has no valve controllers yet (the secretary's next goal); the demo fits two so the
# irrigation loop shows: the first orchard block asks its farmer (确认灌溉), the first greenhouse waters by itself.
DEMO_VALVES = {"or01": "confirm", "gh01": "automatic"}


def demo_valves(config: Config) -> Config:
    """The config with a twin valve controller on the demo's blocks, unless it already names valves."""
    if any(s.irrigation and s.irrigation.valve for v in config.village for s in v.site):
        return config
    raw = config.model_dump(exclude_unset=True)
    for v in raw["village"]:
        for s in v.get("site", []):
            if s["id"] in DEMO_VALVES and s.get("irrigation"):
                s["irrigation"] |= {"valve": f"{s['id']}-valve", "mode": DEMO_VALVES[s["id"]]}
                v["device"].append({"id": f"{s['id']}-valve", "site": s["id"], "metrics": ["bat_v"], "interval_s": 600})
    return Config.model_validate(raw)


def run_demo(args: argparse.Namespace) -> int:
    if not args.verbose:  # the embedded broker narrates every connection; a newcomer needs the banner
        for noisy in ("amqtt", "transitions"):
            logging.getLogger(noisy).setLevel(logging.WARNING)

    config = load_config(args.config)
    broker: EmbeddedBroker | None = None
    url = None
    if "url" not in config.deployment.mqtt.model_fields_set:
        broker = EmbeddedBroker(_free_port(args.port))
        broker.start()
        url = f"mqtt://127.0.0.1:{broker.port}"
    api_port = _free_port(args.api_port)
    config = demo_valves(demo_config(config, args.data, url, f"http://127.0.0.1:{api_port}"))
    # the port the collector's metrics are served on, in the config the API reads to find them (its banner
    # said the collector did not answer when 9108 was taken or --metrics-port was 0)
    metrics_port = _free_port(args.metrics_port) if args.metrics_port else 0
    update = {"metrics_port": metrics_port, "metrics_addr": "127.0.0.1"}
    config = config.model_copy(update={"deployment": config.deployment.model_copy(update=update)})
    from sensors_sim.forecast import TwinForecast
    from sensors_sim.twin import Twin

    # The twin starts `--history` hours ago; that history is replayed before anything goes live (demo_history).
    twin = Twin(config, seed=0, start_s=history_start(config, args.history, time.time()))
    forecast = None
    if not config.deployment.agronomy.forecast_url:  # the twin forecasts the rain its weather will bring
        forecast = TwinForecast(config, twin.physics).start()
        agronomy = config.deployment.agronomy.model_copy(update={"forecast_url": forecast.url})
        config = config.model_copy(update={"deployment": config.deployment.model_copy(update={"agronomy": agronomy})})
    system = build_collector(config)
    if metrics_port:
        system.metrics.serve(metrics_port, addr="127.0.0.1")
    deadline = time.monotonic() + args.duration if args.duration else None
    live = _Live(config, system, twin, lambda: deadline is not None and time.monotonic() >= deadline)
    try:
        village = config.village[0]
        print(
            f"""
晴雨表 demo: {village.name}, {len(village.site)} sites, {len(village.device)} devices
  MQTT broker   {config.deployment.mqtt.url}{"  (embedded)" if broker else ""}
  database      {config.deployment.store.db}
  rules file    {config.deployment.alerts.rules_file}
  try           qyb export --from -1h | head        (with QYB_DB={config.deployment.store.db})
                qyb deadletters
  stop          Ctrl-C
""",
            flush=True,
        )
        if args.speed:  # a paced history is there to be watched as it fills in
            live.pages = _pages(config, api_port)
        live.history(args.speed)
        if live.pages is None and not live.stopping():  # after the history: a page opened during it would keep
            live.pages = _pages(config, api_port)  # panels of the half-replayed day until they next refresh
        live.run()
    except KeyboardInterrupt:
        pass
    finally:  # also when starting the pages or the twin failed: the collector must stop and store what it has
        live.stop()
        if forecast is not None:
            forecast.stop()
        count = system.store.count()
        system.close()
        print(f"stopped; {count} readings stored in {config.deployment.store.db}")
        if broker:
            broker.stop()
    return 0


def _pages(config: Config, port: int) -> ApiThread:
    """The phone page and the overview, served, and their login links printed."""
    pages = ApiThread(config, port)
    print(pages.banner, flush=True)
    return pages


def _span(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def in_real_time(
    msgs: Iterable[SimMessage],
    stop: Callable[[], bool],
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[SimMessage]:
    """Each message at its own simulated time, at once if that has passed: once the history is replayed the
    twin's clock is the wall clock. (pacing.paced at speed 1 keeps the lag of the first message for good.)"""
    for msg in msgs:
        while (wait := msg[0] - clock()) > 0:
            if stop():
                return
            sleep(min(wait, 0.5))
        if stop():
            return
        yield msg


def history_start(config: Config, hours: float, now_s: float) -> float:
    """Where the demo's history begins: `hours` ago, or just after the newest reading a previous run left in
    the database if that is later, so a restart replays the time it was stopped, not a second, interleaved
    copy of a day the database already holds."""
    start = now_s - hours * 3600.0
    if not Path(config.deployment.store.db).exists():
        return start
    index = SeriesIndex(config)
    store = open_store(config, index, readonly=True)
    try:
        newest = int(store.latest(range(len(index.keys))).ts_ms.max(initial=-1))
    finally:
        store.close()
    return max(start, min(newest / 1000.0 + 1.0, now_s))


class _Live:
    """The demo's moving parts after the broker: the history, then the collector, the twin's valves, the
    loudspeaker and the twin's live readings; `stop()` ends whichever of them started."""

    def __init__(self, config: Config, system: CollectorSystem, twin: Twin, stopping: Callable[[], bool]) -> None:
        self.config, self.system, self.twin, self.stopping = config, system, twin, stopping
        self.tz = ZoneInfo(config.village[0].tz)
        self.pages: ApiThread | None = None
        self.valves: list[TwinValve] = []
        self.speaker: Loudspeaker | None = None
        self.notices: Notices | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._next_report = 0.0

    def _when(self, t_s: float) -> str:
        return datetime.fromtimestamp(t_s, self.tz).strftime("%m-%d %H:%M")

    def history(self, speed: float | None) -> None:
        """The village's life from the twin's start to now, stored and evaluated on its own clock
        (qyb/demo_history.py): the pages open on a living village with its day behind it, and its alerts
        are not backfill. Then the terminal says the data is live."""
        from qyb.demo_history import catch_up
        from sensors_sim import pacing

        span = _span(time.time() - self.twin.physics.t)
        started = time.monotonic()
        how = f"at {speed:g}x real time" if speed else "as fast as it goes"
        print(f"  回放历史 replaying the village's last {span} (since {self._when(self.twin.physics.t)}) {how} ...",
              flush=True)  # fmt: skip

        def run_until(t: float) -> Iterator[SimMessage]:
            msgs = self._reported(self.twin.run(t, max_steps=60), "history")
            return pacing.paced(msgs, speed, not_before_sim_time=True, stop=self.stopping) if speed else msgs

        done = catch_up(self.system, run_until, lambda: self.twin.physics.t, self.stopping)
        if self.stopping():
            return
        print(
            f"  数据已实时 data is live (village time {self._when(time.time())}): {done.readings} readings of the "
            f"last {span} replayed in {time.monotonic() - started:.1f} s; the sensors report in real time now",
            flush=True,
        )

    def run(self) -> None:
        """The collector on the broker, then the twin in real time until Ctrl-C or --duration."""
        from sensors_sim import publisher
        from sensors_sim.runner import as_messages
        from sensors_sim.valves import twin_valves

        if self.stopping():
            return
        mqtt, notify = self.config.deployment.mqtt, self.config.deployment.notify
        if notify.enabled:  # before the dispatcher starts: what still fires after the history is sent then
            from qyb.demo_terminal import Loudspeaker, Notices

            self.notices = Notices(self.config, self._tell)
            if notify.mqtt:
                self.speaker = Loudspeaker(mqtt, [v.id for v in self.config.village], self._say)
                self.speaker.subscribed.wait(10)
        self._worker = threading.Thread(target=self.system.run, args=(self._stop,), name="collector", daemon=True)
        self._worker.start()
        self.system.collector.subscribed.wait(10)  # readings published before the subscription would be lost
        self.valves = twin_valves(self.config, self.twin.physics, mqtt.host, mqtt.port)  # obey the collector
        if self.valves:
            print(
                f"  {len(self.valves)} twin valve controllers: {', '.join(v.device for v in self.valves)}", flush=True
            )
        sim = self.twin.run(float("inf"), max_steps=1 if self.valves else 60)
        live = in_real_time(self._reported(sim, "live"), self.stopping)
        publisher.publish(mqtt, as_messages(live, lambda _: 0), client_id="qyb-demo-sim")

    def _say(self, village: str, text: str) -> None:
        print(f"  村广播 loudspeaker ({village}): {text}", flush=True)

    def _tell(self, e: FeedEvent, name: str) -> None:
        link = f"\n                一键确认 ack link: {e.ack_url}" if e.ack_url else ""
        print(f"  通知 notice → {name} 的手机页 (phone page): {e.text_zh}{link}", flush=True)

    def _reported(self, msgs: Iterable[SimMessage], phase: str) -> Iterator[SimMessage]:
        for msg in msgs:
            if time.monotonic() >= self._next_report:
                self._next_report = time.monotonic() + 15.0
                print(f"  village time {self._when(msg[0])} ({phase})  {self.twin.readings} readings made, "
                      f"{self.system.store.count()} stored", flush=True)  # fmt: skip
            yield msg

    def stop(self) -> None:
        for valve in self.valves:
            valve.stop()
        if self.speaker is not None:
            self.speaker.stop()
        if self.notices is not None:
            self.notices.stop()
        self._stop.set()
        if self.pages is not None:
            self.pages.stop()
        if self._worker is not None:
            self._worker.join(10)
