"""The interlocks every valve command passes before it is sent, each refusal with its reason (zh / en).

A pure function of the request, the block's limits (its irrigation config) and what is true now (the
valves open on its pump, the minutes already watered today, the soil, the rain, a lock): the collector
checks it before it publishes a command, and the API before it accepts a farmer's 确认灌溉, so a refusal
is said at once and nothing reaches the device. docs/irrigation.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from qingyubiao.config import Irrigation

MIN_S = 60


@dataclass(frozen=True, slots=True)
class Request:
    site: str
    duration_s: int
    reason: str
    by: str
    frost: bool = False  # watering against frost (allowed only where configured)
    fertigation_l: float = 0.0  # fertiliser solution dosed through the same line during the opening


@dataclass(frozen=True, slots=True)
class Now:
    """What is true at the block when the command would go out."""

    open_on_pump: int  # valves of the same pump open now (this one excluded)
    watered_today_s: int  # this block's openings so far this village day
    fertigation_today_l: float
    wetter_than_fc: bool | None  # a healthy probe reads above field capacity (None: no probe / unknown)
    raining: bool
    locked_by: str | None  # someone is working on the line
    pump_limit: int | None  # the pump's max_open_valves (None: no pump configured)


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    zh: str
    en: str


def check(req: Request, limits: Irrigation, now: Now) -> Refusal | None:
    """The first interlock the request fails, or None when it may be sent."""
    minutes = req.duration_s / MIN_S
    if req.duration_s <= 0:
        return Refusal("duration", "灌溉时长必须大于 0", "the duration must be more than 0")
    if minutes > limits.max_open_min:
        return Refusal("max_open", f"单次最长 {limits.max_open_min} 分钟，申请 {minutes:.0f} 分钟",
                       f"at most {limits.max_open_min} min at a time, asked {minutes:.0f} min")  # fmt: skip
    if now.locked_by is not None:
        return Refusal("locked", f"管路已被 {now.locked_by} 锁定（正在检修）",
                       f"the line is locked by {now.locked_by} (work in progress)")  # fmt: skip
    if (now.watered_today_s + req.duration_s) / MIN_S > limits.max_day_min:
        done = now.watered_today_s / MIN_S
        return Refusal("max_day", f"每天最多 {limits.max_day_min} 分钟，今天已灌 {done:.0f} 分钟",
                       f"at most {limits.max_day_min} min a day, {done:.0f} min done today")  # fmt: skip
    if req.frost and not limits.frost_protection:
        return Refusal("frost_not_configured", "本地块未启用防霜灌溉", "frost protection is not configured here")
    if not req.frost and now.wetter_than_fc:
        return Refusal("soil_wet", "土壤含水量高于田间持水量，不需要灌溉", "the soil is wetter than field capacity")
    if not req.frost and now.raining:
        return Refusal("raining", "正在下雨，暂停灌溉", "it is raining")
    if now.pump_limit is not None and now.open_on_pump >= now.pump_limit:
        return Refusal("pump_capacity", f"水泵最多同时开 {now.pump_limit} 个阀门，已开 {now.open_on_pump} 个",
                       f"the pump feeds at most {now.pump_limit} valves at once, {now.open_on_pump} open")  # fmt: skip
    if req.fertigation_l > 0:
        if limits.fertigation_max_l_day is None:
            return Refusal("fertigation_not_configured", "本地块未启用水肥一体化",
                           "fertigation is not configured here")  # fmt: skip
        if now.fertigation_today_l + req.fertigation_l > limits.fertigation_max_l_day:
            return Refusal("fertigation_dose", f"每天施肥液最多 {limits.fertigation_max_l_day:g} 升，"
                           f"今天已施 {now.fertigation_today_l:g} 升",
                           f"at most {limits.fertigation_max_l_day:g} L of solution a day, "
                           f"{now.fertigation_today_l:g} L today")  # fmt: skip
    return None
