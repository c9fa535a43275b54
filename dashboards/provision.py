"""Grafana file provisioning for the village dashboards: what a stock Grafana loads at start.

`write(out, dashboards, influx, prometheus_url)` writes

    OUT/provisioning/datasources/qingyubiao.yaml   InfluxDB (InfluxQL) and Prometheus, with fixed uids
    OUT/provisioning/dashboards/qingyubiao.yaml    a file provider reading OUT/dashboards
    OUT/dashboards/<uid>.json                      one file per dashboard

Point Grafana at it with `GF_PATHS_PROVISIONING=OUT/provisioning` (README). Secrets are not written:
the InfluxDB token is `$QYB_INFLUX_TOKEN`, which Grafana expands from its own environment at start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.influxql import INFLUX, PROMETHEUS

FOLDER = "晴雨表"


@dataclass(frozen=True)
class Sources:
    influx_url: str
    influx_database: str
    prometheus_url: str
    influx_token: bool = False  # send `Authorization: Token $QYB_INFLUX_TOKEN` (InfluxDB 2.x / 3.x DBRP)


def datasources(s: Sources, token: str = "$QYB_INFLUX_TOKEN") -> dict[str, Any]:
    """The two data sources; `token`: the InfluxDB token as Grafana should send it (files: the variable, which
    Grafana expands from its environment; the HTTP API: the value itself)."""
    influx: dict[str, Any] = {
        "name": "qingyubiao-influxdb",
        "type": "influxdb",
        "uid": INFLUX.uid,
        "access": "proxy",
        "url": s.influx_url,
        "jsonData": {"version": "InfluxQL", "dbName": s.influx_database, "httpMode": "GET"},
    }
    if s.influx_token:
        influx["jsonData"] |= {"httpHeaderName1": "Authorization"}
        influx["secureJsonData"] = {"httpHeaderValue1": f"Token {token}"}
    prom = {
        "name": "qingyubiao-prometheus",
        "type": "prometheus",
        "uid": PROMETHEUS.uid,
        "access": "proxy",
        "url": s.prometheus_url,
        "jsonData": {"httpMethod": "GET"},
    }
    return {"apiVersion": 1, "datasources": [influx, prom]}


def providers(dashboards_dir: Path) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "qingyubiao",
                "folder": FOLDER,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "options": {"path": str(dashboards_dir)},
            }
        ],
    }


def yaml(x: Any, indent: int = 0) -> str:
    """These files' YAML: mappings, lists and scalars (scalars as JSON, which YAML reads the same)."""
    pad = "  " * indent
    if isinstance(x, dict):
        out = []
        for k, v in x.items():
            if isinstance(v, dict | list) and v:
                out.append(f"{pad}{k}:\n{yaml(v, indent + 1)}")
            else:
                out.append(f"{pad}{k}: {json.dumps(v, ensure_ascii=False)}")
        return "\n".join(out)
    if isinstance(x, list):
        items = []
        for v in x:
            body = yaml(v, indent + 1).lstrip() if isinstance(v, dict | list) else json.dumps(v, ensure_ascii=False)
            items.append(f"{pad}- {body}")
        return "\n".join(items)
    return pad + json.dumps(x, ensure_ascii=False)


def write(out: Path, dashboards: dict[str, dict[str, Any]], sources: Sources) -> list[Path]:
    """Write the provisioning tree; returns the files written."""
    ds_dir, prov_dir, dash_dir = (
        out / "provisioning" / "datasources",
        out / "provisioning" / "dashboards",
        out / "dashboards",
    )
    for d in (ds_dir, prov_dir, dash_dir):
        d.mkdir(parents=True, exist_ok=True)
    written = [ds_dir / "qingyubiao.yaml", prov_dir / "qingyubiao.yaml"]
    written[0].write_text(yaml(datasources(sources)) + "\n", encoding="utf-8")
    written[1].write_text(yaml(providers(dash_dir.resolve())) + "\n", encoding="utf-8")
    for uid, body in sorted(dashboards.items()):
        path = dash_dir / f"{uid}.json"
        path.write_text(json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
