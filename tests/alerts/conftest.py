"""Fixtures for the alert core: a small village and a rule set that uses every signal."""

from __future__ import annotations

import math

import pytest

from alerts.plan import Plan, compile_plan
from alerts.rules import RuleSet, parse_rules
from qingyubiao.config import Config, parse_config
from qingyubiao.series import SeriesIndex

SMALL_VILLAGE = """
[[village]]
id = "v"
name = "测试村"
lat = 37.45
lon = 110.7

[[village.site]]
id = "gh1"
name = "1号棚"
kind = "greenhouse"
crop = "tomato"

[[village.site]]
id = "gh2"
name = "2号棚"
kind = "greenhouse"
crop = "tomato"

[[village.site]]
id = "or1"
name = "果园"
kind = "orchard"
crop = "apple"
stage = "full_bloom"

[[village.device]]
id = "gh1-air"
site = "gh1"
metrics = ["air_temp_c", "air_rh_pct"]
interval_s = 60
gateway = "gw"

[[village.device]]
id = "gh2-air"
site = "gh2"
metrics = ["air_temp_c", "air_rh_pct"]
interval_s = 60
gateway = "gw"

[[village.site]]
id = "gh3"
name = "3号棚"
kind = "greenhouse"
crop = "tomato"

[[village.device]]
id = "gh3-air"
site = "gh3"
metrics = ["air_temp_c"]
interval_s = 60
gateway = "gw"

[[village.device]]
id = "or1-soil"
site = "or1"
metrics = ["soil_vwc_pct", "air_temp_c"]
interval_s = 120
"""

EVERY_SIGNAL = """
[[rule]]
id = "hot"
kind = "air_temp_high"
severity = "warning"
metric = "air_temp_c"
when = "above"
day = 30.0
night = 20.0
clear = 2.0
for = "2m"

[[rule]]
id = "cold"
kind = "air_temp_low"
severity = "critical"
metric = "air_temp_c"
when = "below"
day = 5.0
consecutive = 2

[[rule]]
id = "band"
kind = "humidity_high"
severity = "warning"
metric = "air_rh_pct"
when = "outside"
day = [40.0, 85.0]
night = [50.0, 95.0]
clear = 3.0

[[rule]]
id = "fall"
kind = "frost"
severity = "warning"
metric = "air_temp_c"
signal = "rate_10min"
when = "below"
day = -2.0

[[rule]]
id = "predict"
kind = "frost"
severity = "critical"
metric = "air_temp_c"
signal = "predict"
horizon = "60m"
when = "below"
day = 0.0
scope = { crop = ["apple"] }

[[rule]]
id = "oor"
kind = "sensor_fault"
severity = "warning"
metric = "air_temp_c"
signal = "out_of_range"
when = "above"
day = 0.5

[[rule]]
id = "stuck"
kind = "sensor_fault"
severity = "warning"
metric = "air_rh_pct"
signal = "stuck_hours"
when = "above"
day = 0.05

[[rule]]
id = "spike"
kind = "sensor_fault"
severity = "warning"
metric = "air_temp_c"
signal = "step"
when = "above"
day = 8.0

[[rule]]
id = "wet"
kind = "humidity_high"
severity = "warning"
metric = "air_rh_pct"
signal = "wet_hours"
when = "above"
day = 0.1

[[rule]]
id = "mean"
kind = "temp_mean_high"
severity = "warning"
metric = "air_temp_c"
signal = "mean_24h"
when = "above"
day = 22.0
clear = 0.5

[[rule]]
id = "vpd"
kind = "vpd_high"
severity = "warning"
metric = "vpd_kpa"
when = "above"
day = 1.6
for = "3m"

[[rule]]
id = "dew"
kind = "condensation"
severity = "warning"
metric = "dew_margin_c"
when = "below"
day = 1.0

[[rule]]
id = "peer"
kind = "peer_deviation"
severity = "warning"
metric = "air_temp_c"
signal = "peer"
when = "outside"
day = [-8.0, 8.0]
night = [-4.0, 4.0]
clear = 1.0
for = "2m"
scope = { crop = ["tomato"] }

[[rule]]
id = "dry"
kind = "soil_dry"
severity = "warning"
metric = "soil_vwc_pct"
when = "below"
day = 20.0
consecutive = 3
"""


def small_config() -> Config:
    import tomllib

    return parse_config(tomllib.loads(SMALL_VILLAGE), "small", {})


def same_events(a: list[tuple], b: list[tuple]) -> tuple[list[tuple], list[tuple]]:
    """Both event lists, sorted, NaN replaced by None and floats rounded to 9 significant digits."""

    def norm(rows: list[tuple]) -> list[tuple]:
        out = []
        for src, target, state, ts, value, late, start in rows:
            v = None if value is None or math.isnan(value) else float(f"{value:.9g}")
            out.append((src, target, state, ts, v, bool(late), start))
        return sorted(out, key=lambda r: (r[3], r[0], r[1], r[2], r[6]))

    return norm(a), norm(b)


@pytest.fixture(scope="session")
def small() -> Config:
    return small_config()


@pytest.fixture(scope="session")
def every_signal() -> RuleSet:
    return parse_rules(EVERY_SIGNAL, "every-signal")


@pytest.fixture(scope="session")
def small_plan(small: Config, every_signal: RuleSet) -> Plan:
    return compile_plan(small, every_signal, SeriesIndex(small))
