"""The API reading from an InfluxDB that cannot be reached answers 503 in both languages, not a bare 500."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.users import UserStore
from ingest.store.influxql import InfluxQLReader
from ingest.store.sqlite import SqliteStore
from qingyubiao.config import Config, InfluxSettings
from qingyubiao.series import SeriesIndex
from tests.conftest import free_port


def test_an_unreachable_influxdb_is_a_503_that_says_so(tmp_path: Path, village: Config, index: SeriesIndex) -> None:
    db = tmp_path / "qyb.sqlite"
    ingest_log = SqliteStore(db, index)
    users = UserStore(db, village)
    token = users.issue("lijiahe", "secretary")
    settings = InfluxSettings(url=f"http://127.0.0.1:{free_port()}", database="qyb", timeout_ms=300)
    reader = InfluxQLReader(village, index, settings)
    app = create_app(village, reader=reader, ingest_log=ingest_log, users=users, index=index)
    try:
        with TestClient(app) as client:
            r = client.get("/api/v1/villages/lijiahe/sites", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503
        assert r.json() == {"detail": "暂时无法读取数据 / the readings store cannot be read now"}
    finally:
        users.close()
        ingest_log.close()
