"""The slow path for payloads that do not fit the typed schema.

Python's json accepts NaN and Infinity, so a payload the fast decoder refuses
can still be read, and its good readings saved, with a reason for the rest.
"""

from __future__ import annotations

import json
from typing import Any

from ingest.decoders.context import DecodeContext
from ingest.decoders.keys import duplicate_key
from qingyubiao.rejects import Reason


def loads(ctx: DecodeContext, payload: bytes, village: str | None = None, device: str | None = None) -> Any:
    """Parsed JSON, or None after rejecting the message as malformed (or holding a key twice)."""
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError) as e:
        ctx.reject(Reason.MALFORMED_JSON, str(e)[:200], village, device)
        return None
    return None if refuse_duplicates(ctx, payload, village, device) else obj


def refuse_duplicates(
    ctx: DecodeContext, payload: bytes, village: str | None = None, device: str | None = None
) -> bool:
    """Reject the message if one of its objects holds a key twice (docs/design.md); True if it did."""
    key = duplicate_key(payload)
    if key is not None:
        ctx.reject(Reason.DUPLICATE_KEY, f"the key {key[:60]!r} appears twice in one object", village, device)
    return key is not None


def reading_fields(obj: Any) -> tuple[Any, Any, dict[str, Any]] | None:
    """(ts, m, extra health values) of one reading object, or None if it is not an object."""
    if not isinstance(obj, dict):
        return None
    extra = {"bat_v": obj["bat_v"]} if "bat_v" in obj else {}
    return obj.get("ts"), obj.get("m"), extra
