"""Solar-greenhouse (日光温棚) physics, vectorized over all houses.

A lumped two-node heat balance per m² of floor, stepped with explicit Euler
(dt of a minute is well inside the stability limit):

- the air node (air, leaves, light structures; C ≈ 30 kJ/m²K) takes a share of
  the sunlight through the film, exchanges heat with the thermal mass, loses
  heat through the cover (film, or film + insulation quilt at night) and by
  ventilation (leakage, plus roof vents the farmer opens above a setpoint);
- the mass node (north back wall and the top soil, C ≈ 3 MJ/m²K) stores the
  rest of the sunlight by day and gives it back at night, which keeps a solar
  greenhouse 15–20 K above the outside on a winter night.

Water: vapour density from transpiration minus ventilation exchange and
condensation on the cold film; soil water content falls with transpiration
and jumps on irrigation. Each house draws its own film transmittance, quilt
habits, vent setpoint, crop vigour and irrigation rhythm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sensors_sim.weather import saturation_density, vapour_density

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

C_AIR = 30_000.0  # J/m²K, air + canopy + light structures
C_MASS = 3_000_000.0  # J/m²K, back wall + top soil
H_MASS = 8.0  # W/m²K, mass <-> air
U_FILM = 4.5  # W/m²K per floor area, single PE film
U_QUILT = 1.2  # W/m²K with the straw/cotton quilt down
SKY_NIGHT = 3.0  # W/m²K extra loss of bare film to a clear night sky
K_GROUND = 0.6  # W/m²K, mass -> deep ground
T_GROUND = 11.0  # °C, deep ground
AIR_SHARE = 0.3  # of the transmitted sunlight heating the air directly
TILT_GAIN = 1.25  # the south roof faces the low sun: more light than the horizontal
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

    tau: F64  # film transmittance (new film ≈ 0.8, old dusty film ≈ 0.55)
    quilt_up_elev: F64  # the quilt goes up when the morning sun passes this elevation (deg)
    quilt_down_elev: F64  # and down when the afternoon sun falls below this one
    vent_setpoint: F64  # °C
    crop: F64  # transpiration vigour factor
    irrigate_every_d: NDArray[np.int64]
    irrigate_phase: NDArray[np.int64]
    irrigate_hour: F64  # local solar hour
    irrigate_pct: F64  # VWC jump, percentage points
    ec_base: F64  # mS/cm at 30 % VWC
    vent_mode: NDArray[np.int8]  # index into VENT_MODES
    quilt_mode: NDArray[np.int8]  # index into QUILT_MODES

    @staticmethod
    def draw(n: int, rng: np.random.Generator) -> HouseParams:
        return HouseParams(
            tau=rng.uniform(0.58, 0.78, n),
            quilt_up_elev=rng.uniform(10.0, 16.0, n),
            quilt_down_elev=rng.uniform(12.0, 18.0, n),
            vent_setpoint=rng.uniform(25.0, 27.5, n),
            crop=rng.uniform(0.8, 1.2, n),
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
    t_mass: F64
    vapour: F64  # g/m³
    vwc: F64  # %
    quilt_down: B
    vent: F64  # opening 0–1

    @staticmethod
    def initial(n: int, t_out: float, rng: np.random.Generator) -> HouseState:
        t_mass = np.full(n, max(t_out, 0.0) * 0.6 + 12.0) + rng.normal(0, 0.5, n)
        return HouseState(
            t_air=t_mass - 2.0,
            t_mass=t_mass,
            vapour=vapour_density(t_mass - 2.0, 85.0),
            vwc=rng.uniform(26.0, 36.0, n),
            quilt_down=np.ones(n, bool),
            vent=np.zeros(n),
        )


def step(
    s: HouseState,
    p: HouseParams,
    dt: float,
    solar_h: F64,
    day: NDArray[np.int64],
    elevation: F64,
    ghi: F64,
    t_out: F64,
    vap_out: F64,
    wind: F64,
    clear: F64,
) -> F64:
    """Advance all houses by dt seconds in place, given the outdoor weather per house (shape (n,)).

    Returns the sunlight reaching the crop, W/m² per house.
    """
    # The farmer's quilt: up once the morning sun is strong enough, down in the late afternoon.
    morning = solar_h < 12.0
    up_at = p.quilt_up_elev + np.where(p.quilt_mode == 2, 15.0, 0.0)
    goes_up = elevation > up_at
    # ... only on nights cold enough to need it (MARA: cover when the outside falls below about 10 °C).
    goes_down = (elevation < p.quilt_down_elev) & (p.quilt_mode != 1) & (t_out < 15.0)
    s.quilt_down = np.where(morning, s.quilt_down & ~goes_up, s.quilt_down | goes_down)
    light_in = np.where(s.quilt_down, 0.0, p.tau * ghi * TILT_GAIN)
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
    # Bare film at night also radiates to a clear sky (about 3 W/m²K more); the quilt stops that.
    night_sky = np.where(elevation < 0.0, SKY_NIGHT * clear, 0.0)
    u_cover = np.where(s.quilt_down, U_QUILT, U_FILM + 0.3 * wind + night_sky)
    # Transpiration (g/m²/s): driven by light and the air's drying power (VPD), a little at night.
    vpd_g = np.maximum(saturation_density(s.t_air) - s.vapour, 0.0)  # g/m³ (≈ 7 g/m³ per kPa at 20 °C)
    transp = p.crop * (
        0.3 * light_in / LATENT * np.clip(vpd_g / 7.0, 0.1, 1.5) + 0.004 * np.clip(vpd_g / 3.5, 0.1, 1.0)
    )
    q_air = AIR_SHARE * light_in + H_MASS * (s.t_mass - s.t_air) - (u_cover + RHO_CP * flow) * (s.t_air - t_out)
    q_mass = (1.0 - AIR_SHARE) * light_in - transp * LATENT - H_MASS * (s.t_mass - s.t_air)
    q_mass -= K_GROUND * (s.t_mass - T_GROUND)
    s.t_air = s.t_air + dt * q_air / C_AIR
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
    """Soil at 10 cm: mostly the thermal mass, a little of the air."""
    return 0.75 * s.t_mass + 0.25 * s.t_air


def soil_ec(s: HouseState, p: HouseParams) -> F64:
    """Pore-water EC rises as the soil dries (salts concentrate), mS/cm."""
    return p.ec_base * (30.0 / np.maximum(s.vwc, 5.0)) ** 0.8


def co2_ppm(s: HouseState, light_in: F64) -> F64:
    """Night respiration builds CO₂ under the quilt; by day the crop draws it down unless vented."""
    closed = 1.0 - s.vent
    return 420.0 + closed * np.where(light_in > 5.0, -120.0 * np.minimum(light_in / 300.0, 1.0), 380.0)
