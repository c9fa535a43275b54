"""A season of the twin's orchard block watered by the automatic mode, against the same season on a fixed
calendar: days the root zone stays inside its readily available band, and the water each used.

东沟苹果园 (or01: apple on silt loam, 0.67 mm an hour of drip) from 1 April to 30 September in the twin's
weather. The twin's soil is the block's texture (θFC 29 %, θWP 15 %, FAO-56 Table 19) over the 0.6 m the
probe sees, configured as the balance's root depth; the season starts at field capacity (the spring
irrigation 春灌 fills the profile). Each day the collector's own pieces run on the twin's hourly means:
the FAO-56 balance fused with the probe (agronomy.daily), the advice (alerts.agronomy.water_detail) and the
automatic mode's opening (qingyubiao.water.advised_minutes, at most 10 h a day); the water goes into the
twin at 06:00; a second automatic run counts the rain of the next days as the twin's (perfect) forecast
says it. The calendar waters 6 h every day (about 4 mm, the plateau's peak apple ETc), the same drip.

Inside the band: the day's mean true soil moisture between θFC − RAW (p = 0.5, Table 22) and θFC + 1 %.

    .venv/bin/python -m bench.bench_irrigation
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from agronomy.daily import Agronomy, Hours, SiteInfo
from agronomy.params import load_params
from agronomy.water import load_water
from alerts.agronomy import water_detail, water_site
from qingyubiao.config import Config, load_config
from qingyubiao.water import advised_minutes
from sensors_sim.physics import Physics, Q

FIRST, LAST = dt.date(2026, 4, 1), dt.date(2026, 9, 30)
DT_S = 600.0
OPEN_HOUR = 6
CALENDAR_H = 6.0  # the fixed calendar: hours of drip every day
BLOCK = "or01"


def season_config() -> Config:
    raw: dict[str, Any] = load_config().model_dump(mode="python")
    v = raw["village"][0]
    v["device"].append({"id": "or01-valve", "site": BLOCK, "metrics": ["bat_v"]})
    for site in v["site"]:
        if site["id"] == BLOCK:
            site["stage"] = "post_bloom"  # Kc mid all season: the thirstiest the block gets
            site["irrigation"] |= {"valve": "or01-valve", "mode": "automatic", "root_m": 0.6, "max_open_min": 600,
                                   "max_day_min": 720}  # fmt: skip
    return Config.model_validate(raw)


def season(
    config: Config, decide: Callable[[dict[str, Any] | None, dt.date], float], seed: int = 3, forecast: bool = False
) -> dict[str, Any]:
    """Run the season; `decide(yesterday's advice, day)` gives the hours of drip to open at 06:00; with
    `forecast`, the advice counts the twin's rain of the next days (a perfect forecast, sensors_sim/forecast.py)."""
    v = config.village[0]
    site = next(s for s in v.site if s.id == BLOCK)
    water = load_water()
    soil = water.soil[site.irrigation.soil]  # type: ignore[union-attr]
    ws = water_site(water, site)
    assert ws is not None and site.drip_mm_h is not None
    tz_s = 8 * 3600
    start_s = dt.datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=dt.UTC).timestamp() - tz_s
    ph = Physics(config, seed, start_s, dt_s=DT_S)
    k = next(j for j, i in enumerate(ph.or_idx) if ph.sites[i].site == BLOCK)
    at = int(ph.or_idx[k])
    ph.or_params.field_capacity[k] = soil.fc * 100.0
    ph.or_state.vwc[k] = soil.fc * 100.0
    model = Agronomy([SiteInfo(site.crop, site.stage, v.lat, v.lon, True, ws, v.elevation_m)], load_params(), water)
    pending: list[np.ndarray] = []
    ph.water_in = lambda: pending.pop() if pending else None
    advice: dict[str, Any] | None = None
    used, inside, days, means = 0.0, 0, 0, []
    raw_pct = 0.5 * (soil.fc - soil.wp) * 100.0  # RAW over the root zone, in VWC points
    day = FIRST
    while day <= LAST:
        hours = decide(advice, day)
        mm = hours * site.drip_mm_h
        steps = int(86_400 / DT_S)
        values = np.empty((steps, len(Q)))
        for s in range(steps):
            if s == OPEN_HOUR * 3600 / DT_S and mm > 0:
                given = np.zeros(ph.n_sites)
                given[at] = mm
                pending.append(given)
            [chunk] = list(ph.chunks(ph.t + DT_S, 1))
            values[s] = chunk.values[0, :, at]
        per_h = values.reshape(24, -1, len(Q))
        mean = per_h.mean(axis=1)
        rain = per_h[:, :, Q["rain_mm"]].sum(axis=1)
        h = Hours(int((start_s + (day - FIRST).days * 86_400) * 1000), mean[None, :, Q["air_temp_c"]],
                  mean[None, :, Q["air_rh_pct"]], mean[None, :, Q["leaf_wet_pct"]], rain[None, :],
                  mean[None, :, Q["soil_vwc_pct"]])  # fmt: skip
        ahead = None
        if forecast:  # the rain of the days after this one, as the twin's forecast server would say it
            weather = ph.weathers[int(ph.village_cell[0])]
            first = int(weather.day_number(start_s + ((day - FIRST).days + 1.5) * 86_400))
            ahead = weather.days(first, water.rain_ahead.horizon_days).rain_mm[None, :]
        r = model.day(h, np.array([mm]), ahead)
        advice = water_detail(r, 0, day)
        theta = float(values[:, Q["soil_vwc_pct"]].mean())
        means.append(theta)
        inside += soil.fc * 100.0 - raw_pct <= theta <= soil.fc * 100.0 + 1.0
        used += mm
        days += 1
        day += dt.timedelta(days=1)
    return {"days": days, "inside": inside, "water_mm": used, "min_vwc": min(means), "max_vwc": max(means),
            "band": (soil.fc * 100.0 - raw_pct, soil.fc * 100.0 + 1.0)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=3, help="the twin's weather (a different season per seed)")
    seed = parser.parse_args().seed
    config = season_config()
    site = next(s for s in config.village[0].site if s.id == BLOCK)
    irr = site.irrigation
    assert irr is not None

    def automatic(advice: dict[str, Any] | None, _day: dt.date) -> float:
        return advised_minutes(advice, site) / 60.0 if advice else 0.0

    runs = []
    for name, decide, ahead in (("automatic", automatic, False), ("automatic+rain", automatic, True),
                                ("fixed calendar", lambda _a, _d: CALENDAR_H, False)):  # fmt: skip
        t0 = time.perf_counter()
        runs.append((name, season(config, decide, seed, ahead), time.perf_counter() - t0))
    (_, auto, _), (_, rainy, _), (_, fixed, _) = runs
    lo, hi = auto["band"]
    print(f"{BLOCK}, seed {seed}, {FIRST} to {LAST} ({auto['days']} days), band {lo:.1f}-{hi:.1f} % VWC")
    for name, x, secs in runs:
        share = 100.0 * x["inside"] / x["days"]
        print(
            f"  {name:15s} inside the band {x['inside']:3d}/{x['days']} days ({share:5.1f} %), water "
            f"{x['water_mm']:6.1f} mm, daily mean VWC {x['min_vwc']:.1f}-{x['max_vwc']:.1f} %  ({secs:.1f} s)"
        )
    print(f"  automatic / calendar water: {auto['water_mm'] / fixed['water_mm']:.2f}; with the rain forecast: "
          f"{rainy['water_mm'] / fixed['water_mm']:.2f} ({rainy['water_mm'] - auto['water_mm']:+.1f} mm)")  # fmt: skip


if __name__ == "__main__":
    main()
