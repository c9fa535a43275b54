"""The agronomy models in the running collector: daily risks, and alerts when a risk rises.

Once a village day has ended, every hour after, and whenever a biofix is set, `RiskWatch.tick` runs the
season again from 1 January of that year: the hourly means of every site come from the store's hourly
rollups, the models (agronomy.daily) step through the days, every day's risk is written to the risk
book. Running the whole season each time is what makes late readings count (a backfilled day is
recomputed with them, quietly: only the newest day can raise an alert), a biofix entered days late
correct, and a restart need no state of its own; a village's year is a few hundred history queries,
once an hour, on the collector's writer thread.

A site's newest-day risk at `moderate` or `high` opens an alert episode of kind `disease_risk` or
`pest_risk` (warning or critical), routed like crop alerts (the owner household; the secretary too
when critical); a risk that rises from moderate to high opens a critical episode in the warning's place;
a later day below moderate resolves it. `unknown` and `no_data` neither open nor close.
A block's irrigation advice opens an `irrigation_due` warning when the water is due today (advice and
confirm modes: in automatic mode the valve manager waters it), resolved once it is not.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import numpy as np

from agronomy.daily import Agronomy, DayResult, Hours, SiteInfo, WaterSite
from agronomy.fire_blight import CLASS_NAMES
from agronomy.params import Params, load_params
from agronomy.risk import Risk
from agronomy.water import WaterParams, load_water
from alerts.forecast import Forecasts
from qingyubiao.alerting import AlertReader, AlertWriter, Audience, Episode, Kind, Severity, State, Transition
from qingyubiao.config import Config, Site, Village
from qingyubiao.risks import INFORMATIVE, MODEL_NAMES, PESTS, STAGE_MODEL, WATER_MODEL, Biofix, DayRisk, RiskBook
from qingyubiao.series import SeriesIndex
from qingyubiao.store import ReadingReader
from qingyubiao.water import WaterBook

log = logging.getLogger(__name__)

HOUR_MS, DAY_MS = 3_600_000, 86_400_000
QUANTITIES = ("air_temp_c", "air_rh_pct", "leaf_wet_pct", "rain_mm", "soil_vwc_pct")
KIND = {m: Kind.PEST_RISK if m in PESTS else Kind.DISEASE_RISK for m in MODEL_NAMES if m not in INFORMATIVE}
KIND[WATER_MODEL] = Kind.IRRIGATION_DUE  # the advice alerts only when the water is due today (see `alert`)
# the number an episode carries as its value, by the first key a model's detail has
VALUE_KEYS = ("dh4", "wet_h_day", "wet_h", "index", "cum_dd", "need_mm")
RANK = {Severity.WARNING: 0, Severity.CRITICAL: 1, Severity.EMERGENCY: 2}  # a risk that rises is told again
GRACE_MS = 15 * 60_000  # a day is computed once its last readings (sent up to minutes late) are in
RERUN_MS = 3_600_000  # and again every hour: readings backfilled after an outage count within the hour


class RiskWatch:
    def __init__(
        self,
        config: Config,
        index: SeriesIndex,
        readings: ReadingReader,
        book: RiskBook,
        alerts: AlertReader,
        writer: AlertWriter,
        params: Params | None = None,
        clock: Callable[[], float] = time.time,
        water_book: WaterBook | None = None,
        forecasts: Forecasts | None = None,
        copy: Callable[[list[DayRisk]], None] | None = None,
    ) -> None:
        self.config, self.index, self.readings, self.book = config, index, readings, book
        self.alerts, self.writer = alerts, writer
        self.p = params or load_params()
        self.water = load_water()
        self.clock = clock
        self.water_book = water_book  # irrigations recorded (by hand, by valves): the balance's water in
        self.forecasts = forecasts  # rain forecasts: the newest day's advice counts the rain to come
        self.copy = copy  # the risks to InfluxDB too, for Grafana (ingest/store/influx_alerts.py)
        self._done: dict[str, tuple[str, int, int]] = {}  # village -> (day, biofix version, hour run)
        # each site's first series of each metric, found once (index.of_site scans the whole index)
        self._series: dict[tuple[str, str, str], int] = {}
        for i, k in enumerate(index.keys):
            self._series.setdefault((k.village, k.site, k.metric), i)

    def tick(self, now_ms: int | None = None) -> None:
        now = int(self.clock() * 1000) if now_ms is None else now_ms
        version = self.book.biofix_version() + (self.water_book.water_version() if self.water_book else 0)
        version += self.forecasts.version() if self.forecasts else 0
        for v in self.config.village:
            day = last_complete_day(v, now)
            key = (day.isoformat(), version, now // RERUN_MS)
            if self._done.get(v.id) == key:
                continue
            try:
                self.run(v, day, now)
            except Exception:  # a model must never stop the collector; the next pass tries again
                log.exception("agronomy models failed for %s on %s", v.id, day)
                continue
            self._done[v.id] = key

    # -- one village ------------------------------------------------------------------

    def run(self, v: Village, last: dt.date, now_ms: int) -> list[DayResult]:
        """Run the season from 1 January to `last` (a village date); write the risks; raise or end alerts."""
        jan1 = dt.date(last.year, 1, 1)
        start_ms = local_midnight_ms(v, jan1)
        days = (last - jan1).days + 1
        data = self.hourly(v, start_ms, days)
        sites = [self.site_info(v, s) for s in v.site]
        model = Agronomy(sites, self.p, self.water)
        fixes = {(b.site, b.pest): b for b in self.book.biofixes(v.id) if b.day[:4] == str(last.year)}
        position = {s.id: i for i, s in enumerate(v.site)}
        applied: dict[str, np.ndarray] = {}  # village date -> mm per site
        for x in self.water_book.irrigations(v.id, jan1.isoformat()) if self.water_book else []:
            if x.site in position:
                applied.setdefault(x.day, np.zeros(len(v.site)))[position[x.site]] += x.mm
        forecast = self.forecasts.get(v.id) if self.forecasts else None
        ahead = None
        if forecast is not None:  # from the day after the newest computed one: the advice's today on
            rule = self.water.rain_ahead
            mm = forecast.ahead(last + dt.timedelta(days=1), rule.horizon_days, rule.min_probability_pct)
            ahead = np.tile(np.array([np.nan if x is None else x for x in mm]), (len(v.site), 1))
        results, rows = [], []
        for d in range(days):
            date = jan1 + dt.timedelta(days=d)
            for (site, pest), b in fixes.items():
                if b.day == date.isoformat() and site in position and pest in self.p.pest:
                    model.set_biofix(pest, position[site])
            cut = slice(d * 24, (d + 1) * 24)
            newest = d == days - 1
            hours = Hours(start_ms + d * DAY_MS, *(a[:, cut] for a in data))
            r = model.day(hours, applied.get(date.isoformat()), ahead if newest else None)
            results.append(r)
            source = forecast.source if forecast is not None and newest else None
            rows += day_rows(self.p, v.id, [x.id for x in v.site], date, r, fixes, source)
        self.book.write_risks(rows)
        if self.copy is not None:
            self.copy(rows)
        self.alert(v, last, results[-1], rows, now_ms)
        return results

    def hourly(self, v: Village, start_ms: int, days: int) -> tuple[np.ndarray, ...]:
        """Sites × hours of each quantity's hourly mean (rain: total) from the store; NaN where none."""
        n, hours = len(v.site), days * 24
        out = {q: np.full((n, hours), np.nan) for q in QUANTITIES}
        for i, s in enumerate(v.site):
            for q in QUANTITIES:
                series = self.first_series(v, s.id, q)
                if series is not None:
                    out[q][i] = hourly_means(self.readings, series, start_ms, hours, total=q == "rain_mm")
        return tuple(out[q] for q in QUANTITIES)

    def first_series(self, v: Village, site: str, metric: str) -> int | None:
        return self._series.get((v.id, site, metric))

    def site_info(self, v: Village, s: Site) -> SiteInfo:
        has = {q: self.first_series(v, s.id, q) is not None for q in QUANTITIES}
        humid = (has["air_temp_c"] and has["air_rh_pct"]) or has["leaf_wet_pct"]
        return SiteInfo(s.crop, s.stage, v.lat, v.lon, humid, self.water_site(s), v.elevation_m)

    def water_site(self, s: Site) -> WaterSite | None:
        return water_site(self.water, s)

    # -- alerts -----------------------------------------------------------------------

    def alert(self, v: Village, last: dt.date, r: DayResult, rows: list[DayRisk], now_ms: int) -> None:
        newest = {(x.site, x.model): x for x in rows if x.day == last.isoformat()}
        open_ = {(e.site, e.rule): e for e in self.alerts.active_episodes(v.id) if e.kind in KIND.values()}
        ts = local_midnight_ms(v, last) + DAY_MS  # the day's end: what it says is known from then
        transitions, episodes = [], []
        modes = {s.id: s.irrigation.mode for s in v.site if s.irrigation is not None}
        for (site, model), x in newest.items():
            if model not in KIND:  # the stage estimate informs, it does not alert
                continue
            rule = f"agronomy:{model}"
            ep = open_.get((site, rule))
            # water: a notice when it is due today (a warning, so it waits out quiet hours), none where the
            # valve waters by itself; a disease or pest from moderate (high: critical)
            water = model == WATER_MODEL
            fire_at = int(Risk.HIGH if water else Risk.MODERATE)
            if water and modes.get(site) == "automatic":
                fire_at = Risk.HIGH + 1
            severity = Severity.CRITICAL if x.risk == Risk.HIGH and not water else Severity.WARNING
            risen = ep is not None and RANK[Severity(ep.severity)] < RANK[severity]
            if x.risk >= fire_at and (ep is None or risen):
                zh, en = self.text(model, x)
                eid = f"{v.id}/{site}/{rule}/{x.day}" + (f"/{severity.value}" if risen else "")
                value = float(next((x.detail[k] for k in VALUE_KEYS if x.detail.get(k) is not None), 0.0) or 0.0)
                if ep is not None:  # moderate, then high: the warning gives way to the critical episode without
                    # a message of its own, as a threshold's warning is inhibited by its critical
                    up_zh, up_en = f"{self.name(model)[0]}风险升高，见新的告警。", f"{self.name(model)[1]} risk rose."
                    transitions.append(Transition(ep.id, rule, ep.kind, ep.severity, ep.audience, State.RESOLVED,
                                                  ts, v.id, site, "", "", ep.value, float("nan"), inhibited_by=eid,
                                                  text_zh=up_zh, text_en=up_en))  # fmt: skip
                    episodes.append(Episode(ep.id, rule, ep.kind, ep.severity, ep.audience, v.id, site, "", "",
                                            State.RESOLVED, ep.started_ms, ep.fired_ms, ts, False, ep.value, up_zh,
                                            up_en, ep.ack_by, ep.ack_ms))  # fmt: skip
                t = Transition(eid, rule, KIND[model], severity, Audience.FARMER, State.FIRING, ts, v.id, site, "",
                               "", value, float("nan"), text_zh=zh, text_en=en)  # fmt: skip
                transitions.append(t)
                episodes.append(Episode(eid, rule, KIND[model], severity, Audience.FARMER, v.id, site, "", "",
                                        State.FIRING, ts, ts, None, False, value, zh, en))  # fmt: skip
            elif ep is not None and Risk.NONE <= x.risk < fire_at:
                zh, en = self.passed(model)
                transitions.append(Transition(ep.id, rule, ep.kind, ep.severity, ep.audience, State.RESOLVED,
                                              ts, v.id, site, "", "", ep.value, float("nan"), text_zh=zh,
                                              text_en=en))  # fmt: skip
                episodes.append(Episode(ep.id, rule, ep.kind, ep.severity, ep.audience, v.id, site, "", "",
                                        State.RESOLVED, ep.started_ms, ep.fired_ms, ts, False, ep.value, zh, en,
                                        ep.ack_by, ep.ack_ms))  # fmt: skip
        if transitions:
            self.writer.record(transitions, episodes, None, now_ms)

    def name(self, model: str) -> tuple[str, str]:
        return MODEL_NAMES[model]

    def passed(self, model: str) -> tuple[str, str]:
        if model == WATER_MODEL:
            return "已灌溉或土壤水分已恢复，暂不需要浇水。", "watered, or the soil has recovered: no watering due."
        return f"{self.name(model)[0]}风险已解除。", f"{self.name(model)[1]} risk has passed."

    def text(self, model: str, x: DayRisk) -> tuple[str, str]:
        """What the risk is, why, and what to do (zh, en)."""
        level_zh, level_en = Risk(x.risk).zh, Risk(x.risk).en
        if model == WATER_MODEL:
            d = x.detail
            why_zh = f"根层缺水 {d['depletion_mm']} 毫米，已到易吸收水量 {d['raw_mm']} 毫米"
            why_en = f"the root zone is {d['depletion_mm']} mm short, past its readily available {d['raw_mm']} mm"
            rain = d.get("forecast_rain_mm")
            room_zh = f"已为预报降雨约 {rain} 毫米留出余量。" if rain else ""
            room_en = f" Room is left for about {rain} mm of forecast rain." if rain else ""
            return (f"需要灌溉：{why_zh}。建议今天滴灌约 {d['drip_hours']} 小时（约 {d['due_mm']} 毫米）。{room_zh}",
                    f"irrigation due: {why_en}. Run the drip about {d['drip_hours']} h today "
                    f"(about {d['due_mm']} mm).{room_en}")  # fmt: skip
        if model == "apple_scab":
            s = self.p.scab
            why_zh = f"叶面湿润 {x.detail['wet_h']:.0f} 小时，平均 {x.detail['mean_c']}℃"
            why_en = f"leaves wet {x.detail['wet_h']:.0f} h at a mean {x.detail['mean_c']} °C"
            return (f"苹果黑星病侵染风险{level_zh}：{why_zh}。{s.advice_zh}",
                    f"apple scab infection risk {level_en}: {why_en}. {s.advice_en}")  # fmt: skip
        if model == "fire_blight":
            fb = self.p.fire_blight
            dh4, cls, wet_h = x.detail["dh4"], x.detail["class"], x.detail["wet_h"]
            cls_zh = {"low": "低", "caution": "注意", "high": "高", "extreme": "极高"}[cls]
            why_zh = f"近 4 天 15.5℃以上积温 {dh4:.0f} 度·时（{cls_zh}），花期湿润 {wet_h} 小时"
            why_en = f"{dh4:.0f} degree-hours above 15.5 °C in 4 days ({cls}), flowers wet {wet_h} h"
            return (f"火疫病侵染风险{level_zh}：{why_zh}。{fb.advice_zh}",
                    f"fire blight infection risk {level_en}: {why_en}. {fb.advice_en}")  # fmt: skip
        if model == "grey_mould":
            wet, mild = x.detail["wet_h_day"], x.detail["mild_night_h"]
            why_zh = f"近 7 天叶面平均每天湿润 {wet} 小时，夜间 9–21℃ 平均 {mild} 小时"
            why_en = f"leaves wet {wet} h a day over the last 7 days, nights at 9-21 °C for {mild} h"
            g = self.p.grey_mould
            return (f"灰霉病风险{level_zh}：{why_zh}。{g.advice_zh}",
                    f"grey mould risk {level_en}: {why_en}. {g.advice_en}")  # fmt: skip
        if model == "downy_mildew":
            why_zh = f"叶面连续湿润 {x.detail['wet_h']:.0f} 小时，平均 {x.detail['mean_c']}℃"
            why_en = f"leaves wet {x.detail['wet_h']:.0f} h in a row at a mean {x.detail['mean_c']} °C"
            dm = self.p.downy_mildew
            return (f"霜霉病侵染风险{level_zh}：{why_zh}。{dm.advice_zh}",
                    f"downy mildew infection risk {level_en}: {why_en}. {dm.advice_en}")  # fmt: skip
        if model == "powdery_mildew":
            pm, d = self.p.powdery_mildew, x.detail
            band = f"{pm.min_c:g}–{pm.max_c:g}"
            why_zh = f"白粉病指数 {d['index']:.0f}（满分 100），当天 {band}℃ 连续 {d['run_h']} 小时"
            why_en = f"powdery mildew index {d['index']:.0f} of 100, {d['run_h']} h in a row at {band} °C that day"
            return (f"白粉病风险{level_zh}：{why_zh}。{pm.advice_zh}",
                    f"powdery mildew risk {level_en}: {why_en}. {pm.advice_en}")  # fmt: skip
        if model == "marssonina":
            why_zh = f"叶片连续湿润 {x.detail['wet_h']:.0f} 小时，平均 {x.detail['mean_c']}℃"
            why_en = f"leaves wet {x.detail['wet_h']:.0f} h in a row at a mean {x.detail['mean_c']} °C"
            mp = self.p.marssonina
            return (f"苹果褐斑病侵染风险{level_zh}：{why_zh}。{mp.advice_zh}",
                    f"Marssonina blotch infection risk {level_en}: {why_en}. {mp.advice_en}")  # fmt: skip
        p = self.p.pest[model]
        m = next(ms for ms in p.milestone if ms.event == x.detail["milestone"])
        days = x.detail["days_to"]
        when_zh = "已到" if not days else f"预计 {days} 天后"
        when_en = "now" if not days else f"in about {days} days"
        cum, biofix = x.detail["cum_dd"], x.detail["biofix"]
        return (f"{p.name_zh}{m.zh}（{when_zh}），积温 {cum} 度日（起点 {biofix}）。{m.advice_zh}",
                f"{p.name_en}: {m.en} ({when_en}), {cum} degree-days since biofix {biofix}. {m.advice_en}")  # fmt: skip


def water_site(water: WaterParams, s: Site) -> WaterSite | None:
    """The block's soil and drip for the root-zone balance; None without irrigation config or FAO-56 data."""
    depletion, drip = water.depletion.get(s.crop), s.drip_mm_h
    if s.irrigation is None or depletion is None or drip is None or s.crop not in water.kc:
        return None
    soil = water.soil[s.irrigation.soil]
    root = s.irrigation.root_m or depletion.root_m
    return WaterSite(soil.fc, soil.wp, root, depletion.p, drip, s.kind == "greenhouse")


def day_rows(
    params: Params,
    village: str,
    sites: list[str],
    date: dt.date,
    r: DayResult,
    fixes: dict[tuple[str, str], Biofix],
    forecast_source: str | None = None,
) -> list[DayRisk]:
    """One day's result as the risk book's rows, the numbers behind each risk in its detail."""
    day = date.isoformat()
    rows = []
    for i, site in enumerate(sites):
        wet_h, mean_c = float(r.scab.wet_h[i]), float(r.scab.mean_c[i])
        detail: dict[str, object] = {"wet_h": wet_h, "mean_c": None if np.isnan(mean_c) else round(mean_c, 1)}
        rows.append(DayRisk(village, site, "apple_scab", day, int(r.scab.risk[i]), detail))
        fb = r.fire_blight
        detail = {"dh4": round(float(fb.dh4[i]), 1), "class": CLASS_NAMES[fb.cls[i]], "wet_h": int(fb.wet_h[i])}
        rows.append(DayRisk(village, site, "fire_blight", day, int(fb.risk[i]), detail))
        gm = r.grey_mould
        detail = {"wet_h_day": rounded(gm.wet_mean[i]), "mild_night_h": rounded(gm.night_mean[i])}
        rows.append(DayRisk(village, site, "grey_mould", day, int(gm.risk[i]), detail))
        for model, wp in (("downy_mildew", r.downy_mildew), ("marssonina", r.marssonina)):
            detail = {"wet_h": float(wp.wet_h[i]), "mean_c": rounded(wp.mean_c[i])}
            rows.append(DayRisk(village, site, model, day, int(wp.risk[i]), detail))
        pw = r.powdery_mildew
        detail = {"index": rounded(pw.index[i]), "run_h": int(pw.run_h[i]), "tmax_c": rounded(pw.tmax[i])}
        rows.append(DayRisk(village, site, "powdery_mildew", day, int(pw.risk[i]), detail))
        st = r.stage
        if st.estimated_name[i] is not None:  # a crop with published stage sums
            detail = {"gdd": round(float(st.gdd[i]), 1), "estimated": st.estimated_name[i], "next": st.next_name[i],
                      "off_by": None if st.off_by[i] < 0 else int(st.off_by[i])}  # fmt: skip
            rows.append(DayRisk(village, site, STAGE_MODEL, day, int(st.risk[i]), detail))
        if r.water is not None and r.water.risk[i] != Risk.NONE:  # a watered block (the rest are none)
            detail = water_detail(r, i, date, forecast_source)
            rows.append(DayRisk(village, site, WATER_MODEL, day, int(r.water.risk[i]), detail))
        for pest, p in r.pests.items():
            b = fixes.get((site, pest))
            cum, eta = float(p.cum_dd[i]), float(p.days_to[i])
            m = int(p.milestone[i])
            detail = {
                "dd": None if np.isnan(p.dd[i]) else round(float(p.dd[i]), 1),
                "cum_dd": None if np.isnan(cum) else round(cum, 1),
                "biofix": b.day if b else None,
                "milestone": params.pest[pest].milestone[m].event if m >= 0 else None,
                "days_to": None if np.isnan(eta) or np.isinf(eta) else int(eta),
            }
            rows.append(DayRisk(village, site, pest, day, int(p.risk[i]), detail))
    return rows


ET0_METHODS = {0: "penman_monteith", 1: "hargreaves", 2: "penman_monteith_greenhouse"}


def water_detail(r: DayResult, i: int, date: dt.date, forecast_source: str | None = None) -> dict[str, object]:
    """The numbers behind a block's irrigation advice (docs/irrigation.md)."""
    w = r.water
    assert w is not None
    days = float(w.days_left[i])
    rain = rounded(w.rain_mm[i])
    before = None if not np.isfinite(days) else (date + dt.timedelta(days=max(int(days), 1))).isoformat()
    return {
        "method": ET0_METHODS.get(int(w.method[i])),
        "et0_mm": rounded(w.et0[i]),
        "etc_mm": rounded(w.etc[i]),
        "depletion_mm": rounded(w.dr[i]),
        "raw_mm": rounded(w.raw[i]),
        "taw_mm": rounded(w.taw[i]),
        "need_mm": rounded(w.need_mm[i]),
        "due_mm": rounded(w.need_mm[i] if days <= 0 else w.raw[i]),
        "drip_hours": rounded(w.hours[i]),
        "days_left": None if not np.isfinite(days) else int(days),
        "before": before,
        # the rain forecast that counted (None: no forecast, or none for a house) and whether it put the
        # irrigation off; where it came from
        "forecast_rain_mm": rain,
        "rain_deferred": bool(w.deferred[i]),
        "forecast": forecast_source if rain is not None else None,
    }


def rounded(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 1)


def hourly_means(readings: ReadingReader, series: int, start_ms: int, hours: int, total: bool = False) -> np.ndarray:
    """One series' hourly means (`total`: sums, as for rain) from `start_ms`; NaN for an hour without any."""
    out = np.full(hours, np.nan)
    h = readings.history(series, start_ms, start_ms + hours * HOUR_MS, HOUR_MS)
    at = (h.bucket_ms - start_ms) // HOUR_MS
    out[at] = h.vmean * h.count if total else h.vmean
    return out


def local_midnight_ms(v: Village, date: dt.date) -> int:
    return int(dt.datetime(date.year, date.month, date.day, tzinfo=ZoneInfo(v.tz)).timestamp() * 1000)


def last_complete_day(v: Village, now_ms: int) -> dt.date:
    """The newest village date whose end (plus a grace for late uplinks) has passed."""
    local = dt.datetime.fromtimestamp((now_ms - GRACE_MS) / 1000, ZoneInfo(v.tz))
    return local.date() - dt.timedelta(days=1)
