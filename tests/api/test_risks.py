"""Risks and biofixes through the API: each caller sees only their sites' risks, a biofix in the future or
before this year's 1 January is a 400 with the reason, an unknown pest a 422, and a good one is kept."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from tests.api.conftest import FARMER, OTHER_FARMER, SECRETARY, ApiWorld

V = "/api/v1/villages/lijiahe"


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def test_risks_are_filtered_to_the_callers_sites_and_named(world: ApiWorld) -> None:
    mine = world.client.get(f"{V}/risks", headers=world.auth(FARMER)).json()
    assert [r["site"] for r in mine] == ["gh01"]
    assert mine[0]["model_zh"] == "苹果黑星病" and mine[0]["risk_zh"] == "无风险" and mine[0]["day"] == "2026-04-20"
    every = {r["site"]: r for r in world.client.get(f"{V}/risks", headers=world.auth(SECRETARY)).json()}
    assert every["or01"]["risk"] == 3 and every["or01"]["risk_en"] == "high"
    assert every["or01"]["detail"] == {"wet_h": 18.0, "mean_c": 12.0}
    assert every["gh03"]["risk_zh"] == "无数据"  # a site without the sensor: never "no risk"
    assert world.client.get(f"{V}/risks?day=2026-04-19", headers=world.auth(SECRETARY)).json() == []
    assert world.client.get(f"{V}/risks?day=April", headers=world.auth(SECRETARY)).status_code == 422


def test_a_biofix_must_be_this_year_and_not_in_the_future(world: ApiWorld) -> None:
    url, auth = f"{V}/sites/gh03/biofix", world.auth(OTHER_FARMER)
    future = world.client.post(url, json={"pest": "codling_moth", "day": (today() + dt.timedelta(days=1)).isoformat()},
                               headers=auth)  # fmt: skip
    assert future.status_code == 400 and "未来" in future.json()["detail"] and "future" in future.json()["detail"]
    last_year = world.client.post(url, json={"pest": "codling_moth", "day": f"{today().year - 1}-12-31"}, headers=auth)
    assert last_year.status_code == 400 and "1 January" in last_year.json()["detail"]
    assert world.client.post(url, json={"pest": "codling_moth", "day": "2026-02-30"}, headers=auth).status_code == 400
    assert world.client.post(url, json={"pest": "aphid", "day": today().isoformat()}, headers=auth).status_code == 422
    ok = world.client.post(url, json={"pest": "codling_moth", "day": today().isoformat()}, headers=auth)
    assert ok.status_code == 201 and ok.json()["set_by"] == OTHER_FARMER
    listed = world.client.get(f"{V}/biofix", headers=world.auth(SECRETARY)).json()
    assert [(b["site"], b["pest"], b["day"]) for b in listed] == [("gh03", "codling_moth", today().isoformat())]
    assert world.client.get(f"{V}/biofix", headers=world.auth(FARMER)).json() == []  # not the farmer's site


def test_the_stage_estimate_is_said_in_words_beside_the_configured_stage(world: ApiWorld) -> None:
    from ingest.store.sqlite_risks import SqliteRiskBook
    from qingyubiao.risks import DayRisk

    book = SqliteRiskBook(world.db)  # or01 is configured "dormant"; degree-days say full bloom
    detail = {"gdd": 520.0, "estimated": "full_bloom", "next": None, "off_by": 8}
    book.write_risks([DayRisk("lijiahe", "or01", "phenology", "2026-04-20", 0, detail)])
    book.close()
    rows = world.client.get(f"{V}/risks", headers=world.auth(SECRETARY)).json()
    [stage] = [r for r in rows if r["model"] == "phenology"]
    assert stage["model_zh"] == "物候期（积温估计）" and stage["risk"] == 0
    assert stage["note_zh"] == "积温 520.0 度日，估计已到盛花期；配置为休眠期，相差 8 个阶段"
    assert stage["note_en"] == "520.0 degree-days: estimated at full bloom; configured dormant, 8 stages apart"
    assert all(r["note_zh"] is None for r in rows if r["model"] != "phenology")


def test_irrigation_advice_is_said_in_words_with_its_method(world: ApiWorld) -> None:
    from ingest.store.sqlite_risks import SqliteRiskBook
    from qingyubiao.risks import DayRisk

    now = {"method": "penman_monteith", "due_mm": 105.0, "drip_hours": 156.7, "days_left": 0, "before": "2026-04-21"}
    later = {"method": "hargreaves", "due_mm": 57.2, "drip_hours": 11.3, "days_left": 4, "before": "2026-04-24"}
    book = SqliteRiskBook(world.db)
    book.write_risks([DayRisk("lijiahe", "or01", "irrigation", "2026-04-20", 3, now),
                      DayRisk("lijiahe", "gh01", "irrigation", "2026-04-20", 1, later)])  # fmt: skip
    book.close()
    rows = {r["site"]: r for r in world.client.get(f"{V}/risks", headers=world.auth(SECRETARY)).json()
            if r["model"] == "irrigation"}  # fmt: skip
    assert rows["or01"]["note_zh"] == (
        "建议灌溉约 105.0 毫米（滴灌约 156.7 小时），2026-04-21 前完成"
        "（参考蒸散量：彭曼-蒙特斯法，辐射按气温日较差估算）"
    )
    assert rows["gh01"]["note_en"] == (
        "the soil holds enough: no irrigation needed for 4 days; about 57.2 mm (11.3 h of drip) due by 2026-04-24 "
        "(ET0: Hargreaves, from temperature alone)"
    )
    mine = world.client.get(f"{V}/risks", headers=world.auth(FARMER)).json()
    assert {r["site"] for r in mine if r["model"] == "irrigation"} == {"gh01"}  # a farmer sees their own block only
