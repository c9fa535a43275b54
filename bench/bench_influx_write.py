"""InfluxDB write throughput: bulk line protocol vs influxdb-client Points, into real VictoriaMetrics.

Everything in one run, on the same data (the 李家河村 series, distinct
timestamps), against a VictoriaMetrics started on a free loopback port
(it answers InfluxDB's /api/v2/write):

1. encoding only: LineEncoder.encode (bulk, from the columns) vs building a
   Point per reading plus to_line_protocol (the baseline);
2. encode + write through WriteApi (SYNCHRONOUS), batch-size sweep, gzip off
   and on, beside the same with Points;
3. the forwarder as the collector uses it: handle() spools to disk (fsync per
   batch), the sender thread writes; from first handle() to spool drained.

Medians of --repeat runs; the box is shared and noisy, so read the ratios.

    .venv/bin/python -m bench.bench_influx_write
    .venv/bin/python -m bench.bench_influx_write --readings 400000 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from ingest.metrics import IngestMetrics
from ingest.store.forwarder import Forwarder
from ingest.store.influx import OUT_OF_RANGE_MEASUREMENT, InfluxWriter, LineEncoder, series_tags
from ingest.store.spool import Spool
from qingyubiao.batch import Batch, Flag
from qingyubiao.config import Config, InfluxSettings, load_config
from qingyubiao.series import SeriesIndex
from tests.influx.servers import VictoriaMetrics

T0_MS = 1_763_800_000_000


def make_data(index: SeriesIndex, n: int, round_no: int) -> Batch:
    """n readings, every (series, ts) new for each round so the server never sees an overwrite."""
    k = np.arange(n, dtype=np.int64)
    series = (k % len(index)).astype(np.int32)
    ts = T0_MS + round_no * 10**9 + (k // len(index)) * 1_000
    value = np.round(np.random.default_rng(round_no).uniform(0, 40, n), 2)
    return Batch(series, ts, value, np.zeros(n, np.uint16))


def points(config: Config, index: SeriesIndex, batch: Batch) -> list[Point]:
    tags = series_tags(config, index)
    out = []
    for s, t, v, f in zip(
        batch.series.tolist(), batch.ts_ms.tolist(), batch.value.tolist(), batch.flags.tolist(), strict=True
    ):
        measurement, tag = tags[s]
        p = Point(OUT_OF_RANGE_MEASUREMENT if f & Flag.OUT_OF_RANGE else measurement)
        for key, value in tag.items():
            p.tag(key, value)
        out.append(p.field(index.keys[s].metric, v).time(t, WritePrecision.MS))
    return out


def median_rate(fn: Callable[[int], int], repeat: int) -> float:
    """Median readings/s of fn(round) -> readings."""
    rates = []
    for r in range(repeat):
        t0 = time.perf_counter()
        n = fn(r)
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


class Run:
    """One configuration's state: the server, the data, a fresh time range per call."""

    def __init__(self, config: Config, index: SeriesIndex, url: str, n: int, tmp: str) -> None:
        self.config, self.index, self.url, self.n, self.tmp = config, index, url, n, tmp
        self.encoder = LineEncoder(config, index)
        self.rounds = iter(range(1, 10**6))
        self.handle_s: list[float] = []

    def bulk(self, size: int, gzip: bool, client_gzip: bool = False) -> float:
        """Our writer; `client_gzip`: influxdb-client's own enable_gzip (level 9) instead of ours (level 1)."""
        writer = InfluxWriter(InfluxSettings(url=self.url, token="t", org="o", bucket="qyb", gzip=gzip))
        if client_gzip:
            writer.close()
            client = InfluxDBClient(url=self.url, token="t", org="o", enable_gzip=True)
            api = client.write_api(write_options=SYNCHRONOUS)

            def write(body: bytes | str) -> None:
                api.write("qyb", "o", body, write_precision=WritePrecision.MS)  # type: ignore[arg-type]  # see influx.py

            def close() -> None:
                api.close()
                client.close()

            writer.write, writer.close = write, close  # type: ignore[method-assign]  # the client's gzip instead

        def once(_: int) -> int:
            data = make_data(self.index, self.n, next(self.rounds))
            for i in range(0, self.n, size):
                writer.write(self.encoder.encode(data.take(np.arange(i, min(i + size, self.n))))[0])
            return self.n

        rate = median_rate(once, REPEAT[0])
        writer.close()
        return rate

    def points(self, size: int) -> float:
        client = InfluxDBClient(url=self.url, token="t", org="o")
        api = client.write_api(write_options=SYNCHRONOUS)

        def once(_: int) -> int:
            data = make_data(self.index, self.n // 4, next(self.rounds))  # Points are slow: a quarter as many
            for i in range(0, len(data), size):
                chunk = data.take(np.arange(i, min(i + size, len(data))))
                points_ = points(self.config, self.index, chunk)
                api.write("qyb", "o", points_, write_precision=WritePrecision.MS)  # type: ignore[arg-type]
            return len(data)

        rate = median_rate(once, REPEAT[0])
        api.close()
        client.close()
        return rate

    def forward(self, per_batch: int, size: int, fsync: bool, gzip: bool) -> tuple[float, float]:
        """(readings/s until drained, median µs per reading inside handle())."""
        self.handle_s = []

        def once(r: int) -> int:
            s = InfluxSettings(
                url=self.url,
                bucket="qyb",
                batch_size=size,
                flush_interval_ms=0,
                gzip=gzip,
                spool_dir=f"{self.tmp}/spool-{per_batch}-{fsync}-{gzip}-{r}",
            )
            spool = Spool(s.spool_dir, s.spool_max_bytes, fsync=fsync)
            fwd = Forwarder("influxdb", self.encoder, InfluxWriter(s), spool, s, IngestMetrics())
            fwd.start()
            data = make_data(self.index, self.n, next(self.rounds))
            t0 = time.perf_counter()
            for i in range(0, self.n, per_batch):
                fwd.handle(data.take(np.arange(i, min(i + per_batch, self.n))), 0)
            self.handle_s.append(time.perf_counter() - t0)
            while spool.depth:
                time.sleep(0.005)
            fwd.close(drain_s=0)
            return self.n

        rate = median_rate(once, REPEAT[0])
        return rate, statistics.median(self.handle_s) / self.n * 1e6


REPEAT = [3]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--readings", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="1000,5000,10000,50000")
    args = ap.parse_args()
    REPEAT[0] = args.repeat
    config = load_config()
    index = SeriesIndex(config)
    encoder = LineEncoder(config, index)
    n = args.readings

    print(f"# {n:,} readings per run, median of {args.repeat}; {len(index)} series\n")
    print("## 1. encoding only (readings/s)")
    sample = make_data(index, n, 0)
    bulk = median_rate(lambda r: encoder.encode(sample)[1], args.repeat)
    pts = median_rate(lambda r: len([p.to_line_protocol() for p in points(config, index, sample)]), args.repeat)
    print("| method | readings/s | µs/reading |\n|---|---:|---:|")
    print(f"| bulk LineEncoder | {bulk:,.0f} | {1e6 / bulk:.2f} |")
    print(f"| Point + to_line_protocol (baseline) | {pts:,.0f} | {1e6 / pts:.2f} |")
    print(f"| ratio | {bulk / pts:.1f}x | |\n")

    with tempfile.TemporaryDirectory() as tmp:
        vm = VictoriaMetrics("/usr/bin/victoria-metrics", Path(tmp) / "vm")
        vm.start()
        try:
            run = Run(config, index, vm.url, n, tmp)
            print("## 2. encode + WriteApi write into VictoriaMetrics (readings/s)")
            print(
                "| request size | bulk, gzip off | bulk, gzip level 1 (ours) | bulk, client gzip (level 9) "
                "| Points, gzip off (baseline) | bulk ÷ Points |"
            )
            print("|---:|---:|---:|---:|---:|---:|")
            for size in [int(s) for s in args.sizes.split(",")]:
                plain, gz, gz9 = run.bulk(size, False), run.bulk(size, True), run.bulk(size, False, client_gzip=True)
                pt = run.points(size)
                print(f"| {size:,} | {plain:,.0f} | {gz:,.0f} | {gz9:,.0f} | {pt:,.0f} | {plain / pt:.1f}x |")

            print("\n## 3. forwarder: handle() spools to disk, the sender writes; until drained")
            print("| collector batch | request size | fsync | gzip | readings/s | handle() µs/reading |")
            print("|---:|---:|---|---|---:|---:|")
            for per_batch, fsync, gzip in (
                (1_000, True, True),
                (5_000, True, True),
                (10_000, True, True),
                (5_000, True, False),
                (5_000, False, False),
            ):
                rate, handle_us = run.forward(per_batch, 10_000, fsync, gzip)
                print(f"| {per_batch:,} | 10,000 | {fsync} | {gzip} | {rate:,.0f} | {handle_us:.2f} |")
        finally:
            vm.stop()


if __name__ == "__main__":
    main()
