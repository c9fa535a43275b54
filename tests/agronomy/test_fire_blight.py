"""Fire blight blossom infection, Cougarblight 98C (Smith 1999, Acta Hort. 489: 429-436): four-day
degree-hours above 15.5 °C and a wetting of two hours or more. The class limits per orchard history are
the table of Pessl Instruments' FieldClimate documentation, "Fire Blight: graphical presentation and
practical use of the model" (http://docs.metos.at/graphical+presentation+and+practical+use+of+the+model)."""

from __future__ import annotations

import numpy as np
import pytest

from agronomy.daily import Agronomy
from agronomy.fire_blight import CLASS_NAMES, degree_hours
from agronomy.params import Params
from agronomy.risk import Risk
from tests.agronomy.conftest import APRIL_20, hours, orchard

DAY_MS = 86_400_000
# history: (low, moderate, high, extreme) as the table writes them
TABLE = {
    "none_two_years": ("0-350", "350-500", "500-800", "800+"),
    "area_two_seasons": ("0-300", "300-500", "500-750", "750+"),
    "area_last_year": ("0-250", "250-450", "450-700", "700+"),
    "orchard_last_year": ("0-200", "200-350", "350-500", "500+"),
    "active_cankers": ("0-100", "100-200", "200-350", "350+"),
}


def lower_edges(row: tuple[str, ...]) -> list[float]:
    return [float(cell.split("-")[0].rstrip("+")) for cell in row]


def with_history(params: Params, history: str) -> Params:
    return params.model_copy(update={"fire_blight": params.fire_blight.model_copy(update={"history": history})})


def constant_days(dh_per_day: float) -> np.ndarray:
    """A day whose hours sit so that it adds `dh_per_day` degree-hours: 12 hours above 15.5 °C, 12 below."""
    t = np.full(24, 10.0)
    t[8:20] = 15.5 + dh_per_day / 12
    return t


def test_the_limits_are_the_published_table(params: Params) -> None:
    limits = params.fire_blight.limits
    assert set(limits) == set(TABLE)
    for history, row in TABLE.items():
        assert [0.0, *limits[history]] == lower_edges(row), history


@pytest.mark.parametrize("history", sorted(TABLE))
def test_every_row_of_the_table_at_its_edges(params: Params, history: str) -> None:
    """Four equal wetted days just under and at each edge give the class the table names."""
    edges = lower_edges(TABLE[history])[1:]
    sums = [e - 1.0 for e in edges] + edges + [edges[-1] * 1.5]
    want = [0, 1, 2, 1, 2, 3, 3]  # just under each edge, at each edge, above the last
    model = Agronomy(orchard(len(sums), stage="full_bloom"), with_history(params, history))
    rh = np.full((len(sums), 24), 60.0)
    rh[:, 2:5] = 95.0  # three wet hours before dawn every day
    for d in range(4):
        temps = np.stack([constant_days(s / 4) for s in sums])
        r = model.day(hours(temps, rh=rh, start_ms=APRIL_20 + d * DAY_MS)).fire_blight
    assert r.dh4 == pytest.approx(sums)
    assert [CLASS_NAMES[c] for c in r.cls] == [CLASS_NAMES[c] for c in want]
    assert r.risk.tolist() == [[Risk.LOW, Risk.MODERATE, Risk.HIGH, Risk.HIGH][c] for c in want]


def test_degree_hours_worked_by_hand(params: Params) -> None:
    # hours at 14, 16, 20.5 and 25 °C add 0 + 0.5 + 5 + 9.5 = 15 degree-hours; a missing hour adds none
    t = np.array([[14.0], [16.0], [20.5], [25.0], [np.nan]])  # hours × one site
    assert degree_hours(t, params.fire_blight.base_c).tolist() == [15.0]


def test_the_sum_is_four_days_not_the_season(params: Params) -> None:
    model = Agronomy(orchard(1), params)
    rh = np.full((1, 24), 95.0)
    warm = constant_days(200.0)[None, :]  # 200 a day: 800 on the fourth day, extreme
    cold = np.full((1, 24), 8.0)
    got = [model.day(hours(day, rh=rh, start_ms=APRIL_20 + d * DAY_MS)).fire_blight
           for d, day in enumerate([warm, warm, warm, warm, cold, cold, cold, cold])]  # fmt: skip
    assert [float(r.dh4[0]) for r in got] == pytest.approx([200, 400, 600, 800, 600, 400, 200, 0])
    assert [int(r.cls[0]) for r in got] == [0, 1, 2, 3, 2, 1, 0, 0]


def test_no_wetting_no_infection_and_a_short_wetting_is_not_enough(params: Params) -> None:
    model = Agronomy(orchard(3), params)
    rh = np.full((3, 24), 60.0)
    rh[1, 5] = 95.0  # one wet hour: less than the two the model needs
    rh[2, 5:7] = 95.0  # two in a row
    for d in range(4):
        r = model.day(hours(np.tile(constant_days(250.0), (3, 1)), rh=rh, start_ms=APRIL_20 + d * DAY_MS))
    assert r.fire_blight.cls.tolist() == [3, 3, 3]
    assert r.fire_blight.risk.tolist() == [Risk.LOW, Risk.LOW, Risk.HIGH]


def test_only_open_flowers_and_a_humidity_sensor_and_enough_hours(params: Params) -> None:
    sites = [*orchard(1), *orchard(1, stage="tight_cluster"), *orchard(1, humidity=False), *orchard(1),
             *orchard(1, crop="tomato")]  # fmt: skip
    model = Agronomy(sites, params)
    temps = np.tile(constant_days(10.0), (5, 1))
    temps[3, :10] = np.nan  # ten hours without a temperature, more than the 8 the four days tolerate
    got = model.day(hours(temps, rh=np.full((5, 24), 60.0))).fire_blight.risk.tolist()
    assert got == [Risk.LOW, Risk.NONE, Risk.NO_DATA, Risk.UNKNOWN, Risk.NONE]


def test_a_high_risk_found_despite_a_gap_is_kept(params: Params) -> None:
    model = Agronomy(orchard(1), params)
    rh = np.full((1, 24), 95.0)
    for d in range(3):
        model.day(hours(constant_days(300.0)[None, :], rh=rh, start_ms=APRIL_20 + d * DAY_MS))
    t = constant_days(300.0)[None, :]
    t[0, 20:] = np.nan  # the sensor goes quiet in the evening
    t[0, :8] = np.nan
    r = model.day(hours(t, rh=rh, start_ms=APRIL_20 + 3 * DAY_MS)).fire_blight
    assert r.cls[0] == 3 and r.risk[0] == Risk.HIGH


def test_the_state_survives_a_restart(params: Params) -> None:
    first, again = Agronomy(orchard(1), params), Agronomy(orchard(1), params)
    rh = np.full((1, 24), 95.0)
    for d in range(3):
        first.day(hours(constant_days(150.0)[None, :], rh=rh, start_ms=APRIL_20 + d * DAY_MS))
    again.restore(first.snapshot())
    day4 = hours(constant_days(150.0)[None, :], rh=rh, start_ms=APRIL_20 + 3 * DAY_MS)
    assert again.day(day4).fire_blight.dh4[0] == pytest.approx(600.0)
