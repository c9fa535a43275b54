"""The MQTT topic scheme (v1), shared by devices, the simulator and the collector."""

from __future__ import annotations


def device_up(village: str, device: str) -> str:
    return f"qyb/{village}/{device}/up"


def gateway_up(village: str, gateway: str) -> str:
    return f"qyb/{village}/gw/{gateway}/up"


def device_status(village: str, device: str) -> str:
    return f"qyb/{village}/{device}/status"


def device_cmd(village: str, device: str) -> str:
    """Commands to a device (valve controllers); it answers on its status topic."""
    return f"qyb/{village}/{device}/cmd"


def chirpstack_up(application: str, dev_eui: str) -> str:
    return f"application/{application}/device/{dev_eui}/event/up"


def alerts(village: str) -> str:
    return f"qyb/{village}/alerts"


def broadcast(village: str) -> str:
    return f"qyb/{village}/broadcast"


def subscriptions(village_ids: list[str], chirpstack_apps: list[str]) -> list[str]:
    """Topic filters a collector for these villages subscribes to."""
    filters: list[str] = []
    for v in village_ids:
        filters += [f"qyb/{v}/+/up", f"qyb/{v}/gw/+/up", f"qyb/{v}/+/status"]
    for app in chirpstack_apps or ["+"]:
        filters.append(f"application/{app}/device/+/event/up")
    return filters
