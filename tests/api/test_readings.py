"""Sites, latest readings with status, history with gaps, bad requests, CSV export, devices."""

from __future__ import annotations

import csv
import io

import pytest

from api.status import vpd_kpa
from tests.api.conftest import ADMIN, FARMER, HOUR, SECRETARY, ApiWorld

V = "/api/v1/villages/lijiahe"


def test_a_farmer_sees_only_the_household_sites(world: ApiWorld) -> None:
    me = world.client.get("/api/v1/me", headers=world.auth(FARMER)).json()
    assert me["role"] == "farmer" and sorted(me["sites"]) == ["gh01", "gh02"]
    sites = world.client.get(f"{V}/sites", headers=world.auth(FARMER)).json()
    assert [s["id"] for s in sites] == ["gh01", "gh02"]
    every = world.client.get(f"{V}/sites", headers=world.auth(SECRETARY)).json()
    assert sum(s["kind"] == "greenhouse" for s in every) == 24 and sum(s["kind"] == "orchard" for s in every) == 6


def test_status_comes_from_firing_alerts_data_age_and_absence(world: ApiWorld) -> None:
    by_id = {s["id"]: s for s in world.client.get(f"{V}/sites", headers=world.auth(SECRETARY)).json()}
    assert by_id["gh01"]["status"] == "critical"  # its firing critical episode
    assert by_id["gh03"]["status"] == "warning"  # warning episode beats its stale data
    assert by_id["gh05"]["status"] == "unknown" and by_id["gh05"]["updated_ms"] is None
    gh03 = {r["metric"]: r for r in world.client.get(f"{V}/sites/gh03/latest", headers=world.auth(SECRETARY)).json()}
    assert gh03["air_rh_pct"]["status"] == "stale"  # an hour old on a 60 s device
    assert gh03["air_temp_c"]["status"] == "warning"


def test_latest_values_and_vpd_match_what_was_stored(world: ApiWorld) -> None:
    gh01 = world.client.get(f"{V}/sites/gh01", headers=world.auth(FARMER)).json()
    readings = {r["metric"]: r for r in gh01["readings"]}
    assert readings["air_temp_c"]["value"] == 20.0 and readings["air_temp_c"]["ts_ms"] == world.now_ms
    assert readings["air_temp_c"]["label_zh"] == "气温" and readings["air_temp_c"]["unit"] == "°C"
    assert readings["soil_vwc_pct"]["value"] == 31.5 and readings["soil_vwc_pct"]["status"] == "ok"
    assert readings["soil_ec_ms_cm"]["status"] == "unknown" and readings["soil_ec_ms_cm"]["value"] is None
    assert gh01["vpd_kpa"] == pytest.approx(vpd_kpa(20.0, 70.0)) and 0.6 < gh01["vpd_kpa"] < 0.8
    assert gh01["updated_ms"] == world.now_ms and gh01["active_alerts"] == 1


def test_history_keeps_gaps_and_uses_the_step(world: ApiWorld) -> None:
    q = f"metric=air_temp_c&start={world.now_ms - 24 * HOUR}&end={world.now_ms + 1}&step_ms=3600000"
    h = world.client.get(f"{V}/sites/gh01/history?{q}", headers=world.auth(FARMER)).json()
    assert h["step_ms"] == 3_600_000 and h["unit"] == "°C"
    buckets = [p[0] for p in h["points"]]
    assert all(b % 3_600_000 == 0 for b in buckets)
    hole = [b for b in buckets if world.now_ms - 10 * HOUR + HOUR <= b < world.now_ms - 8 * HOUR - HOUR]
    assert hole == []  # no readings, no points: gaps stay gaps
    assert 20 <= len(buckets) <= 24
    full = next(p for p in h["points"] if p[4] == 12)  # a whole hour of 5-minute readings
    assert full[2] == 20.0 and full[3] == 31.0 and full[1] == pytest.approx(25.5)  # min, max, mean of 20..31
    fine = world.client.get(
        f"{V}/sites/gh01/history?metric=air_temp_c&start=-2h", headers=world.auth(FARMER)
    ).json()  # default step: about 500 points at most
    assert fine["step_ms"] == 60_000 and 23 <= len(fine["points"]) <= 25


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("metric=air_temp_c&start=-1h&end=-2h", 400, "start must be before end"),
        ("metric=air_temp_c&start=yesterday", 422, "query.start"),  # the document's pattern says so
        ("metric=air_temp_c&start=-500d", 400, "range too long"),
        ("metric=air_temp_c&start=-7d&step_ms=1000", 400, "query too large"),
        ("metric=air_temp_c&step_ms=10", 422, "query.step_ms"),
        ("metric=co2_ppm", 404, "does not measure"),
        ("start=-1h", 422, "metric"),
        ("metric=air_temp_c&step_ms=abc", 422, "step_ms"),
        # these were 500s: OverflowError, SQLite integer overflow, int('²')
        ("metric=air_temp_c&start=-99999999999d", 422, "query.start"),
        ("metric=air_temp_c&start=-999999d", 400, "out of range"),
        ("metric=air_temp_c&end=99999999999999999999999", 422, "query.end"),
        ("metric=air_temp_c&end=9999999999999", 400, "out of range"),
        ("metric=air_temp_c&start=0001-01-01", 400, "out of range"),
        ("metric=air_temp_c&end=9999-12-31T23:59:59-12:00", 400, "out of range"),
        ("metric=air_temp_c&start=%C2%B2", 422, "query.start"),
        ("metric=air_temp_c&start=2026-02-31", 400, "cannot read"),
        ("metric=air_temp_c&step_ms=99999999999999999999999", 422, "query.step_ms"),
        ("metric=air_temp_c&start=-300d&step_ms=34560000001", 422, "query.step_ms"),
        ("metric=air_temp_c&step_ms=-5", 422, "query.step_ms"),
    ],
)
def test_bad_history_requests_are_4xx_with_a_message(world: ApiWorld, query: str, status: int, words: str) -> None:
    r = world.client.get(f"{V}/sites/gh01/history?{query}", headers=world.auth(FARMER))
    assert r.status_code == status
    assert words in str(r.json()["detail"])


def test_unknown_site_is_404_with_a_message(world: ApiWorld) -> None:
    r = world.client.get(f"{V}/sites/gh99/latest", headers=world.auth(SECRETARY))
    assert r.status_code == 404 and "gh99" in r.json()["detail"]


def test_export_csv_is_the_stored_range_of_visible_sites(world: ApiWorld) -> None:
    r = world.client.get(
        f"{V}/export.csv?start={world.now_ms - 90 * 60_000}&end={world.now_ms + 1}", headers=world.auth(FARMER)
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["site"] for row in rows} == {"gh01"}  # gh03 is not theirs; gh02 has no data
    expected = list(world.store.export(world.now_ms - 90 * 60_000, world.now_ms + 1))
    expected = [e for e in expected if e.site == "gh01"]
    assert len(rows) == len(expected) > 0
    assert {(row["metric"], float(row["value"])) for row in rows} == {(e.metric, e.value) for e in expected}
    token = world.tokens[SECRETARY]  # download links carry the token in the query
    by_link = world.client.get(f"{V}/export.csv?site=gh03&access_token={token}")
    assert by_link.status_code == 200 and by_link.text.count("\n") == 3  # header + 2 readings


def test_devices_show_last_seen_battery_and_health(world: ApiWorld) -> None:
    devices = {d["id"]: d for d in world.client.get(f"{V}/devices", headers=world.auth(SECRETARY)).json()}
    assert len(devices) == 60
    air = devices["gh01-air"]
    assert air["last_seen_ms"] == world.now_ms and air["battery_v"] == 3.1 and air["status"] == "low_battery"
    assert devices["gh03-air"]["status"] == "stale" and devices["gh05-air"]["status"] == "unknown"
    mine = world.client.get(f"{V}/devices", headers=world.auth(FARMER)).json()
    assert {d["site"] for d in mine} == {"gh01", "gh02"}


def test_quarantine_and_dead_letters_show_what_the_collector_refused(world: ApiWorld) -> None:
    from qingyubiao.rejects import Reason, Reject

    bad = [
        Reject(
            Reason.UNKNOWN_DEVICE,
            "qyb/lijiahe/gh99-air/up",
            "not configured",
            b"{}",
            world.now_ms,
            "lijiahe",
            "gh99-air",
        ),
        Reject(
            Reason.MALFORMED_JSON, "qyb/lijiahe/gh01-air/up", "not JSON", b"\xff{", world.now_ms, "lijiahe", "gh01-air"
        ),
    ]
    from qingyubiao.batch import Batch

    world.store.write(Batch.empty(), bad)
    q = world.client.get(f"{V}/quarantine", headers=world.auth(ADMIN)).json()
    assert [(u["device"], u["count"]) for u in q] == [("gh99-air", 1)]
    dl = world.client.get("/api/v1/deadletters", headers=world.auth(ADMIN)).json()
    assert dl["counts"] == {Reason.UNKNOWN_DEVICE.value: 1, Reason.MALFORMED_JSON.value: 1}
    assert [d["reason"] for d in dl["letters"]] == [Reason.MALFORMED_JSON.value, Reason.UNKNOWN_DEVICE.value]
    only = world.client.get(
        f"/api/v1/deadletters?reason={Reason.MALFORMED_JSON.value}", headers=world.auth(ADMIN)
    ).json()
    assert len(only["letters"]) == 1 and only["letters"][0]["detail"] == "not JSON"


def test_health_metrics_and_openapi(world: ApiWorld) -> None:
    assert world.client.get("/healthz").json()["status"] == "ok"
    world.client.get(f"{V}/sites", headers=world.auth(FARMER))
    text = world.client.get("/metrics").text
    assert 'qyb_api_requests_total{route="/villages/{village}/sites",status="200"} 1.0' in text
    spec = world.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/villages/{village}/sites/{site}/history" in spec["paths"]
    assert world.client.get("/api/v1/docs").status_code == 200
