"""Every PromQL expression of the generated panels, on a real VictoriaMetrics (the Prometheus query API)
after it has scraped the running collector's and API's own /metrics.

The collector runs on a real Mosquitto with a webhook channel configured (so the notification metrics
have their channel series), receives one good and one malformed uplink (so the reject counter has a
reason), and the API answers a request; VictoriaMetrics scrapes both every second. Each expression must
answer `success` with at least one series.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt

from alerts.bands import band
from alerts.rules import bundled_rules
from dashboards.build import village_dashboards
from qyb.system import ApiThread, build_collector
from tests.conftest import Mosquitto, free_port, need, wait_for
from tests.influx.servers import VictoriaMetrics
from tests.notify.conftest import notify_config


def promql(vm: VictoriaMetrics, expr: str) -> dict[str, Any]:
    q = urllib.parse.urlencode({"query": expr, "time": f"{time.time():.3f}"})
    with urllib.request.urlopen(f"{vm.url}/api/v1/query?{q}", timeout=10) as r:
        return dict(json.loads(r.read()))


def prom_targets() -> list[tuple[str, str]]:
    rules = bundled_rules()
    config = notify_config()
    out = []
    for d in village_dashboards(config.village[0], lambda s, m, day: band(rules, s, m, day)).values():
        for p in d["panels"]:
            if p.get("datasource", {}).get("type") == "prometheus":
                out += [(p["title"], t["expr"]) for t in p["targets"]]
    return out


def test_every_promql_panel_answers_from_the_scraped_processes(mosquitto: Mosquitto, tmp_path: Path) -> None:
    metrics_port = free_port()

    def edit(raw: dict[str, Any]) -> None:
        raw["deployment"]["store"] = {"db": str(tmp_path / "qyb.sqlite")}
        raw["deployment"]["metrics_port"] = metrics_port
        raw["deployment"]["notify"]["webhook"] = {"url": "http://127.0.0.1:9/hook", "secret": "s"}

    config = notify_config(mqtt_url=mosquitto.url, edit=edit)
    system = build_collector(config)
    system.metrics.serve(metrics_port)
    stop = threading.Event()
    runner = threading.Thread(target=system.run, args=(stop,), daemon=True)
    runner.start()
    api = ApiThread(config, free_port())
    scrape = tmp_path / "scrape.yml"
    scrape.write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        f"  - job_name: collector\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"
        f"  - job_name: api\n    static_configs:\n      - targets: ['{api.base.removeprefix('http://')}']\n",
        encoding="utf-8",
    )
    vm = VictoriaMetrics(need("victoria-metrics"), tmp_path / "vm", args=[f"-promscrape.config={scrape}"])
    vm.start()
    try:
        assert system.collector.subscribed.wait(15)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="prom-test")
        pub.connect("127.0.0.1", mosquitto.port)
        pub.loop_start()
        now = int(time.time())
        pub.publish("qyb/lijiahe/gh01-air/up", json.dumps({"ts": now, "air_temp_c": 21.5}), qos=1).wait_for_publish(5)
        pub.publish("qyb/lijiahe/gh01-air/up", b"{not json", qos=1).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        assert httpx.get(f"{api.base}/healthz").status_code in (200, 503)  # a request the API counts
        up = lambda: promql(vm, "sum(up)")["data"]["result"]  # noqa: E731
        wait_for(lambda: up() and float(up()[0]["value"][1]) == 2.0, 30, "both processes scraped")
        wait_for(lambda: promql(vm, "qyb_rejected_total")["data"]["result"], 20, "the reject scraped")
        time.sleep(3)  # a few more scrapes: rate() and increase() need two samples
        checked = 0
        for title, expr in prom_targets():
            answer = promql(vm, expr)
            assert answer["status"] == "success", (title, expr, answer)
            assert answer["data"]["result"], (title, expr)
            checked += 1
        assert checked == 10
        wrong = promql(vm, "qyb_readings_stored_totl")  # a typo answers no series: the loop above fails on it
        assert wrong["status"] == "success" and not wrong["data"]["result"]
    finally:
        vm.stop()
        api.stop()
        stop.set()
        runner.join(10)
        system.close()
