"""Wire timestamps to epoch milliseconds: seconds, milliseconds and RFC 3339."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from qingyubiao.timeutil import EARLIEST_MS, iso, to_ms

# 2025-11-22T08:26:40Z
T_S = 1_763_800_000
T_MS = T_S * 1000


def test_epoch_seconds_int_and_float() -> None:
    assert to_ms(T_S) == T_MS
    assert to_ms(float(T_S)) == T_MS
    assert to_ms(T_S + 0.25) == T_MS + 250
    assert to_ms(T_S + 0.0004) == T_MS  # rounds to the nearest millisecond
    assert to_ms(T_S + 0.0006) == T_MS + 1


def test_epoch_milliseconds_are_recognised() -> None:
    assert to_ms(T_MS) == T_MS
    assert to_ms(float(T_MS + 7)) == T_MS + 7


def test_seconds_and_milliseconds_agree_across_the_threshold() -> None:
    # the largest plausible seconds value and the smallest plausible ms value both map sensibly
    assert to_ms(99_999_999_999) == 99_999_999_999_000  # year 5138 in seconds
    assert to_ms(100_000_000_000) == 100_000_000_000  # 1973 in milliseconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-22T08:26:40Z", T_MS),
        ("2025-11-22T08:26:40+00:00", T_MS),
        ("2025-11-22T16:26:40+08:00", T_MS),
        ("2025-11-22T03:26:40-05:00", T_MS),
        ("2025-11-22T08:26:40.5Z", T_MS + 500),
        ("2025-11-22T08:26:40.123Z", T_MS + 123),
        ("2025-11-22T08:26:40.123456Z", T_MS + 123),
        ("2025-11-22T08:26:40.123456789Z", T_MS + 123),  # ChirpStack sends nanoseconds
        ("2025-11-22T08:26:40.999999999Z", T_MS + 1000),  # rounds, does not truncate into the past second
        ("2025-11-22t08:26:40z", T_MS),  # RFC 3339 allows lower-case t and z
    ],
)
def test_rfc3339(text: str, expected: int) -> None:
    assert to_ms(text) == expected


def test_rfc3339_agrees_with_datetime() -> None:
    dt = datetime(2026, 3, 1, 23, 59, 59, 987_000, tzinfo=timezone(timedelta(hours=8)))
    assert to_ms(dt.isoformat()) == round(dt.timestamp() * 1000)
    assert to_ms(iso(to_ms(dt.isoformat()))) == to_ms(dt.isoformat())


@pytest.mark.parametrize("text", ["2025-11-22T08:26:40", "2025-11-22", "2025-11-22 08:26:40.5"])
def test_naive_strings_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        to_ms(text)


@pytest.mark.parametrize("text", ["yesterday", "", "1763800000", "2025-13-01T00:00:00Z", "2025-11-22T25:00:00Z"])
def test_garbage_strings_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        to_ms(text)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), True, False, None, [1], {"s": 1}])
def test_non_numbers_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        to_ms(bad)  # type: ignore[arg-type]


def test_iso_is_utc_with_z() -> None:
    assert iso(T_MS + 5) == "2025-11-22T08:26:40.005000Z"
    assert iso(EARLIEST_MS) == "2000-01-01T00:00:00Z"
    assert datetime.fromisoformat(iso(T_MS)) == datetime.fromtimestamp(T_S, UTC)
