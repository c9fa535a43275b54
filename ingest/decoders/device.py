"""Device uplinks: `qyb/{village}/{device}/up`, one reading or an array of buffered ones."""

from __future__ import annotations

import msgspec

from ingest.decoders import lenient
from ingest.decoders.context import DecodeContext
from ingest.decoders.keys import uplink_may_repeat
from ingest.decoders.lenient import refuse_duplicates
from qingyubiao.batch import Flag
from qingyubiao.payloads import uplink_decoder
from qingyubiao.rejects import Reason


def decode(ctx: DecodeContext, village: str, device: str, payload: bytes) -> None:
    ref = ctx.index.devices.get((village, device))
    if ref is None:
        ctx.reject(Reason.UNKNOWN_DEVICE, f"device {device!r} is not in village {village!r}", village, device)
        return
    try:
        msg = uplink_decoder.decode(payload)
    except (msgspec.DecodeError, RecursionError):  # msgspec raises RecursionError on deep nesting
        _decode_lenient(ctx, village, device, payload)
        return
    if uplink_may_repeat(payload, msg) and refuse_duplicates(ctx, payload, village, device):
        return
    if isinstance(msg, list):
        for u in msg:
            if u.dev is None or u.dev == device:
                ctx.add_typed(ref, u.ts, u.m, u.bat_v, Flag.BUFFERED)
            else:
                _foreign(ctx, village, device, u.dev)
    elif msg.dev is None or msg.dev == device:
        ctx.add_typed(ref, msg.ts, msg.m, msg.bat_v, 0)
    else:
        _foreign(ctx, village, device, msg.dev)


def _foreign(ctx: DecodeContext, village: str, device: str, named: object) -> None:
    detail = f"the reading names device {str(named)[:60]!r}, but came on {device!r}'s topic"
    ctx.reject(Reason.FOREIGN_DEVICE, detail, village, device)


def _decode_lenient(ctx: DecodeContext, village: str, device: str, payload: bytes) -> None:
    ref = ctx.index.devices[(village, device)]
    obj = lenient.loads(ctx, payload, village, device)
    if obj is None:
        return
    items, flags = (obj, int(Flag.BUFFERED)) if isinstance(obj, list) else ([obj], 0)
    for item in items:
        fields = lenient.reading_fields(item)
        if fields is None or fields[1] is None:
            ctx.reject(Reason.BAD_SCHEMA, "a reading must be an object with 'm'", village, device)
            continue
        ts, m, extra = fields
        named = item.get("dev", device)
        if named != device:
            _foreign(ctx, village, device, named)
            continue
        ctx.add_untyped(ref, ts, {**m, **extra} if isinstance(m, dict) else m, flags)
