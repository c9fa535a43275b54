"""The village twin: true physics seen through sensors, faults and networks, as MQTT messages.

    for sim_time_s, topic, payload in run_scenario(config, load("heat-noon"), seed=1):
        ...

Values, noise, faults, packet loss and timestamps are computed as arrays over
(time step × series) and (time step × device); the only per-reading Python
work is building the payload mapping and encoding it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Literal, TypedDict

import numpy as np
from numpy.typing import NDArray

from qingyubiao import topics
from qingyubiao.catalogue import METRICS
from qingyubiao.config import Config, Device, Village
from qingyubiao.payloads import encoder
from qingyubiao.timeutil import iso
from sensors_sim.physics import QUANTITIES, SPIN_UP_S, Physics
from sensors_sim.scenario import Fault, Scenario

F64 = NDArray[np.float64]
TwinFormat = Literal["auto", "device", "gateway", "chirpstack"]
TWIN_FORMATS: tuple[TwinFormat, ...] = ("auto", "device", "gateway", "chirpstack")
SimMessage = tuple[float, str, bytes]  # (simulated epoch seconds when published, topic, payload)

# Sensor noise (1 σ), calibration offset (1 σ) and resolution per metric.
NOISE = {"air_temp_c": 0.08, "air_rh_pct": 0.8, "soil_vwc_pct": 0.2, "soil_temp_c": 0.05, "soil_ec_ms_cm": 0.02,
         "co2_ppm": 8.0, "wind_m_s": 0.2}  # fmt: skip
REL_NOISE = {"light_lux": 0.02, "par_umol_m2_s": 0.02}
OFFSET = {"air_temp_c": 0.25, "air_rh_pct": 1.5, "soil_vwc_pct": 1.0, "soil_temp_c": 0.2, "soil_ec_ms_cm": 0.05,
          "co2_ppm": 15.0}  # fmt: skip
RESOLUTION = {"light_lux": 10.0, "par_umol_m2_s": 1.0, "co2_ppm": 1.0, "soil_ec_ms_cm": 0.01, "leaf_wet_pct": 1.0}
# What a dead probe reports: −127 °C (a 1-Wire thermometer that lost its probe) or a saturated ADC.
DEAD_VALUE = {"air_temp_c": -127.0, "soil_temp_c": -127.0}
DEAD_ADC = 6553.5
SPIKE = {"air_temp_c": 15.0, "soil_temp_c": 10.0, "air_rh_pct": -35.0, "soil_vwc_pct": 25.0, "soil_ec_ms_cm": 3.0}
DRIFT_PER_H = {"air_temp_c": 0.5, "air_rh_pct": 2.0, "soil_vwc_pct": 1.0, "soil_temp_c": 0.3, "soil_ec_ms_cm": 0.05}
MAX_BATCH_READINGS = 500  # per gateway message when a backlog is flushed, well under the payload limit
LORA_GATEWAY = "0016c001ff10a235"


@dataclass
class _Plan:
    """Who measures what: devices (rows) and series (device × metric), as arrays."""

    villages: list[Village]
    devices: list[tuple[int, Device]]  # (village index, device)
    dev_site: NDArray[np.int64]  # global site index per device
    series_dev: NDArray[np.int64]
    series_metric: list[str]
    series_q: NDArray[np.int64]
    series_site: NDArray[np.int64]
    dev_series: list[list[tuple[str, int]]]  # per device: (metric, series index)
    every: NDArray[np.int64]  # reporting interval in steps
    phase: NDArray[np.int64]  # steps offset of the reporting schedule
    second: NDArray[np.float64]  # seconds into the minute at which the device reports
    route: list[str]  # device | gateway | chirpstack
    lora: NDArray[np.bool_]


class _Held(TypedDict):
    """One reading a device keeps while its link is down, in its uplink's JSON shape."""

    ts: float
    seq: int
    m: dict[str, float]
    bat_v: float


@dataclass
class _Backlog:
    """Readings a device keeps while its link is down, sent as one array or batch when it returns."""

    items: list[_Held] = field(default_factory=list)


class Twin:
    """Sensors, faults and networks over the village physics; produces MQTT messages in simulated time."""

    def __init__(
        self,
        config: Config,
        seed: int = 0,
        start_s: float | None = None,
        scenario: Scenario | None = None,
        fmt: TwinFormat = "auto",
        dt_s: float = 60.0,
        physics: Physics | None = None,
        spin_up_s: float = SPIN_UP_S,
    ) -> None:
        if scenario is not None:
            scenario.check_against(config)
            start_s = scenario.start_s if start_s is None else start_s
        if start_s is None:
            raise ValueError("a start time or a scenario is needed")
        self.config, self.seed, self.scenario, self.fmt = config, seed, scenario, fmt
        self.physics = physics or Physics(config, seed, start_s, dt_s, scenario, spin_up_s)
        self.dt = self.physics.dt
        self.plan = self._plan()
        rng = np.random.default_rng([seed, 11])
        n_dev = len(self.plan.devices)
        self.offset = np.array([rng.normal(0.0, OFFSET.get(m, 0.0)) for m in self.plan.series_metric])
        self.noise_sd = np.array([NOISE.get(m, 0.0) for m in self.plan.series_metric])
        self.rel_sd = np.array([REL_NOISE.get(m, 0.0) for m in self.plan.series_metric])
        self.res = np.array([RESOLUTION.get(m, 0.1) for m in self.plan.series_metric])
        self.lo = np.array([METRICS[m].lo for m in self.plan.series_metric])
        self.hi = np.array([METRICS[m].hi for m in self.plan.series_metric])
        self.bat_full = rng.uniform(3.55, 3.7, n_dev)
        self.bat_drain = rng.uniform(0.0004, 0.0012, n_dev)  # V per day
        # each device's cell is renewed once a year on its own day (devices went in at different times); a
        # day shared by all made every battery in the village flat together each December
        self.bat_fitted_day = np.random.default_rng([seed, 12]).uniform(0.0, 365.0, n_dev)
        self.rssi_mean = rng.uniform(-117.0, -88.0, n_dev)
        self.seq = np.zeros(n_dev, np.int64)
        self.readings = 0  # metric values put into messages so far (health values not counted)
        self.backlog: dict[int, _Backlog] = {}
        self.held: dict[int, F64] = {}  # stuck faults: the value they froze at
        self.faults = list(scenario.faults) if scenario else []
        self._fault_series = [self._targets(f)[0] for f in self.faults]
        self._fault_devices = [self._targets(f)[1] for f in self.faults]
        self._dup_gateways: set[tuple[int, str]] = set()
        self._info = [self._device_info(di) for di in range(n_dev)]
        self._by_second = np.argsort(self.plan.second, kind="stable")
        self._percent = np.isin(self.plan.series_metric, ["air_rh_pct", "soil_vwc_pct", "leaf_wet_pct"])
        self._getters = [_getter([s for _, s in names]) for names in self.plan.dev_series]
        self._dev_tmpls = [_template(names, None) for names in self.plan.dev_series]
        self._gw_tmpls = [_template(names, d.id) for names, (_, d) in zip(self.plan.dev_series, self.plan.devices,
                                                                           strict=True)]  # fmt: skip
        decimals = np.array([-round(np.log10(r)) for r in self.res], np.int64)
        self._round_groups = [(int(d), np.flatnonzero(decimals == d)) for d in np.unique(decimals)]

    # -- plan ------------------------------------------------------------------------

    def _plan(self) -> _Plan:
        site_pos = {(s.village, s.site): i for i, s in enumerate(self.physics.sites)}
        devices: list[tuple[int, Device]] = []
        series_metric: list[str] = []
        dev_site, series_dev, series_site, dev_series = [], [], [], []
        every, phase, second, route = [], [], [], []
        rng = np.random.default_rng([self.seed, 5])
        steps_per_s = 1.0 / self.physics.dt
        for vi, v in enumerate(self.config.village):
            for d in v.device:
                di = len(devices)
                devices.append((vi, d))
                site = site_pos[(vi, d.site)]
                dev_site.append(site)
                mine = []
                for m in d.metrics:
                    if m in QUANTITIES:
                        mine.append((m, len(series_metric)))
                        series_dev.append(di)
                        series_metric.append(m)
                        series_site.append(site)
                dev_series.append(mine)
                k = max(1, round(d.interval_s * steps_per_s))
                every.append(k)
                phase.append(int(rng.integers(0, k)))
                second.append(float(rng.integers(0, 59)) + 0.5)
                route.append(self._route(d))
        q_index = {q: i for i, q in enumerate(QUANTITIES)}
        return _Plan(
            villages=list(self.config.village),
            devices=devices,
            dev_site=np.array(dev_site, np.int64),
            series_dev=np.array(series_dev, np.int64),
            series_metric=series_metric,
            series_q=np.array([q_index[m] for m in series_metric], np.int64),
            series_site=np.array(series_site, np.int64),
            dev_series=dev_series,
            every=np.array(every, np.int64),
            phase=np.array(phase, np.int64),
            second=np.array(second),
            route=route,
            lora=np.array([d.dev_eui is not None for _, d in devices]),
        )

    def _device_info(self, di: int) -> tuple[str, str, tuple[int, str], list[tuple[str, int]]]:
        """(route, topic, gateway key, [(metric, series)]) of a device, looked up once."""
        vi, d = self.plan.devices[di]
        v = self.plan.villages[vi]
        route = self.plan.route[di]
        topic = (
            topics.chirpstack_up(_app(v), d.dev_eui or "") if route == "chirpstack" else topics.device_up(v.id, d.id)
        )
        return route, topic, (vi, d.gateway or ""), self.plan.dev_series[di]

    def _route(self, d: Device) -> str:
        if self.fmt == "device":
            return "device"
        if self.fmt == "gateway":  # a device with no gateway in the config has none to speak for it
            return "gateway" if d.gateway else "device"
        if d.dev_eui and self.fmt in ("auto", "chirpstack"):
            return "chirpstack"
        return "gateway" if d.gateway and self.fmt == "auto" else "device"

    def _targets(self, f: Fault) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Series and devices a fault acts on (in the scenario's village)."""
        vi = self._village_index()
        devs = [
            i
            for i, (v, d) in enumerate(self.plan.devices)
            if v == vi and (f.device is None or d.id == f.device) and (f.gateway is None or d.gateway == f.gateway)
        ]
        series = [s for i in devs for m, s in self.plan.dev_series[i] if f.metric is None or m == f.metric]
        return np.array(series, np.int64), np.array(devs, np.int64)

    def _village_index(self) -> int:
        if self.scenario is None or self.scenario.village is None:
            return 0
        return next(i for i, v in enumerate(self.config.village) if v.id == self.scenario.village)

    # -- running -----------------------------------------------------------------------

    def run(self, until_s: float, max_steps: int = 60) -> Iterator[SimMessage]:
        """Messages in simulated-time order from the current time up to until_s; backlogs flush at the end.
        The physics runs `max_steps` ahead of the messages at most (1 where valves change it as it goes)."""
        n_series = len(self.plan.series_metric)
        per_step = len(QUANTITIES) * self.physics.n_sites + n_series
        max_steps = int(max(1, min(max_steps, 4_000_000 // max(1, per_step))))
        for chunk in self.physics.chunks(until_s, max_steps):
            yield from self._emit(chunk.t_s, chunk.values)
        yield from self._flush_all(until_s)

    def _emit(self, t: F64, truth: F64) -> Iterator[SimMessage]:
        p = self.plan
        k = len(t)
        step0 = round(float(t[0]) / self.dt)
        rng = np.random.default_rng([self.seed, 13, step0])
        values = truth[:, p.series_q, p.series_site]  # (k, n_series)
        noise = rng.normal(0.0, 1.0, values.shape)
        values = values + self.offset + noise * (self.noise_sd + self.rel_sd * np.abs(values))
        values = np.where(self._percent, np.clip(values, 0.0, 100.0), np.maximum(values, self.lo))
        steps = step0 + np.arange(k)
        due = (steps[:, None] + p.phase[None, :]) % p.every[None, :] == 0  # (k, n_dev)
        skew = np.zeros((k, len(p.devices)))
        down = np.zeros((k, len(p.devices)), bool)
        dup = np.zeros((k, len(p.devices)), bool)
        for fi, (f, series, devs) in enumerate(zip(self.faults, self._fault_series, self._fault_devices, strict=True)):
            window = (t >= f.start_s) & (t < f.end_s)
            if f.kind == "spike":
                spike_len = max(self.dt, float(np.max(p.every[devs]) * self.dt)) if len(devs) else self.dt
                window = (t >= f.start_s) & (t < min(f.end_s, f.start_s + spike_len))
            if not window.any():
                continue
            rows = np.flatnonzero(window)
            if f.kind == "dropout":
                due[np.ix_(rows, devs)] = False
            elif f.kind == "clock_skew":
                skew[np.ix_(rows, devs)] = f.magnitude if f.magnitude is not None else 3 * 3600.0
            elif f.kind == "outage":
                down[np.ix_(rows, devs)] = True
            elif f.kind == "duplicate":
                dup[np.ix_(rows, devs)] = True
            elif f.kind == "stuck":
                if fi not in self.held:
                    self.held[fi] = values[rows[0], series].copy()
                values[np.ix_(rows, series)] = self.held[fi]
            elif f.kind == "spike":
                mag = np.array([f.magnitude if f.magnitude is not None else SPIKE.get(p.series_metric[s], 50.0)
                                for s in series])  # fmt: skip
                values[np.ix_(rows, series)] += mag
            elif f.kind == "drift":
                hours = (t[rows] - f.start_s)[:, None] / 3600.0
                rate = np.array([f.magnitude if f.magnitude is not None else DRIFT_PER_H.get(p.series_metric[s], 1.0)
                                 for s in series])  # fmt: skip
                values[np.ix_(rows, series)] += hours * rate
            elif f.kind == "dead":
                dead = np.array([DEAD_VALUE.get(p.series_metric[s], DEAD_ADC) for s in series])
                values[np.ix_(rows, series)] = dead
        for decimals, cols in self._round_groups:
            values[:, cols] = np.round(values[:, cols], decimals)
        bat = battery_v(t, self.bat_full, self.bat_drain, self.bat_fitted_day, truth[:, 0, p.dev_site])
        rssi = np.round(self.rssi_mean + rng.normal(0.0, 3.0, due.shape), 0)
        snr = np.round(np.clip(rssi + 117.0 + rng.normal(0.0, 1.5, due.shape), -20.0, 12.0), 1)
        if self.scenario is not None and self.scenario.lora_loss is not None:
            loss_p = np.full(due.shape, self.scenario.lora_loss)
        else:  # SF10 demodulates down to about −15 dB SNR; plus 1 % collisions
            loss_p = 0.01 + 1.0 / (1.0 + np.exp((snr + 15.0) / 1.2))
        lost = p.lora[None, :] & (rng.uniform(size=due.shape) < loss_p)
        send = due & ~lost
        # Per-reading scalars as Python lists: numpy scalar indexing in the loop below would cost more than encoding.
        seq_all = self.seq[None, :] + np.cumsum(due, axis=0)
        self.seq = seq_all[-1].copy()
        vals, seqs = values.tolist(), seq_all.tolist()
        ts_rows = (t[:, None] + p.second[None, :] + skew).tolist()
        sent_rows = (t[:, None] + p.second[None, :]).tolist()
        bats, rssis, snrs = bat.tolist(), rssi.tolist(), snr.tolist()
        any_down, any_dup = bool(down.any()), bool(dup.any())
        info = self._info
        by_second = self._by_second
        getters, dev_tmpls, gw_tmpls = self._getters, self._dev_tmpls, self._gw_tmpls
        encode = encoder.encode
        for i in range(k):
            rows_due = by_second[send[i][by_second]].tolist()  # devices in the order they report
            if not rows_due and not self.backlog:
                continue
            out: list[SimMessage] = []
            gw_batches: dict[tuple[int, str], list[bytes]] = {}  # readings encoded at once: no live dicts
            row, seq_i, ts_i, bat_i = vals[i], seqs[i], ts_rows[i], bats[i]
            down_i = down[i].tolist() if any_down else None
            dup_i = dup[i].tolist() if any_dup else None
            for di in rows_due:
                route, topic, gw_key, names = info[di]
                self.readings += len(names)
                if (down_i is not None and down_i[di]) or route == "chirpstack":
                    m = {name: row[s] for name, s in names}
                    if down_i is not None and down_i[di]:
                        self.backlog.setdefault(di, _Backlog()).items.append(
                            _Held(ts=ts_i[di], seq=seq_i[di], m=m, bat_v=bat_i[di])
                        )
                        continue
                copies = 2 if dup_i is not None and dup_i[di] else 1
                # Device and gateway payloads from per-device templates: the JSON msgspec would write, built
                # without a dict per reading (ids and metric names are slugs, floats print as their repr).
                fields = (ts_i[di], seq_i[di], *getters[di](row), bat_i[di])
                if route == "gateway":
                    gw_batches.setdefault(gw_key, []).append((gw_tmpls[di] % fields).encode())
                    if copies == 2:
                        self._dup_gateways.add(gw_key)
                    continue
                if route == "chirpstack":
                    vi, d = p.devices[di]
                    payload = self._chirpstack(
                        p.villages[vi], d, ts_i[di], seq_i[di], m, bat_i[di], rssis[i][di], snrs[i][di]
                    )
                else:
                    payload = (dev_tmpls[di] % fields).encode()
                sent_at = sent_rows[i][di]
                for _ in range(copies):
                    out.append((sent_at, topic, payload))
            # Links that came back: each device's backlog goes out at once.
            flushed = False
            if self.backlog:
                back = [di for di in self.backlog if not (down_i is not None and down_i[di])]
                if back:
                    out.extend(self._flush(back, sent_rows[i][back[0]]))
                    flushed = True
            gw_at = float(t[i] + 59.9)
            for key, items in gw_batches.items():
                # the same bytes as encoding {"gw": ..., "readings": [...]} in one go
                payload = b'{"gw":' + encode(key[1]) + b',"readings":[' + b",".join(items) + b"]}"
                topic = topics.gateway_up(p.villages[key[0]].id, key[1])
                for _ in range(2 if key in self._dup_gateways else 1):
                    out.append((gw_at, topic, payload))
            self._dup_gateways.clear()
            if flushed:  # otherwise already in time order: devices by second, gateway batches last
                out.sort(key=lambda o: o[0])
            yield from out

    def _flush(self, devs: list[int], at_s: float) -> list[SimMessage]:
        """Backlogs of devices whose link is back: one array per device, one batch per gateway."""
        p = self.plan
        msgs: list[SimMessage] = []
        per_gateway: dict[tuple[int, str], list[dict[str, object]]] = {}
        for di in sorted(devs):
            items = self.backlog.pop(di).items
            vi, d = p.devices[di]
            v = p.villages[vi]
            r = p.route[di]
            if r == "chirpstack":  # ChirpStack has no batch form: the held uplinks arrive one after another
                for it in items:
                    payload = self._chirpstack(
                        v,
                        d,
                        it["ts"],
                        it["seq"],
                        it["m"],
                        it["bat_v"],
                        None,
                        None,
                    )
                    msgs.append((at_s, topics.chirpstack_up(_app(v), d.dev_eui or ""), payload))
            elif r == "gateway":
                per_gateway.setdefault((vi, d.gateway or ""), []).extend({"dev": d.id, **it} for it in items)
            else:
                msgs.append((at_s, topics.device_up(v.id, d.id), encoder.encode(items)))
        for (vi, gw), readings in per_gateway.items():
            for start in range(0, len(readings), MAX_BATCH_READINGS):
                part = readings[start : start + MAX_BATCH_READINGS]
                msgs.append(
                    (at_s, topics.gateway_up(p.villages[vi].id, gw), encoder.encode({"gw": gw, "readings": part}))
                )
        return msgs

    def _flush_all(self, at_s: float) -> Iterator[SimMessage]:
        yield from (self._flush(list(self.backlog), at_s) if self.backlog else [])

    def _chirpstack(
        self,
        v: Village,
        d: Device,
        ts: float,
        fcnt: int,
        m: dict[str, float],
        bat: float,
        rssi: float | None,
        snr: float | None,
    ) -> bytes:
        codec_key = {metric: key for key, metric in d.object_keys.items()}
        obj: dict[str, object] = {codec_key.get(k, k): val for k, val in m.items()}
        if "bat_v" in codec_key:
            obj[codec_key["bat_v"]] = bat
        for key in d.object_ignore:
            obj[key] = "normal"
        h = f"{d.dev_eui or '0':0>16}{fcnt & 0xFFFF_FFFF_FFFF_FFFF:016x}"  # a UUID: DevEUI and frame counter
        dedup = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        rx = [{"gatewayId": LORA_GATEWAY, "rssi": rssi, "snr": snr}] if rssi is not None else []
        return encoder.encode(
            {
                "deduplicationId": dedup,
                "time": iso(round(ts * 1000)),
                "deviceInfo": {"devEui": d.dev_eui, "deviceName": d.id, "applicationId": _app(v)},
                "fCnt": fcnt,
                "fPort": 2,
                "object": obj,
                "rxInfo": rx,
            }
        )


def battery_v(t_s: F64, full_v: F64, drain_v_per_day: F64, fitted_day: F64, site_temp_c: F64) -> F64:
    """Cell voltage (times × devices): a slow drain since the device's yearly renewal, lower in the cold."""
    days = (t_s[:, None] / 86_400.0 - fitted_day) % 365.0
    return np.round(full_v - drain_v_per_day * days + 0.003 * (site_temp_c - 20.0), 3)


def _getter(idx: list[int]) -> Callable[[list[float]], tuple[float, ...]]:
    """A fast picker of a device's values from a row of all series."""
    if len(idx) > 1:
        return itemgetter(*idx)
    if len(idx) == 1:
        only = idx[0]
        return lambda row: (row[only],)
    return lambda row: ()


def _template(names: list[tuple[str, int]], dev: str | None) -> str:
    """%-template of one reading's JSON: a device uplink, or (with `dev`) an item of a gateway batch."""
    m = ",".join(f'"{name}":%r' for name, _ in names)
    head = f'{{"dev":"{dev}",' if dev is not None else "{"
    return head + '"ts":%r,"seq":%d,"m":{' + m + '},"bat_v":%r}'


def _app(v: Village) -> str:
    return v.chirpstack_apps[0] if v.chirpstack_apps else v.id


def run_scenario(config: Config, scenario: Scenario, seed: int = 0, fmt: TwinFormat = "auto") -> Iterator[SimMessage]:
    """The messages the village publishes during a scenario, in simulated time, deterministically.

    Yields (sim_time_s, topic, payload_bytes): sim_time_s is the simulated epoch
    second at which the message is published (a backlog's readings carry older
    timestamps inside the payload). No MQTT needed.
    """
    twin = Twin(config, seed=seed, scenario=scenario, fmt=fmt)
    yield from twin.run(scenario.end_s)
