"""Alert transitions copied to InfluxDB, so Grafana can chart and annotate them (docs/dashboards.md).

Measurement `alert`, one point per transition of a firing episode (pending and cancelled ones never paged
anyone and are left out): tags village, site, kind, severity, rule, state (firing | resolved); fields
`level` (0 resolved, 1 warning, 2 critical, 3 emergency: what a state timeline colours), `value`,
`episode`, `text_zh`, `text_en`, `late`. The copy is written after SQLite has the transitions (SQLite is
the record the API and the pages read) through the forwarder's spool, as durable as a reading.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.store.forwarder import Forwarder
from ingest.store.influx import series_key
from qingyubiao.alerting import AlertWriter, Episode, Silence, State, Transition

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
