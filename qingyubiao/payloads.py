"""Wire schemas (v1) of the three uplink formats, as msgspec structs.

msgspec validates while it decodes: a payload that fits these types is
decoded in one pass; one that does not is handed to the lenient path, which
salvages the good readings and names what is wrong with the rest.

Structs holding only strings, numbers and dicts of numbers are `gc=False`:
they cannot form reference cycles, and untracked objects spare the cyclic
collector a walk over every reading of a large batch.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Uplink(msgspec.Struct, forbid_unknown_fields=False, gc=False):
    """`qyb/{village}/{device}/up`: one reading (or a JSON array of them)."""

    m: dict[str, float]
    ts: float | str | None = None
    seq: int | None = None
    bat_v: float | None = None
    dev: str | None = None  # optional; when given it must be the topic's device


class GatewayReading(msgspec.Struct, gc=False):
    dev: str
    m: dict[str, float]
    ts: float | str | None = None
    seq: int | None = None
    bat_v: float | None = None


class GatewayBatch(msgspec.Struct):
    """`qyb/{village}/gw/{gateway}/up`."""

    gw: str
    readings: list[GatewayReading]


class ChirpstackDeviceInfo(msgspec.Struct, rename="camel"):
    dev_eui: str
    device_name: str | None = None
    application_id: str | None = None


class ChirpstackRxInfo(msgspec.Struct):
    rssi: float | None = None
    snr: float | None = None


class ChirpstackUp(msgspec.Struct, rename="camel"):
    """ChirpStack v4 `application/{app}/device/{dev_eui}/event/up` (JSON encoding)."""

    deduplication_id: str
    device_info: ChirpstackDeviceInfo
    time: str | None = None
    object: dict[str, Any] | None = None
    rx_info: list[ChirpstackRxInfo] = []
    f_cnt: int | None = None


uplink_decoder = msgspec.json.Decoder(Uplink | list[Uplink])
gateway_decoder = msgspec.json.Decoder(GatewayBatch)
chirpstack_decoder = msgspec.json.Decoder(ChirpstackUp)
encoder = msgspec.json.Encoder()
