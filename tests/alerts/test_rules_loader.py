"""The rules loader refuses what would switch an alert off without a word, and says where."""

from __future__ import annotations

import pytest

from alerts.rules import RulesError, parse_rules

RULE = """
[[rule]]
id = "tomato-cold"
kind = "air_temp_low"
severity = "warning"
metric = "air_temp_c"
when = "below"
"""


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("day = nan\n", "day"),
        ("day = 6.0\nnight = inf\n", "night"),
        ("night = -inf\n", "night"),
        ("day = 6.0\nclear = inf\n", "clear"),
        ("day = 6.0\nfor = inf\n", "for"),  # a number of seconds: round(inf) used to escape as OverflowError
    ],
)
def test_non_finite_numbers_in_a_rule_are_a_rules_error_naming_file_rule_and_field(extra: str, field: str) -> None:
    with pytest.raises(RulesError) as e:
        parse_rules(RULE + extra, "lijiahe.toml")
    text = str(e.value)
    assert text.startswith("lijiahe.toml: rule 'tomato-cold'") and f": {field}:" in text and "finite" in text


def test_a_non_finite_band_edge_is_named_not_reported_as_a_missing_number() -> None:
    band = RULE.replace('"below"', '"outside"') + "day = [1.0, nan]\n"
    with pytest.raises(RulesError, match=r"rule 'tomato-cold' \(rule\.0\): day\.1: Input should be a finite number"):
        parse_rules(band, "lijiahe.toml")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_override_numbers_are_refused(value: str) -> None:
    text = RULE + f'day = 6.0\n\n[[override]]\nsite = "gh01"\nrule = "tomato-cold"\nnight = {value}\n'
    with pytest.raises(RulesError, match=r"override of rule 'tomato-cold' for site 'gh01' \(override\.0\): night: "):
        parse_rules(text, "lijiahe.toml")


def test_finite_numbers_still_load() -> None:
    rs = parse_rules(RULE + 'day = 6.0\nclear = 1.0\nfor = 600\n\n[[override]]\nsite = "gh01"\nrule = "tomato-cold"\n'
                     "night = 4.5\n", "lijiahe.toml")  # fmt: skip
    assert rs.rule[0].for_ == 600_000 and rs.for_site(rs.rule[0], "gh01").night == 4.5  # type: ignore[union-attr]
