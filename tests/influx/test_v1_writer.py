"""`deployment.influx.api = "v1"`: the forwarder writes to InfluxDB 1.x's own /write, on a real influxd 1.6
(which has no /api/v2/write, docs/deploy.md), with the same WriteFailed contract as the v2 writer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.store.influx import InfluxV1Writer, WriteFailed, influx_writer
from qingyubiao.config import InfluxSettings
from tests.conftest import free_port, need
from tests.influx.servers import Influxd1


@pytest.fixture(scope="module")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd1]:
    server = Influxd1(need("influxd"), tmp_path_factory.mktemp("influxd-v1"))
    server.start()
    server.create_database("village")
    yield server
    server.stop()


@pytest.mark.parametrize("gzip", [True, False])
def test_lines_arrive_through_the_v1_write_api(influxd: Influxd1, gzip: bool) -> None:
    writer = influx_writer(InfluxSettings(url=influxd.url, api="v1", database="village", gzip=gzip))
    assert isinstance(writer, InfluxV1Writer)
    m = f"greenhouse_{'gz' if gzip else 'plain'}"
    writer.write(f"{m},site=gh01,device=gh01-air air_temp_c=21.5 1764720000000\n{m},site=gh01 x=1 1764720060000")
    writer.close()
    got = influxd.query(f"SELECT air_temp_c FROM {m}", db="village")
    assert got["results"][0]["series"][0]["values"] == [[1764720000000, 21.5]]
    assert influxd.query(f"SELECT x FROM {m}", db="village")["results"][0]["series"][0]["values"] == [
        [1764720060000, 1.0]
    ]


def test_refusals_and_outages_are_told_apart(influxd: Influxd1, tmp_path: Path) -> None:
    bad = InfluxV1Writer(InfluxSettings(url=influxd.url, api="v1", database="village"))
    with pytest.raises(WriteFailed) as refused:
        bad.write("greenhouse,site=gh01 air_temp_c= 1764720000000")  # no value: the body itself is wrong
    assert refused.value.status == "400" and not refused.value.retriable and "unable to parse" in refused.value.detail
    with pytest.raises(WriteFailed) as missing:
        InfluxV1Writer(InfluxSettings(url=influxd.url, api="v1", database="nope")).write("m x=1 1764720000000")
    assert missing.value.status == "404" and missing.value.retriable  # the operator creates it; the spool replays
    with pytest.raises(WriteFailed) as away:
        InfluxV1Writer(InfluxSettings(url=f"http://127.0.0.1:{free_port()}", api="v1", database="village")).write(
            "m x=1"
        )
    assert away.value.status == "network" and away.value.retriable
    with pytest.raises(ValueError, match="QYB_INFLUX_DATABASE"):
        InfluxV1Writer(InfluxSettings(url=influxd.url, api="v1"))
