"""Gateway batches: `qyb/{village}/gw/{gateway}/up` with readings of many devices."""

from __future__ import annotations

import msgspec

from ingest.decoders import lenient
from ingest.decoders.context import DecodeContext
from ingest.decoders.keys import batch_may_repeat
from ingest.decoders.lenient import refuse_duplicates
from qingyubiao.payloads import gateway_decoder
from qingyubiao.rejects import Reason
from qingyubiao.series import DeviceRef


def decode(ctx: DecodeContext, village: str, gateway: str, payload: bytes) -> None:
    if (village, gateway) not in ctx.index.gateways:  # today's readings of no one we know: refused whole
        ctx.reject(Reason.UNKNOWN_GATEWAY, f"no device of village {village!r} reports through {gateway!r}", village)
        return
    try:
        msg = gateway_decoder.decode(payload)
    except (msgspec.DecodeError, RecursionError):  # msgspec raises RecursionError on deep nesting
        _decode_lenient(ctx, village, gateway, payload)
        return
    if batch_may_repeat(payload, msg) and refuse_duplicates(ctx, payload, village):
        return
    if msg.gw != gateway:
        _other_gateway(ctx, village, gateway, msg.gw)
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
        elif ref.device.gateway != gateway:
            _foreign(ctx, village, gateway, ref)
        else:
            add(ref, r.ts, r.m, r.bat_v, 0)


def _other_gateway(ctx: DecodeContext, village: str, gateway: str, named: object) -> None:
    detail = f"the batch names gateway {str(named)[:60]!r}, but came on {gateway!r}'s topic"
    ctx.reject(Reason.FOREIGN_DEVICE, detail, village)


def _foreign(ctx: DecodeContext, village: str, gateway: str, ref: DeviceRef) -> None:
    home = f"gateway {ref.device.gateway!r}" if ref.device.gateway else "its own connection"
    detail = f"device {ref.device.id!r} reports through {home}, not gateway {gateway!r}"
    ctx.reject(Reason.FOREIGN_DEVICE, detail, village, ref.device.id)


def _decode_lenient(ctx: DecodeContext, village: str, gateway: str, payload: bytes) -> None:
    obj = lenient.loads(ctx, payload, village)
    if obj is None:
        return
    readings = obj.get("readings") if isinstance(obj, dict) else None
    if not isinstance(readings, list):
        ctx.reject(Reason.BAD_SCHEMA, "a gateway batch needs 'readings': [...]", village)
        return
    if obj.get("gw", gateway) != gateway:
        _other_gateway(ctx, village, gateway, obj.get("gw"))
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
        if ref.device.gateway != gateway:
            _foreign(ctx, village, gateway, ref)
            continue
        fields = lenient.reading_fields(item)
        assert fields is not None  # item is a dict here
        ts, m, extra = fields
        ctx.add_untyped(ref, ts, {**m, **extra} if isinstance(m, dict) else m, 0)
