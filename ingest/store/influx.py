"""InfluxDB writer: columnar batches as line protocol, written through influxdb-client's WriteApi.

Schema (why: docs/design.md, "InfluxDB store"): one measurement per site kind
(`greenhouse`, `orchard`), tags `crop`, `device`, `site`, `village`, one float
field per metric, millisecond timestamps. Readings flagged out of physical
range go to the measurement `out_of_range` with the same tags, so dashboards
and aggregates never see a sensor fault as a value, yet the fault is kept.
One line per reading: lines of the same device and time merge into one point
in InfluxDB, and writing the same reading again overwrites it (idempotent).

The text is built in bulk from the batch's columns with per-series prefixes
computed once (about 1 µs per reading, against about 6 µs for a `Point`); it
is byte-for-byte what `Point` would produce (tests/influx/test_line_protocol.py).
"""

from __future__ import annotations

import gzip
import logging
from itertools import repeat
from typing import Protocol
from urllib.parse import urlencode

import numpy as np
import urllib3
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException
from numpy.typing import NDArray

from qingyubiao.batch import Batch, Flag
from qingyubiao.config import Config, InfluxSettings
from qingyubiao.retry import retry_after_s
from qingyubiao.series import SeriesIndex

log = logging.getLogger(__name__)

OUT_OF_RANGE_MEASUREMENT = "out_of_range"
PRECISION = WritePrecision.MS
GZIP_LEVEL = 1

# The escaping influxdb-client's Point applies (influxdb_client/client/write/point.py).
_ESCAPE_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_ESCAPE_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})


def escape_measurement(name: str) -> str:
    return name.translate(_ESCAPE_MEASUREMENT)


def escape_key(key: str) -> str:
    """A tag key or field key."""
    return key.translate(_ESCAPE_KEY)


def escape_tag_value(value: str) -> str:
    out = value.translate(_ESCAPE_KEY)
    return out + " " if out.endswith("\\") else out  # a trailing backslash would escape the separator


def series_key(measurement: str, tags: dict[str, str]) -> str:
    """`measurement,k=v,...`: tags sorted, empty ones left out, as Point does."""
    tag_text = "".join(
        f",{escape_key(k)}={escape_tag_value(v)}" for k, v in sorted(tags.items()) if k and escape_tag_value(v)
    )
    return f"{escape_measurement(measurement)}{tag_text}"


def line_prefix(measurement: str, tags: dict[str, str], field: str) -> str:
    """`measurement,k=v,... field=`: everything of a line but the value and the time."""
    return f"{series_key(measurement, tags)} {escape_key(field)}="


def series_tags(config: Config, index: SeriesIndex) -> list[tuple[str, dict[str, str]]]:
    """(measurement, tags) of every series, in series order."""
    sites = {(v.id, s.id): s for v in config.village for s in v.site}
    out: list[tuple[str, dict[str, str]]] = []
    for k in index.keys:
        site = sites[(k.village, k.site)]
        out.append((site.kind, {"village": k.village, "site": k.site, "device": k.device, "crop": site.crop}))
    return out


class LineEncoder:
    """Turns a Batch into line-protocol text, one line per finite reading."""

    def __init__(self, config: Config, index: SeriesIndex) -> None:
        tags = series_tags(config, index)
        metrics = [k.metric for k in index.keys]
        self._valid = np.array([line_prefix(m, t, f) for (m, t), f in zip(tags, metrics, strict=True)], dtype=object)
        self._bad = np.array(
            [line_prefix(OUT_OF_RANGE_MEASUREMENT, t, f) for (_, t), f in zip(tags, metrics, strict=True)],
            dtype=object,
        )

    def encode(self, batch: Batch) -> tuple[str, int]:
        """(text, lines). Lines are separated by '\\n'; NaN and infinities are left out, as Point leaves them."""
        finite = np.isfinite(batch.value)
        if not finite.all():
            batch = batch.take(finite)
        if not len(batch):
            return "", 0
        bad = (batch.flags & np.uint16(Flag.OUT_OF_RANGE)) != 0
        prefixes: NDArray[np.object_] = np.where(bad, self._bad[batch.series], self._valid[batch.series])
        # str(float) as Point formats it, with the redundant ".0" of whole numbers trimmed.
        values = map(str.removesuffix, map(repr, batch.value.tolist()), repeat(".0"))
        lines = list(map("{}{} {}".format, prefixes.tolist(), values, batch.ts_ms.tolist()))
        return "\n".join(lines), len(lines)


class WriteFailed(Exception):
    """A write that did not succeed. `retriable`: the same body may succeed later (the server is away, busy or
    refuses our credentials); otherwise the body itself was refused (400, 413, 422)."""

    def __init__(self, status: str, retriable: bool, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"InfluxDB write failed ({status}): {detail}")
        self.status = status  # HTTP status, or "timeout" / "network"
        self.retriable = retriable
        self.detail = detail
        self.retry_after_s = retry_after_s


def _retriable(status: int) -> bool:
    # 401/403/404: wrong token, org or bucket; the operator fixes the settings and the spool replays.
    return status in (401, 403, 404, 408, 429) or status >= 500


class InfluxWriter:
    """Synchronous writes of line-protocol bodies to /api/v2/write (InfluxDB 1.8+, 2.x, 3.x, VictoriaMetrics)."""

    def __init__(self, settings: InfluxSettings) -> None:
        if not settings.url:
            raise ValueError("deployment.influx.url (QYB_INFLUX_URL) is not set")
        if not settings.bucket:
            raise ValueError("deployment.influx.bucket (QYB_INFLUX_BUCKET) is not set")
        self.settings = settings
        self.bucket = settings.bucket
        self.org = settings.org or ""
        self._client = InfluxDBClient(
            url=settings.url,
            token=settings.token or "",
            org=self.org,
            timeout=settings.timeout_ms,
            enable_gzip=False,  # we compress ourselves, at a cheaper level (below)
        )
        if settings.gzip:
            # The client's own gzip (enable_gzip) compresses at level 9, which halves our write throughput
            # (docs/performance.md); level 1 already makes our lines ~8x smaller. This client only writes.
            self._client.api_client.set_default_header("Content-Encoding", "gzip")
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, body: bytes | str) -> None:
        """Write one body of lines at millisecond precision. Raises WriteFailed."""
        data = body.encode() if isinstance(body, str) else body
        if self.settings.gzip:
            data = gzip.compress(data, compresslevel=GZIP_LEVEL)
        try:
            # the client annotates the argument WritePrecision, but its constants (WritePrecision.MS) are str
            self._api.write(self.bucket, self.org, record=data, write_precision=PRECISION)  # type: ignore[arg-type]
        except ApiException as e:
            status = int(e.status or 0)
            retry_after = e.headers.get("Retry-After") if e.headers else None
            detail = e.body if isinstance(e.body, str) and e.body else str(e.reason)
            raise WriteFailed(str(status), _retriable(status), detail[:300], retry_after_s(retry_after)) from None
        except urllib3.exceptions.NewConnectionError as e:  # a subclass of urllib3's TimeoutError
            raise WriteFailed("network", True, str(e)[:300]) from None
        except (urllib3.exceptions.TimeoutError, TimeoutError) as e:
            raise WriteFailed("timeout", True, str(e)[:300]) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise WriteFailed("network", True, str(e)[:300]) from None

    def close(self) -> None:
        self._api.close()
        self._client.close()


class InfluxV1Writer:
    """Synchronous writes to InfluxDB 1.x's own /write (1.0-1.7 have no /api/v2/write): database and
    retention policy from `database` (or a "db/rp" bucket), a token as `Authorization: Token`, gzip at
    level 1 as above. Same contract as InfluxWriter: returns, or raises WriteFailed."""

    def __init__(self, settings: InfluxSettings) -> None:
        if not settings.url:
            raise ValueError("deployment.influx.url (QYB_INFLUX_URL) is not set")
        db, _, rp = (settings.database or settings.bucket or "").partition("/")
        if not db:
            raise ValueError("InfluxDB 1.x needs deployment.influx.database (QYB_INFLUX_DATABASE)")
        self.settings = settings
        self.url = settings.url.rstrip("/") + "/write"
        self.fields = {"db": db, "precision": "ms", **({"rp": rp} if rp else {})}
        self.headers = {"Content-Type": "text/plain; charset=utf-8"}
        if settings.token:
            self.headers["Authorization"] = f"Token {settings.token}"
        if settings.gzip:
            self.headers["Content-Encoding"] = "gzip"
        self._http = urllib3.PoolManager(maxsize=2, retries=False)
        self._timeout = urllib3.Timeout(total=settings.timeout_ms / 1000)

    def write(self, body: bytes | str) -> None:
        data = body.encode() if isinstance(body, str) else body
        if self.settings.gzip:
            data = gzip.compress(data, compresslevel=GZIP_LEVEL)
        url = f"{self.url}?{urlencode(self.fields)}"
        try:
            r = self._http.request("POST", url, body=data, headers=self.headers, timeout=self._timeout)
        except urllib3.exceptions.NewConnectionError as e:
            raise WriteFailed("network", True, str(e)[:300]) from None
        except (urllib3.exceptions.TimeoutError, TimeoutError) as e:
            raise WriteFailed("timeout", True, str(e)[:300]) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise WriteFailed("network", True, str(e)[:300]) from None
        if r.status >= 300:
            detail = r.data[:300].decode(errors="replace") or str(r.reason)
            raise WriteFailed(str(r.status), _retriable(r.status), detail, retry_after_s(r.headers.get("Retry-After")))

    def close(self) -> None:
        self._http.clear()


class LineWriter(Protocol):
    def write(self, body: bytes | str) -> None:
        """Write line protocol; raise WriteFailed."""
        ...

    def close(self) -> None: ...


def influx_writer(settings: InfluxSettings) -> LineWriter:
    """The writer for `deployment.influx.api`: v2 (/api/v2/write: 1.8+, 2.x, 3.x, VictoriaMetrics) or v1."""
    return InfluxV1Writer(settings) if settings.api == "v1" else InfluxWriter(settings)
