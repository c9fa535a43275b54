"""Orchard blocks: canopy air with radiation frost, soil water and temperature at depth.

Canopy air (sensor at 1.5 m in the trees) follows the outdoor air, a little
warmer in sunshine and colder on clear, calm nights when the ground and
leaves radiate to the sky; blocks in gullies (沟) pool cold air and are
colder still. Soil at 30 cm: water falls with evapotranspiration and rises
with rain and irrigation; temperature is the outdoor air smoothed over
about two days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sensors_sim.weather import es_kpa

F64 = NDArray[np.float64]

ROOT_ZONE_MM = 600.0
SOIL_TAU_S = 2.0 * 86_400.0
FIELD_CAPACITY = 32.0  # % (loess)
IRRIGATE_BELOW = 14.0  # % VWC at 30 cm: the cooperative waters the block (drip, about 30 mm)
IRRIGATE_MM = 30.0
IRRIGATE_HOUR = 8.0  # local solar time


@dataclass
class BlockParams:
    """Per-block constants, shape (n,)."""

    rad_cool: F64  # K of extra night cooling under a clear, calm sky
    pooling: F64  # K of cold-air pooling (gully blocks)
    kc: F64  # crop coefficient for evapotranspiration
    field_capacity: F64  # % VWC the soil holds against drainage

    @staticmethod
    def draw(names: list[str], rng: np.random.Generator) -> BlockParams:
        n = len(names)
        gully = np.array(["沟" in name for name in names], dtype=bool)
        return BlockParams(
            rad_cool=rng.uniform(1.6, 2.4, n),
            pooling=np.where(gully, rng.uniform(0.6, 1.2, n), 0.0),
            kc=rng.uniform(0.7, 1.0, n),
            field_capacity=np.full(n, FIELD_CAPACITY),
        )


@dataclass
class BlockState:
    vwc: F64
    soil_t: F64

    @staticmethod
    def initial(n: int, t_out: float, rng: np.random.Generator) -> BlockState:
        return BlockState(vwc=rng.uniform(16.0, 24.0, n), soil_t=np.full(n, t_out) + rng.normal(0, 0.3, n))


def canopy_temp(p: BlockParams, t_out: F64, ghi: F64, wind: F64, calm_clear: F64, elevation: F64) -> F64:
    """Air temperature at canopy height, °C (broadcasts over blocks)."""
    night = np.clip(-elevation / 6.0 + 0.5, 0.0, 1.0)  # fades in around sunset
    cooling = (p.rad_cool + p.pooling) * calm_clear * night / (1.0 + 0.4 * wind)
    return t_out + 0.0015 * ghi - cooling


def canopy_rh(t_canopy: F64, dew_c: F64) -> F64:
    """Relative humidity at canopy height: the outdoor dew point at the (colder) canopy air, %."""
    return np.clip(100.0 * es_kpa(np.minimum(dew_c, t_canopy)) / es_kpa(t_canopy), 0.0, 100.0)


def irrigation_mm(s: BlockState, solar_h: float, dt: float) -> F64:
    """Water the cooperative gives each block in this step, mm: a morning drip when the soil is dry."""
    morning = abs(solar_h - IRRIGATE_HOUR) < dt / 7200.0
    return np.where((s.vwc < IRRIGATE_BELOW) & morning, IRRIGATE_MM, 0.0)


def step(s: BlockState, p: BlockParams, dt: float, t_out: F64, ghi: F64, rain_mm_h: F64, irrigate: F64) -> None:
    """Advance soil water (%) and soil temperature at 30 cm by dt seconds; `irrigate` in mm over this step."""
    et_mm = p.kc * 0.35 * ghi / 2450.0 * dt / 1000.0  # 0.35 of the sunshine goes into evaporation
    dryness = np.clip((s.vwc - 6.0) / (p.field_capacity - 6.0), 0.0, 1.0)  # dry soil gives less water
    infil = 0.8 * rain_mm_h * dt / 3600.0 + irrigate
    s.vwc = s.vwc + (infil - et_mm * dryness) / ROOT_ZONE_MM * 100.0
    s.vwc = s.vwc - np.maximum(s.vwc - p.field_capacity, 0.0) * (dt / 21_600.0)
    s.vwc = np.clip(s.vwc, 3.0, 45.0)
    s.soil_t = s.soil_t + (t_out - s.soil_t) * dt / SOIL_TAU_S
