"""Unit tests for the agronomy models, as `qyb alerts test` has for thresholds: hourly input → expected risks.

A cases file (TOML):

    [[case]]
    name = "scab: a 14-hour rain at 12 °C after green tip"
    site = "or01"                 # a site of the config: its crop, its village's place and time zone
    stage = "tight_cluster"       # optional: instead of the configured stage
    start = "2026-04-20"          # village date of the first hour

    [case.hourly]                 # one value per hour from start's midnight; "12x24" repeats, "_" is missing
    air_temp_c = "12x48"
    air_rh_pct = "60x6 97x14 60x28"
    # leaf_wet_pct, rain_mm likewise; a quantity not given is a sensor the site does not have

    [[case.biofix]]               # optional: a pest's first sustained trap catch
    pest = "codling_moth"
    day = "2026-04-20"

    [[case.expect]]
    day = "2026-04-20"
    model = "apple_scab"          # apple_scab, fire_blight, grey_mould, downy_mildew, codling_moth, …
    risk = "high"                 # no_data, unknown, none, low, moderate, high
    detail = { wet_h = 14 }       # optional: these numbers behind it (floats within 0.05)

The models run exactly as in the collector (alerts.agronomy.day_rows gives the same rows and details).
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from agronomy.daily import Agronomy, Hours, SiteInfo
from agronomy.params import Params
from alerts.agronomy import day_rows
from alerts.rules import RulesError
from alerts.ruletest import CaseResult, expand
from qingyubiao.config import Config
from qingyubiao.risks import MODEL_NAMES, RISK_NAMES, Biofix, DayRisk

QUANTITIES = ("air_temp_c", "air_rh_pct", "leaf_wet_pct", "rain_mm")
RISK_BY_NAME = {en.replace(" ", "_"): value for value, (_, en) in RISK_NAMES.items()}


def run_risk_cases(config: Config, params: Params, cases_text: str, name: str = "<cases>") -> list[CaseResult]:
    try:
        raw = tomllib.loads(cases_text)
    except tomllib.TOMLDecodeError as e:
        raise RulesError(f"{name}: not valid TOML: {e}") from None
    cases = raw.get("case", [])
    if not cases:
        raise RulesError(f"{name}: no [[case]] tables")
    return [_run_case(config, params, case, name) for case in cases]


def _run_case(config: Config, params: Params, case: dict[str, Any], name: str) -> CaseResult:
    result = CaseResult(str(case.get("name", "?")))

    def bad(why: str) -> RulesError:
        return RulesError(f"{name}: case {result.name!r}: {why}")

    village = config.village_by_id(case["village"]) if "village" in case else config.village[0]
    site = next((s for s in village.site if s.id == case.get("site")), None)
    if site is None:
        raise bad(f"needs site = one of {[s.id for s in village.site]}")
    try:
        start = dt.date.fromisoformat(str(case["start"]))
    except (KeyError, ValueError):
        raise bad("needs start = a village date, YYYY-MM-DD") from None
    hourly = case.get("hourly", {})
    unknown = set(hourly) - set(QUANTITIES)
    if unknown:
        raise bad(f"hourly: unknown quantities {sorted(unknown)}; use {list(QUANTITIES)}")
    columns = {q: expand(str(v)) for q, v in hourly.items()}
    hours = max((len(v) for v in columns.values()), default=0)
    if hours == 0:
        raise bad("needs [case.hourly] values")
    days = math.ceil(hours / 24)
    arrays = [np.full((1, days * 24), np.nan) for _ in QUANTITIES]
    for q, values in columns.items():
        arrays[QUANTITIES.index(q)][0, : len(values)] = [np.nan if x is None else x for x in values]
    humid = ("air_temp_c" in hourly and "air_rh_pct" in hourly) or "leaf_wet_pct" in hourly
    model = Agronomy([SiteInfo(site.crop, case.get("stage", site.stage), village.lat, village.lon, humid)], params)
    fixes = {}
    for b in case.get("biofix", []):
        if b.get("pest") not in params.pest:
            raise bad(f"biofix: pest must be one of {sorted(params.pest)}")
        fixes[(site.id, b["pest"])] = Biofix(village.id, site.id, b["pest"], str(b["day"]), "test", 0)
    tz = ZoneInfo(village.tz)
    rows: dict[tuple[str, str], DayRisk] = {}
    for d in range(days):
        date = start + dt.timedelta(days=d)
        for (_, pest), b in fixes.items():
            if b.day == date.isoformat():
                model.set_biofix(pest, 0)
        start_ms = int(dt.datetime(date.year, date.month, date.day, tzinfo=tz).timestamp() * 1000)
        r = model.day(Hours(start_ms, *(a[:, d * 24 : (d + 1) * 24] for a in arrays)))
        rows |= {(x.day, x.model): x for x in day_rows(params, village.id, [site.id], date, r, fixes)}
    for want in case.get("expect", []):
        result.checks += 1
        _check(rows, want, result, bad)
    if not result.checks:
        raise bad("has no [[case.expect]]")
    return result


def _check(rows: dict[tuple[str, str], DayRisk], e: dict[str, Any], result: CaseResult, bad: Any) -> None:
    model, day, risk = e.get("model"), str(e.get("day")), e.get("risk")
    if model not in MODEL_NAMES:
        raise bad(f"expect: model must be one of {sorted(MODEL_NAMES)}")
    if risk not in RISK_BY_NAME:
        raise bad(f"expect: risk must be one of {sorted(RISK_BY_NAME)}")
    got = rows.get((day, model))
    if got is None:
        result.failures.append(f"{day} {model}: no such day in the input")
        return
    got_name = next(k for k, v in RISK_BY_NAME.items() if v == got.risk)
    if got_name != risk:
        result.failures.append(f"{day} {model}: expected {risk}, got {got_name} {got.detail}")
    for key, value in e.get("detail", {}).items():
        have = got.detail.get(key)
        same = (
            have == value
            if not isinstance(value, int | float) or isinstance(value, bool) or not isinstance(have, int | float)
            else abs(have - value) <= 0.05
        )
        if not same:
            result.failures.append(f"{day} {model}: expected {key} = {value!r}, got {have!r}")
