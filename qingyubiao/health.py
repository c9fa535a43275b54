"""Problems of the box itself: the store refuses writes, the broker cannot be reached.

The collector raises them (ingest/health.py); they travel as `qyb_problem{part, detail}` on its /metrics,
which the API reads for the overview's banner, and as maintainer alerts (alerts/notify/system.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PROBLEM_METRIC = "qyb_problem"


class Part(StrEnum):
    STORE = "store"
    BROKER = "broker"


@dataclass(frozen=True, slots=True)
class Problem:
    part: Part
    since_ms: int
    detail: str

    @property
    def text_zh(self) -> str:
        if self.part is Part.STORE:
            return f"数据写不进数据库，读数暂存在代理服务器上，未丢失：{self.detail}"
        return f"连不上消息代理（MQTT），收不到传感器数据：{self.detail}"

    @property
    def text_en(self) -> str:
        if self.part is Part.STORE:
            return f"readings cannot be written to the database (they wait at the broker): {self.detail}"
        return f"the MQTT broker cannot be reached, no readings arrive: {self.detail}"
