"""What a set of batches should look like once written: keys as VictoriaMetrics reports them."""

from __future__ import annotations

from ingest.store.influx import OUT_OF_RANGE_MEASUREMENT, series_tags
from qingyubiao.batch import Batch, Flag
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex

VmKey = tuple[str, str, str, int]  # (measurement_field, site, device, ts_ms)


def vm_expected(config: Config, index: SeriesIndex, batches: list[Batch]) -> dict[VmKey, float]:
    tags = series_tags(config, index)
    out: dict[VmKey, float] = {}
    for b in batches:
        for s, t, v, f in zip(b.series.tolist(), b.ts_ms.tolist(), b.value.tolist(), b.flags.tolist(), strict=True):
            measurement = OUT_OF_RANGE_MEASUREMENT if f & Flag.OUT_OF_RANGE else tags[s][0]
            key = (f"{measurement}_{index.keys[s].metric}", index.keys[s].site, index.keys[s].device, t)
            assert key not in out, "test data must not repeat a reading"
            out[key] = v
    return out
