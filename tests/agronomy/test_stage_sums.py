"""`qyb agronomy stage-sums`: a county's own pear table from the days its blocks were seen at each stage.

Pear has no published stage sums (docs/agronomy.md), so the county makes its own. The round trip: a
season of temperatures in the real store; a made-up "true" pear table says on which day each stage is
reached; those days, as a county would write them down, go through the command; the table it prints,
loaded as the deployment's, puts every stage on the day it was seen.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest

from agronomy.calibrate import phenology_table, stage_sums
from agronomy.daily import Agronomy, SiteInfo
from agronomy.params import DEFAULT, Params, load_params
from alerts.agronomy import local_midnight_ms
from alerts.stage_sums import crop_stages, read_observations
from ingest.store.sqlite import SqliteStore
from qingyubiao.batch import BatchBuilder
from qingyubiao.config import load_config
from qingyubiao.series import SeriesIndex
from tests.agronomy.conftest import LAT, LON, hours
from tests.conftest import qyb

PEAR = ["dormant", "scales_separating", "blossom_buds_exposed", "tight_cluster", "first_white", "full_white",
        "first_bloom", "full_bloom", "post_bloom"]  # fmt: skip
TRUE_SUMS = {"scales_separating": 60.0, "tight_cluster": 110.0, "first_white": 150.0, "full_bloom": 200.0}
JAN1 = dt.date(2026, 1, 1)
DAYS = 130  # to 10 May


def season() -> np.ndarray:
    """Days × 24 hourly °C: a mean rising from −8 °C on 1 January by 0.2 °C a day, ±6 °C over the day."""
    d, h = np.meshgrid(np.arange(DAYS), np.arange(24), indexing="ij")
    return np.round(-8.0 + 0.2 * d + 6.0 * np.sin(2 * np.pi * (h - 9) / 24), 2)


def with_pear(sums: dict[str, float], tmp: Path, name: str) -> Params:
    table = f"[phenology.pear]\nbase_c = 5.0\nmin_hours = 20\nmax_missing_days = 5\norder = {PEAR!r}\n"
    table += "sums = [" + ", ".join(f"[{k!r}, {v}]" for k, v in sums.items()) + "]\n"
    path = tmp / name
    path.write_text(DEFAULT.read_text(encoding="utf-8") + "\n" + table.replace("'", '"'), encoding="utf-8")
    return load_params(path)


def first_days(params: Params, temps: np.ndarray) -> dict[str, dt.date]:
    """The day the estimate first names each stage, run day by day as the collector runs it."""
    model = Agronomy([SiteInfo("pear", None, LAT, LON, True)], params)
    out: dict[str, dt.date] = {}
    for d in range(DAYS):
        start = 1_767_196_800_000 + d * 86_400_000  # 2026-01-01 00:00 China Standard Time
        name = model.day(hours(temps[d][None, :], start_ms=start)).stage.estimated_name[0]
        out.setdefault(name, JAN1 + dt.timedelta(days=d))
    return out


def test_the_stage_order_comes_from_the_crop_profile(params: Params) -> None:
    assert crop_stages("pear", params) == PEAR
    assert crop_stages("apple", params) == params.phenology["apple"].order
    with pytest.raises(ValueError, match="no bud stages"):
        crop_stages("tomato", params)


def test_sums_are_means_per_stage_and_must_rise() -> None:
    sums = stage_sums([("tight_cluster", 100.0), ("scales_separating", 50.0), ("tight_cluster", 110.0)], PEAR)
    assert [(s.stage, s.n, s.mean, s.lo, s.hi) for s in sums] == [
        ("scales_separating", 1, 50.0, 50.0, 50.0), ("tight_cluster", 2, 105.0, 100.0, 110.0)]  # fmt: skip
    assert sums[1].sd == pytest.approx(7.07, abs=0.01)
    with pytest.raises(ValueError, match="do not rise: tight_cluster"):
        stage_sums([("scales_separating", 120.0), ("tight_cluster", 100.0)], PEAR)
    with pytest.raises(ValueError, match="'bloom' is not one of"):
        stage_sums([("bloom", 1.0)], PEAR)
    text = phenology_table("pear", sums, PEAR, 5.0, 20, 5, "3 observations", dt.date(2026, 12, 7))
    table = tomllib.loads(text)["phenology"]["pear"]
    assert table["sums"] == [["scales_separating", 50.0], ["tight_cluster", 105.0]] and table["order"] == PEAR


def test_the_observations_may_come_as_a_spreadsheet_saves_them() -> None:
    # Excel: a BOM, CRLF, headers as typed, a note column, 2026/4/8 dates, blank rows below the data
    text = "\ufeffSite, Stage ,DATE,note\r\nor04,tight_cluster,2026/4/8,windy\r\n,,,\r\n\r\n"
    text += "or05,first_white,2026-04-12,\r\n"
    seen = read_observations(text, "pear.csv")
    assert [(o.line, o.site, o.stage, o.day) for o in seen] == [
        (2, "or04", "tight_cluster", dt.date(2026, 4, 8)),
        (5, "or05", "first_white", dt.date(2026, 4, 12)),
    ]
    with pytest.raises(ValueError, match=r"pear\.csv, line 2: not a date"):
        read_observations("site,stage,date\nor04,tight_cluster,8.4.2026\n", "pear.csv")
    with pytest.raises(ValueError, match="line 2: site and stage are needed"):
        read_observations("site,stage,date\nor04,,2026-04-08\n", "pear.csv")
    with pytest.raises(ValueError, match="no observations"):
        read_observations("site,stage,date\n,,\n", "pear.csv")


@pytest.mark.slow  # starts processes
def test_a_county_s_observations_become_a_table_that_puts_each_stage_on_its_day(tmp_path: Path) -> None:
    db = tmp_path / "qyb.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | {"QYB_DB": str(db)}
    config = load_config(None)
    v, index = config.village[0], SeriesIndex(config)
    temps = season()
    store = SqliteStore(str(db), index)
    for device, gap in (("or04-air", range(0)), ("or05-air", range(40, 50))):  # or05's sensor was off 10 days
        series = index.find(v.id, device, "air_temp_c")
        assert series is not None
        b = BatchBuilder()
        for d in (d for d in range(DAYS) if d not in gap):
            start = local_midnight_ms(v, JAN1 + dt.timedelta(days=d))
            for k in range(72):  # every 20 minutes
                b.add(series, start + k * 1_200_000, float(temps[d, k // 3]), 0)
        store.write(b.build(index.lo, index.hi))
    store.refresh_rollups()
    store.close()

    seen = first_days(with_pear(TRUE_SUMS, tmp_path, "true.toml"), temps)
    assert list(seen) == ["dormant", "scales_separating", "tight_cluster", "first_white", "full_bloom"]
    lines = [f"or04,{stage},{day}" for stage, day in seen.items() if stage != "dormant"]
    lines.append(f"or05,full_bloom,{seen['full_bloom']}")
    lines.append("or05,dormant,2026-02-01")  # still dormant that day: says nothing of a sum
    csv = tmp_path / "pear.csv"
    csv.write_text("\ufeffsite,stage,date\n" + "\n".join(lines) + "\n", encoding="utf-8")  # as Excel saves it

    out = qyb("agronomy", "stage-sums", str(csv), "-o", str(tmp_path / "county.toml"), env=env)
    assert "skipped line 6 (or05 full_bloom" in out.stderr and "10 days without enough temperatures" in out.stderr
    assert "skipped line 7 (or05 dormant 2026-02-01): dormant is where the season starts" in out.stderr
    assert "used 4 observations, skipped 2" in out.stderr
    table = (tmp_path / "county.toml").read_text(encoding="utf-8")
    assert "4 observations on or04 in 2026" in table
    county = load_params(_appended(tmp_path, table))
    derived = dict(county.phenology["pear"].sums)
    for stage, true in TRUE_SUMS.items():
        assert true <= derived[stage] < true + 12  # the day's degree-days past the true sum, at most
    assert first_days(county, temps) == seen  # every stage on the day it was seen

    wrong = {"gh01,full_bloom,2026-04-20": "gh01 grows", "or04,bloom,2026-04-20": "'bloom' is not a pear stage",
             "or04,full_bloom,2099-04-20": "in the future", "or04,full_bloom,20.4.2026": "not a date",
             "or04,full_bloom,2026-04-20\nor04,full_bloom,2026-04-24": "line 3: or04 at full_bloom in 2026 is already "
                                                                       "on line 2"}  # fmt: skip
    for line, why in wrong.items():
        csv.write_text("site,stage,date\n" + line + "\n", encoding="utf-8")
        r = qyb("agronomy", "stage-sums", str(csv), env=env, check=False)
        assert r.returncode == 2 and why in r.stderr, r.stderr
    csv.write_text("site,day\nor04,2026-04-20\n", encoding="utf-8")
    r = qyb("agronomy", "stage-sums", str(csv), env=env, check=False)
    assert r.returncode == 2 and "must name the columns site, stage, date" in r.stderr


def _appended(tmp: Path, table: str) -> Path:
    path = tmp / "models.toml"
    path.write_text(DEFAULT.read_text(encoding="utf-8") + "\n" + table, encoding="utf-8")
    return path
