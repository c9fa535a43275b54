"""A picture of one simulated day: greenhouse air and humidity, outside air, an orchard block."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from qingyubiao.config import Config
from sensors_sim.physics import trace
from sensors_sim.scenario import Scenario

HOUSES = ("gh01", "gh03", "gh04", "gh09")


def plot_day(
    config: Config,
    start_s: float,
    path: str | Path,
    seed: int = 0,
    scenario: Scenario | None = None,
    hours: float = 24.0,
    houses: tuple[str, ...] = HOUSES,
    orchard: str = "or01",
) -> Path:
    """Draw `hours` of the twin's true state from start_s into a PNG at `path`; returns the path."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError("drawing needs matplotlib: pip install 'qingyubiao[plot]'") from None

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    village = config.village[0]
    tz = ZoneInfo(village.tz)
    tr = trace(config, start_s, hours, seed=seed, scenario=scenario)
    when = [datetime.fromtimestamp(t, tz) for t in tr.t_s]
    houses = tuple(h for h in houses if h in tr.greenhouses) or tuple(tr.greenhouses[:4])
    fig, (ax_t, ax_rh, ax_soil) = plt.subplots(3, 1, figsize=(11, 9), sharex=True, height_ratios=(3, 2, 2))
    night = tr.outdoor["elevation"] < 0
    for ax in (ax_t, ax_rh, ax_soil):
        ax.fill_between(when, 0, 1, where=night, transform=ax.get_xaxis_transform(), color="#1b2a49", alpha=0.08,
                        linewidth=0)  # fmt: skip
        ax.grid(alpha=0.3)
    colors = [plt.get_cmap("tab10")(i) for i in range(10)]
    for i, h in enumerate(houses):
        ax_t.plot(when, tr.site(h, "air_temp_c"), color=colors[i], lw=1.6, label=f"{h} air")
        ax_rh.plot(when, tr.site(h, "air_rh_pct"), color=colors[i], lw=1.4, label=f"{h}")
        ax_soil.plot(when, tr.site(h, "soil_vwc_pct"), color=colors[i], lw=1.4, label=f"{h} soil")
    ax_t.plot(when, tr.outdoor["temp_c"], color="black", lw=2.0, ls="--", label="outside air")
    if orchard in tr.orchards:
        ax_t.plot(when, tr.site(orchard, "air_temp_c"), color="#2e8b57", lw=1.8, ls="-.", label=f"{orchard} canopy")
        ax_rh.plot(when, tr.site(orchard, "air_rh_pct"), color="#2e8b57", lw=1.4, ls="-.", label=f"{orchard} canopy")
        ax_soil.plot(when, tr.site(orchard, "soil_vwc_pct"), color="#2e8b57", lw=1.6, ls="-.",
                     label=f"{orchard} soil 30 cm")  # fmt: skip
    ax_rh.plot(when, tr.outdoor["rh_pct"], color="black", lw=1.5, ls="--", label="outside")
    quilt = tr.quilt_down[:, tr.greenhouses.index(houses[0])]
    ax_t.fill_between(when, -50, 80, where=quilt, color="#8b5a2b", alpha=0.10, linewidth=0,
                      label=f"{houses[0]} quilt down")  # fmt: skip
    lo = min(tr.outdoor["temp_c"].min(), tr.values[:, 0, :].min())
    hi = tr.values[:, 0, :].max()
    ax_t.set_ylim(np.floor(lo) - 2, np.ceil(hi) + 2)
    ax_t.axhline(0, color="#4169e1", lw=0.8)
    ax_rh.set_ylim(0, 105)
    sun = ax_soil.twinx()
    sun.plot(when, tr.outdoor["ghi"], color="#f0a000", lw=1.0, alpha=0.7)
    sun.set_ylabel("sunlight W/m²", color="#b07800")
    ax_t.set_ylabel("temperature °C")
    ax_rh.set_ylabel("relative humidity %")
    ax_soil.set_ylabel("soil moisture % vol")
    for ax, where in ((ax_t, "upper right"), (ax_rh, "lower left"), (ax_soil, "center right")):
        ax.legend(loc=where, fontsize=8, ncol=3, framealpha=0.8)
    ax_soil.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=tz))
    day = when[0].strftime("%Y-%m-%d")
    what = f" — scenario {scenario.name}" if scenario else ""
    ax_t.set_title(f"Qingyubiao village twin: Lijiahe, {day}{what} (seed {seed}; shaded: night)")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
