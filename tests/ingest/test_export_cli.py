"""`qyb export`: every good reading, backfilled or stamped on arrival included; sensor faults only on request."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.store.sqlite import SqliteStore
from qingyubiao.batch import Batch, Flag
from qingyubiao.series import SeriesIndex
from qingyubiao.spreadsheet import NAMED_COLUMNS, READING_COLUMNS
from tests.conftest import free_port, qyb

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
    assert out.splitlines() == [",".join((*READING_COLUMNS, *NAMED_COLUMNS))]
    bad = qyb("export", "--from", "-99999999999d", env=env, check=False)
    assert bad.returncode == 2 and "out of range" in bad.stderr and "Traceback" not in bad.stderr


def test_an_influxdb_that_cannot_be_reached_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | {
        "QYB_DB": str(tmp_path / "qyb.sqlite"), "QYB_READ_STORE": "influx", "QYB_INFLUX_API": "v1",
        "QYB_INFLUX_URL": f"http://127.0.0.1:{free_port()}", "QYB_INFLUX_DATABASE": "qyb"}  # fmt: skip
    r = qyb("export", env=env, check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "error: InfluxDB at http://127.0.0.1:" in r.stderr and "cannot be reached" in r.stderr


HEADER = "ts,village,site,device,metric,value,site_name,metric_name,metric_name_en,unit,time_local,time_utc"


def _two_readings(tmp_path: Path, index: SeriesIndex) -> dict[str, str]:
    """gh03's air temperature (3号棚) and soil moisture, at 08:00:00.250 village time on 22 November 2025."""
    db = tmp_path / "qyb.sqlite"
    series = [index.find("lijiahe", "gh03-air", "air_temp_c"), index.find("lijiahe", "gh03-soil", "soil_vwc_pct")]
    assert None not in series
    store = SqliteStore(db, index)
    store.write(Batch(np.array(series, dtype=np.int32), np.full(2, T0 + 250, dtype=np.int64),
                      np.array([18.5, 31.0]), np.zeros(2, dtype=np.uint16)))  # fmt: skip
    store.close()
    return {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | {"QYB_DB": str(db)}


def test_a_file_for_excel_starts_with_the_bom_and_names_sites_metrics_and_local_time(
    tmp_path: Path, index: SeriesIndex
) -> None:
    env = _two_readings(tmp_path, index)
    out = tmp_path / "readings.csv"
    qyb("export", "--from", "2025-11-01", "-o", str(out), env=env)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n")  # BOM first, then the header
    assert "3号棚".encode() in raw and "气温".encode() in raw and "°C".encode() in raw  # UTF-8, as Excel reads it
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    temp = next(r for r in rows if r["metric"] == "air_temp_c")
    assert (temp["site"], temp["site_name"], temp["metric_name"], temp["unit"]) == ("gh03", "3号棚", "气温", "°C")
    assert temp["ts"] == "2025-11-22T08:00:00.250+08:00"  # the old column keeps its meaning
    assert (temp["time_local"], temp["time_utc"]) == ("2025-11-22 08:00:00", "2025-11-22T00:00:00.250+00:00")
    soil = next(r for r in rows if r["metric"] == "soil_vwc_pct")
    assert (soil["metric_name"], soil["metric_name_en"], soil["unit"], soil["value"]) == (
        "土壤含水量", "soil moisture", "%", "31.0")  # fmt: skip
    # --no-bom for a file a script reads; standard output has none unless asked
    qyb("export", "--from", "2025-11-01", "-o", str(out), "--no-bom", env=env)
    assert out.read_bytes().startswith(HEADER.encode())
    assert qyb("export", "--from", "2025-11-01", env=env).stdout.startswith(HEADER)
    assert qyb("export", "--from", "2025-11-01", "--bom", env=env).stdout.startswith("\ufeff" + HEADER)
    bad = qyb("export", "--format", "jsonl", "--bom", env=env, check=False)
    assert bad.returncode == 2 and "CSV only" in bad.stderr and "Traceback" not in bad.stderr
    lines = qyb("export", "--from", "2025-11-01", "--format", "jsonl", env=env).stdout.splitlines()
    assert {json.loads(line)["site_name"] for line in lines} == {"3号棚"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_pipe_closed_early_ends_the_export_quietly(tmp_path: Path, index: SeriesIndex, fmt: str) -> None:
    """`qyb export | head`: a real pipe whose reader stops after three lines, while qyb still has megabytes."""
    db = tmp_path / "qyb.sqlite"
    s = index.find("lijiahe", "gh01-air", "air_temp_c")
    store = SqliteStore(db, index, synchronous="NORMAL")
    n = 50_000  # ~7 MB of CSV: far more than a pipe's buffer, so qyb is still writing when the reader goes
    store.write(Batch(np.full(n, s, dtype=np.int32), T0 + np.arange(n, dtype=np.int64) * 1000,
                      np.full(n, 20.0), np.zeros(n, dtype=np.uint16)))  # fmt: skip
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QYB_")} | {"QYB_DB": str(db)}
    proc = subprocess.Popen([sys.executable, "-m", "qyb", "export", "--from", "2025-11-01", "--format", fmt],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    head = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()  # as `head -3` exits
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(60) == 0, err
    assert len(head) == 3 and b"gh01" in head[2]
    assert err == "", err  # no BrokenPipeError traceback, no "Exception ignored" at exit
