"""Irrigations entered by hand and the water audit through the API: a farmer records their own block's
watering (minutes or mm, converted by the block's drip rate), sees only their blocks' audit, and bad
requests are clear errors that record nothing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ingest.store.sqlite_water import SqliteWaterBook
from tests.api.conftest import FARMER, OTHER_FARMER, SECRETARY, ApiWorld

V = "/api/v1/villages/lijiahe"
GH01_MM_H = 2700 * 1.5 / 800.0  # the bundled gh01's drip: 2700 emitters of 1.5 L/h on 1.2 mu


def today() -> str:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def test_a_farmer_records_a_watering_of_their_block_and_it_is_audited(world: ApiWorld) -> None:
    r = world.client.post(f"{V}/sites/gh01/irrigation", json={"day": today(), "minutes": 30, "note": "早上浇水"},
                          headers=world.auth(FARMER))  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json() == {"site": "gh01", "day": today(), "minutes": 30.0, "mm": round(GH01_MM_H / 2, 1), "by": FARMER}
    by_mm = world.client.post(f"{V}/sites/gh01/irrigation", json={"day": today(), "mm": 10.0},
                              headers=world.auth(SECRETARY))  # fmt: skip
    assert by_mm.status_code == 201 and by_mm.json()["minutes"] == round(10.0 / GH01_MM_H * 60, 1)
    book = SqliteWaterBook(world.db)
    assert [x.mm for x in book.irrigations("lijiahe", today())] == [round(GH01_MM_H / 2, 1), 10.0]
    book.close()
    log = world.client.get(f"{V}/irrigation/audit", headers=world.auth(FARMER)).json()
    assert [(e["site"], e["kind"], e["by"]) for e in log] == [
        ("gh01", "irrigated", SECRETARY),
        ("gh01", "irrigated", FARMER),
    ]
    assert log[1]["reason"] == "早上浇水" and log[1]["detail"]["source"] == "manual"
    assert world.client.get(f"{V}/irrigation/audit", headers=world.auth(OTHER_FARMER)).json() == []
    assert world.client.get(f"{V}/irrigation/audit?site=gh01", headers=world.auth(OTHER_FARMER)).status_code == 404


@pytest.mark.parametrize(
    ("site", "body", "status", "says"),
    [
        ("gh03", {"day": "TODAY", "minutes": 30}, 400, "no irrigation config"),  # the other farmer's: not found
        ("gh01", {"day": "TODAY", "minutes": 30, "mm": 3}, 400, "minutes or mm"),
        ("gh01", {"day": "TODAY"}, 400, "minutes or mm"),
        ("gh01", {"day": "TODAY", "minutes": 0}, 422, "greater than 0"),
        ("gh01", {"day": "2999-01-01", "minutes": 30}, 400, "not in the future"),
        ("gh01", {"day": "2026-02-30", "minutes": 30}, 400, "not a date"),
        ("gh01", {"day": "TODAY", "minutes": 30, "valve": "open"}, 422, "valve"),
    ],
)
def test_bad_requests_are_clear_and_record_nothing(
    world: ApiWorld, site: str, body: dict[str, object], status: int, says: str
) -> None:
    body = {k: today() if v == "TODAY" else v for k, v in body.items()}
    who = SECRETARY if site == "gh03" else FARMER
    r = world.client.post(f"{V}/sites/{site}/irrigation", json=body, headers=world.auth(who))
    assert r.status_code == status and says in r.text, r.text
    book = SqliteWaterBook(world.db)
    assert book.irrigations("lijiahe", "2000-01-01") == [] and book.audit_log("lijiahe") == []
    book.close()


def test_another_farmers_block_is_not_found(world: ApiWorld) -> None:
    r = world.client.post(f"{V}/sites/gh01/irrigation", json={"day": today(), "minutes": 30},
                          headers=world.auth(OTHER_FARMER))  # fmt: skip
    assert r.status_code == 404


def test_the_audit_downloads_as_csv_for_excel_with_the_soil_moisture_of_each_moment(world: ApiWorld) -> None:
    import csv
    import io

    from qingyubiao.water import AuditEntry

    r = world.client.post(f"{V}/sites/gh01/irrigation", json={"day": today(), "minutes": 30, "note": "早上浇水"},
                          headers=world.auth(FARMER))  # fmt: skip
    assert r.status_code == 201
    book = SqliteWaterBook(world.db)
    detail = {"request": "r-1", "command": "c-1", "valve": "gh01-valve", "duration_s": 1800}
    book.audit(AuditEntry(world.now_ms, "lijiahe", "gh01", "command", FARMER, "确认灌溉", detail))
    book.close()
    got = world.client.get(f"{V}/irrigation/audit.csv", headers=world.auth(FARMER))
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert got.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads 1号棚 as UTF-8
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert [(x["site"], x["site_name"], x["kind"]) for x in rows] == [("gh01", "1号棚", "irrigated"),
                                                                      ("gh01", "1号棚", "command")]  # fmt: skip
    irrigated, command = rows
    assert irrigated["reason"] == "早上浇水" and irrigated["minutes"] == "30.0" and irrigated["soil_vwc_pct"] == ""
    assert (command["minutes"], command["valve"], command["command"]) == ("30.0", "gh01-valve", "c-1")
    assert command["soil_vwc_pct"] == "31.5"  # gh01's probe a minute before the command
    assert command["time_utc"].endswith("+00:00") and len(command["time_local"]) == 19
    other = world.client.get(f"{V}/irrigation/audit.csv", headers=world.auth(OTHER_FARMER))
    assert other.status_code == 200 and len(other.content.decode("utf-8-sig").splitlines()) == 1  # the header only
