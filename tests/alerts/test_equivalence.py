"""The vectorized engine and the scalar reference give identical events on random streams."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.engine import Engine
from alerts.plan import Plan
from alerts.reference import Reference
from qingyubiao.batch import Batch, Flag
from tests.alerts.conftest import same_events

T0 = 1_763_800_000_000  # 2025-11-22 16:26 Beijing time: sunset falls inside the streams
MIN = 60_000

values = st.one_of(
    st.sampled_from(
        [
            -5.0,
            0.0,
            4.0,
            5.0,
            6.0,
            18.0,
            19.0,
            20.0,
            21.0,
            22.0,
            28.0,
            30.0,
            31.0,
            40.0,
            43.0,
            50.0,
            53.0,
            82.0,
            85.0,
            90.0,
            92.0,
            95.0,
        ]
    ),
    st.floats(-10, 100, allow_nan=False, allow_subnormal=False),
)
batch = st.tuples(
    st.one_of(st.integers(0, 30), st.integers(60, 240)),  # minutes the clock moves forward before this batch
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(-40, 3), values, st.integers(0, 9)), min_size=0, max_size=25
    ),
    st.booleans(),  # tick after the batch
)
stream = st.lists(batch, min_size=1, max_size=14)


def run(plan: Plan, batches: list) -> tuple[list, list]:
    engine, ref = Engine(plan), Reference(plan)
    n_raw = plan.n_raw
    clock = T0
    got, want = [], []
    for advance, readings, tick in batches:
        clock += advance * MIN
        s = np.array([r[0] % n_raw for r in readings], np.int32)
        ts = np.array([clock + r[1] * MIN for r in readings], np.int64)
        v = np.array([r[2] for r in readings], np.float64)
        flags = np.array([Flag.OUT_OF_RANGE if r[3] == 0 else 0 for r in readings], np.uint16)
        b = Batch(s, ts, v, flags)
        got += engine.handle(b, clock).rows()
        want += ref.handle(b, clock)
        if tick:
            got += engine.tick(clock + 1).rows()
            want += ref.tick(clock + 1)
    return got, want


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream)
def test_engine_matches_reference(small_plan: Plan, batches: list) -> None:
    got, want = same_events(*run(small_plan, batches))
    assert got == want


def test_the_streams_exercise_every_kind_of_event(small_plan: Plan) -> None:
    """Guard against a vacuous equivalence: a hand-made stream yields pending, firing, resolved and cancelled."""
    rng = np.random.default_rng(1)
    batches = []
    for _ in range(60):
        readings = [
            (int(rng.integers(0, 100)), int(rng.integers(-3, 1)), float(rng.uniform(-5, 99)), int(rng.integers(0, 9)))
            for _ in range(12)
        ]
        batches.append((int(rng.integers(0, 4)), readings, bool(rng.integers(0, 2))))
    batches.append((30, [], True))
    got, want = same_events(*run(small_plan, batches))
    assert got == want
    states = {e[2] for e in got}
    sources = {e[0] for e in got}
    assert states == {1, 2, 3, 4}
    assert sources == {0, 1, 2, 3}
    assert any(e[5] for e in got), "some late event"
    R = small_plan.shape[1]
    rules = {small_plan.rules[small_plan.rule_of[t // R, t % R]].id for src, t, *_ in got if src == 0}
    assert {"hot", "cold", "band", "fall", "predict", "oor", "spike", "vpd", "dew", "peer", "dry"} <= rules


def test_a_long_steady_day_exercises_the_slow_signals(small_plan: Plan) -> None:
    """26 hours of a warm greenhouse with saturated air: 24-h mean, stuck and wet-hours rules fire in both."""
    batches = []
    for i in range(26 * 60):
        readings = [(0, 0, 25.0 + (i % 7) * 0.1, 1), (1, 0, 95.0, 1)]  # gh1 temperature varies, RH stuck at 95 %
        batches.append((1, readings, i % 5 == 0))
    got, want = same_events(*run(small_plan, batches))
    assert got == want
    R = small_plan.shape[1]
    rules = {small_plan.rules[small_plan.rule_of[t // R, t % R]].id for src, t, *_ in got if src == 0}
    assert {"mean", "stuck", "wet"} <= rules


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream, st.integers(0, 14))
def test_a_restored_snapshot_continues_exactly_like_an_uninterrupted_engine(
    small_plan: Plan, batches: list, cut: int
) -> None:
    """Snapshot after `cut` batches, restore into a fresh engine, go on: same events as never stopping."""
    whole, _ = run(small_plan, batches)
    first, _ = run(small_plan, batches[:cut])
    engine = Engine(small_plan)
    _replay(engine, batches[:cut], T0)
    restored = Engine(small_plan)
    restored.restore(engine.snapshot())
    clock = T0 + sum(b[0] for b in batches[:cut]) * MIN
    rest = _replay(restored, batches[cut:], clock)
    assert same_events(whole, first + rest)[0] == same_events(whole, whole)[0]
    straight = Engine(small_plan)
    _replay(straight, batches, T0)
    for name in (*Engine.SERIES_STATE, *Engine.CELL_STATE, "cur", "dev_state", "gw_state", "mean_sum", "mean_n"):
        assert np.array_equal(getattr(straight, name), getattr(restored, name), equal_nan=True), name


def test_a_pending_timer_is_not_forgotten_across_a_restore(small_plan: Plan) -> None:
    """gh1 above 30 °C by day for 2 minutes: pending before the snapshot, fires 2 minutes after the first reading."""
    noon = T0 - 5 * 3_600_000  # 11:26 Beijing time
    engine = Engine(small_plan)
    first = _replay(engine, [(0, [(0, 0, 35.0, 1)], False)], noon)
    restored = Engine(small_plan)
    restored.restore(engine.snapshot())
    later = _replay(restored, [(1, [(0, 0, 35.0, 1)], False), (1, [(0, 0, 35.0, 1)], False)], noon)
    R = small_plan.shape[1]
    hot = [e for e in first + later if small_plan.rules[small_plan.rule_of[e[1] // R, e[1] % R]].id == "hot"]
    assert [(e[2], e[3] - noon) for e in hot] == [(1, 0), (2, 2 * MIN)]  # pending at 0, firing at +2 min


def _replay(engine: Engine, batches: list, clock: int) -> list:
    out = []
    n_raw = engine.plan.n_raw
    for advance, readings, tick in batches:
        clock += advance * MIN
        b = Batch(
            np.array([r[0] % n_raw for r in readings], np.int32),
            np.array([clock + r[1] * MIN for r in readings], np.int64),
            np.array([r[2] for r in readings], np.float64),
            np.array([Flag.OUT_OF_RANGE if r[3] == 0 else 0 for r in readings], np.uint16),
        )
        out += engine.handle(b, clock).rows()
        if tick:
            out += engine.tick(clock + 1).rows()
    return out
