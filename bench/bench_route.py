"""Decode cost per message: `route` against bare msgspec decoding of the same payloads, in the same run.

Optionally also against the router of another git revision (A/B of a router change):

    .venv/bin/python bench/bench_route.py
    .venv/bin/python -m bench.bench_route --messages 50000 --repeat 9 --against 1b1d9d3^

Figures are per message: medians of the rounds, and the ratio of the best rounds (least disturbed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.decoders import router
from ingest.decoders.context import DecodeContext, Deduplicator
from ingest.decoders.keys import batch_may_repeat, uplink_may_repeat
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
        {"dev": f"gh{d % 12 + 1:02d}-air", "ts": NOW_MS / 1000 - 100 + d, "m": {"air_temp_c": 20.5, "air_rh_pct": 60.1}}
        for d in range(32)
    ]
    return [("qyb/lijiahe/gw/gw-east/up", json.dumps({"gw": "gw-east", "readings": readings}).encode())] * n


def checkout(rev: str) -> Path:
    """A detached worktree of `rev`, so its whole decoder package (not just the router) is timed."""
    path = Path(tempfile.mkdtemp()) / "then"
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(path), rev], cwd=REPO, check=True)
    return path


def route_there(tree: Path, label: str, messages: int) -> float:
    """Seconds for one round of `route` over the same messages, in a process importing `tree`'s code."""
    code = (
        "import sys; sys.argv = ['b']; from bench import bench_route as b; "
        "from ingest.decoders import router; from qingyubiao.config import load_config; "
        "from qingyubiao.series import SeriesIndex; "
        f"m = b.single_uplinks({messages}) if {label!r} == 'single uplink' else b.gateway_batches({messages} // 25); "
        "print(b.time_route(router.route, SeriesIndex(load_config(env={})), m))"
    )
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


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


def time_key_check(
    decode: Callable[[bytes], Any], may_repeat: Callable[[bytes, Any], bool], messages: list[tuple[str, bytes]]
) -> float:
    """Seconds the duplicate-key fast check adds to one round (ingest/decoders/keys.py), timed in process."""
    decoded = [(payload, decode(payload)) for _, payload in messages]
    start = time.perf_counter()
    for payload, msg in decoded:
        assert not may_repeat(payload, msg)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000, help="single uplinks per round")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--against", metavar="REV", help="also time the decoders of this git revision")
    args = parser.parse_args()

    index = SeriesIndex(load_config(env={}))
    then = checkout(args.against) if args.against else None
    for label, messages, decode, may_repeat in (
        ("single uplink", single_uplinks(args.messages), uplink_decoder.decode, uplink_may_repeat),
        ("gateway batch of 32", gateway_batches(args.messages // 25), gateway_decoder.decode, batch_may_repeat),
    ):
        runs: dict[str, list[float]] = {"msgspec": [], "route": [], "key check": [], "route@then": []}
        for i in range(args.repeat):  # interleaved, in alternating order, so drift on the noisy box hits all alike
            runs["msgspec"].append(time_msgspec(decode, messages))
            runs["key check"].append(time_key_check(decode, may_repeat, messages))
            order = ["route", "route@then"] if then is not None else ["route"]
            for name in order if i % 2 else order[::-1]:
                if then is None:
                    runs[name].append(time_route(router.route, index, messages))
                else:  # both sides in a fresh process of their own, so neither gains from a warm heap
                    runs[name].append(route_there(REPO if name == "route" else then, label, args.messages))
        us = {k: statistics.median(v) / len(messages) * 1e6 for k, v in runs.items() if v}
        best = {k: min(v) / len(messages) * 1e6 for k, v in runs.items() if v}  # least disturbed by neighbours
        line = f"{label}: msgspec alone {us['msgspec']:.2f} µs/msg, route {us['route']:.2f} µs/msg"
        line += f" ({us['route'] / us['msgspec']:.2f}x msgspec)"
        check = us["key check"]
        line += f"; duplicate-key check {check:.3f} µs/msg ({check / (us['route'] - check):.1%} of route without it)"
        if "route@then" in us:
            ratio = us["route"] / us["route@then"]
            line += f"; route at {args.against} {us['route@then']:.2f} µs/msg (now/then {ratio:.3f}"
            line += f", best runs {best['route'] / best['route@then']:.3f})"
        print(line)
    if then is not None:
        subprocess.run(["git", "worktree", "remove", "--force", str(then)], cwd=REPO, check=True)


if __name__ == "__main__":
    main()
