"""What `qyb sim --twin` does: run the twin (or replay a file) and publish, write or plot it.

Kept here, not in the command module, so the command stays a thin parser and
the simulator's wiring is importable by the demo and the benchmarks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from qingyubiao.config import Config
from sensors_sim import pacing, publisher
from sensors_sim.physics import SPIN_UP_S
from sensors_sim.replay import read_jsonl, write_jsonl
from sensors_sim.scale import scale_config
from sensors_sim.scenario import Scenario, load
from sensors_sim.twin import SimMessage, Twin, TwinFormat
from sensors_sim.valves import Failure


@dataclass(frozen=True)
class TwinRun:
    """Options of one twin run, as the command line gives them."""

    scenario: str | None = None
    on: date | None = None  # play the scenario on this local date instead of its own (Scenario.moved_to)
    start_s: float | None = None
    hours: float | None = None
    speed: float | None = None  # None: as fast as possible
    seed: int = 0
    fmt: TwinFormat = "auto"
    output: str | None = None  # JSONL file instead of MQTT
    replay: str | None = None  # JSONL file to publish instead of the twin
    plot: str | None = None  # PNG of one simulated day instead of messages
    villages: int | None = None  # scale mode: this many in-memory villages
    greenhouses: int = 24
    client_id: str = "qyb-sim"
    valve_failure: Failure = "none"  # how the twin's valve controllers fail (none, stuck_open, silent)


def scenario_of(run: TwinRun) -> Scenario | None:
    """The run's scenario, moved to `run.on` when given."""
    if run.scenario is None:
        if run.on is not None:
            raise ValueError("--on 只能与 --scenario 一起用 / --on moves a scenario: give --scenario too")
        return None
    scenario = load(run.scenario)
    return scenario.moved_to(run.on) if run.on is not None else scenario


def build(config: Config, run: TwinRun, now_s: float) -> tuple[Twin, float, Scenario | None]:
    """The twin for a run and the simulated time it ends at."""
    scenario = scenario_of(run)
    if run.villages:
        config = scale_config(run.villages, run.greenhouses)
        scenario = None
    hours = run.hours if run.hours is not None else (scenario.hours if scenario else 24.0)
    if run.start_s is not None:
        start = run.start_s
    elif scenario is not None:
        start = scenario.start_s
    else:
        start = pacing.start_for(hours, run.speed, now_s)
    if scenario is not None and (run.start_s is not None or run.hours is not None):
        raise ValueError("a scenario sets its own start and length; leave out --start and --hours")
    spin_up = 6 * 3600.0 if run.villages else SPIN_UP_S
    twin = Twin(config, seed=run.seed, start_s=start, scenario=scenario, fmt=run.fmt, spin_up_s=spin_up)
    return twin, start + hours * 3600.0, scenario


def moved_until(scenario: Scenario, run: TwinRun, until: float, now_s: float) -> tuple[float, str]:
    """Where a scenario moved with --on ends, and a note for the log. Published to a broker it stops at now: a
    sensor cannot report the future, and the collector would refuse those readings (ingest max_future_s). A
    file (--output) gets the whole scenario."""
    assert run.on is not None
    note = f" on {run.on.isoformat()}"
    if run.output or until <= now_s:
        return until, note
    if scenario.start_s >= now_s:
        raise ValueError(
            f"{run.on.isoformat()} 的场景还没开始，不能发布 / the scenario on {run.on.isoformat()} starts in the "
            "future: the collector would refuse its readings (use --output to write it to a file)"
        )
    # a minute early: a physics step's readings are stamped up to a minute after it (each device reports at its
    # own second of the minute), and none may be stamped after now
    until = now_s - 60.0
    return until, note + f", stopped at now after {(until - scenario.start_s) / 3600:.1f} of its {scenario.hours:g} h"


def as_messages(sim: Iterable[SimMessage], count: Callable[[bytes], int]) -> Iterator[publisher.Message]:
    for _, topic, payload in sim:
        yield publisher.Message(topic, payload, count(payload))


def execute(config: Config, run: TwinRun, log: Callable[[str], None] = print) -> int:
    """Run the twin as asked; returns the number of readings published or written."""
    now = time.time()
    if run.replay:
        msgs: Iterable[SimMessage] = read_jsonl(run.replay)
        paced = pacing.paced(msgs, run.speed)
        n = publisher.publish(config.deployment.mqtt, as_messages(paced, _count), client_id=run.client_id)
        log(f"replayed {n} readings from {run.replay} to {config.deployment.mqtt.url}")
        return n
    if run.plot:
        from sensors_sim.plot import plot_day

        scenario = scenario_of(run)
        start = run.start_s if run.start_s is not None else (scenario.start_s if scenario else now - 86_400)
        path = plot_day(config, start, run.plot, seed=run.seed, scenario=scenario, hours=run.hours or 24.0)
        log(f"plotted {run.hours or 24:g} simulated hours to {path}")
        return 0
    twin, until, scenario = build(config, run, now)
    label = f"scenario {scenario.name}" if scenario else f"{round((until - twin.physics.start_s) / 3600, 2):g} h"
    if scenario is not None and run.on is not None:
        until, note = moved_until(scenario, run, until, now)
        label += note
    valves = []
    if not run.output and not run.villages and any(s.irrigation and s.irrigation.valve for v in config.village
                                                   for s in v.site):  # fmt: skip
        from sensors_sim.valves import twin_valves  # the valve controllers obey the collector's commands

        mqtt = config.deployment.mqtt
        valves = twin_valves(config, twin.physics, mqtt.host, mqtt.port, run.valve_failure)
        log(f"{len(valves)} twin valve controllers listening ({run.valve_failure})")
    sim = twin.run(until, max_steps=1 if valves else 60)
    try:
        if run.output:
            n_msgs, _ = write_jsonl(run.output, pacing.paced(sim, run.speed))
            log(f"wrote {n_msgs} messages, {twin.readings} readings ({label}) to {run.output}")
            return twin.readings
        paced = pacing.paced(sim, run.speed)
        publisher.publish(config.deployment.mqtt, as_messages(paced, lambda _: 0), client_id=run.client_id)
    except KeyboardInterrupt:  # Ctrl-C ends a real-time run: say how far it got
        log(f"stopped after {twin.readings} readings")
        return twin.readings
    finally:
        for valve in valves:
            valve.stop()
    log(f"published {twin.readings} readings ({label}, {run.fmt} format) to {config.deployment.mqtt.url}")
    return twin.readings


def _count(payload: bytes) -> int:
    """Readings in a replayed payload (metric values, health values left out)."""
    import msgspec

    obj = msgspec.json.decode(payload)
    if isinstance(obj, list):
        return sum(len(r.get("m", {})) for r in obj)
    if "readings" in obj:
        return sum(len(r.get("m", {})) for r in obj["readings"])
    if "m" in obj:
        return len(obj["m"])
    return len(obj.get("object") or {})
