"""InfluxQL reader failures are reported, not turned into empty results."""

from __future__ import annotations

import pytest

from ingest.store.influx import escape_tag_value
from ingest.store.influxql import InfluxQLReader, QueryFailed, ident, literal
from qingyubiao.config import Config, InfluxSettings
from qingyubiao.series import SeriesIndex
from tests.conftest import free_port
from tests.influx.servers import Influxd1


def test_unknown_database_is_an_error(influxd: Influxd1, village: Config, index: SeriesIndex):
    reader = InfluxQLReader(village, index, InfluxSettings(url=influxd.url, database="no_such_db"))
    with pytest.raises(QueryFailed, match="database not found"):
        reader.count()


def test_unreachable_server_is_an_error(village: Config, index: SeriesIndex):
    reader = InfluxQLReader(
        village, index, InfluxSettings(url=f"http://127.0.0.1:{free_port()}", bucket="qyb", timeout_ms=500)
    )
    with pytest.raises(QueryFailed, match=r"cannot be reached: .*Connection refused"):  # said, not a traceback
        reader.latest([1])


def test_quoting_survives_quotes_and_backslashes(influxd: Influxd1):
    influxd.create_database("quoting")
    crop = "a \"b'\\c"
    influxd.write_v1("quoting", f"m,crop={escape_tag_value(crop)} f=1 1000")
    where = f"{ident('crop')} = {literal(crop)}"
    res = influxd.query(f"SELECT {ident('f')} FROM {ident('m')} WHERE {where}", db="quoting")
    assert res["results"][0]["series"][0]["values"] == [[1000, 1]]


def test_reader_needs_a_database(village: Config, index: SeriesIndex):
    with pytest.raises(ValueError, match="database"):
        InfluxQLReader(village, index, InfluxSettings(url="http://127.0.0.1:1"))
