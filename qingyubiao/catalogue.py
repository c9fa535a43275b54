"""The metric catalogue: canonical names, units and physically valid ranges.

A reading outside its metric's range cannot be a true measurement (RH of 130 %,
−60 °C in a greenhouse): it is stored with the OUT_OF_RANGE flag so the sensor
fault is visible, but it never counts as a value for crop thresholds.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    unit: str
    lo: float
    hi: float
    zh: str
    en: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("air_temp_c", "°C", -50.0, 70.0, "气温", "air temperature"),
        Metric("air_rh_pct", "%", 0.0, 100.0, "空气湿度", "air humidity"),
        Metric("soil_vwc_pct", "%", 0.0, 100.0, "土壤含水量", "soil moisture"),
        Metric("soil_temp_c", "°C", -40.0, 60.0, "地温", "soil temperature"),
        Metric("soil_ec_ms_cm", "mS/cm", 0.0, 20.0, "土壤电导率", "soil EC"),
        Metric("light_lux", "lx", 0.0, 200_000.0, "光照", "light"),
        Metric("par_umol_m2_s", "µmol/m²/s", 0.0, 3_000.0, "光合有效辐射", "PAR"),
        Metric("co2_ppm", "ppm", 0.0, 10_000.0, "二氧化碳", "CO₂"),
        Metric("leaf_wet_pct", "%", 0.0, 100.0, "叶面湿度", "leaf wetness"),
        Metric("wind_m_s", "m/s", 0.0, 60.0, "风速", "wind speed"),
        Metric("rain_mm", "mm", 0.0, 500.0, "降雨量", "rainfall"),
        Metric("bat_v", "V", 0.0, 15.0, "电池电压", "battery"),
        Metric("rssi_dbm", "dBm", -150.0, 0.0, "信号强度", "signal strength"),
        Metric("snr_db", "dB", -30.0, 30.0, "信噪比", "signal-to-noise"),
    )
}

# Every device reports its own health alongside its measurements; these
# series exist for every device without being listed in the config.
HEALTH_METRICS: tuple[str, ...] = ("bat_v", "rssi_dbm", "snr_db")
