"""`qyb collect`: the MQTT collector, its alerting and notifications, until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from qingyubiao.config import load_config
from qyb.args import Command
from qyb.system import build_collector

log = logging.getLogger("qyb")


def register(command: Command) -> None:
    c = command("collect", _collect, "run the MQTT collector until stopped")
    c.add_argument("--metrics-port", type=int, help="Prometheus port (0 = off; default from config)")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _collect(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    system = build_collector(config)
    collector = system.collector
    port = config.deployment.metrics_port if args.metrics_port is None else args.metrics_port
    if port:
        addr = config.deployment.metrics_addr
        collector.metrics.serve(port, addr)
        log.info("Prometheus metrics on http://%s:%d/metrics", addr, port)
    log.info("collecting into %s", config.deployment.store.db)
    from ingest.collector import GIL_SWITCH_INTERVAL_S

    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    try:
        system.run(_stop_on_signals())
    finally:
        system.close()
    return 0
