"""The rules file as the running collector watches it (alerts/rulebook.py `RulesFile`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from alerts.rulebook import RulesFile

OVERRIDE = '[[override]]\nsite = "gh03"\nrule = "pepper-hot-critical"\nday = 30.0\n'


def _touch(path: Path, text: str, bump_ns: int) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump_ns))  # coarse file-system clocks


def test_a_change_is_seen_once_and_a_broken_file_keeps_the_rules_in_force(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rules.toml"
    rules = RulesFile(str(path))
    assert rules.load().override == [] and rules.changed() is None  # no file yet: the bundled profiles
    _touch(path, OVERRIDE, 1_000_000)
    changed = rules.changed()
    assert changed is not None and [(o.site, o.day) for o in changed.override] == [("gh03", 30.0)]
    assert rules.changed() is None  # seen
    _touch(path, OVERRIDE + "day = [oops\n", 2_000_000)
    with caplog.at_level(logging.ERROR):
        assert rules.changed() is None
    assert "cannot be used, the previous rules stay in force" in caplog.text
    _touch(path, OVERRIDE.replace("30.0", "31.0"), 3_000_000)
    fixed = rules.changed()
    assert fixed is not None and fixed.override[0].day == 31.0
    path.unlink()
    gone = rules.changed()
    assert gone is not None and gone.override == []  # the file removed: back to the bundled profiles
