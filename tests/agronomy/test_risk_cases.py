"""`qyb agronomy test`'s runner: the example cases (from the models' sources) pass, a wrong expectation
fails with what was found, and a malformed file is a clear error naming the case."""

from __future__ import annotations

from pathlib import Path

import pytest

from agronomy.params import Params
from alerts.risktest import run_risk_cases
from alerts.rules import RulesError
from qingyubiao.config import load_config

EXAMPLES = Path(__file__).parents[2] / "alerts" / "examples" / "agronomy-cases.toml"

CASE = """
[[case]]
name = "downy"
site = "gh02"
start = "2026-03-02"
[case.hourly]
air_temp_c = "16x24"
air_rh_pct = "60x8 97x{wet} 60x10"
[[case.expect]]
day = "2026-03-02"
model = "downy_mildew"
risk = "{risk}"
detail = {{ wet_h = {wet} }}
"""


def test_the_example_cases_pass(params: Params) -> None:
    results = run_risk_cases(load_config(), params, EXAMPLES.read_text(encoding="utf-8"))
    assert len(results) >= 6 and sum(r.checks for r in results) >= 10
    assert [r.failures for r in results if not r.ok] == []
    models = {
        line.split('"')[1] for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.startswith("model")
    }
    assert {"apple_scab", "fire_blight", "marssonina", "grey_mould", "downy_mildew", "codling_moth"} <= models


def test_a_wrong_expectation_fails_and_says_what_was_found(params: Params) -> None:
    [ok] = run_risk_cases(load_config(), params, CASE.format(wet=6, risk="high"))
    assert ok.ok and ok.checks == 1
    [bad] = run_risk_cases(load_config(), params, CASE.format(wet=5, risk="high"))  # 5 h at 16 °C: none
    assert bad.failures[0].startswith("2026-03-02 downy_mildew: expected high, got none")
    assert bad.failures[1] == "2026-03-02 downy_mildew: expected wet_h = 5, got 0.0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[case]]\\nname='x'\\nsite='gh99'\\nstart='2026-03-02'", "needs site = one of"),
        ("[[case]]\\nname='x'\\nsite='gh02'\\nstart='March'", "needs start = a village date"),
        ("[[case]]\\nname='x'\\nsite='gh02'\\nstart='2026-03-02'\\n[case.hourly]\\nsoil='1'", "unknown quantities"),
        ("[[case]]\\nname='x'\\nsite='gh02'\\nstart='2026-03-02'\\n[case.hourly]\\nair_temp_c='1 a'", "cannot read"),
        (CASE.format(wet=6, risk="severe"), "risk must be one of"),
        (CASE.format(wet=6, risk="high").replace("downy_mildew", "rust"), "model must be one of"),
        ("x = ", "not valid TOML"),
        ("", "no [[case]] tables"),
    ],
)
def test_a_malformed_file_is_a_clear_error(params: Params, text: str, message: str) -> None:
    with pytest.raises(RulesError, match=message.replace("[", r"\[")):
        run_risk_cases(load_config(), params, text.replace("\\n", "\n"), "cases.toml")
