"""Rule unit tests in the style of `promtool test rules`: input series at fixed times → expected alerts.

A cases file (TOML):

    [[case]]
    name = "tomato: a cold night"
    start = "2025-11-22T22:00:00+08:00"   # village time of the first value
    interval = "1m"                       # time between values

    [[case.series]]
    device = "gh01-air"
    metric = "air_temp_c"
    values = "12 11 9.5x40 11.5x3"        # "x40" repeats a value 40 times; "_" is a missing reading

    [[case.expect]]
    at = "30m"                            # after the readings up to start + 30m
    rule = "tomato-cold-warning"          # or kind = "air_temp_low" (and optionally severity)
    firing = ["gh01"]                     # exactly these sites are firing
    pending = []                          # optional: exactly these are pending

The rules under test are the bundled crop profiles plus the rules file given
(its rules replace bundled ones with the same id; its overrides apply).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.manager import AlertManager
from alerts.plan import compile_plan
from alerts.rules import RulesError, RuleSet, duration_ms
from qingyubiao.alerting import State
from qingyubiao.batch import BatchBuilder
from qingyubiao.config import Config
from qingyubiao.series import SeriesIndex


@dataclass
class CaseResult:
    name: str
    failures: list[str] = field(default_factory=list)
    checks: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


def expand(values: str) -> list[float | None]:
    """'1 2x3 _ 4' → [1, 2, 2, 2, None, 4]."""
    out: list[float | None] = []
    for tok in values.split():
        word, _, times = tok.partition("x")
        n = int(times) if times else 1
        if word == "_":
            out += [None] * n
            continue
        try:
            out += [float(word)] * n
        except ValueError:
            raise RulesError(f"cannot read the value {tok!r}: use numbers, '_' (missing) or 12.5x30 (repeat)") from None
    return out


def run_cases(config: Config, rules: RuleSet, cases_text: str, name: str = "<cases>") -> list[CaseResult]:
    try:
        raw = tomllib.loads(cases_text)
    except tomllib.TOMLDecodeError as e:
        raise RulesError(f"{name}: not valid TOML: {e}") from None
    index = SeriesIndex(config)
    plan = compile_plan(config, rules, index)
    tz = config.village[0].tz
    return [_run_case(config, plan, index, case, tz, name) for case in raw.get("case", [])]


def _when(text: str, tz: str) -> int:
    from zoneinfo import ZoneInfo

    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return int(dt.timestamp() * 1000)


def _run_case(config: Config, plan: Any, index: SeriesIndex, case: dict[str, Any], tz: str, name: str) -> CaseResult:
    result = CaseResult(str(case.get("name", "?")))
    try:
        start = _when(str(case["start"]), tz)
        step = duration_ms(case.get("interval", "1m"))
    except (KeyError, ValueError) as e:
        raise RulesError(f"{name}: case {result.name!r}: needs start (and interval): {e}") from None
    columns: list[tuple[int, list[float | None]]] = []
    village = config.village[0].id
    for s in case.get("series", []):
        series = index.find(s.get("village", village), s["device"], s["metric"])
        if series is None:
            raise RulesError(f"{name}: case {result.name!r}: no series {s['device']}/{s['metric']} in the config")
        columns.append((series, expand(str(s["values"]))))
    steps = max((len(v) for _, v in columns), default=0)
    expects = sorted(case.get("expect", []), key=lambda e: duration_ms(e["at"]))
    mgr = AlertManager(config, plan)
    k = 0
    for want in expects:
        at = start + duration_ms(want["at"])
        while k < steps and start + k * step <= at:
            ts = start + k * step
            b = BatchBuilder()
            for series, vals in columns:
                value = vals[k] if k < len(vals) else None
                if value is not None:
                    b.add(series, ts, value, 0)
            mgr.handle(b.build(index.lo, index.hi), ts)
            mgr.tick(ts)
            k += 1
        result.checks += 1
        _check(mgr, want, result)
    return result


def _check(mgr: AlertManager, e: dict[str, Any], result: CaseResult) -> None:
    def chosen(ep: Any) -> bool:
        return (
            ("rule" not in e or ep.rule == e["rule"])
            and ("kind" not in e or ep.kind == e["kind"])
            and ("severity" not in e or ep.severity == e["severity"])
        )

    what = e.get("rule") or e.get("kind") or "any rule"
    for state in (State.FIRING, State.PENDING):
        key = "firing" if state == State.FIRING else "pending"
        if key not in e:
            continue
        got = sorted({ep.site for ep in mgr.active.values() if ep.state == state and chosen(ep)})
        want = sorted(set(e[key]))
        if got != want:
            result.failures.append(f"at {e['at']}: {what}: expected {key} at {want or 'no site'}, got {got or 'none'}")


def load_cases(path: str | Path) -> str:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(f"{p}: file not found") from None
