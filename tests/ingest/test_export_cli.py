"""`qyb export`: every good reading, backfilled or stamped on arrival included; sensor faults only on request."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest

from ingest.store.sqlite import SqliteStore
from qingyubiao.batch import Batch, Flag
from qingyubiao.series import SeriesIndex
from tests.conftest import qyb

pytestmark = pytest.mark.slow  # starts processes or a browser: `-m 'not slow'` skips it

T0 = 1_763_769_600_000  # 2025-11-22T00:00:00Z


def test_export_keeps_backfill_and_arrival_time_readings_and_drops_only_faults(
    tmp_path: Path, index: SeriesIndex
) -> None:
    db = tmp_path / "qyb.sqlite"
    s = index.find("lijiahe", "gh01-air", "air_temp_c")
    assert s is not None
    flags = [0, Flag.BUFFERED, Flag.ARRIVAL_TIME, Flag.BUFFERED | Flag.ARRIVAL_TIME, Flag.OUT_OF_RANGE]
    store = SqliteStore(db, index)
    store.write(
        Batch(
            np.full(5, s, dtype=np.int32),
            T0 + np.arange(5, dtype=np.int64) * 60_000,
            np.array([20.0, 21.0, 22.0, 23.0, 99.0]),
            np.array(flags, dtype=np.uint16),
        )
    )
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | {"QYB_DB": str(db)}
    rows = list(csv.DictReader(io.StringIO(qyb("export", "--from", "2025-11-01", env=env).stdout)))
    assert [float(r["value"]) for r in rows] == [20.0, 21.0, 22.0, 23.0]
    everything = qyb("export", "--from", "2025-11-01", "--include-flagged", env=env).stdout
    rows = list(csv.DictReader(io.StringIO(everything)))
    assert [(float(r["value"]), int(r["flags"])) for r in rows] == list(
        zip([20.0, 21.0, 22.0, 23.0, 99.0], [int(f) for f in flags], strict=True)
    )


def test_relative_times_work_as_typed_in_the_readme(tmp_path: Path, index: SeriesIndex) -> None:
    """`--from -24h` (not only `--from=-24h`); a time nobody can mean is a clear error, not a traceback."""
    db = tmp_path / "qyb.sqlite"
    SqliteStore(db, index).close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | {"QYB_DB": str(db)}
    out = qyb("export", "--from", "-24h", "--to", "-1h", env=env).stdout
    assert out.splitlines() == ["ts,village,site,device,metric,value"]
    bad = qyb("export", "--from", "-99999999999d", env=env, check=False)
    assert bad.returncode == 2 and "out of range" in bad.stderr and "Traceback" not in bad.stderr
