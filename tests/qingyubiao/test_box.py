"""The box's checks from their facts (qingyubiao/box.py): the thresholds an operator is warned at."""

from __future__ import annotations

import dataclasses

import pytest

from qingyubiao.box import (
    BACKUP_WARN_S,
    DISK_DOWN_BYTES,
    WAITING_WARN_MS,
    Check,
    Level,
    StoreFacts,
    disk_level,
    report,
    store_checks,
    worst,
)

NOW = 1_796_000_000_000
GIB = 1024**3
HEALTHY = StoreFacts(readings_10min=420, devices=60, offline=[], waiting=0, oldest_waiting_ms=None,
                     spool_bytes=None, last_backup_ms=NOW - 3600_000, backup_dir="/var/backups/qyb")  # fmt: skip


def levels(facts: StoreFacts) -> dict[str, Level]:
    return {c.part: c.level for c in store_checks(facts, NOW)}


@pytest.mark.parametrize(
    ("free", "total", "level"),
    [(50 * GIB, 100 * GIB, Level.OK), (14 * GIB, 100 * GIB, Level.WARN), (4 * GIB, 100 * GIB, Level.DOWN),
     (DISK_DOWN_BYTES - 1, 4 * GIB, Level.DOWN), (DISK_DOWN_BYTES + GIB, 4 * GIB, Level.OK)],
)  # fmt: skip
def test_disk_levels(free: int, total: int, level: Level) -> None:
    check = disk_level(free, total)
    assert check.level is level
    assert f"{free / GIB:.1f} GB" in check.text_zh and ("快满了" in check.text_zh) == (level is Level.DOWN)


def test_a_healthy_box() -> None:
    assert levels(HEALTHY) == {"readings": Level.OK, "devices": Level.OK, "dispatcher": Level.OK,
                               "spool": Level.OFF, "backup": Level.OK}  # fmt: skip
    assert worst(store_checks(HEALTHY, NOW)) is Level.OK


def test_what_makes_a_warning() -> None:
    def late(**change: object) -> dict[str, Level]:
        return levels(dataclasses.replace(HEALTHY, **change))  # type: ignore[arg-type]

    assert late(readings_10min=0)["readings"] is Level.WARN
    assert late(offline=["gh03-air"])["devices"] is Level.WARN
    assert late(waiting=3, oldest_waiting_ms=NOW - WAITING_WARN_MS + 1000)["dispatcher"] is Level.OK  # sending
    assert late(waiting=3, oldest_waiting_ms=NOW - WAITING_WARN_MS - 1000)["dispatcher"] is Level.WARN
    assert late(spool_bytes=0)["spool"] is Level.OK and late(spool_bytes=4096)["spool"] is Level.WARN
    assert late(last_backup_ms=NOW - BACKUP_WARN_S * 1000 - 1)["backup"] is Level.WARN
    assert late(last_backup_ms=None)["backup"] is Level.WARN


def test_the_texts_carry_the_numbers_in_both_languages() -> None:
    facts = dataclasses.replace(HEALTHY, offline=["gh03-air", "or01-soil"], waiting=2,
                                oldest_waiting_ms=NOW - 25 * 60_000, last_backup_ms=NOW - 30 * 3600_000)  # fmt: skip
    by = {c.part: c for c in store_checks(facts, NOW)}
    assert by["devices"].text_zh == "2/60 台设备离线：gh03-air、or01-soil"
    assert by["devices"].text_en == "2 of 60 devices offline: gh03-air, or01-soil"
    assert by["dispatcher"].text_zh == "2 条通知待发，最早的已等 25 分钟"
    assert by["backup"].text_en == "last backup 30 h ago"
    assert by["readings"].text_zh == "最近 10 分钟收到 420 条读数"


def test_the_report_ends_with_the_worst() -> None:
    checks = [Check("broker", Level.OK, "好", "fine"), Check("disk", Level.DOWN, "满", "full")]
    text = report(checks)
    assert text.splitlines()[1].startswith("✘ disk") and text.endswith("== 有故障 / unhealthy")
    assert report(checks[:1]).endswith("== 正常 / healthy")
