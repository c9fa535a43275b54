"""`qyb demo`: the whole village on one machine with nothing installed but Python.

An embedded MQTT broker (amqtt) unless the config or QYB_MQTT_URL names a broker,
the collector storing into SQLite under ./data/demo unless the config or QYB_DB
names a database, and simulated sensors reporting every few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from qingyubiao.config import Config, load_config
from qyb.args import Command
from qyb.system import ApiThread, build_collector

if TYPE_CHECKING:
    from sensors_sim.valves import TwinValve

log = logging.getLogger("qyb.demo")


def register(command: Command) -> None:
    c = command("demo", run_demo, "run the village demo: broker, collector, simulated sensors")
    c.add_argument("--data", default="data/demo", help="folder for the demo database")
    c.add_argument("--port", type=int, default=1883, help="port of the embedded MQTT broker")
    c.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    c.add_argument("--metrics-port", type=int, default=9108)


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
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


def demo_config(config: Config, data: str, broker_url: str | None) -> Config:
    """The demo's own database under `data` unless the config (or QYB_DB) names one; the embedded broker's
    url when there is one (pydantic's `model_fields_set` says which settings were given)."""
    dep = config.deployment
    mqtt = dep.mqtt.model_copy(update={"url": broker_url, "protocol": 311}) if broker_url else dep.mqtt
    store = dep.store
    if "db" not in store.model_fields_set:
        store = store.model_copy(update={"db": str(Path(data) / "qyb.sqlite"), "synchronous": "NORMAL"})
    return config.model_copy(update={"deployment": dep.model_copy(update={"mqtt": mqtt, "store": store})})


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
    from sensors_sim import publisher

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
    config = demo_valves(demo_config(config, args.data, url))
    from sensors_sim import pacing
    from sensors_sim.forecast import TwinForecast
    from sensors_sim.twin import Twin

    speed = float(getattr(args, "speed", None) or 60.0)
    twin = Twin(config, seed=0, start_s=pacing.start_for(24.0, speed, time.time()))
    forecast = None
    if not config.deployment.agronomy.forecast_url:  # the twin forecasts the rain its weather will bring
        forecast = TwinForecast(config, twin.physics).start()
        agronomy = config.deployment.agronomy.model_copy(update={"forecast_url": forecast.url})
        config = config.model_copy(update={"deployment": config.deployment.model_copy(update={"agronomy": agronomy})})
    system = build_collector(config)
    store = system.store
    if args.metrics_port:
        system.metrics.serve(_free_port(args.metrics_port), addr="127.0.0.1")
    stop = threading.Event()
    worker = threading.Thread(target=system.run, args=(stop,), name="collector", daemon=True)
    worker.start()
    pages = None
    valves: list[TwinValve] = []
    try:
        pages = ApiThread(config, _free_port(getattr(args, "api_port", 8000)))  # the phone page and the overview
        village = config.village[0]
        print(
            f"""
晴雨表 demo: {village.name}, {len(village.site)} sites, {len(village.device)} devices
  MQTT broker   {config.deployment.mqtt.url}{"  (embedded)" if broker else ""}
  database      {config.deployment.store.db}
  try           qyb export --from -1h | head        (with QYB_DB={config.deployment.store.db})
                qyb deadletters
  stop          Ctrl-C
""",
            flush=True,
        )
        print(pages.banner, flush=True)
        deadline = time.monotonic() + args.duration if args.duration else None
        # The village twin at 60× real time: it starts a simulated day ago and catches up with the present
        # after 24 minutes, then goes on in real time; a newcomer sees a whole day and night in minutes.
        from collections.abc import Iterator
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from sensors_sim.runner import as_messages
        from sensors_sim.twin import SimMessage
        from sensors_sim.valves import twin_valves

        tz = ZoneInfo(village.tz)
        next_report = [0.0]

        def stopping() -> bool:
            return deadline is not None and time.monotonic() >= deadline

        def reported(msgs: Iterator[SimMessage]) -> Iterator[SimMessage]:
            for msg in msgs:
                if time.monotonic() >= next_report[0]:
                    next_report[0] = time.monotonic() + 15.0
                    when = datetime.fromtimestamp(msg[0], tz).strftime("%m-%d %H:%M")
                    print(f"  village time {when}  {twin.readings} readings sent, {store.count()} stored", flush=True)
                yield msg

        print(f"  the village twin runs at {speed:g}x real time until it reaches the present", flush=True)
        mqtt = config.deployment.mqtt
        valves = twin_valves(config, twin.physics, mqtt.host, mqtt.port)  # obey the collector's commands
        if valves:
            print(f"  {len(valves)} twin valve controllers: {', '.join(v.device for v in valves)}", flush=True)
        sim = pacing.paced(twin.run(float("inf"), max_steps=1 if valves else 60), speed, not_before_sim_time=True,
                           stop=stopping)  # fmt: skip
        publisher.publish(config.deployment.mqtt, as_messages(reported(sim), lambda _: 0), client_id="qyb-demo-sim")
    except KeyboardInterrupt:
        pass
    finally:  # also when starting the pages or the twin failed: the collector must stop and store what it has
        for valve in valves:
            valve.stop()
        stop.set()
        if pages is not None:
            pages.stop()
        if forecast is not None:
            forecast.stop()
        worker.join(10)
        count = store.count()
        system.close()
        print(f"stopped; {count} readings stored in {config.deployment.store.db}")
        if broker:
            broker.stop()
    return 0
