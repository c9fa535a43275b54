"""Problems of the box itself (ingest/health.py) as maintainer alerts, routed like a device fault."""

from __future__ import annotations

import math

from qingyubiao.alerting import Audience, Kind, Severity, State, Transition
from qingyubiao.config import Config
from qingyubiao.health import Part, Problem

KINDS = {Part.STORE: Kind.STORE_FAILING, Part.BROKER: Kind.BROKER_UNREACHABLE}


def system_transitions(config: Config, problem: Problem, ended: bool, now_ms: int) -> list[Transition]:
    """One transition per village (each village's admins maintain the box that serves it)."""
    kind = KINDS[problem.part]
    return [
        Transition(
            episode=f"system-{problem.part.value}-{problem.since_ms}-{v.id}",
            rule=f"system.{problem.part.value}",
            kind=kind.value,
            severity=Severity.CRITICAL.value,
            audience=Audience.MAINTAINER.value,
            state=(State.RESOLVED if ended else State.FIRING).value,
            ts_ms=now_ms if ended else problem.since_ms,
            village=v.id,
            site="",
            device="collector",
            metric=problem.part.value,
            value=math.nan,  # no measurement: the texts say what is wrong
            threshold=math.nan,
            text_zh=("已恢复：" if ended else "") + problem.text_zh,
            text_en=("recovered: " if ended else "") + problem.text_en,
        )
        for v in config.village
    ]
