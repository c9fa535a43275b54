"""The agronomy models over many sites and one day of 10-minute readings, against the one-site reference.

The sites are 李家河村's mix, repeated: of every 30, 24 greenhouses (8 tomato, 6 cucumber, 5 pepper,
5 strawberry) and 6 orchards (4 apple, 2 pear) just after bloom, on 20 May, when every model is in
season. Each has air temperature, RH and rain (a third also a leaf-wetness sensor), a biofix for each
pest, a wet night and a dry afternoon, and 3 % of readings missing. Timed: 10-minute readings to hourly
means, wetness, and every model (scab, fire blight, Marssonina, grey mould, downy mildew, powdery mildew, the pests'
degree-days and forecasts, the bud stage) for all sites at once; the reference runs the same day site
by site, each site through the models of its crop, on a sample (its cost is linear in sites; the
per-site figure is scaled to the same count and printed as such). Each step is timed by the wall clock
and by the process's CPU time: on a machine shared with other work the wall clock also counts the
waits for a core, the CPU time only the work (docs/performance.md).

    .venv/bin/python -m bench.bench_agronomy                  # 1e5 sites
    .venv/bin/python -m bench.bench_agronomy --sites 1000000 --sample 2000
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from agronomy import reference as ref
from agronomy.daily import Agronomy, Hours, SiteInfo
from agronomy.hourly import hourly_mean, hourly_sum
from agronomy.params import Params, load_params

START = 1_776_614_400_000 + 30 * 86_400_000  # 2026-05-20 00:00 Beijing time
MIX = ["tomato"] * 8 + ["cucumber"] * 6 + ["pepper"] * 5 + ["strawberry"] * 5 + ["apple"] * 4 + ["pear"] * 2


def village_mix(n: int) -> list[SiteInfo]:
    crops = [MIX[i % len(MIX)] for i in range(n)]
    return [SiteInfo(c, "post_bloom" if c in ("apple", "pear") else None, 37.45, 110.7, True) for c in crops]


PER_HOUR = 6


def readings(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    slot_h = np.arange(24 * PER_HOUR) / PER_HOUR
    temp = 14 + 7 * np.sin(2 * np.pi * (slot_h - 9) / 24) + rng.normal(0, 1.5, (n, 1)) + rng.normal(0, 0.3, (n, 144))
    rh = np.clip(80 - 18 * np.sin(2 * np.pi * (slot_h - 9) / 24) + rng.normal(0, 8, (n, 1)), 20, 100)
    rh = rh + rng.normal(0, 2, (n, 144))
    leaf = np.where(np.arange(n)[:, None] % 3 == 0, np.where(rh > 90, 100.0, 0.0), np.nan)
    rain = np.where(rng.random((n, 144)) < 0.05, 0.2, 0.0)
    for a in (temp, rh):
        a[rng.random((n, 144)) < 0.03] = np.nan
    return temp, np.minimum(rh, 100.0), leaf, rain


def to_hours(data: tuple[np.ndarray, ...]) -> Hours:
    temp, rh, leaf, rain = data
    means = (hourly_mean(temp, PER_HOUR), hourly_mean(rh, PER_HOUR), hourly_mean(leaf, PER_HOUR))
    return Hours(START, *means, hourly_sum(rain, PER_HOUR))


Seconds = np.ndarray  # [wall-clock, CPU] seconds of one timed step


def clock() -> Seconds:
    """Wall-clock and this process's CPU time: on a shared machine the CPU time is the work done, the wall
    clock also the waiting for a core."""
    return np.array([time.perf_counter(), time.process_time()])


def vectorized(params: Params, sites: list[SiteInfo], data: tuple[np.ndarray, ...]) -> tuple[Seconds, Seconds]:
    """(seconds for the whole day from 10-minute readings, of which the hourly means)."""
    model = Agronomy(sites, params)
    for pest in params.pest:
        for i in range(len(sites)):
            model.set_biofix(pest, i, 120.0)
    t0 = clock()
    h = to_hours(data)
    t1 = clock()
    model.day(h)
    return clock() - t0, t1 - t0


def scalar_hours(data: tuple[np.ndarray, ...]) -> tuple[Seconds, list[list[list[float]]]]:
    """The hourly means site by site in Python: (seconds, [site][quantity][hour])."""
    temp, rh, leaf, rain = (a.tolist() for a in data)
    t0 = clock()
    out = []
    for i in range(len(temp)):
        per_site = []
        for series, total in ((temp[i], False), (rh[i], False), (leaf[i], False), (rain[i], True)):
            hours = []
            for k in range(24):
                got = [x for x in series[k * PER_HOUR : (k + 1) * PER_HOUR] if not math.isnan(x)]
                hours.append((sum(got) if total else sum(got) / len(got)) if got else math.nan)
            per_site.append(hours)
        out.append(per_site)
    return clock() - t0, out


def scalar_models(params: Params, sites: list[SiteInfo], hourly: list[list[list[float]]], night: np.ndarray) -> Seconds:
    dark = [bool(x) for x in night]
    t0 = clock()
    for site, (t, h, lf, rn) in zip(sites, hourly, strict=True):
        crop = site.crop
        wet = [ref.wet_hour(t[k], h[k], lf[k], rn[k], dark[k], params.wetness) for k in range(24)]
        if crop in params.scab.crops:
            level, _, _, unknown = ref.scab_day(ref.ScabSite(), wet, t, dark, params.scab)
            ref.scab_risk(level, unknown, True, True, params)
        if crop in params.fire_blight.crops:
            ref.blight_day(ref.BlightSite(), wet, t, True, True, params.fire_blight)
        if crop in params.marssonina.crops:
            ref.marssonina_day(ref.DownySite(), wet, t, params.marssonina)
        if crop in params.downy_mildew.crops:
            ref.downy_day(ref.DownySite(), wet, t, params.downy_mildew)
        if crop in params.grey_mould.crops:
            ref.mould_day(ref.MouldSite(), wet, t, params.grey_mould)
        if crop in params.powdery_mildew.crops:
            ref.powdery_day(ref.PowderySite(), t, params.powdery_mildew)
        if crop in params.phenology:
            ref.stage_day(ref.StageSite(), t, site.stage, params.phenology[crop])
        for pest in params.pest.values():
            ref.pest_day(ref.PestSite(cum_dd=120.0), t, START, crop in pest.crops, pest)
    return clock() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=5_000, help="sites the reference runs (scaled)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    params = load_params()
    sites = village_mix(args.sites)
    data = readings(args.sites)
    runs = [vectorized(params, sites, data) for _ in range(args.repeat)]
    vec, vec_agg = np.median([r[0] for r in runs], axis=0), np.median([r[1] for r in runs], axis=0)
    sample = min(args.sample, args.sites)
    night = Agronomy(sites[:1], params).night(START)[0]
    small = tuple(a[:sample] for a in data)
    scale = args.sites / sample
    ref_runs = []
    for _ in range(max(1, args.repeat // 2)):
        agg_s, hourly = scalar_hours(small)
        ref_runs.append((agg_s * scale, scalar_models(params, sites[:sample], hourly, night) * scale))
    ref_agg, ref_models = np.median([r[0] for r in ref_runs], axis=0), np.median([r[1] for r in ref_runs], axis=0)
    print(f"sites {args.sites:,}  one day of 10-minute readings ({144 * args.sites:,} per quantity)")
    rows = [("10-min -> hourly means", vec_agg, ref_agg), ("models from hourly", vec - vec_agg, ref_models),
            ("whole day", vec, ref_agg + ref_models)]  # fmt: skip
    for k, clock_name in enumerate(("wall clock", "CPU time")):
        print(
            f"  {clock_name:22}{'vectorized':>12}{'reference':>12}{'ratio':>8}   (reference: {sample:,} sites, scaled)"
        )
        for name, v, r in rows:
            print(f"  {name:22}{v[k] * 1000:10.1f}ms{r[k] * 1000:10.1f}ms{r[k] / v[k]:7.1f}x")
    print(f"  (medians: {args.repeat} vectorized runs, {len(ref_runs)} reference runs)")


if __name__ == "__main__":
    main()
