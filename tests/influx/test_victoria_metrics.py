"""The write path for real: influxdb-client's WriteApi into VictoriaMetrics' /api/v2/write, read back by export."""

from __future__ import annotations

from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex
from tests.conftest import wait_for
from tests.influx.conftest import MakeForwarder
from tests.influx.data import batches
from tests.influx.expect import vm_expected
from tests.influx.servers import VictoriaMetrics


def test_every_reading_arrives_once_with_its_tags(
    vm: VictoriaMetrics, make_forwarder: MakeForwarder, village: Config, index: SeriesIndex
):
    bs = batches(index, 10, 500)
    fwd = make_forwarder(vm.url)
    for b in bs:
        fwd.handle(b, 0)
    wait_for(lambda: fwd.spool.depth == 0, 20, "the spool to drain")
    expected = vm_expected(village, index, bs)
    got = vm.samples()
    assert {k: v[0] for k, v in got.items()} == expected
    assert all(len(v) == 1 for v in got.values())
    crops = {s["metric"].get("crop") for s in vm.export()}
    assert crops == {site.crop for site in village.village[0].site}


def test_writing_again_overwrites(
    vm: VictoriaMetrics, make_forwarder: MakeForwarder, village: Config, index: SeriesIndex
):
    bs = batches(index, 3, 400)
    fwd = make_forwarder(vm.url)
    for b in bs + bs:  # a replay after a crash sends the same readings again
        fwd.handle(b, 0)
    wait_for(lambda: fwd.spool.depth == 0, 20, "the spool to drain")
    got = vm.samples()
    assert sum(len(v) for v in got.values()) == 1_200
    assert {k: v[0] for k, v in got.items()} == vm_expected(village, index, bs)
