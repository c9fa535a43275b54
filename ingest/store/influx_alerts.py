"""Alert transitions and agronomy risks copied to InfluxDB, so Grafana can chart and annotate them
(docs/dashboards.md).

Measurement `alert`, one point per transition of a firing episode (pending and cancelled ones never paged
anyone and are left out): tags village, site, kind, severity, rule, state (firing | resolved); fields
`level` (0 resolved, 1 warning, 2 critical, 3 emergency: what a state timeline colours), `value`,
`episode`, `text_zh`, `text_en`, `late`. The copy is written after SQLite has the transitions (SQLite is
the record the API and the pages read) through the forwarder's spool, as durable as a reading.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from ingest.store.forwarder import Forwarder
from ingest.store.influx import series_key
from qingyubiao.alerting import AlertWriter, Episode, Silence, State, Transition
from qingyubiao.config import Config
from qingyubiao.risks import DayRisk

ALERT_MEASUREMENT = "alert"
LEVELS = {"warning": 1, "critical": 2, "emergency": 3}


def _text(s: str) -> str:
    """A string field's value in line protocol: quoted, with quotes and backslashes escaped."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def alert_line(t: Transition) -> str | None:
    if t.state not in (State.FIRING, State.RESOLVED):
        return None
    tags = {"village": t.village, "site": t.site or "-", "kind": t.kind, "severity": t.severity, "rule": t.rule,
            "state": t.state}  # fmt: skip
    level = LEVELS.get(t.severity, 1) if t.state == State.FIRING else 0
    fields = [f"level={level}i"]
    if t.value == t.value:  # not NaN: line protocol has no NaN
        fields.append(f"value={t.value!r}")
    fields += [f"episode={_text(t.episode)}", f"text_zh={_text(t.text_zh)}", f"text_en={_text(t.text_en)}",
               f"late={'true' if t.late else 'false'}"]  # fmt: skip
    return f"{series_key(ALERT_MEASUREMENT, tags)} {','.join(fields)} {t.ts_ms}"


class InfluxAlertCopy:
    """An AlertWriter that passes everything to the store and spools the transitions for InfluxDB."""

    def __init__(self, inner: AlertWriter, forwarder: Forwarder) -> None:
        self.inner, self.forwarder = inner, forwarder

    def record(
        self, transitions: Sequence[Transition], episodes: Sequence[Episode], snapshot: bytes | None, ts_ms: int
    ) -> None:
        self.inner.record(transitions, episodes, snapshot, ts_ms)
        lines = [x for x in map(alert_line, transitions) if x is not None]
        self.forwarder.handle_lines("\n".join(lines), len(lines))

    def acknowledge(self, episode: str, who: str, ts_ms: int) -> bool:
        return self.inner.acknowledge(episode, who, ts_ms)

    def save_silence(self, silence: Silence) -> None:
        self.inner.save_silence(silence)

    def load_snapshot(self) -> bytes | None:
        return self.inner.load_snapshot()


RISK_MEASUREMENT = "risk"
RECENT_DAYS = 7  # each run rewrites the last week (a backfilled day changes it); older days stay as written


class InfluxRiskCopy:
    """The agronomy risks of the newest days, copied to InfluxDB after the risk book has them: measurement
    `risk`, tags village, site, model, field `level` (-2 no data, -1 unknown, 0 none … 3 high), at the
    village day's local midnight (a point per site, model and day; rewriting it overwrites)."""

    def __init__(self, config: Config, forwarder: Forwarder) -> None:
        self.tz = {v.id: ZoneInfo(v.tz) for v in config.village}
        self.forwarder = forwarder

    def __call__(self, rows: Sequence[DayRisk]) -> None:
        if not rows:
            return
        since = (dt.date.fromisoformat(max(x.day for x in rows)) - dt.timedelta(days=RECENT_DAYS - 1)).isoformat()
        lines = [self.line(x) for x in rows if x.day >= since and x.village in self.tz]
        self.forwarder.handle_lines("\n".join(lines), len(lines))

    def line(self, x: DayRisk) -> str:
        d = dt.date.fromisoformat(x.day)
        midnight = int(dt.datetime(d.year, d.month, d.day, tzinfo=self.tz[x.village]).timestamp() * 1000)
        tags = {"village": x.village, "site": x.site, "model": x.model}
        return f"{series_key(RISK_MEASUREMENT, tags)} level={int(x.risk)}i {midnight}"
