"""`qyb agronomy biofix` refuses a date in the future or before this year's 1 January with the reason and
a non-zero exit, keeps a good one, and `qyb agronomy risks` prints it back with the models' risks."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.store.sqlite_risks import SqliteRiskBook
from qingyubiao.risks import DayRisk
from tests.conftest import qyb

pytestmark = pytest.mark.slow  # starts processes


def test_biofix_and_risks_on_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "qyb.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | {"QYB_DB": str(db)}
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    future = qyb("agronomy", "biofix", "or01", (today + dt.timedelta(days=2)).isoformat(), env=env, check=False)
    assert future.returncode == 2 and "in the future" in future.stderr
    old = qyb("agronomy", "biofix", "or01", f"{today.year - 1}-06-01", env=env, check=False)
    assert old.returncode == 2 and "1 January" in old.stderr
    assert "no site 'or99'" in qyb("agronomy", "biofix", "or99", today.isoformat(), env=env, check=False).stderr
    ok = qyb("agronomy", "biofix", "or01", today.isoformat(), "--by", "secretary", env=env)
    assert f"codling_moth at or01: {today}" in ok.stdout
    book = SqliteRiskBook(db)
    [b] = book.biofixes("lijiahe")
    assert (b.site, b.pest, b.day, b.set_by) == ("or01", "codling_moth", today.isoformat(), "secretary")
    book.write_risks([DayRisk("lijiahe", "or01", "apple_scab", "2026-04-20", 3, {"wet_h": 18.0, "mean_c": 12.0})])
    book.close()
    out = qyb("agronomy", "risks", env=env).stdout
    assert "or01" in out and "东沟苹果园" in out and "高 high" in out and "'wet_h': 18.0" in out


def test_agronomy_test_on_the_command_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | {"QYB_DB": str(tmp_path / "q.sqlite")}
    examples = Path(__file__).parents[2] / "alerts" / "examples" / "agronomy-cases.toml"
    ok = qyb("agronomy", "test", str(examples), env=env)
    assert "8 passed, 0 failed" in ok.stdout and "通过 ok   火疫病" in ok.stdout
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(examples.read_text(encoding="utf-8").replace('risk = "moderate"', 'risk = "high"', 1))
    failed = qyb("agronomy", "test", str(wrong), env=env, check=False)
    assert (
        failed.returncode == 1
        and "失败 FAIL 黑星病" in failed.stdout
        and "expected high, got moderate" in failed.stdout
    )
    broken = tmp_path / "broken.toml"
    broken.write_text("[[case]]\nname = 'x'\nsite = 'gh99'\n")
    error = qyb("agronomy", "test", str(broken), env=env, check=False)
    assert error.returncode == 2 and "needs site = one of" in error.stderr
