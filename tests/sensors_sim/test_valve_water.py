"""The twin's valves water its physics: an open valve puts down its block's drip rate for as long as it is open
by the wall clock, the soil the probe sees rises by that water, and a block with a valve is watered by it only
(the cooperative's habit of watering by hand stops there)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qingyubiao.config import Config
from sensors_sim import orchard
from sensors_sim.physics import Physics, Q
from sensors_sim.valves import ValveWater

START = 1_777_593_600.0  # 2026-05-01 00:00 UTC


def with_valves(config: Config) -> Config:
    raw: dict[str, Any] = config.model_dump(mode="python")
    for site in raw["village"][0]["site"]:
        if site["id"] in ("or01", "gh01"):
            site["irrigation"] |= {"valve": f"{site['id']}-valve", "mode": "confirm"}
    return Config.model_validate(raw)


def test_the_water_a_valve_puts_down_follows_the_wall_clock() -> None:
    now = [1000.0]
    water = ValveWater(3, clock=lambda: now[0])
    assert water.take() is None  # nothing open, nothing put down
    water.set(1, 6.0)  # opens: 6 mm an hour
    now[0] += 600.0
    assert water.take() == pytest.approx([0.0, 1.0, 0.0])  # ten minutes: 1 mm
    now[0] += 300.0
    water.set(1, 0.0)  # closes after five more
    now[0] += 3600.0
    assert water.take() == pytest.approx([0.0, 0.5, 0.0])  # and nothing after it closed
    assert water.take() is None


def test_valve_water_raises_the_soil_moisture_by_what_was_put_down(lijiahe: Config) -> None:
    config = with_valves(lijiahe)
    dry, wet = Physics(config, 1, START, dt_s=600), Physics(config, 1, START, dt_s=600)
    or01 = next(i for i, s in enumerate(wet.sites) if s.site == "or01")
    given = np.zeros(wet.n_sites)
    given[or01] = 30.0  # mm, as 45 hours of or01's 0.67 mm an hour of drip would
    pending = [given]
    wet.water_in = lambda: pending.pop() if pending else None
    [a], [b] = list(dry.chunks(dry.t + 600)), list(wet.chunks(wet.t + 600))
    rise = b.values[0, Q["soil_vwc_pct"], or01] - a.values[0, Q["soil_vwc_pct"], or01]
    assert rise == pytest.approx(30.0 / orchard.ROOT_ZONE_MM * 100.0, rel=0.02)  # 5 points of VWC in 600 mm


def test_a_block_with_a_valve_is_not_watered_by_habit(lijiahe: Config) -> None:
    plain, valved = Physics(lijiahe, 1, START, dt_s=600), Physics(with_valves(lijiahe), 1, START, dt_s=600)
    gh01 = next(k for k, i in enumerate(valved.gh_idx) if valved.sites[i].site == "gh01")
    assert plain.gh_params.irrigate_pct[gh01] > 0 and valved.gh_params.irrigate_pct[gh01] == 0.0
    or01 = next(k for k, i in enumerate(valved.or_idx) if valved.sites[i].site == "or01")
    assert plain.or_habit[or01] and not valved.or_habit[or01]
    assert valved.or_habit.sum() == plain.or_habit.sum() - 1  # the other blocks keep their habit


def test_a_twin_controller_ignores_what_is_not_its_command_and_obeys_the_next(mosquitto: Any) -> None:
    """Garbage on its command topic is kept aside (never a crash of its MQTT thread), another device's
    messages are not its business, and a real command afterwards still opens the valve."""
    import json
    import time

    import paho.mqtt.client as mqtt

    from sensors_sim.valves import TwinValve

    twin = TwinValve("127.0.0.1", mosquitto.port, "lijiahe", "or01-valve")
    twin.start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-pub")
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        for payload in (b"not json", b'{"id": "c1", "action": "open"}', b"[1, 2]"):
            pub.publish("qyb/lijiahe/or01-valve/cmd", payload, qos=1).wait_for_publish(5)
        good = {"id": "c2", "action": "open", "duration_s": 1, "auto_close": True, "reason": "test"}
        pub.publish("qyb/lijiahe/or01-valve/cmd", json.dumps(good), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while not twin.opened_s and time.monotonic() < deadline:
            time.sleep(0.1)
        assert twin.unreadable == [b"not json", b'{"id": "c1", "action": "open"}', b"[1, 2]"]
        assert len(twin.opened_s) == 1 and 0.9 < twin.opened_s[0][1] - twin.opened_s[0][0] < 3.0
        # a message on another topic reaching it (the embedded broker does this) is not obeyed
        foreign = mqtt.MQTTMessage(topic=b"qyb/lijiahe/gh01-valve/cmd")
        foreign.payload = json.dumps(good | {"id": "c3"}).encode()
        twin._on_command(twin.client, None, foreign)
        assert twin._command == "c2" and len(twin.opened_s) == 1
    finally:
        pub.loop_stop()
        pub.disconnect()
        twin.stop()
