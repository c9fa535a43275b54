"""The day's layout (agronomy.layout): the crops ordered so each model's sites are a run of columns, and
the same results whatever the order — a run (a view) or scattered columns (a gathered copy)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from agronomy import daily
from agronomy.daily import Agronomy, DayResult, Hours, SiteInfo
from agronomy.layout import crop_order, hours_major, run_or_index, site_order
from agronomy.params import Params
from agronomy.risk import Risk
from tests.agronomy.conftest import APRIL_20, LAT, LON

DAY_MS = 86_400_000
CROPS = ["tomato", "cucumber", "pepper", "strawberry", "apple", "pear"]


def runs(order: list[str], group: list[str]) -> bool:
    at = sorted(order.index(c) for c in group if c in order)
    return at == list(range(at[0], at[0] + len(at)))


def test_the_village_crops_put_every_model_in_one_run(params: Params) -> None:
    groups = [params.scab.crops, params.fire_blight.crops, params.grey_mould.crops,
              params.downy_mildew.crops + params.marssonina.crops, params.powdery_mildew.crops]  # fmt: skip
    order = crop_order(CROPS, groups)
    assert sorted(order) == sorted(CROPS)
    assert all(runs(order, g) for g in groups), order


def test_groups_that_cannot_all_be_runs_get_as_many_as_can() -> None:
    # apple beside pear, cucumber and tomato at once is impossible: two of the three at most
    groups = [["apple", "pear"], ["apple", "cucumber"], ["apple", "tomato"]]
    order = crop_order(["pear", "apple", "cucumber", "tomato"], groups)
    assert sum(runs(order, g) for g in groups) == 2
    many = [f"crop{i}" for i in range(9, 0, -1)]  # beyond seven crops: by name, no search
    assert crop_order(many, [["crop1", "crop9"]]) == sorted(many)


def test_site_order_groups_by_crop_keeping_each_crops_order() -> None:
    crops = ["apple", "tomato", "apple", "pear", "tomato"]
    order = site_order(crops, [["apple", "pear"]])
    assert [crops[i] for i in order][:3] in (["apple", "apple", "pear"], ["pear", "apple", "apple"])
    assert [i for i in order if crops[i] == "apple"] == [0, 2]
    assert run_or_index(np.array([3, 4, 5])) == slice(3, 6)
    scattered = run_or_index(np.array([3, 5]))
    assert isinstance(scattered, np.ndarray) and scattered.tolist() == [3, 5]


def test_hours_major_is_the_transpose_in_the_order_given() -> None:
    x = np.arange(3000 * 24, dtype=np.float64).reshape(3000, 24)
    order = np.random.default_rng(1).permutation(3000)
    assert np.array_equal(hours_major(x, order), x[order].T)


def flatten(r: DayResult) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for f in dataclasses.fields(r):
        value = getattr(r, f.name)
        if dataclasses.is_dataclass(value):
            out |= {f"{f.name}.{k}": np.asarray(v) for k, v in vars(value).items()}
        elif isinstance(value, dict):
            out |= {f"{f.name}.{p}.{k}": np.asarray(v) for p, res in value.items() for k, v in vars(res).items()}
    return out


@pytest.mark.parametrize("start", [APRIL_20, APRIL_20 + 61 * DAY_MS])  # spring (scab, blight) and summer
def test_scattered_columns_give_the_same_results_as_runs(
    params: Params, monkeypatch: pytest.MonkeyPatch, start: int
) -> None:
    rng = np.random.default_rng(5)
    sites = [SiteInfo(CROPS[i % 6], "full_bloom" if i % 6 >= 4 else None, LAT, LON, i % 5 != 0) for i in range(240)]
    runs_model = Agronomy(sites, params)
    assert isinstance(runs_model.scab_cols, slice) and isinstance(runs_model.mould_cols, slice)
    monkeypatch.setattr(daily, "site_order", lambda crops, groups: np.arange(len(crops)))  # crops interleaved
    scattered = Agronomy(sites, params)
    assert not isinstance(scattered.scab_cols, slice) and not isinstance(scattered.mould_cols, slice)
    for pest in params.pest:
        for i in range(0, 240, 7):
            runs_model.set_biofix(pest, i, 100.0)
            scattered.set_biofix(pest, i, 100.0)
    for d in range(4):
        t = rng.uniform(4, 26, (240, 24)).round(1)
        rh = rng.choice([70.0, 89.0, 92.0, 99.0], (240, 24))
        leaf = np.where(np.arange(240)[:, None] % 4 == 0, rng.choice([0.0, 100.0], (240, 24)), np.nan)
        rain = np.where(rng.random((240, 24)) < 0.1, 0.4, 0.0)
        t[rng.random(t.shape) < 0.05] = np.nan
        h = Hours(start + d * DAY_MS, t, rh, leaf, rain)
        a, b = flatten(runs_model.day(h)), flatten(scattered.day(h))
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), (d, k)
        assert any(np.any(a[k] == Risk.HIGH) for k in a if k.endswith(".risk"))  # the days raise some risk
