"""Scale mode: many villages × many greenhouses, built in memory, for benchmarks.

Every village copies the reference layout (greenhouses with an air and a soil
node on a gateway, orchard blocks with LoRaWAN air and soil nodes), spread
over a county-sized area so villages fall into a few weather cells.
"""

from __future__ import annotations

from typing import Any

from qingyubiao.config import Config, parse_config


def scale_config(villages: int, greenhouses: int = 24, orchards: int = 6, base_lat: float = 37.45,
                 base_lon: float = 110.7) -> Config:  # fmt: skip
    """A config of `villages` villages, each with `greenhouses` houses and `orchards` blocks.

    Series per village: 5 per greenhouse + 4 per orchard block (plus the health series).
    """
    raw: dict[str, Any] = {"village": []}
    for vi in range(villages):
        vid = f"v{vi:05d}"
        sites: list[dict[str, Any]] = []
        devices: list[dict[str, Any]] = []
        crops = ("tomato", "cucumber", "pepper", "strawberry")
        for g in range(greenhouses):
            sid = f"gh{g + 1:03d}"
            sites.append({"id": sid, "name": f"{g + 1}号棚", "kind": "greenhouse", "crop": crops[g % 4]})
            gw = f"gw-{g // 16}"
            devices.append({"id": f"{sid}-air", "site": sid, "metrics": ["air_temp_c", "air_rh_pct"],
                            "interval_s": 60, "gateway": gw})  # fmt: skip
            devices.append({"id": f"{sid}-soil", "site": sid, "interval_s": 300, "gateway": gw,
                            "metrics": ["soil_vwc_pct", "soil_temp_c", "soil_ec_ms_cm"]})  # fmt: skip
        for o in range(orchards):
            sid = f"or{o + 1:02d}"
            sites.append({"id": sid, "name": f"{o + 1}号果园", "kind": "orchard", "crop": "apple"})
            eui = (vi << 16) | (o << 4)
            devices.append({"id": f"{sid}-air", "site": sid, "metrics": ["air_temp_c", "air_rh_pct"],
                            "interval_s": 300, "dev_eui": f"{eui | 1:016x}"})  # fmt: skip
            devices.append({"id": f"{sid}-soil", "site": sid, "metrics": ["soil_vwc_pct", "soil_temp_c"],
                            "interval_s": 900, "dev_eui": f"{eui | 2:016x}"})  # fmt: skip
        raw["village"].append(
            {
                "id": vid,
                "name": f"村{vi}",
                "lat": base_lat + 0.5 * ((vi * 7919) % 100) / 100 - 0.25,
                "lon": base_lon + 0.5 * ((vi * 104729) % 100) / 100 - 0.25,
                "chirpstack_apps": [f"app-{vid}"],
                "site": sites,
                "device": devices,
            }
        )
    return parse_config(raw, "<scale>", {})
