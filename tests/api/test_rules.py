"""Rules and crop profiles: read by all, per-site overrides by the secretary, in the file the collector reads."""

from __future__ import annotations

import pytest

from alerts.rules import deployment_rules
from tests.api.conftest import FARMER, SECRETARY, ApiWorld

V = "/api/v1/villages/lijiahe"


def _night(rules: list[dict[str, object]], rule_id: str) -> object:
    return next(r["night"] for r in rules if r["id"] == rule_id)


def test_profiles_group_the_bundled_rules_by_crop(world: ApiWorld) -> None:
    profiles = world.client.get(f"{V}/profiles", headers=world.auth(FARMER)).json()
    assert {"tomato", "cucumber", "pepper", "strawberry", "apple", "pear"} <= set(profiles)
    assert all(r["scope"]["crop"] == ["tomato"] for r in profiles["tomato"])
    every = world.client.get(f"{V}/rules", headers=world.auth(FARMER)).json()
    assert len(every) == len(deployment_rules().rule)


def test_a_site_override_changes_the_rules_in_force_for_that_site_only(world: ApiWorld) -> None:
    before = world.client.get(f"{V}/sites/gh01/rules", headers=world.auth(FARMER)).json()
    assert _night(before, "tomato-cold-warning") == 10.0
    assert all(r["scope"]["crop"] in ([], ["tomato"]) for r in before)  # gh01 grows tomatoes
    body = {"site": "gh01", "rule": "tomato-cold-warning", "night": 8.0, "for": "45m"}
    r = world.client.put(f"{V}/rules/overrides", json=body, headers=world.auth(SECRETARY))
    assert r.status_code == 200 and "5 秒内生效" in r.json()["note"]
    after = world.client.get(f"{V}/sites/gh01/rules", headers=world.auth(FARMER)).json()
    assert _night(after, "tomato-cold-warning") == 8.0
    assert next(x["for"] for x in after if x["id"] == "tomato-cold-warning") == 45 * 60_000
    # what the collector will read from the same file
    rs = deployment_rules(world.db.parent / "rules.toml")
    rule = next(x for x in rs.rule if x.id == "tomato-cold-warning")
    gh01, gh05 = rs.for_site(rule, "gh01"), rs.for_site(rule, "gh05")
    assert gh01 is not None and gh01.night == 8.0 and gh05 is not None and gh05.night == 10.0
    listed = world.client.get(f"{V}/rules/overrides", headers=world.auth(FARMER)).json()
    assert [(o["site"], o["rule"], o["night"]) for o in listed] == [("gh01", "tomato-cold-warning", 8.0)]


def test_bad_overrides_are_refused_and_leave_the_file_valid(world: ApiWorld) -> None:
    cases = [
        ({"site": "gh01", "rule": "no-such-rule", "night": 8.0}, 404),
        ({"site": "gh99", "rule": "tomato-cold-warning", "night": 8.0}, 404),
        ({"site": "gh01", "rule": "tomato-cold-warning", "night": [1.0, 2.0]}, 400),  # a band for a "below" rule
        ({"site": "gh01", "rule": "tomato-cold-warning", "for": "soon"}, 422),
        ({"site": "gh01", "rule": "tomato-cold-warning", "clear": -1}, 422),
    ]
    for body, status in cases:
        r = world.client.put(f"{V}/rules/overrides", json=body, headers=world.auth(SECRETARY))
        assert r.status_code == status, (body, r.text)
        assert isinstance(r.json()["detail"], str) and " / " in r.json()["detail"]
    assert (
        deployment_rules(world.db.parent / "rules.toml").override == []
        if (world.db.parent / "rules.toml").exists()
        else True
    )


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('"night": NaN', "night"),  # what json.loads reads from a bare NaN
        ('"night": "NaN"', "night"),
        ('"day": Infinity', "day"),
        ('"night": "-inf"', "night"),
        ('"clear": Infinity', "clear"),
    ],
)
def test_non_finite_thresholds_are_422_and_never_reach_the_file(world: ApiWorld, raw: str, field: str) -> None:
    body = '{"site": "gh01", "rule": "tomato-cold-warning", ' + raw + "}"
    headers = {**world.auth(SECRETARY), "Content-Type": "application/json"}
    r = world.client.put(f"{V}/rules/overrides", content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert any(e["where"].startswith(f"body.{field}") and "finite" in e["problem"] for e in r.json()["errors"])
    assert not (world.db.parent / "rules.toml").exists()


@pytest.mark.parametrize("field", ["nigth", "consecutive", "for_"])
def test_unknown_override_fields_are_422_naming_the_field(world: ApiWorld, field: str) -> None:
    # a typo used to be dropped: 200 and an empty override written to the file
    body = {"site": "gh01", "rule": "tomato-cold-warning", field: 8}
    r = world.client.put(f"{V}/rules/overrides", json=body, headers=world.auth(SECRETARY))
    assert r.status_code == 422, r.text
    assert [e["where"] for e in r.json()["errors"]] == [f"body.{field}"]
    assert not (world.db.parent / "rules.toml").exists()
