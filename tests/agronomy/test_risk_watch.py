"""The models in the collector's place: hourly readings in the real SQLite store, the season run from
1 January, the risks written, an alert raised for the orchard's owner and ended by a dry day, a biofix
entered late counted from its own date, and a backfilled day recomputed quietly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from agronomy.risk import Risk
from alerts.agronomy import RiskWatch, local_midnight_ms
from ingest.store.sqlite import SqliteStore
from ingest.store.sqlite_alerts import SqliteAlertStore
from ingest.store.sqlite_risks import SqliteRiskBook
from qingyubiao.batch import BatchBuilder
from qingyubiao.config import Config
from qingyubiao.risks import Biofix
from qingyubiao.series import SeriesIndex
from tests.notify.conftest import notify_config

HOUR = 3_600_000


@pytest.fixture
def world(tmp_path: Path) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        raw["deployment"]["store"]["db"] = str(tmp_path / "qyb.sqlite")
        for site in raw["village"][0]["site"]:
            if site["id"] == "or01":
                site["stage"] = "full_bloom"

    config = notify_config(edit=edit)
    index = SeriesIndex(config)
    store = SqliteStore(config.deployment.store.db, index)
    book = SqliteRiskBook(config.deployment.store.db)
    alerts = SqliteAlertStore(config.deployment.store.db)
    watch = RiskWatch(config, index, store, book, alerts, alerts)
    yield config, index, store, book, alerts, watch
    for x in (store, book, alerts):
        x.close()


def write_day(
    config: Config,
    index: SeriesIndex,
    store: SqliteStore,
    date: dt.date,
    wet_hours: range | list[int],
    temp_c: float | list[float] = 12.0,
    device: str = "or01-air",
) -> None:
    """An air sensor (or01's), every 20 minutes of the village day: 12 °C (or by hour), RH 97 % in
    `wet_hours`, 60 % else."""
    v = config.village[0]
    t_series, rh_series = index.find(v.id, device, "air_temp_c"), index.find(v.id, device, "air_rh_pct")
    temps = temp_c if isinstance(temp_c, list) else [temp_c] * 24
    assert t_series is not None and rh_series is not None
    b = BatchBuilder()
    start = local_midnight_ms(v, date)
    for k in range(72):
        ts = start + k * 1_200_000
        b.add(t_series, ts, temps[k // 3], 0)
        b.add(rh_series, ts, 97.0 if k // 3 in wet_hours else 60.0, 0)
    store.write(b.build(index.lo, index.hi))
    store.refresh_rollups()


def test_a_wet_day_raises_a_scab_alert_for_the_owner_and_a_dry_one_ends_it(world: Any) -> None:
    config, index, store, book, alerts, watch = world
    v = config.village[0]
    d1, d2 = dt.date(2026, 4, 20), dt.date(2026, 4, 21)
    write_day(config, index, store, d1, range(6, 24))  # 18 wet hours from 06:00 at 12 °C: severe (8.2 h × 2)
    watch.tick(local_midnight_ms(v, d2) + HOUR)
    rows = {(r.site, r.model): r for r in book.risks(v.id)}
    scab = rows[("or01", "apple_scab")]
    assert scab.day == "2026-04-20" and scab.risk == Risk.HIGH and scab.detail == {"wet_h": 18.0, "mean_c": 12.0}
    assert rows[("or02", "apple_scab")].risk == Risk.NONE  # dormant: out of season
    assert rows[("gh01", "apple_scab")].risk == Risk.NONE  # a tomato house: not the model's crop
    [ep] = [e for e in alerts.active_episodes(v.id) if e.kind == "disease_risk"]
    assert (ep.site, ep.severity, ep.audience) == ("or01", "critical", "farmer")
    assert ep.text_zh.startswith("苹果黑星病侵染风险高：叶面湿润 18 小时，平均 12.0℃。建议 48 小时内")
    # the next pass with nothing new does nothing; a dry day ends the alert
    watch.tick(local_midnight_ms(v, d2) + 2 * HOUR)
    assert len(alerts.transitions(ep.id)) == 1
    write_day(config, index, store, d2, range(0))
    watch.tick(local_midnight_ms(v, d2 + dt.timedelta(days=1)) + HOUR)
    assert not [e for e in alerts.active_episodes(v.id) if e.kind == "disease_risk"]
    assert [t.state for t in alerts.transitions(ep.id)] == ["firing", "resolved"]
    assert book.risks(v.id, "2026-04-21")[0].day == "2026-04-21"


def test_a_risk_that_rises_to_high_is_told_again_as_critical(world: Any) -> None:
    """Moderate, then high (the rest of the day's readings came in late, or the next day is worse): the
    household hears of the high risk; the warning closes without a message (inhibited by the critical)."""
    config, index, store, _book, alerts, watch = world
    v = config.village[0]
    d1, d2, d3 = dt.date(2026, 4, 20), dt.date(2026, 4, 21), dt.date(2026, 4, 22)
    write_day(config, index, store, d1, range(6, 18))  # 12 wet hours at 12 °C: moderate
    watch.tick(local_midnight_ms(v, d2) + HOUR)

    def risk_episodes() -> list[Any]:
        return [e for e in alerts.active_episodes(v.id) if e.kind == "disease_risk"]

    [warning] = risk_episodes()
    assert (warning.site, warning.severity) == ("or01", "warning")
    write_day(config, index, store, d1, range(6, 24))  # the evening's readings arrive late: 18 wet hours, high
    watch.tick(local_midnight_ms(v, d2) + 2 * HOUR)
    [critical] = risk_episodes()
    assert (critical.site, critical.severity, critical.id) == ("or01", "critical", f"{warning.id}/critical")
    assert critical.text_zh.startswith("苹果黑星病侵染风险高：叶面湿润 18 小时")
    closed = alerts.transitions(warning.id)
    assert [t.state for t in closed] == ["firing", "resolved"] and closed[-1].inhibited_by == critical.id
    assert not closed[-1].pages  # no "risk passed" message: it did not pass
    # high again the next day: nothing new; a moderate day after it does not lower the open critical
    write_day(config, index, store, d2, range(6, 24))
    watch.tick(local_midnight_ms(v, d3) + HOUR)
    write_day(config, index, store, d3, range(6, 18))
    watch.tick(local_midnight_ms(v, d3 + dt.timedelta(days=1)) + HOUR)
    assert [e.id for e in risk_episodes()] == [critical.id] and len(alerts.transitions(critical.id)) == 1


def test_a_late_biofix_counts_from_its_date_and_a_backfilled_day_is_recomputed(world: Any) -> None:
    config, index, store, book, alerts, watch = world
    v = config.village[0]
    days = [dt.date(2026, 5, 1) + dt.timedelta(days=i) for i in range(3)]
    for d in days:
        write_day(config, index, store, d, range(0))  # 12 °C all day: 2 °C-DD
    book.set_biofix(Biofix(v.id, "or01", "codling_moth", "2026-05-02", "secretary", 1))
    watch.tick(local_midnight_ms(v, days[-1]) + 25 * HOUR)
    history = book.history(v.id, "or01", "codling_moth", "2026-05-01")
    assert [(r.day, r.detail["cum_dd"]) for r in history] == [("2026-05-01", None), ("2026-05-02", 2.0),
                                                               ("2026-05-03", 4.0)]  # fmt: skip
    assert history[-1].risk == Risk.LOW and history[-1].detail["biofix"] == "2026-05-02"
    # readings of 1 May arrive late, wet: the day is recomputed with them, and it pages nobody
    write_day(config, index, store, days[0], range(8, 20))
    watch.tick(local_midnight_ms(v, days[-1]) + 25 * HOUR + 60_000)  # within the hour: not yet ...
    assert book.risks(v.id, "2026-05-01")[0].risk == Risk.NONE
    watch.tick(local_midnight_ms(v, days[-1]) + 26 * HOUR)  # ... the next hour's run folds them in
    may1 = {(r.site, r.model): r for r in book.risks(v.id, "2026-05-01")}
    assert may1[("or01", "apple_scab")].risk == Risk.MODERATE  # 12 wet hours at 12 °C: 8.2 × 4/3 ≤ 12 < 8.2 × 2
    assert not [e for e in alerts.active_episodes(v.id) if e.kind == "disease_risk"]  # an old day: no alert


def test_warm_bloom_days_and_a_wetting_raise_a_fire_blight_alert(world: Any) -> None:
    config, index, store, book, alerts, watch = world
    v = config.village[0]
    days = [dt.date(2026, 4, 20) + dt.timedelta(days=i) for i in range(4)]
    for d in days[:3]:
        write_day(config, index, store, d, range(0), temp_c=24.0)  # 8.5 °C above 15.5 for 24 h: 204 a day
    write_day(config, index, store, days[3], range(5, 8), temp_c=24.0)  # and a 3-hour dew on the fourth
    watch.tick(local_midnight_ms(v, days[3]) + 25 * HOUR)
    history = book.history(v.id, "or01", "fire_blight", "2026-04-20")
    # the first three days' windows reach back to days without readings: unknown, not low
    assert [(r.risk, r.detail["dh4"], r.detail["class"]) for r in history] == [
        (Risk.UNKNOWN, 204.0, "low"), (Risk.UNKNOWN, 408.0, "caution"), (Risk.UNKNOWN, 612.0, "high"),
        (Risk.HIGH, 816.0, "extreme")]  # fmt: skip
    [ep] = [e for e in alerts.active_episodes(v.id) if e.kind == "disease_risk"]
    assert (ep.site, ep.rule, ep.severity) == ("or01", "agronomy:fire_blight", "critical")
    assert ep.text_zh.startswith("火疫病侵染风险高：近 4 天 15.5℃以上积温 816 度·时（极高），花期湿润 3 小时。")
    assert book.risks(v.id, "2026-04-23")[0].day == "2026-04-23"
    other = {(r.site, r.model): r.risk for r in book.risks(v.id, "2026-04-23")}
    assert other[("or02", "fire_blight")] == Risk.NONE  # dormant: no open flowers


def test_humid_greenhouse_nights_raise_grey_mould_and_downy_mildew(world: Any) -> None:
    config, index, store, book, alerts, watch = world
    v = config.village[0]
    days = [dt.date(2026, 3, 2) + dt.timedelta(days=i) for i in range(7)]
    night = [h >= 18 or h < 8 for h in range(24)]
    temps = [12.0 if dark else 22.0 for dark in night]  # a closed house: 12 °C nights, 22 °C days
    wet = [*range(6), *range(20, 24)]  # wet from 20:00 to 06:00, ten hours over midnight
    for d in days:
        write_day(config, index, store, d, wet, temps, device="gh02-air")  # gh02 grows cucumber
    watch.tick(local_midnight_ms(v, days[-1]) + 25 * HOUR)
    last = {(r.site, r.model): r for r in book.risks(v.id, days[-1].isoformat())}
    mould, downy = last[("gh02", "grey_mould")], last[("gh02", "downy_mildew")]
    assert (mould.risk, mould.detail) == (Risk.HIGH, {"wet_h_day": 10.0, "mild_night_h": 14.0})
    assert (downy.risk, downy.detail) == (Risk.MODERATE, {"wet_h": 10.0, "mean_c": 12.0})  # 6 h from 10 °C
    assert last[("gh01", "grey_mould")].risk == Risk.UNKNOWN  # gh01 sent nothing this week
    assert last[("or01", "grey_mould")].risk == Risk.NONE  # not a greenhouse crop
    eps = {e.rule: e for e in alerts.active_episodes(v.id) if e.site == "gh02"}
    assert eps["agronomy:grey_mould"].severity == "critical"
    assert eps["agronomy:grey_mould"].text_zh.startswith(
        "灰霉病风险高：近 7 天叶面平均每天湿润 10.0 小时，夜间 9–21℃ 平均 14.0 小时。"
    )
    assert eps["agronomy:downy_mildew"].text_zh.startswith("霜霉病侵染风险中：叶面连续湿润 10 小时，平均 12.0℃。")


def test_a_watered_block_gets_its_irrigation_advice_beside_the_risks(world: Any) -> None:
    config, index, store, book, alerts, watch = world
    v = config.village[0]
    days = [dt.date(2026, 5, 1) + dt.timedelta(days=i) for i in range(3)]
    for d in days:
        write_day(config, index, store, d, range(0), temp_c=[14.0 + 10.0 * (8 <= h < 18) for h in range(24)])
    watch.tick(local_midnight_ms(v, days[-1]) + 25 * HOUR)
    rows = {(r.site, r.model): r for r in book.risks(v.id, days[-1].isoformat())}
    water = rows[("or01", "irrigation")]  # or01 has irrigation config (silt loam, 0.67 mm an hour of drip)
    assert water.detail["method"] == "penman_monteith" and water.detail["et0_mm"] > 1.0
    assert water.detail["taw_mm"] == 210.0 and water.risk in (Risk.LOW, Risk.MODERATE)
    assert water.detail["depletion_mm"] > 0 and water.detail["days_left"] >= 1
    assert water.detail["drip_hours"] == round(water.detail["raw_mm"] / (22200 * 4 / (200 * 2000 / 3)), 1)
    assert ("gh03", "irrigation") not in rows  # no irrigation config
    assert rows[("gh01", "irrigation")].risk == Risk.UNKNOWN  # config but no readings: no ET0
    assert not [e for e in alerts.active_episodes(v.id) if e.rule == "agronomy:irrigation"]  # advice, not an alert


def test_a_recorded_irrigation_refills_the_balance_at_the_next_run(world: Any) -> None:
    from ingest.store.sqlite_water import SqliteWaterBook
    from qingyubiao.water import Irrigated

    config, index, store, book, alerts, _ = world
    water = SqliteWaterBook(config.deployment.store.db)
    watch = RiskWatch(config, index, store, book, alerts, alerts, water_book=water)
    v = config.village[0]
    days = [dt.date(2026, 5, 1) + dt.timedelta(days=i) for i in range(4)]
    for d in days:
        write_day(config, index, store, d, range(0), temp_c=[14.0 + 10.0 * (8 <= h < 18) for h in range(24)])
    watch.tick(local_midnight_ms(v, days[-1]) + 25 * HOUR)
    dry = book.risks(v.id, days[-1].isoformat())
    before = next(r for r in dry if (r.site, r.model) == ("or01", "irrigation")).detail["depletion_mm"]
    assert before > 5.0
    water.record_irrigation(Irrigated(v.id, "or01", days[2].isoformat(), local_midnight_ms(v, days[2]), 60.0,
                                      5.0, "manual", "li-jianjun"), "by hand")  # fmt: skip
    watch.tick(local_midnight_ms(v, days[-1]) + 25 * HOUR + 60_000)  # a new irrigation: the season again at once
    after = next(r for r in book.risks(v.id, days[-1].isoformat()) if (r.site, r.model) == ("or01", "irrigation"))
    assert after.detail["depletion_mm"] == pytest.approx(before - 5.0, abs=0.11)
    water.close()


def write_soil(config: Config, index: SeriesIndex, store: SqliteStore, date: dt.date, vwc_pct: float) -> None:
    """or01's soil probe every 20 minutes of the village day."""
    v = config.village[0]
    series = index.find(v.id, "or01-soil", "soil_vwc_pct")
    assert series is not None
    b = BatchBuilder()
    for k in range(72):
        b.add(series, local_midnight_ms(v, date) + k * 1_200_000, vwc_pct, 0)
    store.write(b.build(index.lo, index.hi))
    store.refresh_rollups()


def irrigation_alerts(alerts: SqliteAlertStore, v: str) -> list[Any]:
    return [e for e in alerts.active_episodes(v) if e.rule == "agronomy:irrigation"]


def test_water_due_today_is_a_warning_to_the_household_until_the_soil_is_moist_again(world: Any) -> None:
    config, index, store, book, alerts, watch = world
    v = config.village[0]
    days = [dt.date(2026, 5, 1) + dt.timedelta(days=i) for i in range(4)]
    for d in days[:3]:  # three days of a dry probe (10 %, silt loam's θWP is 15 %) pull the balance past RAW
        write_day(config, index, store, d, range(0), temp_c=[14.0 + 10.0 * (8 <= h < 18) for h in range(24)])
        write_soil(config, index, store, d, 10.0)
    watch.tick(local_midnight_ms(v, days[3]) + HOUR)
    water = next(r for r in book.risks(v.id, days[2].isoformat()) if (r.site, r.model) == ("or01", "irrigation"))
    assert water.risk == Risk.HIGH and water.detail["days_left"] == 0
    [ep] = irrigation_alerts(alerts, v.id)
    assert (ep.site, ep.kind, ep.severity, ep.audience) == ("or01", "irrigation_due", "warning", "farmer")
    assert ep.text_zh.startswith(f"需要灌溉：根层缺水 {water.detail['depletion_mm']} 毫米")
    assert f"建议今天滴灌约 {water.detail['drip_hours']} 小时" in ep.text_zh
    # a wet day on the probe (30 %, above θFC): nothing due, the warning ends
    write_day(config, index, store, days[3], range(0))
    write_soil(config, index, store, days[3], 30.0)
    watch.tick(local_midnight_ms(v, days[3]) + 25 * HOUR)
    assert irrigation_alerts(alerts, v.id) == []
    [ended] = [e for e in alerts.episodes(0) if e.id == ep.id]
    assert ended.ended_ms is not None and ended.text_zh.startswith("已灌溉或土壤水分已恢复")


def test_an_automatic_block_is_watered_not_warned(tmp_path: Path) -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["deployment"]["store"]["db"] = str(tmp_path / "qyb.sqlite")
        raw["village"][0]["device"].append({"id": "or01-valve", "site": "or01", "metrics": ["bat_v"]})
        for site in raw["village"][0]["site"]:
            if site["id"] == "or01":
                site["irrigation"] |= {"valve": "or01-valve", "mode": "automatic"}

    config = notify_config(edit=edit)
    index = SeriesIndex(config)
    store = SqliteStore(config.deployment.store.db, index)
    book, alerts = SqliteRiskBook(config.deployment.store.db), SqliteAlertStore(config.deployment.store.db)
    watch = RiskWatch(config, index, store, book, alerts, alerts)
    v = config.village[0]
    days = [dt.date(2026, 5, 1) + dt.timedelta(days=i) for i in range(3)]
    for d in days:
        write_day(config, index, store, d, range(0), temp_c=[14.0 + 10.0 * (8 <= h < 18) for h in range(24)])
        write_soil(config, index, store, d, 10.0)
    watch.tick(local_midnight_ms(v, days[2]) + 25 * HOUR)
    water = next(r for r in book.risks(v.id, days[2].isoformat()) if (r.site, r.model) == ("or01", "irrigation"))
    assert water.risk == Risk.HIGH  # due, and the valve manager waters it (tests/irrigation/test_valves.py)
    assert irrigation_alerts(alerts, v.id) == []
    for x in (store, book, alerts):
        x.close()
