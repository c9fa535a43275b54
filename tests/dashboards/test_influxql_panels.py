"""Every InfluxQL query of every generated panel and annotation, run on a real InfluxDB 1.6.

No Grafana server runs here (no package ships one), so the queries are what is proven: the twin's
frost-night scenario (16 h, greenhouses and orchards, a frost) is decoded and alerted as the collector
does (tests/alerts/scenario_run.py), its readings go through the project's own forwarder (InfluxDB 1.x
write API) and its alert transitions through the same spool (ingest/store/influx_alerts.py); then each
query, with Grafana's `$timeFilter` and `$__interval` substituted, must return the series its panel
expects: no error, not empty, one series per site where it groups by site, the columns the panel names.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import numpy as np
import pytest

from alerts.bands import band
from alerts.manager import AlertManager
from alerts.plan import compile_plan
from alerts.rules import bundled_rules
from dashboards.build import village_dashboards
from ingest.decoders.context import DecodeContext, Deduplicator
from ingest.decoders.router import route
from ingest.metrics import IngestMetrics
from ingest.store.forwarder import Forwarder
from ingest.store.influx import LineEncoder, influx_writer
from ingest.store.influx_alerts import InfluxRiskCopy, alert_line
from ingest.store.spool import Spool
from qingyubiao.catalogue import METRICS
from qingyubiao.config import Config, InfluxSettings, load_config
from qingyubiao.risks import INFORMATIVE, MODEL_NAMES, DayRisk
from qingyubiao.series import SeriesIndex
from sensors_sim import scenario as scenarios
from sensors_sim.twin import run_scenario
from tests.conftest import need
from tests.influx.servers import Influxd1

DB = "qyb_dash"
UNITS = {"°C": "celsius", "%": "percent"}


class Loaded:
    def __init__(self, server: Influxd1, config: Config, start_ms: int, end_ms: int, alerts: int) -> None:
        self.server, self.config, self.start_ms, self.end_ms, self.alerts = server, config, start_ms, end_ms, alerts

    def run(self, query: str) -> dict[str, Any]:
        text = query.replace("$timeFilter", f"time >= {self.start_ms}ms AND time < {self.end_ms}ms")
        text = text.replace("$__interval", "10m")
        assert "$" not in text.replace("$tag_", "").replace("$col", ""), text
        [result] = self.server.query(text, db=DB)["results"]
        return dict(result)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    server = Influxd1(need("influxd"), tmp_path_factory.mktemp("influxd"))
    server.start()
    server.create_database(DB)
    sc = scenarios.load("frost-night")
    config = sc.apply_stages(load_config())
    index = SeriesIndex(config)
    spool_dir = Path(tmp_path_factory.mktemp("spool"))
    settings = InfluxSettings(url=server.url, api="v1", database=DB, flush_interval_ms=0, spool_dir=str(spool_dir),
                              spool_fsync=False)  # fmt: skip
    spool = Spool(settings.spool_dir, settings.spool_max_bytes, fsync=False)
    writer = influx_writer(settings)
    forwarder = Forwarder("influxdb", LineEncoder(config, index), writer, spool, settings, IngestMetrics())
    forwarder.start()
    manager = AlertManager(config, compile_plan(config, bundled_rules(), index))
    dedup, transitions = Deduplicator(), 0
    pending: list[tuple[str, bytes]] = []
    window = int(sc.start_s * 1000) + 60_000

    def flush(now_ms: int) -> int:
        ctx = DecodeContext(index, now_ms, config.deployment.ingest.max_future_s, dedup)
        for topic, payload in pending:
            route(ctx, topic, payload, config.deployment.ingest.max_payload_bytes)
        pending.clear()
        batch = ctx.builder.build(index.lo, index.hi)
        forwarder.handle(batch, now_ms)
        out = [*manager.handle(batch, now_ms), *manager.tick(now_ms)]
        lines = [x for x in map(alert_line, out) if x]
        forwarder.handle_lines("\n".join(lines), len(lines))
        return len(lines)

    for sim_s, topic, payload in run_scenario(config, sc, 0):
        while int(sim_s * 1000) >= window:
            transitions += flush(window)
            window += 60_000
        pending.append((topic, payload))
    transitions += flush(window)
    # a village day of every model's risk at every site, through the collector's risk copy (the models
    # themselves are proven in tests/agronomy; here the rows only have to reach the risk dashboard's queries)
    models = [m for m in MODEL_NAMES if m not in INFORMATIVE]
    rows = [DayRisk("lijiahe", s.id, m, "2026-04-11", (k + j) % 4) for k, s in enumerate(config.village[0].site)
            for j, m in enumerate(models)]  # fmt: skip
    InfluxRiskCopy(config, forwarder)(rows)
    deadline = time.monotonic() + 60
    while forwarder.spool.depth and time.monotonic() < deadline:
        time.sleep(0.2)
    assert forwarder.spool.depth == 0, "the forwarder did not deliver everything"
    forwarder.close(drain_s=0)
    yield Loaded(server, config, int(sc.start_s * 1000), window, transitions)
    server.stop()


def targets(d: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(panel title, panel, target) of every InfluxDB target of a dashboard."""
    for p in d.get("panels", []):
        for target in p.get("targets") or []:
            if target.get("datasource", {}).get("type") == "influxdb":
                yield p.get("title", ""), p, target


def dashboards_of(loaded: Loaded) -> dict[str, dict[str, Any]]:
    rules = bundled_rules()
    return village_dashboards(loaded.config.village[0], lambda s, m, day: band(rules, s, m, day))


def test_the_scenario_reached_influxdb_with_its_alerts(loaded: Loaded) -> None:
    assert loaded.alerts > 0  # the frost night fires alerts: the timeline and the annotations have data
    n = loaded.run('SELECT count("level") FROM "alert"')["series"][0]["values"][0][1]
    assert n == loaded.alerts


def test_every_panel_query_returns_what_its_panel_shows(loaded: Loaded) -> None:
    checked = 0
    for uid, d in dashboards_of(loaded).items():
        for title, _panel, target in targets(d):
            result = loaded.run(target["query"])
            assert "error" not in result, (uid, title, result.get("error"))
            series = result.get("series") or []
            assert series, (uid, title, target["query"])  # every site of 李家河村 has what its panels show
            if 'GROUP BY time($__interval), "site"' in target["query"]:
                sites = {s["tags"]["site"] for s in series}
                assert len(sites) > 1, (uid, title, sites)  # one line per site
            if target["query"].startswith("SELECT last(") and series:
                names = [c for c in series[0]["columns"] if c != "time"]
                assert names == [f.split(" AS ")[1].strip('"') for f in target["query"].split(" FROM")[0].split(", ")]
            checked += 1
    assert checked > 200  # 35 dashboards


def test_every_annotation_query_returns_the_sites_alerts(loaded: Loaded) -> None:
    with_alerts = 0
    for uid, d in dashboards_of(loaded).items():
        for a in d.get("annotations", {}).get("list", []):
            if "query" not in a:
                continue
            result = loaded.run(a["query"])
            assert "error" not in result, (uid, result)
            for s in result.get("series") or []:
                assert s["columns"] == ["time", "text_zh", "text_en", "kind", "severity", "state"]
                assert all(row[1] for row in s["values"])  # each has its text
                with_alerts += 1
    assert with_alerts > 0


def test_the_panels_units_are_the_metrics_units(loaded: Loaded) -> None:
    d = dashboards_of(loaded)["qyb-lijiahe-gh01"]
    for _, panel, target in targets(d):
        metric = next((m for m in METRICS if f'"{m}"' in target["query"]), None)
        if metric and METRICS[metric].unit in UNITS and "mean(" in target["query"] and "vpd" not in target["query"]:
            assert panel["fieldConfig"]["defaults"]["unit"] == UNITS[METRICS[metric].unit], panel["title"]


def test_a_typo_in_a_query_is_caught(loaded: Loaded) -> None:
    d = dashboards_of(loaded)["qyb-lijiahe-frost"]
    _, _, target = next(targets(d))
    assert loaded.run(target["query"]).get("series")
    wrong_field = loaded.run(target["query"].replace('"air_temp_c"', '"air_temp"'))
    assert not wrong_field.get("series")  # a misspelt field: empty, which the panel test fails on
    with pytest.raises(HTTPError) as e:  # a syntax error: InfluxDB answers 400
        loaded.run(target["query"].replace("GROUP BY", "GROUP"))
    assert e.value.code == 400
    e.value.close()


def test_the_overview_colours_a_site_by_its_crops_bands(loaded: Loaded) -> None:
    d = dashboards_of(loaded)["qyb-lijiahe-overview"]
    gh01 = next(p for p in d["panels"] if p.get("description", "").startswith("gh01 "))
    [temp] = [o for o in gh01["fieldConfig"]["overrides"] if o["matcher"]["options"] == "气温"]
    steps = next(p["value"]["steps"] for p in temp["properties"] if p["id"] == "thresholds")
    site = next(s for s in loaded.config.village[0].site if s.id == "gh01")
    b = band(bundled_rules(), site, "air_temp_c", True)
    assert [s["value"] for s in steps[1:]] == [x for x in (b.crit_low, b.warn_low, b.warn_high, b.crit_high)
                                               if np.isfinite(x)]  # fmt: skip
