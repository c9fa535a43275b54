"""API latency under load: latest readings and 7-day history of one site, from a second process.

`qyb api` (uvicorn, the embedded SQLite store) runs in its own process over a
database holding 7 days of one-minute readings for every greenhouse; this
process is the load: N client threads with keep-alive connections, each
alternating requests as fast as answers come. Beside them, the same run
measures /healthz (no store access, no auth) as the baseline of the HTTP
stack itself.

    .venv/bin/python -m bench.bench_api                        # 4 clients, 10 s per endpoint
    .venv/bin/python -m bench.bench_api --clients 8 --seconds 20
    .venv/bin/python -m bench.bench_api --clients 50 --mix --ingest 1000   # the morning rush (issue 11.4)
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from api.users import UserStore
from ingest.store.sqlite import SqliteStore
from qingyubiao.batch import Batch
from qingyubiao.config import load_config
from qingyubiao.series import SeriesIndex
from tests.conftest import free_port, wait_for

DAY_MS = 86_400_000


def fill(db: Path, days: int) -> int:
    """`days` of readings at each device's interval for every series of every site, ending now."""
    config = load_config()
    index = SeriesIndex(config)
    store = SqliteStore(db, index, synchronous="NORMAL")
    now = int(time.time() * 1000)
    rng = np.random.default_rng(1)
    total = 0
    for day in range(days, 0, -1):
        series, ts = [], []
        for i in range(len(index)):
            step = int(index.interval_s[i] * 1000)
            stamps = np.arange(now - day * DAY_MS, now - (day - 1) * DAY_MS, step, dtype=np.int64)
            series.append(np.full(len(stamps), i, dtype=np.int32))
            ts.append(stamps)
        s, t = np.concatenate(series), np.concatenate(ts)
        values = np.where(index.hi[s] > 1000, 500.0, 20.0) + rng.normal(0, 3, len(s))
        store.write(Batch(s, t, np.clip(values, index.lo[s], index.hi[s]), np.zeros(len(s), dtype=np.uint16)))
        total += len(s)
    store.refresh_rollups()
    store.close()
    return total


def load(url: str, headers: dict[str, str], clients: int, seconds: float) -> list[float]:
    """Latencies (ms) of `clients` threads hammering one URL for `seconds`."""
    out: list[list[float]] = [[] for _ in range(clients)]
    stop = time.monotonic() + seconds

    def worker(mine: list[float]) -> None:
        with httpx.Client(headers=headers, timeout=10) as c:
            c.get(url).raise_for_status()  # warm the connection
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                r = c.get(url)
                mine.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=worker, args=(m,)) for m in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for m in out for x in m]


def mixed(
    urls: list[str], headers: dict[str, str], clients: int, seconds: float, interval_s: float = 0.0
) -> dict[str, list[float]]:
    """Latencies (ms) per URL of `clients` threads, each sending the URLs in turn as fast as answers come,
    or one every `interval_s` (a phone refreshing, not a flood: what a village's load looks like)."""
    out: dict[str, list[float]] = {u: [] for u in urls}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(k: int) -> None:
        mine: dict[str, list[float]] = {u: [] for u in urls}
        with httpx.Client(headers=headers, timeout=30) as c:
            c.get(urls[0]).raise_for_status()
            i = k  # clients start at different URLs
            due = time.monotonic() + interval_s * k / clients  # paced clients spread over one interval
            while time.monotonic() < stop:
                if interval_s:
                    time.sleep(max(0.0, due - time.monotonic()))
                    due += interval_s
                url = urls[i % len(urls)]
                t0 = time.perf_counter()
                r = c.get(url)
                mine[url].append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
                i += 1
        with lock:
            for u, ms in mine.items():
                out[u] += ms

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def wrk(urls: list[str], headers: dict[str, str], clients: int, seconds: float) -> dict[str, tuple[float, str, str]]:
    """(req/s, p50, p99) per URL from wrk (C, epoll): `clients` connections shared out over the URLs,
    one wrk process per URL at once, so the load generator costs a few percent of a core, not one."""
    each = max(1, clients // len(urls))
    flags = [f"-H{k}: {v}" for k, v in headers.items()]
    runs = [
        subprocess.Popen(
            ["wrk", "-t1", f"-c{each}", f"-d{seconds:g}s", "--latency", "--timeout", "10s", *flags, u],
            stdout=subprocess.PIPE,
            text=True,
        )
        for u in urls
    ]
    out = {}
    for u, run in zip(urls, runs, strict=True):
        text, _ = run.communicate()
        if "Non-2xx" in text or "Socket errors" in text:
            raise RuntimeError(f"{u}: {text}")
        found = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", text, re.M))
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])  # type: ignore[index]
        out[u] = (rate, found["50"], found["99"])
    return out


def start_ingest(folder: Path, db: Path, rate: float, seconds: float) -> list[subprocess.Popen[bytes]]:
    """A real mosquitto, `qyb collect` on the API's database and `qyb sim` publishing `rate` messages/s."""
    from bench.bench_ingest import start_broker

    broker, port = start_broker(folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")}
    env |= {"QYB_DB": str(db), "QYB_MQTT_URL": f"mqtt://127.0.0.1:{port}", "QYB_METRICS_PORT": "0"}
    log = open(folder / "collect.log", "wb")  # noqa: SIM115  (closed with the process)
    collector = subprocess.Popen([sys.executable, "-m", "qyb", "collect"], env=env, stdout=log, stderr=log)
    wait_for(lambda: b"subscribed to" in (folder / "collect.log").read_bytes(), 30, "the collector")
    readings = int(rate * (seconds + 30) * 2.4)  # 李家河村's devices send 2.4 readings per message on average
    sim = subprocess.Popen(
        [sys.executable, "-m", "qyb", "sim", "--count", str(readings), "--rate", str(rate)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return [sim, collector, broker]


def figures(name: str, ms: list[float], seconds: float) -> str:
    q = statistics.quantiles(ms, n=100)
    return f"{name:<34} {len(ms) / seconds:>8.0f} req/s   p50 {q[49]:6.2f} ms   p99 {q[98]:6.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument(
        "--mix",
        action="store_true",
        help="the morning rush: every client alternates latest and 24-hour history (issue 11.4)",
    )
    ap.add_argument("--ingest", type=float, default=0, help="meanwhile, the collector ingests this many msg/s")
    ap.add_argument("--interval", type=float, default=0.0, help="with --mix: each client sends one request this often")
    ap.add_argument("--wrk", action="store_true", help="with --mix: wrk is the load (apt-get install wrk)")
    ap.add_argument("--server-tree", type=Path, help="run `qyb api` from this checkout (an A/B against a revision)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "qyb.sqlite"
        t0 = time.perf_counter()
        n = fill(db, args.days)
        print(f"store: {n} readings ({args.days} days, every series of 李家河村) in {time.perf_counter() - t0:.1f} s")
        users = UserStore(db, load_config())
        token = users.issue("lijiahe", "li-jianjun")
        users.close()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | {"QYB_DB": str(db)}
        if args.server_tree:
            env["PYTHONPATH"] = str(args.server_tree)
        server = subprocess.Popen(
            [sys.executable, "-m", "qyb", "api", "--port", str(port)], env=env, cwd=args.server_tree or None
        )
        feeders = start_ingest(Path(tmp), db, args.ingest, args.seconds * 4) if args.ingest else []
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: _up(base), 30, "qyb api")
            auth = {"Authorization": f"Bearer {token}"}
            site = f"{base}/api/v1/villages/lijiahe/sites/gh01"
            cases = [
                ("baseline: /healthz", f"{base}/healthz"),
                ("latest: /sites/gh01/latest", f"{site}/latest"),
                ("7-day history, auto step (1 h)", f"{site}/history?metric=air_temp_c&start=-7d"),
                ("7-day history, 5 min step", f"{site}/history?metric=air_temp_c&start=-7d&step_ms=300000"),
            ]
            if args.ingest:
                time.sleep(3)  # the publisher up to speed
                print(f"meanwhile: qyb collect ingesting {args.ingest:g} msg/s from qyb sim through mosquitto")
            print(f"load: {args.clients} client threads in a second process, {args.seconds:g} s per case")
            if args.mix and args.wrk:
                rush = [f"{base}/healthz"]
                for name, (rate, p50, p99) in zip(
                    ["baseline: /healthz"], wrk(rush, auth, args.clients, args.seconds).values(), strict=True
                ):
                    print(f"{name:<34} {rate:>8.0f} req/s   p50 {p50:>8}   p99 {p99:>8}")
                rush = [f"{site}/latest", f"{site}/history?metric=air_temp_c&start=-24h"]
                names = ["wrk: latest", "wrk: 24-hour history"]
                for name, (rate, p50, p99) in zip(
                    names, wrk(rush, auth, args.clients, args.seconds).values(), strict=True
                ):
                    print(f"{name:<34} {rate:>8.0f} req/s   p50 {p50:>8}   p99 {p99:>8}")
            elif args.mix:
                if args.interval:
                    print(f"each client sends one request every {args.interval:g} s")
                ms = load(cases[0][1], auth, args.clients, args.seconds)
                print(figures(cases[0][0], ms, args.seconds))
                rush = [f"{site}/latest", f"{site}/history?metric=air_temp_c&start=-24h"]
                got = mixed(rush, auth, args.clients, args.seconds, args.interval)
                print(figures("mixed: latest", got[rush[0]], args.seconds))
                print(figures("mixed: 24-hour history", got[rush[1]], args.seconds))
            else:
                for name, url in cases:
                    ms = load(url, auth, args.clients, args.seconds)
                    print(figures(name, ms, args.seconds))
            if args.ingest:
                stored = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("SELECT count(*) FROM reading")
                print(f"store now holds {stored.fetchone()[0]} readings ({n} before the run)")
        finally:
            for p in feeders:
                p.terminate()
                p.wait(10)
            server.terminate()
            server.wait(10)


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
