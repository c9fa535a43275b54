"""The twin's agronomy scenarios say what the models should find: run the scenario's weather through the
twin's physics, keep what each site's configured sensors measure, and the models give the stated risk
on the stated day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from agronomy.daily import Agronomy, Hours, SiteInfo
from agronomy.params import load_params
from agronomy.risk import Risk
from qingyubiao.config import load_config
from sensors_sim.physics import Physics, Q
from sensors_sim.scenario import load, names

SCENARIOS = [n for n in names() if load(n).expect_risk]
QUANTITIES = ("air_temp_c", "air_rh_pct", "leaf_wet_pct", "rain_mm")


def test_there_are_agronomy_scenarios() -> None:
    assert {"scab-infection", "grey-mould-week"} <= set(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_models_find_what_the_scenario_states(name: str) -> None:
    scenario = load(name)
    config = scenario.apply_stages(load_config())
    village = config.village[0]
    physics = Physics(config, 0, scenario.start_s, 60.0, scenario, 6 * 3600.0)
    values = np.concatenate([c.values for c in physics.chunks(scenario.end_s)])  # minutes × quantities × sites
    hours = values.shape[0] // 60
    sites = [s for s in physics.sites if s.village == 0]
    assert [s.site for s in sites] == [s.id for s in village.site]  # the physics' site order is the config's
    measured = {s.id: {m for d in village.device if d.site == s.id for m in d.metrics} for s in village.site}
    arrays = []
    for q in QUANTITIES:
        per_site = values[: hours * 60, Q[q], : len(sites)].reshape(hours, 60, -1)
        hourly = per_site.sum(axis=1) if q == "rain_mm" else per_site.mean(axis=1)
        # only what a site's own sensors measure reaches the models
        keep = np.array([q in measured[s.site] for s in sites])
        arrays.append(np.where(keep[None, :], hourly, np.nan).T)
    info = [SiteInfo(s.crop, s.stage, village.lat, village.lon, True) for s in village.site]
    model = Agronomy(info, load_params())
    position = {s.id: i for i, s in enumerate(village.site)}
    start = dt.datetime.fromtimestamp(scenario.start_s, dt.UTC)
    got: dict[tuple[str, str], np.ndarray] = {}
    for d in range(hours // 24):
        day = model.day(
            Hours(int(scenario.start_s * 1000) + d * 86_400_000, *(a[:, d * 24 : (d + 1) * 24] for a in arrays))
        )
        date = (start + dt.timedelta(days=d)).astimezone(ZoneInfo(village.tz)).date().isoformat()
        for model_name, result in (("apple_scab", day.scab), ("fire_blight", day.fire_blight),
                                   ("grey_mould", day.grey_mould), ("downy_mildew", day.downy_mildew)):  # fmt: skip
            got[(date, model_name)] = result.risk
    for e in scenario.expect_risk:
        assert Risk(int(got[(e.day, e.model)][position[e.site]])).name.lower() == e.risk, e
