"""The InfluxQL of every panel, and the query type Grafana's InfluxDB data source reads.

The foundation SDK has no InfluxDB query type; `InfluxQuery` is the target Grafana's built-in influxdb
plugin stores for a raw InfluxQL query (`rawQuery`, `query`, `resultFormat`). The schema is the
forwarder's (docs/design.md "InfluxDB store"): measurements `greenhouse` and `orchard` with a field per
metric and tags village, site, device, crop; `alert` for alert transitions (ingest/store/influx_alerts.py).
Grafana fills `$timeFilter` and `$__interval`; tests/dashboards substitute them and run every query on a
real InfluxDB 1.6.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

INFLUX = DataSourceRef(type_val="influxdb", uid="qyb-influxdb")
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="qyb-prometheus")

# es (kPa) and the dew point by FAO-56 eq. 11 and its inverse, in InfluxQL's math functions (1.6+)
_ES = '0.6108 * EXP(17.27 * "air_temp_c" / ("air_temp_c" + 237.3))'
_GAMMA = 'LN("air_rh_pct" / 100) + 17.27 * "air_temp_c" / ("air_temp_c" + 237.3)'


class InfluxQuery(cogvariants.Dataquery):
    def __init__(self, ref_id: str, query: str, result_format: str = "time_series", alias: str = "") -> None:
        self.ref_id, self.query, self.result_format, self.alias = ref_id, query, result_format, alias

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "refId": self.ref_id,
            "datasource": INFLUX.to_json(),
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias:
            out["alias"] = self.alias
        return out


class Influx(cogbuilder.Builder[InfluxQuery]):
    def __init__(self, ref_id: str, query: str, result_format: str = "time_series", alias: str = "") -> None:
        self._q = InfluxQuery(ref_id, query, result_format, alias)

    def build(self) -> InfluxQuery:
        return self._q


def q(text: str) -> str:
    """A tag value in InfluxQL: single quotes, escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def where(village: str, site: str | None = None) -> str:
    return f'"village" = {q(village)}' + (f' AND "site" = {q(site)}' if site else "") + " AND $timeFilter"


def latest(measurement: str, village: str, site: str, fields: list[tuple[str, str]]) -> str:
    """The newest value of each field at a site, each under its display name."""
    sel = ", ".join(f'last("{f}") AS "{name}"' for f, name in fields)
    return f'SELECT {sel} FROM "{measurement}" WHERE {where(village, site)}'


def mean_of(measurement: str, village: str, field: str, site: str | None = None, by_site: bool = False) -> str:
    group = 'GROUP BY time($__interval), "site" fill(null)' if by_site else "GROUP BY time($__interval) fill(null)"
    return f'SELECT mean("{field}") AS "{field}" FROM "{measurement}" WHERE {where(village, site)} {group}'


def vpd(measurement: str, village: str, site: str) -> str:
    """Vapour pressure deficit, kPa: es(T) × (1 − RH/100) per reading, then the interval's mean."""
    inner = f'SELECT {_ES} * (1 - "air_rh_pct" / 100) AS "vpd" FROM "{measurement}" WHERE {where(village, site)}'
    return f'SELECT mean("vpd") AS "vpd_kpa" FROM ({inner}) WHERE $timeFilter GROUP BY time($__interval) fill(null)'


def dew_margin(measurement: str, village: str, site: str) -> str:
    """Air temperature above its dew point, K (Magnus, FAO-56's constants): condensation near 0."""
    td = f"237.3 * ({_GAMMA}) / (17.27 - ({_GAMMA}))"
    inner = f'SELECT "air_temp_c" - {td} AS "margin" FROM "{measurement}" WHERE {where(village, site)}'
    return (
        f'SELECT mean("margin") AS "dew_margin_c" FROM ({inner}) WHERE $timeFilter '
        "GROUP BY time($__interval) fill(null)"
    )


def alert_levels(village: str) -> str:
    """Each site's alert level over time (0 none … 3 emergency), for a state timeline."""
    return (
        f'SELECT max("level") AS "level" FROM "alert" WHERE {where(village)} '
        'GROUP BY time($__interval), "site" fill(previous)'
    )


def alert_annotations(village: str, site: str) -> str:
    """The site's alert transitions with their text, for annotations."""
    return f'SELECT "text_zh", "text_en", "kind", "severity", "state" FROM "alert" WHERE {where(village, site)}'


def device_health(village: str) -> str:
    """Per device: the newest battery, RSSI and SNR (and, as the row's time, when it was last heard)."""
    return (
        f'SELECT last("bat_v") AS "bat_v", last("rssi_dbm") AS "rssi_dbm", last("snr_db") AS "snr_db" '
        f'FROM "greenhouse", "orchard" WHERE {where(village)} GROUP BY "device"'
    )


def battery(village: str) -> str:
    return (
        f'SELECT mean("bat_v") AS "bat_v" FROM "greenhouse", "orchard" WHERE {where(village)} '
        'GROUP BY time($__interval), "device" fill(null)'
    )


def daily_risk(village: str, model: str) -> str:
    """Each site's daily risk of one model (the agronomy's, ingest/store/influx_alerts.py), a day a cell."""
    return (
        f'SELECT max("level") AS "level" FROM "risk" WHERE {where(village)} AND "model" = {q(model)} '
        'GROUP BY time(1d), "site" fill(none)'
    )
