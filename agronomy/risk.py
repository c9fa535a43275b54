"""Risk levels of a site for one model and day, and what each is called on the phone page."""

from __future__ import annotations

from enum import IntEnum

from qingyubiao.risks import RISK_NAMES


class Risk(IntEnum):
    NO_DATA = -2  # the site has no sensor the model needs (never "no risk")
    UNKNOWN = -1  # readings missing for longer than the model tolerates, and nothing found before the gap
    NONE = 0
    LOW = 1
    MODERATE = 2
    HIGH = 3

    @property
    def zh(self) -> str:
        return RISK_NAMES[self.value][0]

    @property
    def en(self) -> str:
        return RISK_NAMES[self.value][1]
