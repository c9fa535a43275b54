"""Apple bud stage from degree-days since 1 January, against WSU's figures for Red Delicious as Tree Top
reported them ("Apple Bloom Cycles and Harvest Predictors", 2017): degree-days above 43 °F, silver tip at
331, tight cluster at 600, full bloom at 920 °F-DD. The configured stage still rules; the estimate says
how far apart they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agronomy.daily import Agronomy, SiteInfo
from agronomy.params import DEFAULT, Params, load_params
from agronomy.risk import Risk
from tests.agronomy.conftest import APRIL_20, LAT, LON, hours

DAY_MS = 86_400_000
WSU_RED_DELICIOUS_F = {"silver_tip": 331, "tight_cluster": 600, "full_bloom": 920}


def test_the_sums_are_the_published_ones(params: Params) -> None:
    apple = params.phenology["apple"]
    assert apple.base_c == pytest.approx((43 - 32) * 5 / 9, abs=0.05)
    assert dict(apple.sums) == pytest.approx({k: v * 5 / 9 for k, v in WSU_RED_DELICIOUS_F.items()}, abs=0.05)
    assert "pear" not in params.phenology  # no published sums: not estimated


def test_steady_days_reach_each_stage_on_the_day_the_sum_passes_it(params: Params) -> None:
    # 16.1 °C all day: 10 °C-DD above 6.1 a day; silver tip (183.9) on day 19, tight cluster (333.3) day 34,
    # full bloom (511.1) day 52 — the configured "tight_cluster" agrees from day 34 to day 51
    model = Agronomy([SiteInfo("apple", "tight_cluster", LAT, LON, True), SiteInfo("pear", None, LAT, LON, True)],
                     params)  # fmt: skip
    seen = []
    for d in range(60):
        r = model.day(hours(np.full((2, 24), 16.1), start_ms=APRIL_20 + d * DAY_MS)).stage
        seen.append((r.estimated_name[0], r.next_name[0], int(r.off_by[0])))
        assert r.estimated_name[1] is None and np.isnan(r.gdd[1])  # pear
    assert r.gdd[0] == pytest.approx(600.0)
    assert seen[17] == ("dormant", "silver_tip", 4 - 1 + 1)  # tight_cluster is 4 stages past the range
    assert seen[18][:2] == ("silver_tip", "tight_cluster") and seen[18][2] == 1  # one stage off: not shown
    assert seen[33] == ("tight_cluster", "full_bloom", 0)
    assert seen[51] == ("full_bloom", None, 8 - 4)  # the block is said to be at tight cluster, 4 stages behind


def test_the_configured_stage_outside_the_range_counts_stages(params: Params) -> None:
    order = params.phenology["apple"].order
    sites = [SiteInfo("apple", s, LAT, LON, True) for s in ("dormant", "green_tip", "full_bloom", None)]
    model = Agronomy(sites, params)
    model.stage.gdd[:] = 200.0  # between silver tip (183.9) and tight cluster (333.3)
    r = model.day(hours(np.full((4, 24), 0.0))).stage  # a cold day adds nothing
    assert list(r.estimated_name) == ["silver_tip"] * 4 and list(r.next_name) == ["tight_cluster"] * 4
    assert r.off_by.tolist() == [1, 0, order.index("full_bloom") - order.index("tight_cluster") + 1, -1]


def test_too_many_days_without_temperatures_is_unknown(params: Params) -> None:
    model = Agronomy([SiteInfo("apple", "dormant", LAT, LON, True)], params)
    limit = params.phenology["apple"].max_missing_days
    for d in range(limit + 1):
        t = np.full((1, 24), 10.0)
        t[0, :6] = np.nan  # 18 hours: not enough for a day's degree-days
        r = model.day(hours(t, start_ms=APRIL_20 + d * DAY_MS)).stage
        assert r.risk[0] == (Risk.UNKNOWN if d == limit else Risk.NONE)
    assert r.gdd[0] == 0.0


def test_a_county_s_own_pear_sums_give_pear_blocks_a_stage(tmp_path: Path) -> None:
    """docs/agronomy.md's way for a county with its own pear observations: a [phenology.pear] table in its
    copy of models.toml, with the pear stage order of alerts/profiles/pear.toml. (The numbers here are a
    made-up county's, not a source's: the bundled file has none.)"""
    county = tmp_path / "models.toml"
    county.write_text(
        DEFAULT.read_text(encoding="utf-8") + "\n[phenology.pear]\nbase_c = 5.0\nmin_hours = 20\nmax_missing_days = 5\n"
        'order = ["dormant", "scales_separating", "blossom_buds_exposed", "tight_cluster", "first_white", '
        '"full_white", "first_bloom", "full_bloom", "post_bloom"]\n'
        'sums = [["scales_separating", 100.0], ["tight_cluster", 200.0], ["full_bloom", 300.0]]\n',
        encoding="utf-8",
    )
    params = load_params(county)
    model = Agronomy([SiteInfo("pear", "dormant", LAT, LON, True)], params)
    seen = []
    for d in range(32):  # 15 °C all day: 10 °C-DD a day above 5 °C
        seen.append(model.day(hours(np.full((1, 24), 15.0), start_ms=APRIL_20 + d * DAY_MS)).stage)
    assert seen[9].estimated_name[0] == "scales_separating" and seen[8].estimated_name[0] == "dormant"
    assert seen[19].estimated_name[0] == "tight_cluster" and seen[29].estimated_name[0] == "full_bloom"
    assert int(seen[29].off_by[0]) == 7  # configured dormant, estimated full bloom: 7 stages apart
