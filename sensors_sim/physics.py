"""The village's true state over time: weather, greenhouses and orchard blocks, stepped together.

`Physics` steps every site of every village in the config at once (numpy over
sites, a Python loop only over time steps) and hands out chunks of true values
per site and quantity. Sensors, faults and networks are layered on top of it
(sensors_sim.twin); plots and physical-sense tests read it directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from qingyubiao.config import Config
from sensors_sim import greenhouse as gh
from sensors_sim import orchard as orc
from sensors_sim.greenhouse import QUILT_MODES, VENT_MODES
from sensors_sim.scenario import Scenario
from sensors_sim.weather import Weather, WeatherOverride, day_of_year, vapour_density

F64 = NDArray[np.float64]

# The quantities a sensor can measure, in column order of Chunk.values.
QUANTITIES: tuple[str, ...] = (
    "air_temp_c",
    "air_rh_pct",
    "soil_vwc_pct",
    "soil_temp_c",
    "soil_ec_ms_cm",
    "light_lux",
    "par_umol_m2_s",
    "co2_ppm",
    "leaf_wet_pct",
    "wind_m_s",
    "rain_mm",
)
Q = {name: i for i, name in enumerate(QUANTITIES)}
LUX_PER_W = 110.0  # daylight luminous efficacy, lx per W/m²
PAR_PER_W = 2.0  # µmol/m²/s of PAR per W/m² of global radiation
SPIN_UP_S = 2 * 86_400.0
# A second night cover under the quilt (二层膜, an inner film curtain: about +0.28 m²K/W over the quilt's 0.83)
# on the houses whose crops a winter night at 8–10 °C harms (pepper flowers deform below 10 °C, cucumber stops
# below 8 °C; anchors-and-agronomy.md C2): the quilt-down cover's U times this.
INNER_FILM = 0.75
# Crop -> (transpiration vigour, vent setpoint shift in K, night cover factor): cucumbers drink and like it warm,
# strawberries in flower are kept cooler (day optimum 23–25 °C; anchors-and-agronomy.md C2).
CROP_TRAITS: dict[str, tuple[float, float, float]] = {
    "cucumber": (1.2, 1.0, INNER_FILM),
    "tomato": (1.0, 0.0, 1.0),
    "pepper": (0.9, 0.5, INNER_FILM),
    "strawberry": (0.8, -1.5, 1.0),
}


@dataclass(frozen=True, slots=True)
class SiteRef:
    village: int  # index into config.village
    site: str
    name: str
    kind: str


@dataclass
class Chunk:
    """True state for k consecutive steps.

    t_s: (k,) epoch seconds; values: (k, n_quantities, n_sites);
    outdoor: per village, name -> (k,) arrays (temp_c, rh_pct, ghi, wind_m_s, cloud, ...);
    quilt_down, vent: (k, n_greenhouses).
    """

    t_s: F64
    values: F64
    outdoor: list[dict[str, F64]]
    quilt_down: NDArray[np.bool_]
    vent: F64


class Physics:
    """All sites of a config, stepped every `dt_s` seconds from `start_s` (after a two-day spin-up)."""

    def __init__(
        self,
        config: Config,
        seed: int,
        start_s: float,
        dt_s: float = 60.0,
        scenario: Scenario | None = None,
        spin_up_s: float = SPIN_UP_S,
    ) -> None:
        self.config, self.seed, self.dt = config, seed, dt_s
        self.start_s = float(np.floor(start_s / dt_s) * dt_s)
        self.sites: list[SiteRef] = [
            SiteRef(vi, s.id, s.name, s.kind) for vi, v in enumerate(config.village) for s in v.site
        ]
        kinds = np.array([s.kind for s in self.sites])
        self.gh_idx = np.flatnonzero(kinds == "greenhouse")
        self.or_idx = np.flatnonzero(kinds == "orchard")
        village_of = np.array([s.village for s in self.sites], dtype=np.int64)
        self.gh_village = village_of[self.gh_idx]
        self.gh_lat = np.array([config.village[v].lat for v in self.gh_village], dtype=np.float64)
        self.or_village = village_of[self.or_idx]
        # Villages close together share one weather (a cell of about 0.25°).
        cells: dict[tuple[int, int], int] = {}
        self.village_cell = np.array(
            [cells.setdefault((round(v.lat * 4), round(v.lon * 4)), len(cells)) for v in config.village], np.int64
        )
        overrides: dict[int, WeatherOverride] = {}
        target_village = 0
        if scenario is not None:
            target_village = next(
                (i for i, v in enumerate(config.village) if v.id == scenario.village), 0
            ) if scenario.village else 0  # fmt: skip
            for d in scenario.days:
                overrides[(d - _EPOCH).days] = scenario.weather
        first_village = {c: vi for vi, c in reversed(list(enumerate(self.village_cell.tolist())))}
        self.weathers = [
            Weather(
                config.village[vi].lat,
                config.village[vi].lon,
                seed,
                village_key=c,
                overrides=overrides if self.village_cell[target_village] == c else {},
            )
            for c, vi in sorted(first_village.items())
        ]
        rng = np.random.default_rng([seed, 7])
        self.gh_params = gh.HouseParams.draw(len(self.gh_idx), rng, np.random.default_rng([seed, 8]))
        crops = [s.crop for v in config.village for s in v.site if s.kind == "greenhouse"]
        traits = [CROP_TRAITS.get(c, (1.0, 0.0, 1.0)) for c in crops]
        self.gh_params.crop *= np.array([t[0] for t in traits])
        self.gh_params.vent_setpoint += np.array([t[1] for t in traits])
        self.gh_params.night_cover *= np.array([t[2] for t in traits])
        names = [self.sites[i].name for i in self.or_idx]
        self.or_params = orc.BlockParams.draw(names, rng)
        if scenario is not None:
            local = {s.site: i for i, s in enumerate(self.sites) if s.village == target_village}
            pos = {int(g): k for k, g in enumerate(self.gh_idx)}
            for o in scenario.sites:
                k = pos.get(local[o.site])
                if k is not None:
                    self.gh_params.vent_mode[k] = VENT_MODES.index(o.vent)
                    self.gh_params.quilt_mode[k] = QUILT_MODES.index(o.quilt)
        t0 = self.start_s - spin_up_s
        out0 = self.weathers[0].at(np.array([t0]))["temp_c"][0]
        self.gh_state = gh.HouseState.initial(len(self.gh_idx), float(day_of_year(np.array([t0]))[0]), rng)
        self.or_state = orc.BlockState.initial(len(self.or_idx), float(out0) + 2.0, rng)
        # Blocks with a valve controller in the config are watered by it (sensors_sim.valves), not by habit:
        # `water_in()` gives the water (mm per site) their valves put down since it was last asked.
        self.water_in: Callable[[], F64 | None] = lambda: None
        valved = np.array([s.irrigation is not None and bool(s.irrigation.valve)
                           for v in config.village for s in v.site], dtype=bool)  # fmt: skip
        self.or_habit = ~valved[self.or_idx]
        self.gh_params.irrigate_pct[valved[self.gh_idx]] = 0.0
        self.t = t0
        self._scenario_modes = (self.gh_params.vent_mode.copy(), self.gh_params.quilt_mode.copy())
        # Faults and habits of the scenario only act during it: the spin-up runs a normal farmer.
        self.gh_params.vent_mode[:] = 0
        self.gh_params.quilt_mode[:] = 0
        for _ in self.chunks(self.start_s, 240):
            pass
        self.gh_params.vent_mode[:], self.gh_params.quilt_mode[:] = self._scenario_modes

    @property
    def n_sites(self) -> int:
        return len(self.sites)

    def chunks(self, until_s: float, max_steps: int = 60) -> Iterator[Chunk]:
        """Step from the current time up to (not including) until_s, in chunks of at most max_steps."""
        while self.t < until_s - 1e-9:
            k = int(min(max_steps, np.ceil((until_s - self.t) / self.dt - 1e-9)))
            yield self._chunk(k)

    def _chunk(self, k: int) -> Chunk:
        dt = self.dt
        t = self.t + dt * np.arange(k, dtype=np.float64)
        cell_weather = [w.at(t) for w in self.weathers]
        outdoor = [cell_weather[c] for c in self.village_cell]
        n_gh = len(self.gh_idx)
        values = np.empty((k, len(QUANTITIES), self.n_sites))
        quilt = np.empty((k, n_gh), bool)
        vent = np.empty((k, n_gh))

        def per(keys: NDArray[np.int64], name: str) -> F64:
            """(k, n) array of an outdoor quantity for sites in villages `keys`."""
            stacked = np.stack([w[name] for w in cell_weather], axis=1)  # (k, cells)
            return stacked[:, self.village_cell[keys]]

        g = {
            name: per(self.gh_village, name)
            for name in ("elevation", "ghi", "dhi", "decl", "temp_c", "rh_pct", "wind_m_s", "cloud")
        }
        g_vap = vapour_density(g["temp_c"], g["rh_pct"])
        gp = self.gh_params
        sun_in = gh.roof_light(gp, g["elevation"], g["ghi"], g["dhi"], g["decl"], self.gh_lat)  # (k, n_gh)
        o = {
            name: per(self.or_village, name)
            for name in ("elevation", "ghi", "temp_c", "rh_pct", "wind_m_s", "calm_clear", "dew_c", "rain_mm_h")
        }
        solar_h = (t + self.config.village[0].lon / 15.0 * 3600.0) % 86_400.0 / 3600.0
        day = np.floor((t + self.config.village[0].lon / 15.0 * 3600.0) / 86_400.0).astype(np.int64)
        gs = self.gh_state
        for i in range(k):
            light = gh.step(
                gs, gp, dt, np.full(n_gh, solar_h[i]), np.full(n_gh, day[i]),
                g["elevation"][i], sun_in[i], g["temp_c"][i], g_vap[i], g["wind_m_s"][i], 1.0 - g["cloud"][i],
            )  # fmt: skip
            water = orc.irrigation_mm(self.or_state, float(solar_h[i]), dt) * self.or_habit
            if i == 0 and (valve_mm := self.water_in()) is not None:
                gs.vwc += valve_mm[self.gh_idx] / gh.SOIL_DEPTH_MM * 100.0
                water = water + valve_mm[self.or_idx]
            orc.step(self.or_state, self.or_params, dt, o["temp_c"][i], o["ghi"][i], o["rain_mm_h"][i], water)
            col = values[i]
            rh = gh.rh_pct(gs)
            col[Q["air_temp_c"], self.gh_idx] = gs.t_air
            col[Q["air_rh_pct"], self.gh_idx] = rh
            col[Q["soil_vwc_pct"], self.gh_idx] = gs.vwc
            col[Q["soil_temp_c"], self.gh_idx] = gh.soil_temp_c(gs)
            col[Q["soil_ec_ms_cm"], self.gh_idx] = gh.soil_ec(gs, gp)
            col[Q["light_lux"], self.gh_idx] = light * LUX_PER_W
            col[Q["par_umol_m2_s"], self.gh_idx] = light * PAR_PER_W
            col[Q["co2_ppm"], self.gh_idx] = gh.co2_ppm(gs, light)
            col[Q["leaf_wet_pct"], self.gh_idx] = np.where(rh > 95.0, 100.0, 0.0)
            col[Q["wind_m_s"], self.gh_idx] = 0.1 * gs.vent
            col[Q["rain_mm"], self.gh_idx] = 0.0
            quilt[i], vent[i] = gs.quilt_down, gs.vent
            col[Q["soil_vwc_pct"], self.or_idx] = self.or_state.vwc
            col[Q["soil_temp_c"], self.or_idx] = self.or_state.soil_t
        # Orchard quantities need no state beyond the soil: vectorize over time as well.
        canopy = orc.canopy_temp(self.or_params, o["temp_c"], o["ghi"], o["wind_m_s"], o["calm_clear"], o["elevation"])
        canopy_rh = orc.canopy_rh(canopy, o["dew_c"])
        ix = self.or_idx
        values[:, Q["air_temp_c"], ix] = canopy
        values[:, Q["air_rh_pct"], ix] = canopy_rh
        values[:, Q["soil_ec_ms_cm"], ix] = 0.4 * (25.0 / np.maximum(values[:, Q["soil_vwc_pct"], ix], 5.0)) ** 0.8
        values[:, Q["light_lux"], ix] = o["ghi"] * LUX_PER_W
        values[:, Q["par_umol_m2_s"], ix] = o["ghi"] * PAR_PER_W
        values[:, Q["co2_ppm"], ix] = 420.0
        values[:, Q["leaf_wet_pct"], ix] = np.where((canopy_rh > 95.0) | (o["rain_mm_h"] > 0), 100.0, 0.0)
        values[:, Q["wind_m_s"], ix] = o["wind_m_s"]
        values[:, Q["rain_mm"], ix] = o["rain_mm_h"] * dt / 3600.0
        self.t = float(t[-1] + dt)
        return Chunk(t, values, outdoor, quilt, vent)


_EPOCH = date(1970, 1, 1)


@dataclass
class Trace:
    """The true state over a span, for plots and tests (no sensors, no faults).

    t_s: (k,); values: (k, n_quantities, n_sites) indexed with Q and `site_ids`;
    outdoor: the first village's weather, name -> (k,); quilt_down, vent: (k, n_greenhouses).
    """

    t_s: F64
    values: F64
    outdoor: dict[str, F64]
    quilt_down: NDArray[np.bool_]
    vent: F64
    site_ids: list[str]
    greenhouses: list[str]
    orchards: list[str]

    def site(self, site_id: str, quantity: str) -> F64:
        """(k,) true values of one quantity at one site of the first village."""
        return self.values[:, Q[quantity], self.site_ids.index(site_id)]


def trace(config: Config, start_s: float, hours: float, seed: int = 0, scenario: Scenario | None = None) -> Trace:
    """Run the physics for `hours` from start_s and keep everything."""
    ph = Physics(config, seed, start_s, scenario=scenario)
    chunks = list(ph.chunks(ph.start_s + hours * 3600.0))
    outdoor = {name: np.concatenate([c.outdoor[0][name] for c in chunks]) for name in chunks[0].outdoor[0]}
    first = [s for s in ph.sites if s.village == 0]
    return Trace(
        t_s=np.concatenate([c.t_s for c in chunks]),
        values=np.concatenate([c.values for c in chunks])[:, :, : len(first)],
        outdoor=outdoor,
        quilt_down=np.concatenate([c.quilt_down for c in chunks]),
        vent=np.concatenate([c.vent for c in chunks]),
        site_ids=[s.site for s in first],
        greenhouses=[s.site for s in first if s.kind == "greenhouse"],
        orchards=[s.site for s in first if s.kind == "orchard"],
    )
