"""The generated dashboards and provisioning: what `qyb dashboards build` writes, that a YAML parser reads
the provisioning as Grafana would, snapshots a reviewer can diff, and the alert transitions' lines."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # amqtt's dependency; no stubs installed

from alerts.bands import band
from alerts.rules import bundled_rules
from dashboards.build import village_dashboards
from ingest.store.influx_alerts import alert_line
from qingyubiao.alerting import Transition
from qingyubiao.config import bundled_config_path, load_config

SNAPSHOTS = Path(__file__).parent / "snapshots"


def built(lang: str = "zh") -> dict[str, dict]:
    rules = bundled_rules()
    village = load_config(bundled_config_path()).village[0]
    return village_dashboards(village, lambda s, m, day: band(rules, s, m, day), lang)  # type: ignore[arg-type]


def test_one_dashboard_per_view_and_per_site_in_the_village_time_zone() -> None:
    ds = built()
    village = load_config(bundled_config_path()).village[0]
    assert set(ds) == {f"qyb-lijiahe-{x}" for x in ("overview", "frost", "health", "operations", "risks")} | {
        f"qyb-lijiahe-{s.id}" for s in village.site
    }
    assert {d["timezone"] for d in ds.values()} == {"Asia/Shanghai"}
    assert ds["qyb-lijiahe-overview"]["title"] == "李家河村 全村总览"
    assert built("en")["qyb-lijiahe-overview"]["title"] == "李家河村 overview"
    site = ds["qyb-lijiahe-gh01"]
    assert site["links"][0]["tags"] == ["qyb-site"] and site["links"][0]["asDropdown"] is True
    assert all(d["schemaVersion"] == 41 for d in ds.values())  # Grafana 11.6's, from the SDK


def test_the_snapshots_show_what_changed() -> None:
    """UPDATE_SNAPSHOTS=1 writes them anew; the diff in review is the dashboards' change."""
    ds = built()
    for uid in ("qyb-lijiahe-overview", "qyb-lijiahe-gh01", "qyb-lijiahe-or01", "qyb-lijiahe-frost",
                "qyb-lijiahe-health", "qyb-lijiahe-operations", "qyb-lijiahe-risks"):  # fmt: skip
        text = json.dumps(ds[uid], ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        path = SNAPSHOTS / f"{uid}.json"
        if os.environ.get("UPDATE_SNAPSHOTS"):
            path.write_text(text, encoding="utf-8")
        assert path.read_text(encoding="utf-8") == text, f"{uid} changed: UPDATE_SNAPSHOTS=1 and review the diff"


def test_qyb_dashboards_build_writes_provisioning_that_grafana_reads(tmp_path: Path) -> None:
    influx = {"QYB_INFLUX_URL": "http://10.0.0.5:8086", "QYB_INFLUX_DATABASE": "qyb", "QYB_INFLUX_TOKEN": "t0ken"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | influx
    proc = subprocess.run([sys.executable, "-m", "qyb", "dashboards", "build", "--out", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("35 dashboards, 2 data sources: 37 files")
    sources = yaml.safe_load((tmp_path / "provisioning/datasources/qingyubiao.yaml").read_text(encoding="utf-8"))
    influx, prom = sources["datasources"]
    assert (influx["uid"], influx["type"], influx["url"]) == ("qyb-influxdb", "influxdb", "http://10.0.0.5:8086")
    assert influx["jsonData"] == {"version": "InfluxQL", "dbName": "qyb", "httpMode": "GET",
                                  "httpHeaderName1": "Authorization"}  # fmt: skip
    assert influx["secureJsonData"] == {"httpHeaderValue1": "Token $QYB_INFLUX_TOKEN"}  # the secret stays out
    assert "t0ken" not in (tmp_path / "provisioning/datasources/qingyubiao.yaml").read_text(encoding="utf-8")
    assert (prom["uid"], prom["type"]) == ("qyb-prometheus", "prometheus")
    provider = yaml.safe_load((tmp_path / "provisioning/dashboards/qingyubiao.yaml").read_text(encoding="utf-8"))
    [p] = provider["providers"]
    assert p["folder"] == "晴雨表" and Path(p["options"]["path"]) == (tmp_path / "dashboards").resolve()
    on_disk = {f.stem: json.loads(f.read_text(encoding="utf-8")) for f in (tmp_path / "dashboards").glob("*.json")}
    assert on_disk == built()


def test_without_an_influxdb_the_build_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")}
    proc = subprocess.run([sys.executable, "-m", "qyb", "dashboards", "build", "--out", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "QYB_INFLUX_URL" in proc.stderr and not list(tmp_path.iterdir())


def tr(**kw: object) -> Transition:
    base = dict(episode="lijiahe/or01/frost/1", rule="apple-frost-critical", kind="frost", severity="critical",
                audience="farmer", state="firing", ts_ms=1_775_850_000_000, village="lijiahe", site="or01",
                device="or01-air", metric="air_temp_c", value=-2.5, threshold=-2.2,
                text_zh='东沟苹果园 霜冻 "-2.5℃"', text_en="frost, \\ -2.5 °C")  # fmt: skip
    return Transition(**(base | kw))  # type: ignore[arg-type]


def test_an_alert_transition_is_one_point_with_its_text_escaped() -> None:
    line = alert_line(tr())
    assert line == (
        "alert,kind=frost,rule=apple-frost-critical,severity=critical,site=or01,state=firing,village=lijiahe "
        'level=2i,value=-2.5,episode="lijiahe/or01/frost/1",text_zh="东沟苹果园 霜冻 \\"-2.5℃\\"",'
        'text_en="frost, \\\\ -2.5 °C",late=false 1775850000000'
    )
    resolved = alert_line(tr(state="resolved", value=math.nan, late=True))
    assert resolved is not None and "level=0i," in resolved and "value=" not in resolved and "late=true" in resolved
    assert alert_line(tr(state="pending")) is None and alert_line(tr(state="cancelled")) is None


class Lines:
    """A forwarder's handle_lines, kept."""

    def __init__(self) -> None:
        self.got: list[str] = []

    def handle_lines(self, body: str, lines: int) -> None:
        assert len(body.splitlines()) == lines
        self.got += body.splitlines()


def test_the_risks_of_the_last_week_go_to_influxdb_at_the_village_days_midnight() -> None:
    from ingest.store.influx_alerts import InfluxRiskCopy
    from qingyubiao.risks import DayRisk

    sink = Lines()
    copy = InfluxRiskCopy(load_config(bundled_config_path()), sink)  # type: ignore[arg-type]
    rows = [DayRisk("lijiahe", "or01", "apple_scab", f"2026-04-{d:02d}", d % 4) for d in range(1, 21)]
    copy(rows)
    assert len(sink.got) == 7  # 14-20 April: a backfilled day within the week is rewritten
    # 20 April 00:00 in Asia/Shanghai is 19 April 16:00 UTC
    assert sink.got[-1] == "risk,model=apple_scab,site=or01,village=lijiahe level=0i 1776614400000"
