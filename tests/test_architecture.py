"""The layering in ARCHITECTURE.md, enforced: data flows one way."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["qingyubiao", "qyb", "ingest", "alerts", "api", "sensors_sim", "dashboards"]


@pytest.mark.slow
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


@pytest.mark.slow
def test_the_collector_and_the_api_run_without_the_demo_and_plot_extras(tmp_path: Path) -> None:
    """amqtt and matplotlib are extras (`qingyubiao[demo]`, `[plot]`): building and starting the production
    processes imports neither."""
    script = f"""
import sys
from qingyubiao.config import load_config
from qyb import cli
from qyb.system import build_api, build_collector
config = load_config(env={{"QYB_DB": {str(tmp_path / "qyb.sqlite")!r}}})
system = build_collector(config)
build_api(config)
system.close()
print(sorted({{"amqtt", "matplotlib"}} & {{m.split(".")[0] for m in sys.modules}}))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
