"""ChirpStack v4 uplink events: `application/{app}/device/{dev_eui}/event/up`.

Values come from `object` (the device codec's output), mapped to metric names
by the device's `object_keys`; signal from the best `rxInfo` entry. The same
uplink heard twice carries the same `deduplicationId` and is stored once.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ingest.decoders import lenient
from ingest.decoders.context import DecodeContext
from qingyubiao.payloads import chirpstack_decoder
from qingyubiao.rejects import Reason


def decode(ctx: DecodeContext, dev_eui: str, payload: bytes) -> None:
    try:
        msg = chirpstack_decoder.decode(payload)
    except (msgspec.DecodeError, RecursionError) as e:  # msgspec raises RecursionError on deep nesting
        if lenient.loads(ctx, payload) is not None:
            ctx.reject(Reason.BAD_SCHEMA, f"not a ChirpStack v4 uplink event: {e}")
        return
    if lenient.refuse_duplicates(ctx, payload):  # ChirpStack events carry many fields we skip: always checked
        return
    eui = msg.device_info.dev_eui.lower()
    ref = ctx.index.by_dev_eui.get(eui)
    if ref is None:
        ctx.reject(Reason.UNKNOWN_DEVICE, f"DevEUI {eui} is not configured", None, eui)
        return
    if ctx.dedup.seen(msg.deduplication_id):
        ctx.duplicates += 1
        return
    values: dict[str, Any] = {}
    for key, value in (msg.object or {}).items():
        if key not in ref.object_ignore:
            values[ref.object_keys.get(key, key)] = value
    heard = [rx for rx in msg.rx_info if rx.rssi is not None]
    if heard:
        best = max(heard, key=lambda rx: rx.rssi if rx.rssi is not None else -999.0)
        values["rssi_dbm"] = best.rssi
        if best.snr is not None:
            values["snr_db"] = best.snr
    if msg.object is None:
        ctx.reject(
            Reason.BAD_SCHEMA,
            "uplink has no decoded 'object': configure a codec in ChirpStack",
            ref.village.id,
            ref.device.id,
        )
    ctx.add_untyped(ref, msg.time, values, 0)
