"""Why a payload or reading was not stored: reasons, and the dead-letter record."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    MALFORMED_JSON = "malformed_json"
    DUPLICATE_KEY = "duplicate_key"  # a key twice in one object: readers disagree on which value counts
    OVERSIZED = "oversized"
    BAD_SCHEMA = "bad_schema"  # the payload's shape is not one of the v1 formats
    WRONG_TYPE = "wrong_type"  # a value that is not a number
    NON_FINITE = "non_finite"  # NaN or ±inf
    UNKNOWN_TOPIC = "unknown_topic"
    UNKNOWN_DEVICE = "unknown_device"
    UNKNOWN_GATEWAY = "unknown_gateway"  # a batch on the topic of a gateway no configured device sits behind
    # a reading naming a device the topic's device or gateway may not speak for: a sensor posing as another
    FOREIGN_DEVICE = "foreign_device"
    UNKNOWN_METRIC = "unknown_metric"
    BAD_TIMESTAMP = "bad_timestamp"  # unparseable, or before 2000
    FUTURE_TIMESTAMP = "future_timestamp"
    INTERNAL_ERROR = "internal_error"  # a bug in a decoder; the payload is kept


@dataclass(frozen=True, slots=True)
class Reject:
    """A dead letter: what was refused, from where, and the payload as received."""

    reason: Reason
    topic: str
    detail: str
    payload: bytes
    received_ms: int
    village: str | None = None
    device: str | None = None
