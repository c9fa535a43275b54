"""Decode cost per message: `route` against bare msgspec decoding of the same payloads, in the same run.

Optionally also against the router of another git revision (A/B of a router change):

    .venv/bin/python bench/bench_route.py
    .venv/bin/python bench/bench_route.py --messages 50000 --repeat 9 --against 1b1d9d3^

Figures are per message: medians of the rounds, and the ratio of the best rounds (least disturbed).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from ingest.decoders import router
from ingest.decoders.context import DecodeContext, Deduplicator
from qingyubiao.config import load_config
from qingyubiao.payloads import gateway_decoder, uplink_decoder
from qingyubiao.series import SeriesIndex

NOW_MS = 1_763_800_000_000
REPO = Path(__file__).resolve().parent.parent


def single_uplinks(n: int) -> list[tuple[str, bytes]]:
    return [
        (
            f"qyb/lijiahe/gh{i % 24 + 1:02d}-air/up",
            json.dumps(
                {"ts": NOW_MS / 1000 - 100 + i * 0.001, "seq": i, "m": {"air_temp_c": 20.5, "air_rh_pct": 60.1}}
            ).encode(),
        )
        for i in range(n)
    ]


def gateway_batches(n: int) -> list[tuple[str, bytes]]:
    readings = [
        {"dev": f"gh{d % 24 + 1:02d}-air", "ts": NOW_MS / 1000 - 100 + d, "m": {"air_temp_c": 20.5, "air_rh_pct": 60.1}}
        for d in range(32)
    ]
    return [("qyb/lijiahe/gw/gw-east/up", json.dumps({"gw": "gw-east", "readings": readings}).encode())] * n


def router_at(rev: str) -> ModuleType:
    """The router module as of a git revision, loaded under another name."""
    source = subprocess.run(
        ["git", "show", f"{rev}:ingest/decoders/router.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "router_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("router_then", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_route(route: Callable[..., None], index: SeriesIndex, messages: list[tuple[str, bytes]]) -> float:
    ctx = DecodeContext(index, NOW_MS, 600, Deduplicator())
    start = time.perf_counter()
    for topic, payload in messages:
        route(ctx, topic, payload, 1 << 20)
    elapsed = time.perf_counter() - start
    assert not ctx.rejects, ctx.rejects[:1]
    return elapsed


def time_msgspec(decode: Callable[[bytes], object], messages: list[tuple[str, bytes]]) -> float:
    start = time.perf_counter()
    for _, payload in messages:
        decode(payload)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000, help="single uplinks per round")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--against", metavar="REV", help="also time the router of this git revision")
    args = parser.parse_args()

    index = SeriesIndex(load_config(env={}))
    then = router_at(args.against) if args.against else None
    for label, messages, decode in (
        ("single uplink", single_uplinks(args.messages), uplink_decoder.decode),
        ("gateway batch of 32", gateway_batches(args.messages // 25), gateway_decoder.decode),
    ):
        runs: dict[str, list[float]] = {"msgspec": [], "route": [], "route@then": []}
        for i in range(args.repeat):  # interleaved, in alternating order, so drift on the noisy box hits all alike
            runs["msgspec"].append(time_msgspec(decode, messages))
            routes = [("route", router.route)] + ([("route@then", then.route)] if then is not None else [])
            for name, route in routes if i % 2 else routes[::-1]:
                runs[name].append(time_route(route, index, messages))
        us = {k: statistics.median(v) / len(messages) * 1e6 for k, v in runs.items() if v}
        best = {k: min(v) / len(messages) * 1e6 for k, v in runs.items() if v}  # least disturbed by neighbours
        line = f"{label}: msgspec alone {us['msgspec']:.2f} µs/msg, route {us['route']:.2f} µs/msg"
        line += f" ({us['route'] / us['msgspec']:.2f}x msgspec)"
        if "route@then" in us:
            ratio = us["route"] / us["route@then"]
            line += f"; route at {args.against} {us['route@then']:.2f} µs/msg (now/then {ratio:.3f}"
            line += f", best runs {best['route'] / best['route@then']:.3f})"
        print(line)


if __name__ == "__main__":
    main()
