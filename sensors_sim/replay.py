"""JSON lines of simulated messages: write a run to a file, read it back byte for byte.

One line per message: {"t": simulated epoch seconds, "topic": "...", "payload": "<the JSON payload as text>"}.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from sensors_sim.twin import SimMessage


def write_jsonl(path: str | Path, msgs: Iterable[SimMessage]) -> tuple[int, int]:
    """Write messages to `path`; returns (messages, bytes of payload)."""
    n = size = 0
    with open(path, "w", encoding="utf-8", buffering=1) as out:  # line by line: a real-time run is readable live
        for t, topic, payload in msgs:
            line = {"t": round(t, 3), "topic": topic, "payload": payload.decode("utf-8")}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            n += 1
            size += len(payload)
    return n, size


def read_jsonl(path: str | Path) -> Iterator[SimMessage]:
    """The messages of a file written by write_jsonl, in file order. Raises ValueError on a bad line."""
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                yield float(obj["t"]), str(obj["topic"]), obj["payload"].encode("utf-8")
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise ValueError(f"{path}:{i}: not a simulator message line ({e})") from None
