"""The village's Grafana dashboards, built through grafana-foundation-sdk's typed builders.

`village_dashboards(village, bands, lang)` gives, for one village: the overview (every site's newest air
temperature, RH and soil moisture coloured by its crop's bands, and a state timeline of alert episodes),
one site-detail dashboard per site (linked to each other by a dropdown), the orchard frost night, the
sensor health, the collector/notification operations, and the daily disease and pest risks.
`bands(site, metric, daytime)` are the alert core's edges for that site (alerts/bands.py, handed in by
`qyb dashboards`); this package reads only the kernel. Titles and units zh-CN by default, English with
`lang="en"`; the village's time zone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, Protocol

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DynamicConfigValue,
    GridPos,
    Threshold,
    ThresholdsMode,
)

from dashboards import influxql as iq
from dashboards.influxql import INFLUX, PROMETHEUS, Influx
from qingyubiao.config import Site, Village
from qingyubiao.risks import INFORMATIVE, MODEL_NAMES

Lang = Literal["zh", "en"]
SITE_TAG = "qyb-site"


class Edges(Protocol):
    @property
    def warn_low(self) -> float: ...
    @property
    def warn_high(self) -> float: ...
    @property
    def crit_low(self) -> float: ...
    @property
    def crit_high(self) -> float: ...


Bands = Callable[[Site, str, bool], Edges]


def t(lang: Lang, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def measurement(site: Site) -> str:
    return site.kind  # the forwarder's measurement per site kind


def steps(e: Edges) -> db.ThresholdsConfig:
    """Colours from low to high: critical red, warning orange, inside green, warning, critical."""
    out = [Threshold(None, "red" if math.isfinite(e.crit_low) else "green")]
    for value, colour in ((e.crit_low, "orange"), (e.warn_low, "green"), (e.warn_high, "orange"), (e.crit_high, "red")):
        if math.isfinite(value):
            out.append(Threshold(value, colour))
    if not math.isfinite(e.warn_low) and math.isfinite(e.crit_low):  # no warning edge below: green from critical
        out[1] = Threshold(e.crit_low, "green")
    return db.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(out)


def _thresholds_json(e: Edges) -> dict[str, Any]:
    return json_of(steps(e).build())


def json_of(x: Any) -> Any:
    import json

    return json.loads(json.dumps(x, cls=JSONEncoder))


def base(uid: str, title: str, village: Village, lang: Lang, tags: list[str]) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .tags(["qingyubiao", village.id, *tags])
        .timezone(village.tz)
        .time("now-24h", "now")
        .refresh("1m")
        .editable()
    )


def overview(village: Village, bands: Bands, lang: Lang) -> db.Dashboard:
    d = base(
        f"qyb-{village.id}-overview",
        t(lang, f"{village.name} 全村总览", f"{village.name} overview"),
        village,
        lang,
        ["overview"],
    )
    fields = [
        ("air_temp_c", t(lang, "气温", "air")),
        ("air_rh_pct", t(lang, "湿度", "RH")),
        ("soil_vwc_pct", t(lang, "土壤", "soil")),
    ]
    units = {"air_temp_c": "celsius", "air_rh_pct": "percent", "soil_vwc_pct": "percent"}
    y = 0
    for kind, heading in (("greenhouse", t(lang, "温室", "Greenhouses")), ("orchard", t(lang, "果园", "Orchards"))):
        sites = [s for s in village.site if s.kind == kind]
        if not sites:
            continue
        d = d.with_row(db.Row(heading).grid_pos(GridPos(h=1, w=24, x=0, y=y)))
        y += 1
        for i, s in enumerate(sites):
            p = (
                stat.Panel()
                .title(s.name)
                .datasource(INFLUX)
                .grid_pos(GridPos(h=4, w=4, x=(i % 6) * 4, y=y + (i // 6) * 4))
                .with_target(Influx("A", iq.latest(kind, village.id, s.id, fields), alias="$col"))
                .color_mode(common.BigValueColorMode.BACKGROUND)
                .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
                .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]))
                .description(f"{s.id} · {s.crop}{' · ' + s.stage if s.stage else ''}")
            )
            for metric, name in fields:
                p = p.override_by_name(
                    name,
                    [
                        DynamicConfigValue("unit", units[metric]),
                        DynamicConfigValue("thresholds", _thresholds_json(bands(s, metric, True))),
                    ],
                )
            d = d.with_panel(p)
        y += ((len(sites) + 5) // 6) * 4
    timeline = (
        statetimeline.Panel()
        .title(t(lang, "告警时间线", "Alert episodes"))
        .datasource(INFLUX)
        .grid_pos(GridPos(h=10, w=24, x=0, y=y))
        .with_target(Influx("A", iq.alert_levels(village.id), alias="$tag_site"))
        .thresholds(
            db.ThresholdsConfig()
            .mode(ThresholdsMode.ABSOLUTE)
            .steps([Threshold(None, "green"), Threshold(1, "orange"), Threshold(2, "red"), Threshold(3, "purple")])
        )
        .mappings([level_names(lang)])
    )
    return d.with_panel(timeline)


def level_names(lang: Lang) -> Any:
    from grafana_foundation_sdk.models.dashboard import ValueMap, ValueMappingResult

    names = [
        t(lang, "正常", "ok"),
        t(lang, "注意", "warning"),
        t(lang, "严重", "critical"),
        t(lang, "紧急", "emergency"),
    ]
    return ValueMap({str(i): ValueMappingResult(text=n) for i, n in enumerate(names)})


def site_links(lang: Lang) -> db.DashboardLink:
    return (
        db.DashboardLink(t(lang, "其他站点", "other sites"))
        .type(DashboardLinkType.DASHBOARDS)
        .tags([SITE_TAG])
        .as_dropdown(True)
        .keep_time(True)
    )


def series(title: str, unit: str, query: str, grid: GridPos) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .unit(unit)
        .datasource(INFLUX)
        .grid_pos(grid)
        .with_target(Influx("A", query))
        .span_nulls(True)
    )


def site_detail(village: Village, site: Site, bands: Bands, lang: Lang) -> db.Dashboard:
    m = measurement(site)
    d = base(f"qyb-{village.id}-{site.id}", f"{site.name} ({site.id})", village, lang, [SITE_TAG]).link(
        site_links(lang)
    )
    day, night = bands(site, "air_temp_c", True), bands(site, "air_temp_c", False)
    edges = [
        (day.warn_low, "blue"),
        (day.warn_high, "red"),
        (night.warn_low, "dark-blue"),
        (night.warn_high, "dark-red"),
    ]
    lines = [Threshold(None, "transparent")] + [
        Threshold(v, c) for v, c in sorted(edges, key=lambda x: x[0]) if math.isfinite(v)
    ]
    temp = (
        series(
            t(lang, "气温（虚线：白天/夜间适宜范围）", "Air temperature (dashed: day/night band)"),
            "celsius",
            iq.mean_of(m, village.id, "air_temp_c", site.id),
            GridPos(h=8, w=24, x=0, y=0),
        )
        .thresholds(db.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(lines))
        .thresholds_style(cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
    )
    d = d.with_panel(temp)
    v, mean = village.id, iq.mean_of
    below = [  # two a row under the temperature: (zh, en, unit, query)
        ("空气湿度", "Relative humidity", "percent", mean(m, v, "air_rh_pct", site.id)),
        ("饱和水汽压差 VPD", "Vapour pressure deficit", "pressurekpa", iq.vpd(m, v, site.id)),
        ("距露点温差", "Dew-point margin", "celsius", iq.dew_margin(m, v, site.id)),
        ("土壤含水量", "Soil moisture", "percent", mean(m, v, "soil_vwc_pct", site.id)),
        ("地温", "Soil temperature", "celsius", mean(m, v, "soil_temp_c", site.id)),
    ]
    for i, (zh, en, unit, query) in enumerate(below):
        d = d.with_panel(series(t(lang, zh, en), unit, query, GridPos(h=8, w=12, x=(i % 2) * 12, y=8 + (i // 2) * 8)))
    return d.annotation(alert_annotation(village, site, lang))


class InfluxAnnotation(db.AnnotationQuery):
    """An annotation from InfluxQL: Grafana's influxdb plugin reads `query` and the text and tags columns."""

    def __init__(self, query: str, text_column: str) -> None:
        super().__init__()
        self._query, self._text = query, text_column

    def build(self) -> Any:
        a = super().build()
        query, text = self._query, self._text
        plain = a.to_json

        def to_json() -> dict[str, Any]:
            return {**plain(), "query": query, "textColumn": text, "tagsColumn": "kind,severity,state"}

        a.to_json = to_json  # type: ignore[method-assign]
        return a


def alert_annotation(village: Village, site: Site, lang: Lang) -> db.AnnotationQuery:
    return (
        InfluxAnnotation(iq.alert_annotations(village.id, site.id), t(lang, "text_zh", "text_en"))
        .name(t(lang, "告警", "alerts"))
        .datasource(INFLUX)
        .enable(True)
        .icon_color("red")
    )


def frost_night(village: Village, bands: Bands, lang: Lang) -> db.Dashboard | None:
    blocks = [s for s in village.site if s.kind == "orchard"]
    if not blocks:
        return None
    d = base(
        f"qyb-{village.id}-frost",
        t(lang, f"{village.name} 果园霜冻夜", f"{village.name} orchard frost night"),
        village,
        lang,
        ["frost"],
    ).time("now-12h", "now")
    night = [bands(s, "air_temp_c", False) for s in blocks]
    critical = sorted({x for e in night for x in (e.warn_low, e.crit_low) if math.isfinite(x)})
    lines = [Threshold(None, "transparent"), *(Threshold(v, "red") for v in critical)]
    title = t(
        lang, "各果园冠层气温（虚线：当前物候期的临界温度）", "Canopy air temperature (dashed: critical temperatures)"
    )
    query = iq.mean_of("orchard", village.id, "air_temp_c", by_site=True)
    p = (
        timeseries.Panel()
        .title(title)
        .unit("celsius")
        .datasource(INFLUX)
        .grid_pos(GridPos(h=14, w=24, x=0, y=0))
        .with_target(Influx("A", query, alias="$tag_site"))
        .span_nulls(True)
        .thresholds(db.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(lines))
        .thresholds_style(cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
    )
    return d.with_panel(p)


def sensor_health(village: Village, lang: Lang) -> db.Dashboard:
    d = base(
        f"qyb-{village.id}-health",
        t(lang, f"{village.name} 传感器状态", f"{village.name} sensor health"),
        village,
        lang,
        ["health"],
    )
    d = d.with_panel(
        table.Panel()
        .title(t(lang, "各设备最后上报（电池、信号强度、信噪比）", "Last heard per device (battery, RSSI, SNR)"))
        .datasource(INFLUX)
        .grid_pos(GridPos(h=12, w=24, x=0, y=0))
        .with_target(Influx("A", iq.device_health(village.id), "table"))
    )
    d = d.with_panel(
        series(t(lang, "电池电压", "Battery"), "volt", iq.battery(village.id), GridPos(h=8, w=12, x=0, y=12))
    )
    return d.with_panel(
        prom(
            t(lang, "被拒收的消息（按原因）", "Rejected messages by reason"),
            "short",
            "sum by (reason) (increase(qyb_rejected_total[1h]))",
            "{{reason}}",
            GridPos(h=8, w=12, x=12, y=12),
        )
    )


def prom(title: str, unit: str, expr: str, legend: str, grid: GridPos) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .unit(unit)
        .datasource(PROMETHEUS)
        .grid_pos(grid)
        .with_target(prometheus.Dataquery().expr(expr).legend_format(legend))
    )


OPERATIONS: list[tuple[str, str, str, str, str]] = [
    # (zh, en, unit, PromQL, legend)
    ("每秒入库读数", "Readings stored per second", "reqps", "rate(qyb_readings_stored_total[5m])", "stored"),
    (
        "每秒拒收（按原因）",
        "Rejects per second by reason",
        "reqps",
        "sum by (reason) (rate(qyb_rejected_total[5m]))",
        "{{reason}}",
    ),
    ("断线缓存批次", "Outage spool depth", "short", "qyb_spool_depth", "batches"),
    ("待入库消息", "Inbox depth", "short", "qyb_inbox_depth", "messages"),
    ("解码进程（1 = 独立进程）", "Decoder process (1 = own process)", "short", "qyb_decoder_process", "decoder"),
    ("MQTT 连接", "MQTT connected", "short", "qyb_mqtt_connected", "connected"),
    (
        "通知发件箱（按状态）",
        "Notification outbox by status",
        "short",
        "sum by (status) (qyb_notify_messages)",
        "{{status}}",
    ),
    (
        "通知投递失败（按渠道）",
        "Delivery failures by channel",
        "short",
        "sum by (channel) (increase(qyb_notify_failed_attempts_total[1h]))",
        "{{channel}}",
    ),
    (
        "接口请求（按状态码）",
        "API requests by status",
        "reqps",
        "sum by (status) (rate(qyb_api_requests_total[5m]))",
        "{{status}}",
    ),
]


def operations(village: Village, lang: Lang) -> db.Dashboard:
    d = base(
        f"qyb-{village.id}-operations",
        t(lang, f"{village.name} 采集与通知运行", f"{village.name} operations"),
        village,
        lang,
        ["operations"],
    )
    for i, (zh, en, unit, expr, legend) in enumerate(OPERATIONS):
        d = d.with_panel(prom(t(lang, zh, en), unit, expr, legend, GridPos(h=8, w=8, x=(i % 3) * 8, y=(i // 3) * 8)))
    return d


def risk_names(lang: Lang) -> Any:
    from grafana_foundation_sdk.models.dashboard import ValueMap, ValueMappingResult

    names = {
        -2: ("无数据", "no data"),
        -1: ("未知", "unknown"),
        0: ("无", "none"),
        1: ("低", "low"),
        2: ("中", "moderate"),
        3: ("高", "high"),
    }
    return ValueMap({str(k): ValueMappingResult(text=t(lang, *v)) for k, v in names.items()})


def risks(village: Village, lang: Lang) -> db.Dashboard:
    """The daily disease and pest risk of every site, one state timeline per model, over 30 days."""
    d = base(
        f"qyb-{village.id}-risks",
        t(lang, f"{village.name} 病虫害风险", f"{village.name} disease and pest risk"),
        village,
        lang,
        ["agronomy"],
    ).time("now-30d", "now")
    colours = [
        Threshold(None, "text"),
        Threshold(0, "green"),
        Threshold(1, "yellow"),
        Threshold(2, "orange"),
        Threshold(3, "red"),
    ]
    models = [m for m in MODEL_NAMES if m not in INFORMATIVE]
    for i, model in enumerate(models):
        zh, en = MODEL_NAMES[model]
        d = d.with_panel(
            statetimeline.Panel()
            .title(t(lang, zh, en))
            .datasource(INFLUX)
            .grid_pos(GridPos(h=8, w=12, x=(i % 2) * 12, y=(i // 2) * 8))
            .with_target(Influx("A", iq.daily_risk(village.id, model), alias="$tag_site"))
            .thresholds(db.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(colours))
            .mappings([risk_names(lang)])
        )
    return d


def village_dashboards(village: Village, bands: Bands, lang: Lang = "zh") -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON, as Grafana stores it."""
    built = [
        overview(village, bands, lang),
        *(site_detail(village, s, bands, lang) for s in village.site),
        frost_night(village, bands, lang),
        sensor_health(village, lang),
        operations(village, lang),
        risks(village, lang),
    ]
    out = {}
    for b in built:
        if b is None:
            continue
        j = json_of(b.build())
        out[j["uid"]] = j
    return out
