"""Every interlock refuses with its reason, and a request that passes them all is let through."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qingyubiao.config import Irrigation
from qingyubiao.interlocks import Now, Request, check

LIMITS = Irrigation(soil="silt_loam", emitter_lph=4.0, emitters=100, max_open_min=120, max_day_min=240,
                    pump="p1", fertigation_max_l_day=50.0)  # fmt: skip
CLEAR = Now(open_on_pump=1, watered_today_s=0, fertigation_today_l=0.0, wetter_than_fc=False, raining=False,
            locked_by=None, pump_limit=2)  # fmt: skip
OK = Request(site="or01", duration_s=3600, reason="advice", by="li-jianjun")


def test_a_request_that_passes_every_interlock() -> None:
    assert check(OK, LIMITS, CLEAR) is None
    assert check(replace(OK, fertigation_l=20.0), LIMITS, CLEAR) is None


@pytest.mark.parametrize(
    ("req", "limits", "now", "code", "zh"),
    [
        (replace(OK, duration_s=0), LIMITS, CLEAR, "duration", "灌溉时长必须大于 0"),
        (replace(OK, duration_s=121 * 60), LIMITS, CLEAR, "max_open", "单次最长 120 分钟，申请 121 分钟"),
        (OK, LIMITS, replace(CLEAR, locked_by="王师傅"), "locked", "管路已被 王师傅 锁定（正在检修）"),
        (OK, LIMITS, replace(CLEAR, watered_today_s=200 * 60), "max_day", "每天最多 240 分钟，今天已灌 200 分钟"),
        (replace(OK, frost=True), LIMITS, CLEAR, "frost_not_configured", "本地块未启用防霜灌溉"),
        (OK, LIMITS, replace(CLEAR, wetter_than_fc=True), "soil_wet", "土壤含水量高于田间持水量，不需要灌溉"),
        (OK, LIMITS, replace(CLEAR, raining=True), "raining", "正在下雨，暂停灌溉"),
        (OK, LIMITS, replace(CLEAR, open_on_pump=2), "pump_capacity", "水泵最多同时开 2 个阀门，已开 2 个"),
        (replace(OK, fertigation_l=10.0), LIMITS.model_copy(update={"fertigation_max_l_day": None}), CLEAR,
         "fertigation_not_configured", "本地块未启用水肥一体化"),
        (replace(OK, fertigation_l=20.0), LIMITS, replace(CLEAR, fertigation_today_l=40.0), "fertigation_dose",
         "每天施肥液最多 50 升，今天已施 40 升"),
    ],
)  # fmt: skip
def test_each_interlock_refuses_and_says_why(req: Request, limits: Irrigation, now: Now, code: str, zh: str) -> None:
    refusal = check(req, limits, now)
    assert refusal is not None and (refusal.code, refusal.zh) == (code, zh)
    assert refusal.en  # and in English


def test_frost_protection_where_configured_waters_wet_soil_in_the_rain() -> None:
    frost = LIMITS.model_copy(update={"frost_protection": True})
    wet = replace(CLEAR, wetter_than_fc=True, raining=True)
    assert check(replace(OK, frost=True), frost, wet) is None
    assert check(OK, frost, wet) is not None  # an ordinary command still is not
    # and frost does not lift the other limits: the pump is still full
    refusal = check(replace(OK, frost=True), frost, replace(wet, open_on_pump=2))
    assert refusal is not None and refusal.code == "pump_capacity"


def test_an_unknown_soil_probe_does_not_block() -> None:
    assert check(OK, LIMITS, replace(CLEAR, wetter_than_fc=None)) is None
