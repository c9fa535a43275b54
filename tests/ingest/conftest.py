"""Helpers for driving the decoders the way the collector does: one DecodeContext, `route` per message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from ingest import decoding
from ingest.decoders.context import Deduplicator
from qingyubiao.series import SeriesIndex

NOW_MS = 1_763_800_000_000  # 2025-11-22T08:26:40Z, the collector's clock in these tests
NOW_S = NOW_MS / 1000
MAX_BYTES = 4096
MAX_FUTURE_S = 600.0
VILLAGE = "lijiahe"
APP = "0b6f4f52-8a1e-4c51-9a6e-5e1f3c9d2a71"


@dataclass(frozen=True, slots=True)
class Decoded(decoding.Decoded):
    """What one or more messages decoded to, with views for assertions."""

    def readings(self, index: SeriesIndex) -> list[tuple[str, str, int, float, int]]:
        """(device, metric, ts_ms, value, flags) per reading, in decode order."""
        return [
            (index.keys[s].device, index.keys[s].metric, t, v, f)
            for s, t, v, f in zip(
                self.batch.series.tolist(),
                self.batch.ts_ms.tolist(),
                self.batch.value.tolist(),
                self.batch.flags.tolist(),
                strict=True,
            )
        ]

    def reasons(self) -> list[str]:
        return [r.reason.value for r in self.rejects]


DecodeFn = Callable[..., Decoded]


@pytest.fixture
def decode(index: SeriesIndex) -> DecodeFn:
    """decode((topic, payload), ...) -> Decoded, through one context (so dedup spans the messages)."""

    def run(*messages: tuple[str, bytes], now_ms: int = NOW_MS, max_bytes: int = MAX_BYTES) -> Decoded:
        d = decoding.decode_messages(
            index, decoding.Limits(max_bytes, MAX_FUTURE_S), Deduplicator(1000), now_ms, messages
        )
        return Decoded(d.batch, d.rejects, d.statuses, d.duplicates)

    return run
