"""The monthly summary for the notice board: hours in alert (overlaps once), alerts, median time to acknowledge."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.api.conftest import HOUR, SECRETARY, ApiWorld, episode

V = "/api/v1/villages/lijiahe"
MARCH = int(datetime(2025, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp() * 1000)


def test_month_summary_adds_up_alert_time_once_and_the_ack_median(world: ApiWorld) -> None:
    t = MARCH + 10 * 24 * HOUR
    eps = [
        # two overlapping alerts on gh05: 09:00-12:00 and 11:00-13:00 → 4 hours, not 5
        episode(
            "a",
            "gh05",
            "gh05-air",
            "air_temp_c",
            t,
            fired_ms=t,
            ended_ms=t + 3 * HOUR,
            ack_ms=t + 10 * 60_000,
            state="resolved",
            ack_by="x",
        ),
        episode(
            "b",
            "gh05",
            "gh05-air",
            "air_rh_pct",
            t + 2 * HOUR,
            fired_ms=t + 2 * HOUR,
            ended_ms=t + 4 * HOUR,
            ack_ms=t + 2 * HOUR + 30 * 60_000,
            state="resolved",
            ack_by="x",
            severity="warning",
        ),
        episode(
            "c",
            "gh05",
            "gh05-air",
            "air_temp_c",
            t + 24 * HOUR,
            fired_ms=t + 24 * HOUR,
            ended_ms=t + 25 * HOUR,
            state="resolved",
        ),
        # a device alert is not "outside the crop's range"
        episode(
            "d",
            "gh06",
            "gh06-air",
            "air_temp_c",
            t,
            fired_ms=t,
            ended_ms=t + 5 * HOUR,
            state="resolved",
            audience="maintainer",
        ),
        # fired in February, resolved in March: only its March hours count, not its alert
        episode(
            "e",
            "gh07",
            "gh07-air",
            "air_temp_c",
            MARCH - HOUR,
            fired_ms=MARCH - HOUR,
            ended_ms=MARCH + 2 * HOUR,
            state="resolved",
        ),
    ]
    world.alerts.record([], eps, None, t)
    r = world.client.get(f"{V}/summary?month=2025-03", headers=world.auth(SECRETARY))
    assert r.status_code == 200
    rows = {s["site"]: s for s in r.json()["sites"]}
    assert len(rows) == 30
    gh05 = rows["gh05"]
    assert gh05["hours_out_of_range"] == 5.0 and gh05["alerts"] == 3 and gh05["critical"] == 2
    assert gh05["acknowledged"] == 2 and gh05["median_ack_min"] == 20.0
    assert rows["gh06"]["hours_out_of_range"] == 0 and rows["gh06"]["alerts"] == 1
    assert rows["gh07"]["hours_out_of_range"] == 2.0 and rows["gh07"]["alerts"] == 0
    assert rows["gh08"] == {**rows["gh08"], "hours_out_of_range": 0, "alerts": 0, "median_ack_min": None}
    bad = world.client.get(f"{V}/summary?month=March", headers=world.auth(SECRETARY))
    assert bad.status_code == 422 and "query.month" in bad.json()["detail"]  # the document's pattern
    bad = world.client.get(f"{V}/summary?month=2026-13", headers=world.auth(SECRETARY))
    assert bad.status_code == 422 and "query.month" in bad.json()["detail"]


def test_months_outside_2000_to_2100_are_422_not_500(world: ApiWorld) -> None:
    for month in ("9999-12", "0001-01", "1999-12", "2101-01"):  # 9999-12 was a 500: "year 10000 is out of range"
        r = world.client.get(f"{V}/summary?month={month}", headers=world.auth(SECRETARY))
        assert r.status_code == 422 and "query.month" in r.json()["detail"], (month, r.text)
    for month in ("2000-01", "2100-12"):
        assert world.client.get(f"{V}/summary?month={month}", headers=world.auth(SECRETARY)).status_code == 200


def march_rows(world: ApiWorld) -> dict[str, dict[str, object]]:
    r = world.client.get(f"{V}/summary?month=2025-03", headers=world.auth(SECRETARY))
    assert r.status_code == 200
    return {s["site"]: s for s in r.json()["sites"]}


def test_episodes_open_into_the_month_count_however_early_they_started(world: ApiWorld) -> None:
    day = 24 * HOUR
    eps = [
        # fired 40 days before March, resolved 3 hours into it: was skipped (only 31 days were looked back)
        episode(
            "f",
            "gh08",
            "gh08-air",
            "air_temp_c",
            MARCH - 40 * day,
            fired_ms=MARCH - 40 * day,
            ended_ms=MARCH + 3 * HOUR,
            state="resolved",
        ),
        # fired in January and never resolved: the whole of March
        episode("g", "gh09", "gh09-air", "air_temp_c", MARCH - 60 * day, fired_ms=MARCH - 60 * day),
        # resolved before March: not March's
        episode(
            "h",
            "gh10",
            "gh10-air",
            "air_temp_c",
            MARCH - 50 * day,
            fired_ms=MARCH - 50 * day,
            ended_ms=MARCH - HOUR,
            state="resolved",
        ),
    ]
    world.alerts.record([], eps, None, MARCH)
    rows = march_rows(world)
    assert (rows["gh08"]["hours_out_of_range"], rows["gh08"]["alerts"]) == (3.0, 0)
    assert (rows["gh09"]["hours_out_of_range"], rows["gh09"]["alerts"]) == (31 * 24.0, 0)
    assert (rows["gh10"]["hours_out_of_range"], rows["gh10"]["alerts"]) == (0, 0)


def test_an_acknowledgement_while_still_pending_counts_as_zero_minutes_not_negative(world: ApiWorld) -> None:
    t = MARCH + 5 * 24 * HOUR
    eps = [
        # acknowledged 10 minutes after it started, 20 minutes before it fired
        episode(
            "p",
            "gh11",
            "gh11-air",
            "air_temp_c",
            t,
            fired_ms=t + 30 * 60_000,
            ack_ms=t + 10 * 60_000,
            ack_by="x",
            ended_ms=t + HOUR,
            state="resolved",
        ),
        episode(
            "q",
            "gh11",
            "gh11-air",
            "air_rh_pct",
            t,
            fired_ms=t,
            ack_ms=t + 30 * 60_000,
            ack_by="x",
            ended_ms=t + HOUR,
            state="resolved",
        ),
    ]
    world.alerts.record([], eps, None, t)
    rows = march_rows(world)
    assert rows["gh11"]["acknowledged"] == 2 and rows["gh11"]["median_ack_min"] == 15.0  # median of 0 and 30


def test_high_risk_days_count_each_day_once_and_only_the_months(world: ApiWorld) -> None:
    from ingest.store.sqlite_risks import SqliteRiskBook
    from qingyubiao.risks import DayRisk

    book = SqliteRiskBook(world.db)
    book.write_risks([
        DayRisk("lijiahe", "or01", "apple_scab", "2025-03-05", 3),
        DayRisk("lijiahe", "or01", "apple_scab", "2025-03-06", 3),
        DayRisk("lijiahe", "or01", "fire_blight", "2025-03-06", 3),  # the same day: counted once
        DayRisk("lijiahe", "or01", "codling_moth", "2025-03-07", 2),  # moderate: not high
        DayRisk("lijiahe", "or01", "apple_scab", "2025-03-31", 3),  # the month's last day
        DayRisk("lijiahe", "or01", "apple_scab", "2025-04-01", 3),  # April's
        DayRisk("lijiahe", "gh02", "grey_mould", "2025-02-28", 3),  # February's
    ])  # fmt: skip
    book.close()
    rows = march_rows(world)
    assert rows["or01"]["high_risk_days"] == 3
    assert rows["or01"]["high_risk_by_model"] == {"apple_scab": 3, "fire_blight": 1}
    assert (rows["gh02"]["high_risk_days"], rows["gh02"]["high_risk_by_model"]) == (0, {})
