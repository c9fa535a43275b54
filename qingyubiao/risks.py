"""Daily disease and pest risks and the biofixes they count from: the records the collector writes and the
API reads (ingest/store/sqlite_risks.py keeps them beside the readings)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

# the models the collector runs, by name (zh, en); the agronomy package has their parameters
MODEL_NAMES = {
    "apple_scab": ("苹果黑星病", "apple scab"),
    "fire_blight": ("火疫病", "fire blight"),
    "marssonina": ("苹果褐斑病", "Marssonina blotch"),
    "grey_mould": ("灰霉病", "grey mould"),
    "downy_mildew": ("霜霉病", "downy mildew"),
    "powdery_mildew": ("白粉病", "powdery mildew"),
    "codling_moth": ("苹果蠹蛾", "codling moth"),
    "peach_fruit_moth": ("桃小食心虫", "peach fruit moth"),
    "phenology": ("物候期（积温估计）", "stage from degree-days"),
    "irrigation": ("灌溉建议", "irrigation advice"),
}
PESTS = ("codling_moth", "peach_fruit_moth")
# the stage estimated from degree-days rides in the same table (risk: none, or unknown), never an alert
STAGE_MODEL = "phenology"
# and the root-zone balance's advice (risk: how soon to irrigate); neither pages as an alert
WATER_MODEL = "irrigation"
INFORMATIVE = (STAGE_MODEL, WATER_MODEL)
STAGE_NAMES = {
    "dormant": ("休眠期", "dormant"),
    "silver_tip": ("萌动（露白）", "silver tip"),
    "green_tip": ("绿尖期", "green tip"),
    "half_inch_green": ("展叶初期", "half-inch green"),
    "tight_cluster": ("花序伸出", "tight cluster"),
    "first_pink": ("初现红蕾", "first pink"),
    "full_pink": ("露红期", "full pink"),
    "first_bloom": ("初花期", "first bloom"),
    "full_bloom": ("盛花期", "full bloom"),
    "post_bloom": ("落花期", "post bloom"),
}
# agronomy.risk.Risk's values: what the pages, the API and the command line call them
RISK_NAMES = {
    -2: ("无数据", "no data"),
    -1: ("数据不足", "unknown"),
    0: ("无风险", "none"),
    1: ("低", "low"),
    2: ("中", "moderate"),
    3: ("高", "high"),
}


@dataclass(frozen=True, slots=True)
class DayRisk:
    """One site's risk for one model on one village day (day = the local date, YYYY-MM-DD)."""

    village: str
    site: str
    model: str
    day: str
    risk: int  # agronomy.risk.Risk: -2 no data, -1 unknown, 0 none, 1 low, 2 moderate, 3 high
    detail: dict[str, Any] = field(default_factory=dict)  # the numbers behind it (wet hours, degree-days …)


@dataclass(frozen=True, slots=True)
class Biofix:
    """The first sustained trap catch of a pest at a site: degree-days count from this day."""

    village: str
    site: str
    pest: str
    day: str  # YYYY-MM-DD, village date
    set_by: str
    set_ms: int


def biofix_problem(day: dt.date, today: dt.date) -> str | None:
    """Why a biofix date cannot be right (zh / en), or None. Degree-days count from 1 January."""
    if day > today:
        return "生物学起点不能在未来 / a biofix cannot be in the future"
    if day.year != today.year:
        return "生物学起点须在今年 1 月 1 日之后 / a biofix must be on or after 1 January of this year"
    return None


class RiskBook(Protocol):
    def set_biofix(self, b: Biofix) -> None: ...

    def biofixes(self, village: str) -> list[Biofix]: ...

    def biofix_version(self) -> int:
        """Changes whenever a biofix is set (the collector then recomputes the season)."""
        ...

    def write_risks(self, rows: list[DayRisk]) -> None:
        """Insert or replace (village, site, model, day)."""
        ...

    def risks(self, village: str, day: str | None = None) -> list[DayRisk]:
        """One day's risks (the newest computed day when None)."""
        ...

    def history(self, village: str, site: str, model: str, since: str) -> list[DayRisk]: ...

    def high_days(self, village: str, first: str, last: str) -> dict[str, tuple[int, dict[str, int]]]:
        """Per site: the days from `first` to `last` (village dates, inclusive) with some model at high risk,
        and each model's count of them."""
        ...


def stage_note(detail: dict[str, Any], configured: str | None) -> tuple[str, str]:
    """The stage estimate in words (zh, en), with how far the configured stage lies from it."""

    def name(code: str | None, lang: int) -> str:
        return STAGE_NAMES.get(code or "", (code or "", code or ""))[lang]

    est, nxt, off = detail.get("estimated"), detail.get("next"), detail.get("off_by")
    gdd = detail.get("gdd")
    zh = f"积温 {gdd} 度日，估计已到{name(est, 0)}" + (f"、未到{name(nxt, 0)}" if nxt else "")
    en = f"{gdd} degree-days: estimated at {name(est, 1)}" + (f", before {name(nxt, 1)}" if nxt else "")
    if configured and off:
        zh += f"；配置为{name(configured, 0)}，相差 {off} 个阶段"
        en += f"; configured {name(configured, 1)}, {off} stage{'s' if off > 1 else ''} apart"
    return zh, en


def irrigation_note(detail: dict[str, Any]) -> tuple[str, str]:
    """The advice in words (zh, en): how much, how many hours of drip, by when, and how ET0 was had."""
    method = {
        "penman_monteith": (
            "彭曼-蒙特斯法，辐射按气温日较差估算",
            "Penman-Monteith, radiation from the temperature range",
        ),
        "hargreaves": ("哈格里夫斯法（仅气温）", "Hargreaves, from temperature alone"),
        "penman_monteith_greenhouse": ("棚内彭曼-蒙特斯法", "Penman-Monteith under the film"),
    }.get(detail.get("method") or "", ("", ""))
    days, before = detail.get("days_left"), detail.get("before")
    due, hours = detail.get("due_mm"), detail.get("drip_hours")
    rain = detail.get("forecast_rain_mm")
    if days == 0:
        zh = f"建议灌溉约 {due} 毫米（滴灌约 {hours} 小时），{before} 前完成"
        en = f"irrigate about {due} mm (about {hours} h of drip) before {before}"
        if rain:
            zh += f"；预报近日有雨约 {rain} 毫米，已为降雨留出余量"
            en += f"; about {rain} mm of rain is forecast, room is left for it"
    elif days is None:
        zh, en = "近期不需要灌溉", "no irrigation needed for now"
    else:
        why_zh, why_en = ("土壤水分尚足", "the soil holds enough")
        if detail.get("rain_deferred"):
            why_zh, why_en = f"预报有雨约 {rain} 毫米", f"{rain} mm of rain forecast"
        zh = f"{why_zh}，{days} 天内不需要灌溉；{before} 前约需灌溉 {due} 毫米（滴灌约 {hours} 小时）"
        en = f"{why_en}: no irrigation needed for {days} days; about {due} mm ({hours} h of drip) due by {before}"
    return f"{zh}（参考蒸散量：{method[0]}）", f"{en} (ET0: {method[1]})"
