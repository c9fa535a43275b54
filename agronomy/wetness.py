"""Hourly leaf wetness: measured where a site has a leaf-wetness sensor, estimated from humidity otherwise.

Each hour is WET, DRY or UNKNOWN (no sensor reading that hour). The estimate (docs/agronomy.md): RH at
or above `rh_wet_pct`; at night also an air temperature within `night_dew_margin_c` of the dew point
(leaves under a clear sky are colder than the air); any hour with rain is wet.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from agronomy.params import WetnessParams
from qingyubiao.humidity import dew_point_c

WET, DRY, UNKNOWN = 1, 0, -1

F64 = NDArray[np.float64]


def wetness(
    temp_c: F64, rh_pct: F64, leaf_wet_pct: F64, rain_mm: F64, night: NDArray[np.bool_], p: WetnessParams
) -> NDArray[np.int8]:
    """WET / DRY / UNKNOWN per (site, hour); NaN marks an hour without a reading."""
    measured = ~np.isnan(leaf_wet_pct)
    can_estimate = ~np.isnan(rh_pct) & ~np.isnan(temp_c)
    rained = np.nan_to_num(rain_mm, nan=0.0) > 0.0
    with np.errstate(invalid="ignore"):
        margin = temp_c - dew_point_c(temp_c, rh_pct)
        estimated = (rh_pct >= p.rh_wet_pct) | (night & (margin <= p.night_dew_margin_c))
        wet = np.where(measured, leaf_wet_pct >= p.leaf_wet_pct, (can_estimate & estimated) | rained)
    known = measured | can_estimate | rained
    return np.where(known, wet.astype(np.int8), np.int8(UNKNOWN)).astype(np.int8)
