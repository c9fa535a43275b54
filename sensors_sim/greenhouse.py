"""Solar-greenhouse (日光温棚) physics, vectorized over all houses.

A lumped three-node heat balance per m² of floor, stepped with explicit Euler
(dt of a minute is well inside the stability limit):

- sunlight enters through the south (front) roof: beam and sky light taken
  apart (weather.diffuse_fraction) and projected on the roof's own tilt, with
  the film's loss at slanting incidence, so the low winter sun that a
  horizontal surface barely catches still shines almost square onto the roof;
- the air node (air, leaves, light structures; C ≈ 30 kJ/m²K) takes a share of
  that light, exchanges heat with the sunlit surfaces, loses heat through the
  cover (film, or film + insulation quilt at night) and by ventilation
  (leakage, plus roof vents the farmer opens above a setpoint);
- the surface node (the top soil and the inner skin of the north wall, the
  layer a daily heat wave reaches; C ≈ 0.22 MJ/m²K) absorbs the rest of the
  light: it heats within hours and warms the air, as the measured wall and
  soil surfaces of solar greenhouses do (a back wall's inner face at 41.8 °C
  on a clear winter day; docs/simulator.md, "Checked against");
- the deep node (the soil below and the wall's core; C ≈ 3 MJ/m²K) takes the
  day's surplus from the surface by conduction and gives it back at night,
  which keeps a solar greenhouse 15–20 K above the outside on a winter night.

Water: vapour density from transpiration minus ventilation exchange and
condensation on the cold film; soil water content falls with transpiration
and jumps on irrigation. Each house draws its own film transmittance, roof
tilt, quilt habits, vent setpoint, crop vigour and irrigation rhythm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sensors_sim.weather import saturation_density, vapour_density

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

C_AIR = 30_000.0  # J/m²K, air + canopy + light structures
# The surface layer a daily temperature wave reaches: about ρc·d/√2 of soil with a damping depth d = √(2κ/ω)
# ≈ 0.12 m (2 MJ/m³K: 0.17 MJ/m²K), plus the inner skin of the north wall (about a third of a m² per m² of floor).
C_SURF = 220_000.0  # J/m²K
C_MASS = 3_000_000.0  # J/m²K, the deep store: soil to about 1 m and the wall's core
H_SURF = 8.0  # W/m²K, sunlit surfaces <-> air (convection from floor and wall, per m² of floor)
K_SURF = 6.0  # W/m²K, surface layer -> deep store (conduction, λ ≈ 1.2 W/mK over ≈ 0.2 m)
U_FILM = 4.5  # W/m²K per floor area, single PE film
U_QUILT = 1.2  # W/m²K with the straw/cotton quilt down
U_SHELL = 0.5  # W/m²K per floor area through the back roof, the gables, the wall's outer face and the front footing
# Long-wave loss of the warm surfaces to the sky through the bare film, linearized: 4σT³ ≈ 5.4 W/m²K × emissivity
# 0.9 × the infrared transmittance of a film wet with condensate (≈ 0.3). The quilt stops it.
SKY_LW = 1.5  # W/m²K
SKY_DEFICIT = (2.0, 20.0)  # K: the sky radiates this far below the air, overcast to clear (dry winter air)
K_GROUND = 0.6  # W/m²K, deep store -> the ground below
T_GROUND = 11.0  # °C, deep ground
AIR_SHARE = 0.3  # of the transmitted sunlight heating the air directly
# The front roof spans about 85 % of the floor's depth (the back roof and wall the rest).
FRONT_SHARE = 0.85
IAM_B = 0.1  # film's loss at slanting incidence: 1 − b(1/cos θ − 1), ASHRAE / Souka & Safwat, single glazing
IAM_DIFFUSE = 0.9  # the same for sky light (its effective incidence ≈ 59°)
HEIGHT_M = 3.0  # mean air height, m
RHO_CP = 1200.0  # J/m³K
VENT_FLOW = 0.033  # m³/s per m² floor with the vents fully open (≈ 40 air changes/h)
VENT_BAND = 2.5  # K: vents go from shut to fully open over this much above the setpoint
LATENT = 2450.0  # J/g
SOIL_DEPTH_MM = 250.0  # the moisture probe's zone
FIELD_CAPACITY = 40.0  # %
WILTING = 8.0  # %

VENT_MODES = ("auto", "stuck_closed", "stuck_open")
QUILT_MODES = ("auto", "forgotten", "late")


@dataclass
class HouseParams:
    """Per-house constants, shape (n,)."""

    tau: F64  # film transmittance at normal incidence, frame shading included (new ≈ 0.8, old dusty ≈ 0.55)
    roof_tilt: F64  # mean slope of the front roof, degrees from the horizontal
    quilt_up_elev: F64  # the quilt goes up when the morning sun passes this elevation (deg)
    quilt_down_elev: F64  # and down when the afternoon sun falls below this one
    vent_setpoint: F64  # °C
    crop: F64  # transpiration vigour factor
    night_cover: F64  # W/m²K of the cover with the quilt down (U_QUILT; less with an inner film as well)
    irrigate_every_d: NDArray[np.int64]
    irrigate_phase: NDArray[np.int64]
    irrigate_hour: F64  # local solar hour
    irrigate_pct: F64  # VWC jump, percentage points
    ec_base: F64  # mS/cm at 30 % VWC
    vent_mode: NDArray[np.int8]  # index into VENT_MODES
    quilt_mode: NDArray[np.int8]  # index into QUILT_MODES

    @staticmethod
    def draw(n: int, rng: np.random.Generator, shape_rng: np.random.Generator) -> HouseParams:
        """Habits from `rng`; the roof's shape from `shape_rng` (its own stream: what `rng` draws next stays put)."""
        return HouseParams(
            tau=rng.uniform(0.58, 0.78, n),
            roof_tilt=shape_rng.uniform(24.0, 32.0, n),
            quilt_up_elev=rng.uniform(10.0, 16.0, n),
            quilt_down_elev=rng.uniform(12.0, 18.0, n),
            vent_setpoint=rng.uniform(25.0, 27.5, n),
            crop=rng.uniform(0.8, 1.2, n),
            night_cover=np.full(n, U_QUILT),
            irrigate_every_d=rng.integers(3, 6, n),
            irrigate_phase=rng.integers(0, 6, n),
            irrigate_hour=rng.uniform(8.5, 10.0, n),
            irrigate_pct=rng.uniform(8.0, 12.0, n),
            ec_base=rng.uniform(0.9, 1.6, n),
            vent_mode=np.zeros(n, np.int8),
            quilt_mode=np.zeros(n, np.int8),
        )


@dataclass
class HouseState:
    """Per-house state, shape (n,)."""

    t_air: F64
    t_surf: F64  # the sunlit surface layer
    t_mass: F64  # the deep store
    vapour: F64  # g/m³
    vwc: F64  # %
    quilt_down: B
    vent: F64  # opening 0–1

    @staticmethod
    def initial(n: int, doy: float, rng: np.random.Generator) -> HouseState:
        """Houses on day of the year `doy`, the deep store at its seasonal level (seasonal_store_c)."""
        t_mass = np.full(n, seasonal_store_c(doy)) + rng.normal(0, 0.5, n)
        return HouseState(
            t_air=t_mass - 2.0,
            t_surf=t_mass - 1.0,
            t_mass=t_mass,
            vapour=vapour_density(t_mass - 2.0, 85.0),
            vwc=rng.uniform(26.0, 36.0, n),
            quilt_down=np.ones(n, bool),
            vent=np.zeros(n),
        )


def seasonal_store_c(doy: float) -> float:
    """Where the deep store sits on day of the year `doy`, °C: about 16 °C in mid-January, 24.5 °C from April to
    October (fitted, RMS 0.6 K, to 15 months of this model's own run for 李家河村 from March 2025, seed 1). The store
    takes weeks to settle (C_MASS over its conductances), far longer than a run's spin-up, so runs start it here."""
    return float(min(24.5, 31.4 - 15.2 * np.cos(2 * np.pi * (doy - 11.0) / 365.0)))


def roof_light(p: HouseParams, elevation: F64, ghi: F64, dhi: F64, decl: F64, lat: F64) -> F64:
    """Sunlight through the front roof, W per m² of floor, with the quilt up (shape (n,)).

    The beam falls on the south-facing roof of tilt β at incidence θ, cos θ = sin α cos β + sin β (sin α sin φ −
    sin δ) / cos φ (α elevation, φ latitude, δ declination: the solar azimuth from the south folded in; Duffie &
    Beckman §1.6); the sky light by the roof's view of the sky, (1 + cos β)/2; both through a roof area of
    FRONT_SHARE / cos β per m² of floor. At noon in mid-December at 37.5° N the sun stands 29° high: the
    horizontal gets sin 29° = 0.49 of the beam, a roof sloping 28° gets 0.84 of it.
    """
    sin_el = np.sin(np.deg2rad(elevation))
    dni = np.where(sin_el > 0.02, np.maximum(ghi - dhi, 0.0) / np.maximum(sin_el, 0.02), 0.0)
    beta = np.deg2rad(p.roof_tilt)
    phi = np.deg2rad(lat)
    cos_inc = sin_el * np.cos(beta) + np.sin(beta) * (sin_el * np.sin(phi) - np.sin(np.deg2rad(decl))) / np.cos(phi)
    cos_inc = np.clip(cos_inc, 0.0, 1.0)  # a sun behind the roof plane (summer dawn and dusk) lights the back wall
    iam = np.clip(1.0 - IAM_B * (1.0 / np.maximum(cos_inc, 1e-3) - 1.0), 0.0, 1.0)
    beam = dni * cos_inc * iam
    sky = dhi * (1.0 + np.cos(beta)) / 2.0 * IAM_DIFFUSE
    return np.asarray(p.tau * FRONT_SHARE / np.cos(beta) * (beam + sky), dtype=np.float64)


def step(
    s: HouseState,
    p: HouseParams,
    dt: float,
    solar_h: F64,
    day: NDArray[np.int64],
    elevation: F64,
    sun_in: F64,
    t_out: F64,
    vap_out: F64,
    wind: F64,
    clear: F64,
) -> F64:
    """Advance all houses by dt seconds in place, given the outdoor weather per house (shape (n,));
    `sun_in` is roof_light(...), the sunlight the house would take with its quilt up.

    Returns the sunlight reaching the crop, W/m² per house.
    """
    # The farmer's quilt: up once the morning sun is strong enough, down in the late afternoon.
    morning = solar_h < 12.0
    up_at = p.quilt_up_elev + np.where(p.quilt_mode == 2, 15.0, 0.0)
    goes_up = elevation > up_at
    # ... only on nights cold enough to need it (MARA: cover when the outside falls below about 10 °C).
    goes_down = (elevation < p.quilt_down_elev) & (p.quilt_mode != 1) & (t_out < 15.0)
    s.quilt_down = np.where(morning, s.quilt_down & ~goes_up, s.quilt_down | goes_down)
    light_in = np.where(s.quilt_down, 0.0, sun_in)
    # Vents: proportional opening above the setpoint, shut with the quilt down.
    setpoint = np.where(elevation > 0.0, p.vent_setpoint, p.vent_setpoint - 8.0)  # cooler nights in summer
    want = np.clip((s.t_air - setpoint) / VENT_BAND, 0.0, 1.0)
    # Farmers crack the vents on a humid, warm morning to let the moisture out (放风排湿).
    humid = (s.vapour > 0.9 * saturation_density(s.t_air)) & (s.t_air > p.vent_setpoint - 8.0)
    want = np.maximum(want, np.where(humid, 0.25, 0.0))
    want = np.where(s.quilt_down, 0.0, want)
    want = np.where(p.vent_mode == 1, 0.0, np.where(p.vent_mode == 2, 1.0, want))
    s.vent = want
    # Leakage in air changes per hour: the quilt seals the house at night.
    ach = np.where(s.quilt_down, 0.15 + 0.05 * wind, 0.4 + 0.25 * wind)
    leak = ach * HEIGHT_M / 3600.0  # m³/s per m²
    flow = leak + s.vent * VENT_FLOW
    u_cover = np.where(s.quilt_down, p.night_cover, U_FILM + 0.3 * wind) + U_SHELL
    t_sky = t_out - (SKY_DEFICIT[0] + (SKY_DEFICIT[1] - SKY_DEFICIT[0]) * clear)
    to_sky = np.where(s.quilt_down, 0.0, SKY_LW * (s.t_surf - t_sky))
    # Transpiration (g/m²/s): driven by light and the air's drying power (VPD), a little at night.
    vpd_g = np.maximum(saturation_density(s.t_air) - s.vapour, 0.0)  # g/m³ (≈ 7 g/m³ per kPa at 20 °C)
    transp = p.crop * (
        0.3 * light_in / LATENT * np.clip(vpd_g / 7.0, 0.1, 1.5) + 0.004 * np.clip(vpd_g / 3.5, 0.1, 1.0)
    )
    to_air = H_SURF * (s.t_surf - s.t_air)
    to_deep = K_SURF * (s.t_surf - s.t_mass)
    q_air = AIR_SHARE * light_in + to_air - (u_cover + RHO_CP * flow) * (s.t_air - t_out)
    q_surf = (1.0 - AIR_SHARE) * light_in - transp * LATENT - to_air - to_deep - to_sky
    q_mass = to_deep - K_GROUND * (s.t_mass - T_GROUND)
    s.t_air = s.t_air + dt * q_air / C_AIR
    s.t_surf = s.t_surf + dt * q_surf / C_SURF
    s.t_mass = s.t_mass + dt * q_mass / C_MASS
    # Vapour: transpiration in, ventilation out, condensation on the cold film.
    t_film = np.where(s.quilt_down, s.t_air - 0.12 * (s.t_air - t_out), s.t_air - 0.55 * (s.t_air - t_out))
    cond = 0.004 * np.maximum(s.vapour - saturation_density(t_film), 0.0)
    s.vapour = s.vapour + dt * (transp - flow * (s.vapour - vap_out) - cond) / HEIGHT_M
    s.vapour = np.clip(s.vapour, 0.1, saturation_density(s.t_air))
    # Soil water: transpiration out, drainage above field capacity, irrigation in.
    s.vwc = s.vwc - transp * dt / 1000.0 / SOIL_DEPTH_MM * 100.0
    s.vwc = s.vwc - np.maximum(s.vwc - FIELD_CAPACITY, 0.0) * (dt / 7200.0)
    # Irrigation on the house's rhythm, or earlier when the soil looks dry.
    due = ((day + p.irrigate_phase) % p.irrigate_every_d == 0) | (s.vwc < 24.0)
    irrigate = due & (np.abs(solar_h - p.irrigate_hour) < dt / 7200.0)
    s.vwc = np.where(irrigate, s.vwc + p.irrigate_pct, s.vwc)
    s.vwc = np.clip(s.vwc, WILTING - 3.0, 48.0)
    return light_in


def rh_pct(s: HouseState) -> F64:
    return np.clip(100.0 * s.vapour / saturation_density(s.t_air), 0.0, 100.0)


def soil_temp_c(s: HouseState) -> F64:
    """Soil at 10 cm: about the damping depth, between the surface layer and the deep store."""
    return 0.4 * s.t_surf + 0.6 * s.t_mass


def soil_ec(s: HouseState, p: HouseParams) -> F64:
    """Pore-water EC rises as the soil dries (salts concentrate), mS/cm."""
    return p.ec_base * (30.0 / np.maximum(s.vwc, 5.0)) ** 0.8


def co2_ppm(s: HouseState, light_in: F64) -> F64:
    """Night respiration builds CO₂ under the quilt; by day the crop draws it down unless vented."""
    closed = 1.0 - s.vent
    return 420.0 + closed * np.where(light_in > 5.0, -120.0 * np.minimum(light_in / 300.0, 1.0), 380.0)
