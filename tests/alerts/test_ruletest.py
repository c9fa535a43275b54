"""`qyb alerts test RULES CASES`: a technician checks a rule change before deploying it."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.ruletest import expand
from qyb.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "alerts" / "examples"


def test_value_notation():
    assert expand("1 2x3 _ 4.5") == [1.0, 2.0, 2.0, 2.0, None, 4.5]


def test_the_example_cases_pass(capsys):
    rc = main(["alerts", "test", str(EXAMPLES / "lijiahe-overrides.toml"), str(EXAMPLES / "cases.toml")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "2 passed, 0 failed" in out


def test_a_wrong_expectation_fails_with_the_reason(tmp_path, capsys):
    cases = (EXAMPLES / "cases.toml").read_text(encoding="utf-8").replace('firing = ["gh01"]', 'firing = ["gh05"]')
    (tmp_path / "cases.toml").write_text(cases, encoding="utf-8")
    rc = main(["alerts", "test", str(EXAMPLES / "lijiahe-overrides.toml"), str(tmp_path / "cases.toml")])
    out = capsys.readouterr().out
    assert rc == 1
    assert "at 35m: tomato-cold-warning: expected firing at ['gh05'], got ['gh01']" in out


def test_without_the_override_gh05_would_warn_too(tmp_path, capsys):
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    rc = main(["alerts", "test", str(tmp_path / "none.toml"), str(EXAMPLES / "cases.toml")])
    out = capsys.readouterr().out
    assert rc == 1 and "got ['gh01', 'gh05']" in out


def test_a_broken_rules_file_is_reported_not_a_traceback(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text('[[rule]]\nid = "x"\nkind = "nope"\n', encoding="utf-8")
    rc = main(["alerts", "test", str(tmp_path / "bad.toml"), str(EXAMPLES / "cases.toml")])
    assert rc == 2 and "rule.0" in capsys.readouterr().err


def test_rules_in_force_show_the_site_override(monkeypatch, capsys):
    monkeypatch.setenv("QYB_ALERT_RULES", str(EXAMPLES / "lijiahe-overrides.toml"))
    assert main(["alerts", "rules", "--site", "gh05"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "tomato-cold-warning" in x)
    assert "night 8" in line and "day 12" in line


@pytest.mark.parametrize("site", ["gh24"])
def test_a_site_can_switch_a_rule_off(monkeypatch, capsys, site):
    monkeypatch.setenv("QYB_ALERT_RULES", str(EXAMPLES / "lijiahe-overrides.toml"))
    assert main(["alerts", "rules", "--site", site]) == 0
    out = capsys.readouterr().out
    assert "tomato-hot-warning" not in out and "tomato-hot-critical" in out
