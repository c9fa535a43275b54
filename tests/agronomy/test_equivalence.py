"""The vectorized models against the one-site, one-hour reference (agronomy.reference), on random days
with gaps, sensors and stages: the same risks and numbers, day after day."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agronomy import reference as ref
from agronomy.daily import Agronomy, SiteInfo
from agronomy.params import Params, load_params
from agronomy.risk import Risk
from tests.agronomy.conftest import APRIL_20, LAT, LON, hours

PARAMS: Params = load_params()


@st.composite
def villages(draw: st.DrawFn) -> tuple[list[SiteInfo], list[list[np.ndarray]], list[float | None], int]:
    n = draw(st.integers(1, 6))
    days = draw(st.integers(1, 9))  # grey mould needs 5 days of a week
    sites = [
        SiteInfo(draw(st.sampled_from(["apple", "pear", "cucumber", "tomato", "strawberry"])),
                 draw(st.sampled_from(["full_bloom", "green_tip", None])), LAT, LON, draw(st.booleans()))
        for _ in range(n)
    ]  # fmt: skip
    # degree-days already counted since biofix (None: no biofix), so milestones fall inside the few days drawn
    biofix = [draw(st.one_of(st.none(), st.floats(0, 145))) for _ in range(n)]
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    gaps = rng.choice([0.0, 0.02, 0.1], (n, 1))  # per site: sensors that never miss an hour, and ones that do
    # per site a climate: the whole range, mild houses (powdery mildew's 15-25 °C runs), a hot one (32 °C)
    lo, hi = np.array([[-2, 30], [13, 26], [15, 24.9], [18, 34]])[rng.integers(0, 4, n)].T
    arrays = []
    for _ in range(days):
        t = rng.uniform(lo[:, None], hi[:, None], (n, 24)).round(1)
        rh = rng.choice([55.0, 85.0, 89.9, 90.0, 97.0], (n, 24))
        leaf = np.where(rng.random((n, 24)) < 0.3, rng.choice([0.0, 100.0], (n, 24)), np.nan)
        rain = np.where(rng.random((n, 24)) < 0.1, 0.5, np.nan)
        t[rng.random((n, 24)) < gaps] = np.nan
        rh[rng.random((n, 24)) < gaps] = np.nan
        arrays.append([t, rh, leaf, rain])
    # a spring day (scab, fire blight) or a summer one (Marssonina's season)
    first = draw(st.sampled_from([APRIL_20, APRIL_20 + 61 * 86_400_000]))
    return sites, arrays, biofix, first


def close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) < 1e-9


@settings(max_examples=150, deadline=None)
@given(villages())
def test_vectorized_models_match_the_reference(
    case: tuple[list[SiteInfo], list[list[np.ndarray]], list[float | None], int],
) -> None:
    sites, days, biofix, first = case
    model = Agronomy(sites, PARAMS)
    scab_sites = [ref.ScabSite() for _ in sites]
    blight_sites = [ref.BlightSite() for _ in sites]
    mould_sites = [ref.MouldSite() for _ in sites]
    downy_sites = [ref.DownySite() for _ in sites]
    marssonina_sites = [ref.DownySite() for _ in sites]
    # degree-days already counted since 1 January (from the biofix draw), so stages change within the days drawn
    powdery_sites = [ref.PowderySite() for _ in sites]
    stage_sites = [ref.StageSite(gdd=4 * (b or 0.0)) for b in biofix]
    model.stage.gdd[:] = [x.gdd for x in stage_sites]
    pest_sites = {k: [ref.PestSite(cum_dd=math.nan if b is None else b) for b in biofix] for k in PARAMS.pest}
    for i, b in enumerate(biofix):
        if b is not None:
            for k in PARAMS.pest:
                model.set_biofix(k, i, b)
    for d, (t, rh, leaf, rain) in enumerate(days):
        start = first + d * 86_400_000
        h = hours(t, rh=rh, leaf=leaf, start_ms=start)
        h.rain_mm = rain
        night = model.night(start)
        got = model.day(h)
        for i, s in enumerate(sites):
            wet = [ref.wet_hour(t[i, k], rh[i, k], leaf[i, k], rain[i, k], bool(night[i, k]), PARAMS.wetness)
                   for k in range(24)]  # fmt: skip
            level, wet_h, mean_c, unknown = ref.scab_day(scab_sites[i], wet, list(t[i]), list(night[i]), PARAMS.scab)
            in_season = s.crop in PARAMS.scab.crops and s.stage in PARAMS.scab.stages
            assert got.scab.risk[i] == ref.scab_risk(level, unknown, s.has_humidity, in_season, PARAMS), (d, i)
            # a model reports its numbers for the sites of its crops (and season); 0 / NaN elsewhere
            if s.crop not in PARAMS.scab.crops:
                wet_h, mean_c = 0.0, math.nan
            assert got.scab.wet_h[i] == wet_h and close(got.scab.mean_c[i], mean_c)
            fb = PARAMS.fire_blight
            blooming = s.crop in fb.crops and s.stage in fb.stages
            risk, cls, dh4 = ref.blight_day(blight_sites[i], wet, list(t[i]), s.has_humidity, blooming, fb)
            if s.crop not in fb.crops:
                cls, dh4 = 0, 0.0
            assert (got.fire_blight.risk[i], got.fire_blight.cls[i]) == (risk, cls), (d, i)
            assert abs(got.fire_blight.dh4[i] - dh4) < 1e-9
            gm, dm = PARAMS.grey_mould, PARAMS.downy_mildew
            level, wet_mean, night_mean = ref.mould_day(mould_sites[i], wet, list(t[i]), gm)
            want = {-1: Risk.UNKNOWN, 0: Risk.NONE, 1: Risk.MODERATE, 2: Risk.HIGH}[level]
            want = want if s.has_humidity else Risk.NO_DATA
            assert got.grey_mould.risk[i] == (want if s.crop in gm.crops else Risk.NONE), (d, i)
            if s.crop not in gm.crops:
                wet_mean, night_mean = math.nan, math.nan
            assert close(got.grey_mould.wet_mean[i], wet_mean) and close(got.grey_mould.night_mean[i], night_mean)
            level, wet_h, mean_c, unknown = ref.downy_day(downy_sites[i], wet, list(t[i]), dm)
            want = {0: Risk.UNKNOWN if unknown > dm.max_unknown_h else Risk.NONE, 1: Risk.MODERATE, 2: Risk.HIGH}[level]
            want = want if s.has_humidity else Risk.NO_DATA
            assert got.downy_mildew.risk[i] == (want if s.crop in dm.crops else Risk.NONE), (d, i)
            if s.crop not in dm.crops:
                wet_h, mean_c = 0.0, math.nan
            assert got.downy_mildew.wet_h[i] == wet_h and close(got.downy_mildew.mean_c[i], mean_c)
            mp = PARAMS.marssonina
            level, wet_h, mean_c, unknown = ref.marssonina_day(marssonina_sites[i], wet, list(t[i]), mp)
            want = {0: Risk.UNKNOWN if unknown > mp.max_unknown_h else Risk.NONE, 1: Risk.MODERATE, 2: Risk.HIGH}[level]
            want = want if s.has_humidity else Risk.NO_DATA
            summer = first != APRIL_20
            assert got.marssonina.risk[i] == (want if s.crop in mp.crops and summer else Risk.NONE), (d, i)
            if not (s.crop in mp.crops and summer):
                wet_h, mean_c = 0.0, math.nan
            assert got.marssonina.wet_h[i] == wet_h and close(got.marssonina.mean_c[i], mean_c)
            pm = PARAMS.powdery_mildew
            risk, index, run = ref.powdery_day(powdery_sites[i], list(t[i]), pm)
            if s.crop in pm.crops:
                assert (got.powdery_mildew.risk[i], got.powdery_mildew.run_h[i]) == (risk, run), (d, i)
                assert got.powdery_mildew.index[i] == index, (d, i)
            else:
                assert got.powdery_mildew.risk[i] == Risk.NONE and np.isnan(got.powdery_mildew.index[i])
            if s.crop in PARAMS.phenology:
                risk, lo, hi, off = ref.stage_day(stage_sites[i], list(t[i]), s.stage, PARAMS.phenology[s.crop])
                st_ = got.stage
                assert (st_.risk[i], st_.estimated[i], st_.next_stage[i], st_.off_by[i]) == (risk, lo, hi, off), (d, i)
                assert abs(st_.gdd[i] - stage_sites[i].gdd) < 1e-9
            else:
                assert np.isnan(got.stage.gdd[i]) and got.stage.estimated[i] == -1
            for name, cm in PARAMS.pest.items():
                pest = got.pests[name]
                risk, dd, milestone, eta = ref.pest_day(pest_sites[name][i], list(t[i]), start, s.crop in cm.crops, cm)
                if s.crop not in cm.crops:  # not a host: no numbers
                    dd, milestone, eta = math.nan, -1, math.nan
                assert pest.risk[i] == risk, (name, d, i)
                assert (math.isnan(dd) and math.isnan(pest.dd[i])) or abs(pest.dd[i] - dd) < 1e-9
                assert (math.isnan(eta) and math.isnan(pest.days_to[i])) or pest.days_to[i] == eta
                assert pest.milestone[i] == milestone
