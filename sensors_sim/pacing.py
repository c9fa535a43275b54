"""Simulated time to wall-clock time: real time, accelerated (--speed 60) or as fast as possible."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

M = TypeVar("M", bound=tuple[float, str, bytes])


def start_for(hours: float, speed: float | None, now_s: float) -> float:
    """A start time that keeps every timestamp in the past when it is published.

    At `speed` the run lasts hours/speed of wall time, so starting
    hours·(1 − 1/speed) ago ends exactly now + hours/speed; as fast as possible
    (speed None) it starts `hours` ago.
    """
    lag = hours * 3600.0 * (1.0 - 1.0 / speed) if speed else hours * 3600.0
    return now_s - max(lag, 0.0)


def paced(
    msgs: Iterable[M],
    speed: float | None,
    not_before_sim_time: bool = False,
    stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[M]:
    """Yield each message when its simulated time comes, `speed` times faster than real time.

    speed None: no waiting. not_before_sim_time: also never before the simulated
    time itself (a demo that has caught up with the present goes on in real time).
    Stops early when stop() turns true.
    """
    t0_wall: float | None = None
    t0_sim = 0.0
    for msg in msgs:
        if stop():
            return
        if speed:
            sim = msg[0]
            if t0_wall is None:
                t0_wall, t0_sim = clock(), sim
            target = t0_wall + (sim - t0_sim) / speed
            if not_before_sim_time:
                target = max(target, sim)
            while (wait := target - clock()) > 0:
                if stop():
                    return
                sleep(min(wait, 0.5))
        yield msg
