"""`qyb demo` on a machine with nothing but Python: embedded broker, collector, simulated sensors."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it


def test_demo_runs_the_village_with_an_embedded_broker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qyb",
            "demo",
            "--duration",
            "12",
            "--data",
            str(tmp_path),
            "--port",
            str(free_port()),
            "--metrics-port",
            "0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(embedded)" in proc.stdout
    assert "2 twin valve controllers: gh01-valve, or01-valve" in proc.stdout  # the loop has valves to move
    stored = int(re.search(r"stopped; (\d+) readings stored", proc.stdout).group(1))  # type: ignore[union-attr]
    with sqlite3.connect(tmp_path / "qyb.sqlite") as db:
        assert db.execute("SELECT count(*) FROM reading").fetchone()[0] == stored
        devices = db.execute(
            "SELECT count(DISTINCT s.device) FROM reading r JOIN series s ON s.id = r.series"
        ).fetchone()[0]
    assert stored > 0
    assert devices >= 24  # the greenhouses at least are reporting


def test_the_demo_fits_valves_only_where_the_config_has_none() -> None:
    from qingyubiao.config import bundled_config_path, load_config
    from qyb.demo_cmd import demo_valves

    config = demo_valves(load_config(bundled_config_path()))
    v = config.village[0]
    fitted = {s.id: (s.irrigation.valve, s.irrigation.mode) for s in v.site if s.irrigation and s.irrigation.valve}
    assert fitted == {"or01": ("or01-valve", "confirm"), "gh01": ("gh01-valve", "automatic")}
    assert {d.id: d.site for d in v.device if d.id.endswith("-valve")} == {"or01-valve": "or01", "gh01-valve": "gh01"}
    assert len(v.device) == 62 and demo_valves(config) == config  # a config with valves is left as it is
