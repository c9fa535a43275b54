"""Ingest throughput through real mosquitto at QoS 1: our collector vs a bare paho subscriber.

Each consumer in turn subscribes alone to a fresh broker; a forked process (bench/rawpub.py,
pre-built QoS 1 packets, never the bottleneck and never sharing our GIL) then floods the
messages, and the time from the consumer's first message to its last is measured. The bare
subscriber only counts messages (the ceiling for a Python paho client); the collector
decodes, stores durably into SQLite (synchronous=FULL), and only then acknowledges.

    .venv/bin/python bench/bench_ingest.py            # defaults: 100k single, 10k batches of 64
    .venv/bin/python bench/bench_ingest.py --single 200000 --batches 20000 --repeat 3
    .venv/bin/python bench/bench_ingest.py --single 0 --batches 6000 --repeat 12 --switch-interval 0.005
    .venv/bin/python -m bench.bench_ingest --single 20000 --batches 10000 --repeat 5 --decoder-process 0,1
"""

from __future__ import annotations

import argparse
import getpass
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from bench import rawpub
from ingest.collector import GIL_SWITCH_INTERVAL_S, Collector, make_client, session_options
from ingest.store.sqlite import SqliteStore
from qingyubiao.config import Config, load_config
from qingyubiao.payloads import encoder
from qingyubiao.series import SeriesIndex
from tests.conftest import free_port, wait_port

FILTER = "qyb/lijiahe/#"


def start_broker(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\npersistence false\n"
        "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\n"
        f"log_dest file {folder}/mosquitto.log\n"
    )
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def with_broker(config: Config, port: int, client_id: str, db: Path) -> Config:
    dep = config.deployment
    mqtt_s = dep.mqtt.model_copy(update={"url": f"mqtt://127.0.0.1:{port}", "client_id": client_id})
    store = dep.store.model_copy(update={"db": str(db)})
    return config.model_copy(update={"deployment": dep.model_copy(update={"mqtt": mqtt_s, "store": store})})


def payloads(kind: str, n: int, t0: float) -> list[tuple[str, bytes]]:
    """n messages: single readings round-robin over greenhouse air nodes, or gateway batches of 64."""
    devices = [f"gh{i:02d}-air" for i in range(1, 25)]
    out: list[tuple[str, bytes]] = []
    if kind == "single":
        for k in range(n):
            d = devices[k % 24]
            body = {"ts": t0 + (k // 24) * 0.001, "m": {"air_temp_c": 20.0 + (k % 97) / 10}}
            out.append((f"qyb/lijiahe/{d}/up", encoder.encode(body)))
    else:
        for k in range(n):
            readings = [
                {"dev": devices[j % 12], "ts": t0 + (k * 64 + j) * 0.001, "m": {"air_temp_c": 20.0 + j / 10}}
                for j in range(64)
            ]
            out.append(("qyb/lijiahe/gw/gw-east/up", encoder.encode({"gw": "gw-east", "readings": readings})))
    return out


def drain_bare(config: Config, port: int, msgs: list[tuple[str, bytes]]) -> float:
    """Messages/s of a paho subscriber that only counts (auto-ack at QoS 1)."""
    s = config.deployment.mqtt
    publisher = rawpub.FloodProcess(port, msgs)
    c = make_client(s)
    n = [0]
    first = [0.0]
    done, subscribed = threading.Event(), threading.Event()
    expect = len(msgs)

    def on_message(cl: mqtt.Client, ud: object, msg: mqtt.MQTTMessage) -> None:
        if n[0] == 0:
            first[0] = time.perf_counter()
        n[0] += 1
        if n[0] == expect:
            done.set()

    c.on_message = on_message
    c.on_connect = lambda cl, *a: cl.subscribe([(FILTER, 1)])
    c.on_subscribe = lambda *a: subscribed.set()
    c.connect(s.host, s.port, **session_options(s))
    c.loop_start()
    assert subscribed.wait(10)
    publisher.go()
    assert done.wait(300), f"bare subscriber got {n[0]} of {expect}"
    publisher.join(60)
    elapsed = time.perf_counter() - first[0]
    c.disconnect()
    c.loop_stop()
    return expect / elapsed


def drain_collector(
    config: Config, port: int, msgs: list[tuple[str, bytes]], expect_readings: int
) -> tuple[float, float]:
    """(messages/s, readings/s) stored and acknowledged by our collector."""
    publisher = rawpub.FloodProcess(port, msgs)
    index = SeriesIndex(config)
    store = SqliteStore(config.deployment.store.db, index)
    collector = Collector(config, index, store)
    stop = threading.Event()
    worker = threading.Thread(target=collector.run, args=(stop,))
    worker.start()
    assert collector.subscribed.wait(10)
    stored = collector.metrics.readings_stored
    messages = collector.metrics.messages
    publisher.go()
    first = None
    deadline = time.monotonic() + 300
    while stored._value.get() < expect_readings and time.monotonic() < deadline:
        if first is None and messages._value.get() > 0:
            first = time.perf_counter() - config.deployment.ingest.flush_interval_s / 2  # first flush lands late
        time.sleep(0.002)
    end = time.perf_counter()
    publisher.join(60)
    stop.set()
    worker.join(30)
    got = store.count()
    store.close()
    assert got == expect_readings, f"stored {got} of {expect_readings}"
    assert first is not None
    return len(msgs) / (end - first), expect_readings / (end - first)


def with_decoder_process(config: Config, on: bool) -> Config:
    dep = config.deployment
    ingest = dep.ingest.model_copy(update={"decoder_process": on})
    return config.model_copy(update={"deployment": dep.model_copy(update={"ingest": ingest})})


def run(kind: str, n: int, repeat: int, base: Config, decoder_process: list[int]) -> None:
    """Per round: the bare subscriber, then the collector once per decoder_process value (interleaved)."""
    readings = n if kind == "single" else n * 64
    bare_rates: list[float] = []
    coll_msg_rates: dict[int, list[float]] = {p: [] for p in decoder_process}
    coll_rates: dict[int, list[float]] = {p: [] for p in decoder_process}
    for r in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            broker, port = start_broker(folder)
            try:
                bare_cfg = with_broker(base, port, f"bench-bare-{r}", folder / "unused.sqlite")
                msgs = payloads(kind, n, t0=time.time() - 86_400 * (r + 2))
                bare_rates.append(drain_bare(bare_cfg, port, msgs))
                for p in decoder_process:
                    config = with_broker(
                        with_decoder_process(base, bool(p)),
                        port,
                        f"bench-collector-{r}-{p}",
                        folder / f"qyb-{p}.sqlite",
                    )
                    msg_rate, rate = drain_collector(config, port, msgs, readings)
                    coll_msg_rates[p].append(msg_rate)
                    coll_rates[p].append(rate)
            finally:
                broker.terminate()
                broker.wait(10)
    bare = statistics.median(bare_rates)
    label = "1 reading/message" if kind == "single" else "gateway batches of 64"
    print(
        f"\n{label}: {n:,} messages, {readings:,} readings, QoS 1, "
        f"MQTT {base.deployment.mqtt.protocol}, median of {repeat}"
    )
    print(f"  bare paho subscriber (count only) {bare:>12,.0f} msg/s")
    for p in decoder_process:
        coll_msgs, coll = statistics.median(coll_msg_rates[p]), statistics.median(coll_rates[p])
        where = "decoder process" if p else "decoding in-thread"
        runs = ", ".join(f"{x:,.0f}" for x in coll_rates[p])
        print(f"  qyb collector, {where:<19}{coll_msgs:>12,.0f} msg/s  = {coll:,.0f} readings/s stored")
        print(f"    / bare subscriber{coll_msgs / bare:>25.0%}   (rounds: {runs} readings/s)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--single", type=int, default=100_000)
    p.add_argument("--batches", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--switch-interval", type=float, help="the collector's GIL switch interval (default 0.001 s)")
    p.add_argument(
        "--decoder-process",
        default="1",
        help="decode in a child process (1, the default), in the collector's thread (0), or '0,1': both, interleaved",
    )
    args = p.parse_args()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S if args.switch_interval is None else args.switch_interval)
    base = load_config()
    decoder_process = [int(p) for p in args.decoder_process.split(",")]
    if args.single:
        run("single", args.single, args.repeat, base, decoder_process)
    if args.batches:
        run("batch", args.batches, args.repeat, base, decoder_process)


if __name__ == "__main__":
    main()
