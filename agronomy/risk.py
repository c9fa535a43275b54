"""Risk levels of a site for one model and day, and what each is called on the phone page."""

from __future__ import annotations

from enum import IntEnum


class Risk(IntEnum):
    NO_DATA = -2  # the site has no sensor the model needs (never "no risk")
    UNKNOWN = -1  # readings missing for longer than the model tolerates, and nothing found before the gap
    NONE = 0
    LOW = 1
    MODERATE = 2
    HIGH = 3

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def en(self) -> str:
        return self.name.lower().replace("_", " ")


_ZH = {
    Risk.NO_DATA: "无数据",
    Risk.UNKNOWN: "数据不足",
    Risk.NONE: "无风险",
    Risk.LOW: "低",
    Risk.MODERATE: "中",
    Risk.HIGH: "高",
}
