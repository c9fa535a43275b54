"""`qyb`: the one command, and the composition root that wires the packages together."""

from __future__ import annotations

import argparse
import atexit
import csv
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from qingyubiao import LOG_FORMAT, __version__, timeutil
from qingyubiao.config import Config, ConfigError, load_config
from qingyubiao.series import SeriesIndex
from qingyubiao.timeutil import iso

log = logging.getLogger("qyb")

Handler = Callable[[argparse.Namespace], int]


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=LOG_FORMAT,
        stream=sys.stderr,
    )
    # httpx logs every request's full URL at INFO, and the WeCom and DingTalk robot keys and an SMS gateway's
    # credentials are in those URLs. The outbox keeps every attempt's outcome, and the dispatcher logs failures,
    # without the URL.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(_glue_time_values(sys.argv[1:] if argv is None else argv))
    configure_logging(getattr(args, "verbose", False))
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


# Options whose value may be a relative time like -24h, which argparse would take for an option.
_TIME_OPTIONS = ("--from", "--to", "--since", "--start")


def _glue_time_values(argv: Sequence[str]) -> list[str]:
    """`--from -24h` → `--from=-24h`, so the README's commands work as typed."""
    out: list[str] = []
    args = iter(argv)
    for a in args:
        value = next(args, None) if a in _TIME_OPTIONS else None
        out.append(a if value is None else f"{a}={value}")
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qyb", description="晴雨表 Qingyubiao: greenhouse and orchard monitoring")
    p.add_argument("--version", action="version", version=f"qyb {__version__}")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_text, description=help_text)
        c.add_argument("--config", metavar="FILE", help="village config (default: the bundled 李家河村)")
        c.add_argument("-v", "--verbose", action="store_true")
        c.set_defaults(handler=handler)
        return c

    command("check", _check, "validate a config file; exit non-zero on error")

    c = command("collect", _collect, "run the MQTT collector until stopped")
    c.add_argument("--metrics-port", type=int, help="Prometheus port (0 = off; default from config)")

    c = command("sim", _sim, "simulated sensors: exactly N readings (--count), or the village twin (--twin)")
    c.add_argument("--count", type=int, help="publish exactly N plausible readings and exit")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument(
        "--format",
        choices=["auto", "device", "gateway", "chirpstack"],
        help="payload format (default: device with --count; with --twin, auto = each device's own path)",
    )
    c.add_argument("--start", help="time of the first reading (default: so that the last one is now, to the ms)")
    c.add_argument("--rate", type=float, help="messages per second (default: as fast as the broker takes)")
    c.add_argument("--client-id", default="qyb-sim")
    c.add_argument("--twin", action="store_true", help="run the village twin: weather, greenhouses, orchards")
    c.add_argument("--scenario", metavar="NAME|FILE", help="twin scenario, e.g. heat-noon (implies --twin)")
    c.add_argument("--hours", type=float, help="simulated hours (default: the scenario's, else 24)")
    c.add_argument("--speed", type=float, help="times faster than real time, e.g. 60 (default: as fast as possible)")
    c.add_argument("--output", metavar="FILE.jsonl", help="write the twin's messages to a file instead of MQTT")
    c.add_argument("--replay", metavar="FILE.jsonl", help="publish a file written with --output")
    c.add_argument("--plot", metavar="FILE.png", help="draw one simulated day (e.g. docs/img/sim-day.png)")
    c.add_argument("--villages", type=int, help="scale mode: this many in-memory villages (implies --twin)")
    c.add_argument("--greenhouses", type=int, default=24, help="greenhouses per village in scale mode")

    c = command("export", _export, "write stored readings as CSV or JSON lines")
    c.add_argument("--from", dest="start", help="start: 2026-11-01, an RFC 3339 time, or -24h / -7d")
    c.add_argument("--to", dest="end", help="end (exclusive), same forms")
    c.add_argument("--site", action="append", help="only this site (repeatable)")
    c.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    c.add_argument("--output", "-o", help="file to write (default: standard output)")
    c.add_argument(
        "--include-flagged",
        action="store_true",
        help="also export readings flagged out of physical range, with a flags column",
    )

    c = command("deadletters", _deadletters, "show rejected payloads and the counts per reason")
    c.add_argument("--limit", type=int, default=20)
    c.add_argument("--reason")

    c = command("devices", _devices, "list configured devices, or unknown ones that tried to report")
    c.add_argument("--unknown", action="store_true", help="devices seen on the broker but not configured")

    c = command("demo", _demo, "run the village demo: broker, collector, simulated sensors")
    c.add_argument("--data", default="data/demo", help="folder for the demo database")
    c.add_argument("--port", type=int, default=1883, help="port of the embedded MQTT broker")
    c.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    c.add_argument("--metrics-port", type=int, default=9108)

    from qyb import store_cmd

    store_cmd.add_arguments(command("store", store_cmd.run, "copy history: store migrate --from sqlite --to influx"))

    from qyb import alerts_cmd

    alerts_cmd.register(command)

    from qyb import api_cmd

    api_cmd.add_api_arguments(command("api", api_cmd.run_api, "serve the API, the phone page and the overview"))
    api_cmd.add_users_arguments(command("users", api_cmd.run_users, "add people, issue and revoke API tokens"))
    return p


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


# -- check -------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    config = _load(args)
    index = SeriesIndex(config)
    for v in config.village:
        kinds = {k: sum(s.kind == k for s in v.site) for k in ("greenhouse", "orchard")}
        print(
            f"{v.name} ({v.id}): {kinds['greenhouse']} greenhouses, {kinds['orchard']} orchard blocks, "
            f"{len(v.device)} devices, {len(v.person)} people"
        )
    print(f"ok: {len(index)} series; MQTT {config.deployment.mqtt.url}; store {config.deployment.store.db}")
    return 0


# -- collect -----------------------------------------------------------------------


def _open_store(config: Config, index: SeriesIndex, readonly: bool = False):  # noqa: ANN202
    from ingest.store.sqlite import SqliteStore

    s = config.deployment.store
    if readonly and not Path(s.db).exists():
        raise FileNotFoundError(f"no database at {s.db} (set QYB_DB or deployment.store.db)")
    return SqliteStore(
        s.db,
        index,
        synchronous=s.synchronous,
        retention_days=s.retention_days,
        dead_letter_limit=config.deployment.ingest.dead_letter_limit,
        readonly=readonly,
    )


def build_collector(config: Config):  # noqa: ANN201
    """The collector with its store and housekeeping, as `qyb collect` and `qyb demo` run it."""
    from ingest.collector import Collector
    from ingest.health import Health
    from ingest.metrics import IngestMetrics
    from qingyubiao.store import BatchSink

    index = SeriesIndex(config)
    store = _open_store(config, index)
    retention_due = [0.0]
    from qyb import alerts_cmd

    alert_manager = alerts_cmd.build_manager(config, index)  # a sink per batch, ticked here for staleness
    metrics = IngestMetrics()  # one registry for /metrics: ingest's and the notification outbox's
    health = Health(metrics.problem)  # maintainers are told too once the notifications run (below)
    if config.deployment.notify.enabled and alert_manager.store is not None:  # outbox fed by the alert writer
        from alerts.notify.build import build_notifications
        from alerts.notify.writer import NotifyingWriter

        notes = build_notifications(config, alerts=alert_manager.store, registry=metrics.registry)
        alert_manager.store = writer = NotifyingWriter(alert_manager.store, notes.outbox, notes.router)  # type: ignore[assignment]
        from alerts.notify.system import MaintainerPager

        pager = MaintainerPager(config, writer, notes.router, notes.dispatcher)
        health = Health(metrics.problem, on_change=pager, page_after_s=config.deployment.ingest.page_after_s)
        notify_stop = threading.Event()
        notifier = threading.Thread(target=notes.dispatcher.run, args=(notify_stop,), name="qyb-notify", daemon=True)
        notifier.start()

        def stop_notifications() -> None:
            if notifier.is_alive():
                notify_stop.set()
                notifier.join(15)
                notes.close()

        atexit.register(stop_notifications)

    def maintenance() -> None:
        alert_manager.tick(int(time.time() * 1000))
        store.refresh_rollups()
        if time.monotonic() >= retention_due[0]:
            store.enforce_retention()
            retention_due[0] = time.monotonic() + 3600

    sinks: list[BatchSink] = [alert_manager]
    if config.deployment.influx.url:  # forward to InfluxDB too, through its own spool and thread
        from ingest.store.forwarder import influx_forwarder

        forwarder = influx_forwarder(config, index, metrics)
        atexit.register(forwarder.close)
        sinks.append(forwarder)
    collector = Collector(config, index, store, sinks=sinks, metrics=metrics, maintenance=maintenance, health=health)
    if config.deployment.notify.enabled and alert_manager.store is not None:
        collector.stop_notifications = stop_notifications  # type: ignore[attr-defined]  (tests stop it early)
    return collector, store


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _collect(args: argparse.Namespace) -> int:
    config = _load(args)
    collector, store = build_collector(config)
    port = config.deployment.metrics_port if args.metrics_port is None else args.metrics_port
    if port:
        addr = config.deployment.metrics_addr
        collector.metrics.serve(port, addr)
        log.info("Prometheus metrics on http://%s:%d/metrics", addr, port)
    log.info("collecting into %s", config.deployment.store.db)
    from ingest.collector import GIL_SWITCH_INTERVAL_S

    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    try:
        collector.run(_stop_on_signals())
    finally:
        store.refresh_rollups()
        store.close()
    return 0


# -- sim ---------------------------------------------------------------------------


def _sim(args: argparse.Namespace) -> int:
    from sensors_sim import publisher

    config = _load(args)
    tz = ZoneInfo(config.village[0].tz)
    if args.twin or args.scenario or args.replay or args.plot or args.villages:
        from sensors_sim.runner import TwinRun, execute

        if args.count is not None:
            raise ValueError("--count is for plain readings; the twin runs for --hours or a --scenario")
        run = TwinRun(
            scenario=args.scenario,
            start_s=parse_when(args.start, tz) / 1000 if args.start else None,
            hours=args.hours,
            speed=args.speed,
            seed=args.seed,
            fmt=args.format or "auto",
            output=args.output,
            replay=args.replay,
            plot=args.plot,
            villages=args.villages,
            greenhouses=args.greenhouses,
            client_id=args.client_id,
        )
        execute(config, run)  # a bad scenario is a ScenarioError (ValueError): main reports it
        return 0
    if args.count is None:
        raise ValueError("give --count N, or --twin (see qyb sim --help)")
    fmt = args.format or "device"
    if fmt == "auto":
        raise ValueError("--format auto is for the twin; use device, gateway or chirpstack with --count")
    start = (
        parse_when(args.start, tz) / 1000
        if args.start
        else publisher.default_start(config, args.count, time.time(), fmt)
    )
    msgs = publisher.messages(config, args.count, args.seed, start, fmt)
    n = publisher.publish(config.deployment.mqtt, msgs, client_id=args.client_id, rate=args.rate)
    print(f"published {n} readings ({fmt} format) to {config.deployment.mqtt.url}")
    return 0


# -- export, deadletters, devices --------------------------------------------------


def parse_when(text: str, tz: ZoneInfo) -> int:
    """A time given on the command line (see `qingyubiao.timeutil.parse_when`) → epoch ms."""
    return timeutil.parse_when(text, tz, int(time.time() * 1000))


def _export(args: argparse.Namespace) -> int:
    config = _load(args)
    index = SeriesIndex(config)
    store = _open_store(config, index, readonly=True)
    tz = ZoneInfo(config.village[0].tz)
    start = parse_when(args.start, tz) if args.start else None
    end = parse_when(args.end, tz) if args.end else None
    series = None
    if args.site:
        known = {s.id for v in config.village for s in v.site}
        for site in args.site:
            if site not in known:
                raise ValueError(f"unknown site {site!r}; sites: {', '.join(sorted(known))}")
        series = [i for i, k in enumerate(index.keys) if k.site in args.site]
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    n = 0
    try:
        columns = ["ts", "village", "site", "device", "metric", "value"]
        if args.include_flagged:
            columns.append("flags")
        writer = csv.writer(out) if args.format == "csv" else None
        if writer:
            writer.writerow(columns)
        for row in store.export(start, end, series):
            if row.out_of_range and not args.include_flagged:
                continue
            ts = datetime.fromtimestamp(row.ts_ms / 1000, tz).isoformat(timespec="milliseconds")
            values: list[object] = [ts, row.village, row.site, row.device, row.metric, row.value]
            if args.include_flagged:
                values.append(row.flags)
            if writer:
                writer.writerow(values)
            else:
                out.write(json.dumps(dict(zip(columns, values, strict=True)), ensure_ascii=False) + "\n")
            n += 1
    finally:
        if args.output:
            out.close()
        store.close()
    print(f"exported {n} readings", file=sys.stderr)
    return 0


def _deadletters(args: argparse.Namespace) -> int:
    config = _load(args)
    store = _open_store(config, SeriesIndex(config), readonly=True)
    try:
        counts = store.rejection_counts()
        print("rejected, by reason (since the database was created):")
        for reason, n in counts.items():
            print(f"  {reason:<18} {n}")
        if not counts:
            print("  (none)")
        print(f"  {'out_of_range':<18} {store.out_of_range_count()}  (stored, flagged)")
        letters = store.dead_letters(args.limit, args.reason)
        print(f"\nlatest {len(letters)} dead letters:")
        for r in letters:
            payload = r.payload[:120].decode("utf-8", "replace")
            print(f"{iso(r.received_ms)}  {r.reason.value:<16} {r.topic}\n    {r.detail}\n    payload: {payload}")
    finally:
        store.close()
    return 0


def _devices(args: argparse.Namespace) -> int:
    config = _load(args)
    if not args.unknown:
        for v in config.village:
            for d in v.device:
                lora = f" DevEUI {d.dev_eui}" if d.dev_eui else ""
                print(f"{v.id}/{d.id}  site {d.site}  every {d.interval_s:g} s  {', '.join(d.metrics)}{lora}")
        return 0
    store = _open_store(config, SeriesIndex(config), readonly=True)
    try:
        unknown = store.unknown_devices()
        print(f"{len(unknown)} unknown devices (add them to the config to store their readings):")
        for u in unknown:
            print(f"  {u.village}/{u.device}  {u.count} messages  last {iso(u.last_ms)}  topic {u.topic}")
    finally:
        store.close()
    return 0


# -- demo --------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from qyb.demo import run_demo

    return run_demo(args)


if __name__ == "__main__":
    raise SystemExit(main())
