"""Gateway batches: `qyb/{village}/gw/{gateway}/up` with readings of many devices."""

from __future__ import annotations

import msgspec

from ingest.decoders import lenient
from ingest.decoders.context import DecodeContext
from ingest.decoders.keys import batch_may_repeat
from ingest.decoders.lenient import refuse_duplicates
from qingyubiao.payloads import gateway_decoder
from qingyubiao.rejects import Reason


def decode(ctx: DecodeContext, village: str, gateway: str, payload: bytes) -> None:
    try:
        msg = gateway_decoder.decode(payload)
    except (msgspec.DecodeError, RecursionError):  # msgspec raises RecursionError on deep nesting
        _decode_lenient(ctx, village, payload)
        return
    if batch_may_repeat(payload, msg) and refuse_duplicates(ctx, payload, village):
        return
    devices, add = ctx.index.village_devices.get(village, {}), ctx.add_typed
    for r in msg.readings:
        ref = devices.get(r.dev)
        if ref is None:
            ctx.reject(
                Reason.UNKNOWN_DEVICE,
                f"device {r.dev!r} (via gateway {gateway!r}) is not in village {village!r}",
                village,
                r.dev,
            )
        else:
            add(ref, r.ts, r.m, r.bat_v, 0)


def _decode_lenient(ctx: DecodeContext, village: str, payload: bytes) -> None:
    obj = lenient.loads(ctx, payload, village)
    if obj is None:
        return
    readings = obj.get("readings") if isinstance(obj, dict) else None
    if not isinstance(readings, list):
        ctx.reject(Reason.BAD_SCHEMA, "a gateway batch needs 'readings': [...]", village)
        return
    for item in readings:
        dev = item.get("dev") if isinstance(item, dict) else None
        if not isinstance(dev, str):
            ctx.reject(Reason.BAD_SCHEMA, "each gateway reading needs 'dev': string", village)
            continue
        ref = ctx.index.devices.get((village, dev))
        if ref is None:
            ctx.reject(Reason.UNKNOWN_DEVICE, f"device {dev!r} is not in village {village!r}", village, dev)
            continue
        fields = lenient.reading_fields(item)
        assert fields is not None  # item is a dict here
        ts, m, extra = fields
        ctx.add_untyped(ref, ts, {**m, **extra} if isinstance(m, dict) else m, 0)
