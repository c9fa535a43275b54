"""Real InfluxDB-compatible servers on free loopback ports, in temporary folders.

- VictoriaMetrics answers InfluxDB's /api/v2/write (the write path). It keeps
  duplicate samples unless deduplication is on; `-dedup.minScrapeInterval=1ms`
  gives InfluxDB's "same series and time overwrite" at our ms precision.
- influxd 1.6 answers InfluxQL on /query (the read path); data is loaded through
  its v1 /write endpoint (1.6 has no /api/v2/write).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import free_port, wait_port


def _get(url: str, data: bytes | None = None, timeout: float = 30) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=timeout) as r:
        return bytes(r.read())


@dataclass
class VictoriaMetrics:
    binary: str
    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    args: list[str] = field(default_factory=list)  # more flags, e.g. -promscrape.config=FILE

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "vm.log", "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    f"-storageDataPath={self.folder}/data",
                    f"-httpListenAddr=127.0.0.1:{self.port}",
                    "-dedup.minScrapeInterval=1ms",
                    "-retentionPeriod=100y",
                    "-search.latencyOffset=0s",
                    "-loggerLevel=ERROR",
                    *self.args,
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_port(self.port)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: VictoriaMetrics flushes what it acknowledged (SIGKILL would lose its last seconds)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(20)
        self.proc = None

    def export(self, match: str = '{__name__=~".+"}') -> list[dict[str, Any]]:
        """Every series with its samples: [{"metric": {...}, "values": [...], "timestamps": [...]}]."""
        _get(f"{self.url}/internal/force_flush")
        query = urllib.parse.urlencode({"match[]": match})
        text = _get(f"{self.url}/api/v1/export?{query}").decode()
        return [json.loads(line) for line in text.splitlines() if line]

    def samples(self) -> dict[tuple[str, str, str, int], list[float]]:
        """(metric name, site, device, ts_ms) -> values (more than one would be a duplicate)."""
        out: dict[tuple[str, str, str, int], list[float]] = {}
        for s in self.export():
            m = s["metric"]
            assert isinstance(m, dict)
            for v, t in zip(s["values"], s["timestamps"], strict=True):
                out.setdefault((m["__name__"], m.get("site", ""), m.get("device", ""), int(t)), []).append(v)
        return out


INFLUXD_CONF = """reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{dir}/meta"
[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false
[coordinator]
[retention]
  enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
[continuous_queries]
  enabled = false
"""


@dataclass
class Influxd1:
    binary: str
    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "influxdb.conf"
        conf.write_text(INFLUXD_CONF.format(rpc=free_port(), dir=self.folder, http=self.port))
        with open(self.folder / "influxd.log", "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-config", str(conf)], stdout=subprocess.DEVNULL, stderr=log)
        wait_port(self.port, timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the port opens before the HTTP service is ready
            try:
                _get(f"{self.url}/ping")
                return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("influxd did not answer /ping")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
        self.proc = None

    def query(self, q: str, db: str | None = None) -> Any:  # InfluxDB's JSON: {"results": [{"series": ...}]}
        params = {"q": q, "epoch": "ms", **({"db": db} if db else {})}
        return json.loads(_get(f"{self.url}/query", urllib.parse.urlencode(params).encode()))

    def create_database(self, db: str) -> None:
        self.query(f'CREATE DATABASE "{db}"')

    def write_v1(self, db: str, body: str) -> None:
        """Load line protocol at ms precision through the 1.x /write endpoint."""
        _get(f"{self.url}/write?db={db}&precision=ms", body.encode())
