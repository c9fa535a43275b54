"""Route one MQTT message to its decoder by topic; never raises."""

from __future__ import annotations

import logging
import traceback

from ingest.decoders import chirpstack, device, gateway
from ingest.decoders.context import DecodeContext
from qingyubiao.rejects import Reason
from qingyubiao.valves import parse_status

log = logging.getLogger(__name__)


def route(ctx: DecodeContext, topic: str, payload: bytes, max_bytes: int) -> None:
    ctx.start(topic, payload)
    if len(payload) > max_bytes:
        ctx.payload = payload[:1024]
        ctx.reject(Reason.OVERSIZED, f"{len(payload)} bytes > limit {max_bytes}")
        return
    parts = topic.split("/")
    readings, rejects, statuses = ctx.builder.series, ctx.rejects, ctx.statuses  # lists that only grow
    before = len(readings) + len(rejects) + len(statuses) + ctx.duplicates
    try:
        if parts[0] == "qyb" and len(parts) == 4 and parts[3] == "up":
            device.decode(ctx, parts[1], parts[2], payload)
        elif parts[0] == "qyb" and len(parts) == 5 and parts[2] == "gw" and parts[4] == "up":
            gateway.decode(ctx, parts[1], parts[3], payload)
        elif (
            parts[0] == "application"
            and len(parts) == 6
            and parts[2] == "device"
            and parts[4:]
            == [
                "event",
                "up",
            ]
        ):
            chirpstack.decode(ctx, parts[3], payload)
        elif parts[0] == "qyb" and len(parts) == 4 and parts[3] == "status":
            _status(ctx, parts[1], parts[2], payload)
        else:
            ctx.reject(Reason.UNKNOWN_TOPIC, "topic matches none of the v1 formats")
    except Exception as e:  # a decoder bug must not cost the batch: keep the payload and go on
        log.exception("decoder failed on %s", topic)
        ctx.reject(Reason.INTERNAL_ERROR, "".join(traceback.format_exception_only(e)).strip()[:300])
    # Every message adds a reading, a reject, a duplicate or a status. One that adds
    # none, like `[]` or `{"m": {}}`, would be acknowledged and vanish: say so instead.
    if len(readings) + len(rejects) + len(statuses) + ctx.duplicates == before:
        ctx.reject(Reason.BAD_SCHEMA, "the message holds no readings", *_village_device(parts))


def _village_device(parts: list[str]) -> tuple[str | None, str | None]:
    """Village and device named by a qyb/ topic (a gateway is not a device)."""
    if parts[0] != "qyb" or len(parts) < 3:
        return None, None
    return parts[1], None if parts[2] == "gw" else parts[2]


def _status(ctx: DecodeContext, village: str, dev: str, payload: bytes) -> None:
    text = payload.decode("utf-8", "replace").strip().lower()
    if (village, dev) not in ctx.index.devices:
        ctx.reject(Reason.UNKNOWN_DEVICE, f"status of device {dev!r}, not in village {village!r}", village, dev)
    elif parse_status(payload) is not None:  # a valve controller's state: it is online (alerts/valves.py reads it)
        ctx.statuses.append((village, dev, True, ctx.now_ms))
    elif text not in ("online", "offline"):
        ctx.reject(Reason.BAD_SCHEMA, f"status must be 'online', 'offline' or a valve's state, got {text[:40]!r}",
                   village, dev)  # fmt: skip
    else:
        ctx.statuses.append((village, dev, text == "online", ctx.now_ms))
