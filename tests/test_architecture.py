"""The layering in ARCHITECTURE.md, enforced: data flows one way."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["qingyubiao", "qyb", "ingest", "alerts", "api", "sensors_sim", "dashboards"]


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" in proc.stdout and " 0 broken" in proc.stdout


@pytest.mark.parametrize("name", PACKAGES)
def test_package_resolves_to_this_checkout(name: str) -> None:
    """A same-named package installed elsewhere must not shadow ours."""
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(REPO)
