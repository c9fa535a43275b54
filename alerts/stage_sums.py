"""`qyb agronomy stage-sums`: a crop's stage sums from the days its blocks were seen at each stage.

Reads the observations (a CSV a county keeps: site, stage, date) and each block's air temperatures from
the store, and gives the degree-days from 1 January through each observed day (agronomy/calibrate.py).
An observation that cannot be used — the block has no air sensor, or too many days without temperatures
since 1 January — is listed with the reason, never dropped in silence.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agronomy.calibrate import StageSum, stage_sums
from agronomy.params import Params
from agronomy.phenology import day_degree_days
from alerts.agronomy import hourly_means, local_midnight_ms
from alerts.rules import bundled_rules
from qingyubiao.config import Village
from qingyubiao.series import SeriesIndex
from qingyubiao.store import ReadingReader

COLUMNS = ("site", "stage", "date")


@dataclass(frozen=True)
class Observation:
    line: int  # in the CSV, for the messages
    site: str
    stage: str
    day: dt.date


@dataclass(frozen=True)
class Calibration:
    sums: list[StageSum]
    used: list[tuple[Observation, float]]  # with its degree-days since 1 January
    skipped: list[tuple[Observation, str]]  # with the reason


def read_observations(text: str, name: str) -> list[Observation]:
    """The CSV's rows: a header naming site, stage and date (any case; Excel's BOM allowed), dates as
    2026-04-08 or 2026/4/8 (Excel's re-saved form). Rows with every field blank (spreadsheets write them
    below formatted cells) carry nothing and are passed over. ValueError names the line."""
    rows = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    rows.fieldnames = [f.strip().lower() for f in rows.fieldnames or []]
    missing = [c for c in COLUMNS if c not in rows.fieldnames]
    if missing:
        raise ValueError(f"{name}: the first line must name the columns {', '.join(COLUMNS)} (missing: {missing})")
    out = []
    for row in rows:
        where = f"{name}, line {rows.line_num}"
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        site, stage, date = ((row.get(c) or "").strip() for c in COLUMNS)
        if not site or not stage:
            raise ValueError(f"{where}: site and stage are needed")
        out.append(Observation(rows.line_num, site, stage, _date(date, where)))
    if not out:
        raise ValueError(f"{name}: no observations")
    return out


def _date(text: str, where: str) -> dt.date:
    try:
        y, m, d = (int(x) for x in text.replace("/", "-").split("-"))
        return dt.date(y, m, d)
    except ValueError:
        raise ValueError(f"{where}: not a date (YYYY-MM-DD): {text!r}") from None


def crop_stages(crop: str, params: Params) -> list[str]:
    """The crop's stages in order: its table's, or `dormant` then the stages its crop profile names, in order."""
    if crop in params.phenology:
        return list(params.phenology[crop].order)
    stages = ["dormant"]
    for rule in bundled_rules().rule:
        if crop in rule.scope.crop:
            stages += [s for s in rule.scope.stage if s not in stages]
    if len(stages) < 2:
        raise ValueError(f"no bud stages are known for the crop {crop!r} (its profile names none)")
    return stages


def calibrate(
    village: Village,
    index: SeriesIndex,
    readings: ReadingReader,
    observations: Sequence[Observation],
    crop: str,
    order: Sequence[str],
    base_c: float,
    min_hours: int,
    max_missing_days: int,
    today: dt.date,
) -> Calibration:
    """Each observation's degree-days since 1 January, and the sums per stage. ValueError for an observation
    that is wrong (another crop's block, an unknown site or stage, a day in the future)."""
    sites = {s.id: s for s in village.site}
    first: dict[tuple[str, str, int], Observation] = {}
    for o in observations:
        where = f"line {o.line}"
        twice = first.setdefault((o.site, o.stage, o.day.year), o)
        if twice is not o:  # the mean would count one block twice, or a later day as the stage's
            raise ValueError(f"{where}: {o.site} at {o.stage} in {o.day.year} is already on line {twice.line}")
        if o.site not in sites:
            raise ValueError(f"{where}: no site {o.site!r} in {village.id}")
        if sites[o.site].crop != crop:
            raise ValueError(f"{where}: {o.site} grows {sites[o.site].crop}, not {crop}")
        if o.stage not in order:
            raise ValueError(f"{where}: {o.stage!r} is not a {crop} stage ({', '.join(order)})")
        if o.day > today:
            raise ValueError(f"{where}: {o.day} is in the future")
    used: list[tuple[Observation, float]] = []
    skipped: list[tuple[Observation, str]] = []
    by_block: dict[tuple[str, int], list[Observation]] = {}
    for o in observations:
        if o.stage == order[0]:  # every block starts there: the day it was still seen says nothing of a sum
            skipped.append((o, f"{o.stage} is where the season starts; it has no sum"))
        else:
            by_block.setdefault((o.site, o.day.year), []).append(o)
    for (site, year), seen in by_block.items():
        block = (village.id, site, "air_temp_c")
        series = next((i for i, k in enumerate(index.keys) if (k.village, k.site, k.metric) == block), None)
        if series is None:
            skipped += [(o, f"{site} has no air temperature sensor") for o in seen]
            continue
        jan1 = dt.date(year, 1, 1)
        days = (max(o.day for o in seen) - jan1).days + 1
        temps = hourly_means(readings, series, local_midnight_ms(village, jan1), days * 24).reshape(days, 24)
        known = np.count_nonzero(~np.isnan(temps), axis=1).astype(np.int32)
        dd, enough = day_degree_days(np.fmin.reduce(temps, axis=1), np.fmax.reduce(temps, axis=1), known, base_c,
                                     min_hours)  # fmt: skip
        gdd, missing = np.cumsum(dd), np.cumsum(~enough)
        for o in seen:
            i = (o.day - jan1).days
            if missing[i] > max_missing_days:
                why = f"{missing[i]} days without enough temperatures (< {min_hours} hours) from 1 January to {o.day}"
                skipped.append((o, why))
            else:
                used.append((o, float(gdd[i])))
    if not used:
        raise ValueError("no observation could be used: " + "; ".join(f"line {o.line}: {why}" for o, why in skipped))
    return Calibration(stage_sums([(o.stage, g) for o, g in used], order), used, skipped)
