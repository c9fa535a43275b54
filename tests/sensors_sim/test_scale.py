"""Scale mode: many villages built in memory, all publishing from one twin."""

from __future__ import annotations

from collections import Counter

from qingyubiao.series import SeriesIndex
from sensors_sim.scale import scale_config
from sensors_sim.twin import Twin
from tests.sensors_sim.conftest import flatten

START = 1_776_823_200.0  # 2026-04-22 10:00 +08:00


def test_scale_config_has_the_promised_series() -> None:
    config = scale_config(40)
    assert len(config.village) == 40
    measured = sum(len(d.metrics) for v in config.village for d in v.device)
    assert measured == 40 * 144
    assert len(SeriesIndex(config)) > measured  # plus battery and signal series
    assert len({d.dev_eui for v in config.village for d in v.device if d.dev_eui}) == 40 * 12


def test_every_village_reports_on_schedule() -> None:
    config = scale_config(3, greenhouses=4, orchards=2)
    twin = Twin(config, seed=1, start_s=START, fmt="auto", spin_up_s=3600.0)
    msgs = list(twin.run(START + 600))
    villages = Counter(topic.split("/")[1] for _, topic, _ in msgs if topic.startswith("qyb/"))
    assert set(villages) == {"v00000", "v00001", "v00002"}
    apps = {topic.split("/")[1] for _, topic, _ in msgs if topic.startswith("application/")}
    assert apps <= {"app-v00000", "app-v00001", "app-v00002"} and apps
    readings = flatten(config, msgs)
    gh = [r for r in readings if r.device.startswith("gh") and r.metric != "bat_v"]
    # 10 minutes: air nodes every minute (2 metrics), soil nodes every 5 minutes (3 metrics), 4 houses, 3 villages
    assert len(gh) == 3 * 4 * (10 * 2 + 2 * 3)
    assert twin.readings >= len(gh)
