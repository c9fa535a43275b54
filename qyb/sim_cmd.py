"""`qyb sim`: simulated sensors, exactly N plain readings or the village twin."""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

from qingyubiao.config import load_config
from qyb.args import Command, parse_when


def register(command: Command) -> None:
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
    c.add_argument(
        "--on",
        metavar="DATE",
        help="play the scenario on this local date instead of its own, e.g. "
        "2026-12-06 or -1d (yesterday): its times of day kept; published, it stops at now",
    )
    c.add_argument("--hours", type=float, help="simulated hours (default: the scenario's, else 24)")
    c.add_argument("--speed", type=float, help="times faster than real time, e.g. 60 (default: as fast as possible)")
    c.add_argument("--output", metavar="FILE.jsonl", help="write the twin's messages to a file instead of MQTT")
    c.add_argument("--replay", metavar="FILE.jsonl", help="publish a file written with --output")
    c.add_argument("--plot", metavar="FILE.png", help="draw one simulated day (e.g. docs/img/sim-day.png)")
    c.add_argument("--villages", type=int, help="scale mode: this many in-memory villages (implies --twin)")
    c.add_argument("--greenhouses", type=int, default=24, help="greenhouses per village in scale mode")
    c.add_argument("--valve-failure", choices=["none", "stuck_open", "silent"], default="none",
                   help="how the twin's valve controllers fail (the config's valves; default: they obey)")  # fmt: skip


def _local_date(text: str, tz: ZoneInfo) -> date:
    """The village date of a time typed as for --start: 2026-12-06, an RFC 3339 time, or -1d (yesterday)."""
    return datetime.fromtimestamp(parse_when(text, tz) / 1000, tz).date()


def _sim(args: argparse.Namespace) -> int:
    from sensors_sim import publisher

    config = load_config(args.config)
    tz = ZoneInfo(config.village[0].tz)
    if args.twin or args.scenario or args.replay or args.plot or args.villages:
        from sensors_sim.runner import TwinRun, execute

        if args.count is not None:
            raise ValueError("--count is for plain readings; the twin runs for --hours or a --scenario")
        run = TwinRun(
            scenario=args.scenario,
            on=_local_date(args.on, tz) if args.on else None,
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
            valve_failure=args.valve_failure,
        )
        execute(config, run)  # a bad scenario is a ScenarioError (ValueError): main reports it
        return 0
    if args.count is None:
        raise ValueError("give --count N, or --twin (see qyb sim --help)")
    if args.format == "auto":
        raise ValueError("--format auto is for the twin; use device, gateway or chirpstack with --count")
    fmt: publisher.Format = args.format or "device"  # argparse's choices leave the other three
    start = (
        parse_when(args.start, tz) / 1000
        if args.start
        else publisher.default_start(config, args.count, time.time(), fmt)
    )
    msgs = publisher.messages(config, args.count, args.seed, start, fmt)
    n = publisher.publish(config.deployment.mqtt, msgs, client_id=args.client_id, rate=args.rate)
    print(f"published {n} readings ({fmt} format) to {config.deployment.mqtt.url}")
    return 0
