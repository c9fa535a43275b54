"""Duplicate keys in a JSON object: `{"m": {"air_temp_c": 5, "air_temp_c": 25}}`.

JSON parsers keep the last value (msgspec and Python's json both do) while some gateways, proxies and
spreadsheet imports keep the first, so two readers of the same message can see different readings. Such a
message is refused as malformed (`duplicate_key`), never stored with either value.

msgspec cannot report duplicates, and parsing every message a second time with Python's json would double
the decode cost. So the fast path counts: every key of a JSON object is followed by one `:` outside a
string, so a payload whose `:` count is more than the keys msgspec decoded plus the colons inside the
decoded strings has a key msgspec did not keep. Only then (and for payloads with fields the schema ignores,
or with a backslash escape beside a counted string: `"07\\u003a26"` decodes to a colon the byte count does not
see, which could balance a repeated key) is the payload parsed again, exactly. The check costs a scan of the
payload and a loop over its readings (docs/performance.md).
"""

from __future__ import annotations

import json
from typing import Any

from qingyubiao.payloads import GatewayBatch, Uplink


def uplink_may_repeat(payload: bytes, msg: Uplink | list[Uplink]) -> bool:
    """False when the uplink payload cannot hold a duplicate key: its colons are exactly the decoded ones."""
    n, strings = 0, False
    for u in msg if isinstance(msg, list) else (msg,):
        ts = u.ts
        n += 1 + len(u.m) + (u.seq is not None) + (u.bat_v is not None) + (ts is not None)
        if type(ts) is str:
            n, strings = n + ts.count(":"), True
    return payload.count(b":") != n or (strings and b"\\" in payload)


def batch_may_repeat(payload: bytes, batch: GatewayBatch) -> bool:
    """The same for a gateway batch.

    One plain loop: cheaper on CPython 3.11 than map/attrgetter pipelines. Colons inside `gw` and `dev`
    are not counted (ids are slugs): a batch naming such a device only takes the exact check.
    """
    n, strings = 2, False
    for r in batch.readings:
        ts = r.ts
        n += 2 + len(r.m) + (r.seq is not None) + (r.bat_v is not None) + (ts is not None)
        if type(ts) is str:
            n, strings = n + ts.count(":"), True
    return payload.count(b":") != n or (strings and b"\\" in payload)


def duplicate_key(payload: bytes | str) -> str | None:
    """The first key found twice in one object of the payload (exact, slow), or None."""
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items) and not found:
            seen: set[str] = set()
            found.append(next(k for k, _ in items if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
        return obj

    try:
        json.loads(payload, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None  # not JSON at all: the decoders say so
    return found[0] if found else None
