"""The twin's scale mode: readings generated (and published) per second, beside a per-reading Python baseline.

Rates are per CPU second of this process (time.process_time): the machine is
shared, and wall-clock rates swing with other people's load. Publishing is
measured in wall time (the broker works in its own process).

Scale mode builds many villages in memory (24 greenhouses + 6 orchard blocks
each, 144 measured series per village) and runs them from one process. The
baseline, measured in the same run, produces the same kind of data the
obvious way: a Python loop per greenhouse for the physics (the same
equations, scalar) and per reading for noise, rounding and the payload
mapping, then the same msgspec encoding of one device message per reading.

    .venv/bin/python -m bench.bench_sim                        # 1000 villages, 5 simulated minutes
    .venv/bin/python -m bench.bench_sim --villages 200 --minutes 10 --repeat 3
    .venv/bin/python -m bench.bench_sim --publish               # also through a real mosquitto, QoS 1
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_ingest import start_broker
from qingyubiao import topics
from qingyubiao.config import Config
from qingyubiao.payloads import encoder
from sensors_sim import greenhouse as gh
from sensors_sim import publisher
from sensors_sim.physics import Physics
from sensors_sim.runner import as_messages
from sensors_sim.scale import scale_config
from sensors_sim.twin import Twin, TwinFormat
from sensors_sim.weather import vapour_density

START = 1_776_823_200.0  # 2026-04-22 10:00 +08:00: a working morning, vents moving


def twin_rate(config: Config, minutes: float, fmt: TwinFormat) -> tuple[float, int, int, float]:
    """(readings/s, readings, messages, setup seconds) of the vectorized twin."""
    t0 = time.perf_counter()
    twin = Twin(config, seed=1, start_s=START, fmt=fmt, spin_up_s=3600.0)
    setup = time.perf_counter() - t0
    t0 = time.process_time()
    n_msgs = sum(1 for _ in twin.run(START + minutes * 60))
    took = time.process_time() - t0
    return twin.readings / took, twin.readings, n_msgs, setup


def values_rate(config: Config, minutes: float) -> tuple[float, int]:
    """(readings/s, readings) of the twin's vectorized part alone: physics, sensor values, noise, rounding."""
    twin = Twin(config, seed=1, start_s=START, spin_up_s=3600.0)
    p = twin.plan
    rng = np.random.default_rng(0)
    n = 0
    t0 = time.process_time()
    for chunk in twin.physics.chunks(START + minutes * 60):
        values = chunk.values[:, p.series_q, p.series_site]
        values = np.round(values + twin.offset + rng.normal(0.0, 1.0, values.shape) * twin.noise_sd, 1)
        steps = np.round(chunk.t_s / 60.0).astype(np.int64)
        due = (steps[:, None] + p.phase[None, :]) % p.every[None, :] == 0
        n += int((due[:, p.series_dev]).sum())
    took = time.process_time() - t0
    return n / took, n


def _scalar_step(
    st: list[float],
    p: dict[str, float],
    dt: float,
    el: float,
    sun: tuple[float, float, float, float],
    t_out: float,
    vap_out: float,
    wind: float,
) -> float:
    """gh.roof_light and gh.step for one house with Python floats (same equations; quilt up, daytime).
    `sun`: (ghi, dhi, declination, latitude)."""
    t_air, t_surf, t_mass, vap, vwc = st
    ghi, dhi, decl, lat = sun
    sin_el = math.sin(math.radians(el))
    dni = max(ghi - dhi, 0.0) / max(sin_el, 0.02) if sin_el > 0.02 else 0.0
    beta, phi = math.radians(p["tilt"]), math.radians(lat)
    cos_inc = sin_el * math.cos(beta) + math.sin(beta) * (sin_el * math.sin(phi) - math.sin(math.radians(decl))) / (
        math.cos(phi)
    )
    cos_inc = min(max(cos_inc, 0.0), 1.0)
    iam = min(max(1.0 - gh.IAM_B * (1.0 / max(cos_inc, 1e-3) - 1.0), 0.0), 1.0)
    sky = dhi * (1.0 + math.cos(beta)) / 2.0 * gh.IAM_DIFFUSE
    light = p["tau"] * gh.FRONT_SHARE / math.cos(beta) * (dni * cos_inc * iam + sky)
    sat = 0.6108 * math.exp(17.27 * t_air / (t_air + 237.3)) * 1000.0 * 2.1668 / (t_air + 273.15)
    vent = min(max((t_air - p["setpoint"]) / gh.VENT_BAND, 0.0), 1.0)
    if vap > 0.9 * sat and t_air > p["setpoint"] - 8.0:
        vent = max(vent, 0.25)
    flow = (0.4 + 0.25 * wind) * gh.HEIGHT_M / 3600.0 + vent * gh.VENT_FLOW
    vpd = max(sat - vap, 0.0)
    transp = p["crop"] * (0.3 * light / gh.LATENT * min(max(vpd / 7.0, 0.1), 1.5) + 0.006 * min(max(vpd / 3.5, 0.1), 1))
    clear = 1.0 - p["cloud"]
    t_sky = t_out - (gh.SKY_DEFICIT[0] + (gh.SKY_DEFICIT[1] - gh.SKY_DEFICIT[0]) * clear)
    to_air = gh.H_SURF * (t_surf - t_air)
    to_deep = gh.K_SURF * (t_surf - t_mass)
    q_air = gh.AIR_SHARE * light + to_air - (gh.U_FILM + 0.3 * wind + gh.U_SHELL + gh.RHO_CP * flow) * (t_air - t_out)
    q_surf = (1 - gh.AIR_SHARE) * light - transp * gh.LATENT - to_air - to_deep - gh.SKY_LW * (t_surf - t_sky)
    q_mass = to_deep - gh.K_GROUND * (t_mass - gh.T_GROUND)
    t_air += dt * q_air / gh.C_AIR
    t_surf += dt * q_surf / gh.C_SURF
    t_mass += dt * q_mass / gh.C_MASS
    t_film = t_air - 0.55 * (t_air - t_out)
    sat_film = 0.6108 * math.exp(17.27 * t_film / (t_film + 237.3)) * 1000.0 * 2.1668 / (t_film + 273.15)
    cond = 0.004 * max(vap - sat_film, 0.0)
    vap = min(max(vap + dt * (transp - flow * (vap - vap_out) - cond) / gh.HEIGHT_M, 0.1), sat)
    vwc -= transp * dt / 1000.0 / gh.SOIL_DEPTH_MM * 100.0
    st[:] = [t_air, t_surf, t_mass, vap, vwc]
    return 100.0 * vap / sat


def baseline_rate(config: Config, minutes: float, encode: bool = True) -> tuple[float, int]:
    """(readings/s, readings) of a per-house, per-reading Python loop producing device messages (or only values)."""
    ph = Physics(config, 1, START, spin_up_s=0.0)
    rng = random.Random(1)
    houses = []
    for v in config.village:
        for d in v.device:
            if d.site.startswith("gh"):
                houses.append((v.id, d))
    state = {(vid, d.site): [20.0, 19.0, 18.0, float(vapour_density(20.0, 70.0)), 30.0] for vid, d in houses}
    params = {
        k: {"tau": rng.uniform(0.58, 0.78), "tilt": rng.uniform(24, 32), "setpoint": rng.uniform(25, 27.5), "crop": 1.0}
        for k in state
    }
    lat = config.village[0].lat
    n = 0
    t0 = time.process_time()
    steps = int(minutes)
    for i in range(steps):
        t = START + 60.0 * i
        w = ph.weathers[0].at(np.array([t]))
        el, t_out = float(w["elevation"][0]), float(w["temp_c"][0])
        sun = (float(w["ghi"][0]), float(w["dhi"][0]), float(w["decl"][0]), lat)
        wind, cloud = float(w["wind_m_s"][0]), float(w["cloud"][0])
        vap_out = float(vapour_density(t_out, float(w["rh_pct"][0])))
        for prm in params.values():
            prm["cloud"] = cloud
        rh = {k: _scalar_step(st, params[k], 60.0, el, sun, t_out, vap_out, wind) for k, st in state.items()}
        for vid, d in houses:
            if i % int(d.interval_s // 60):
                continue
            st = state[(vid, d.site)]
            truth = {
                "air_temp_c": st[0],
                "air_rh_pct": rh[(vid, d.site)],
                "soil_vwc_pct": st[4],
                "soil_temp_c": 0.4 * st[1] + 0.6 * st[2],
                "soil_ec_ms_cm": 1.2 * (30 / st[4]) ** 0.8,
            }
            m = {k: round(truth[k] + rng.gauss(0.0, 0.1), 1) for k in d.metrics}
            if encode:
                encoder.encode({"ts": t, "seq": i, "m": m, "bat_v": 3.6})
                topics.device_up(vid, d.id)
            n += len(m)
    took = time.process_time() - t0
    return n / took, n


def publish_rate(config: Config, minutes: float) -> tuple[float, int]:
    """(readings/s, readings) generating and publishing at QoS 1 to a real mosquitto (auto format)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_broker(Path(tmp))
        try:
            settings = config.deployment.mqtt.model_copy(update={"url": f"mqtt://127.0.0.1:{port}"})
            twin = Twin(config, seed=1, start_s=START, spin_up_s=3600.0)
            t0 = time.perf_counter()
            publisher.publish(settings, as_messages(twin.run(START + minutes * 60), lambda _: 0), client_id="bench")
            took = time.perf_counter() - t0
            return twin.readings / took, twin.readings
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--villages", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=5.0, help="simulated minutes per run")
    ap.add_argument("--baseline-villages", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--publish", action="store_true", help="also publish through a real mosquitto")
    args = ap.parse_args()
    t0 = time.perf_counter()
    big = scale_config(args.villages)
    small = scale_config(args.baseline_villages)
    print(
        f"configs built in {time.perf_counter() - t0:.1f} s: {args.villages} villages, "
        f"{sum(len(d.metrics) for v in big.village for d in v.device):,} measured series"
    )
    base, twin_dev, twin_auto, base_vals, twin_vals = [], [], [], [], []
    for r in range(args.repeat):
        rate, n = baseline_rate(small, args.minutes)
        base.append(rate)
        base_vals.append(baseline_rate(small, args.minutes, encode=False)[0])
        twin_vals.append(values_rate(big, args.minutes)[0])
        rate_d, nd, md, setup = twin_rate(big, args.minutes, "device")
        twin_dev.append(rate_d)
        rate_a, na, ma, _ = twin_rate(big, args.minutes, "auto")
        twin_auto.append(rate_a)
        print(
            f"run {r + 1}: baseline {rate:,.0f}/s ({n:,} readings); twin device {rate_d:,.0f}/s ({nd:,} readings, "
            f"{md:,} msgs); twin auto {rate_a:,.0f}/s ({na:,} readings, {ma:,} msgs); twin setup {setup:.1f} s"
        )
    b, d, a = statistics.median(base), statistics.median(twin_dev), statistics.median(twin_auto)
    print(f"\nmedian readings generated and encoded per CPU second ({args.repeat} runs, {args.minutes:g} sim min):")
    print(f"  baseline, per-reading Python loop ({args.baseline_villages} villages): {b:>12,.0f}")
    print(f"  twin, device messages   ({args.villages} villages): {d:>12,.0f}   {d / b:.1f}x baseline")
    print(f"  twin, auto (gateway batches + ChirpStack events): {a:>12,.0f}   {a / b:.1f}x baseline")
    bv, tv = statistics.median(base_vals), statistics.median(twin_vals)
    print("median readings per CPU second, values only (physics, sensors, noise, rounding; no payloads):")
    print(f"  baseline, per-house and per-reading Python loop: {bv:>12,.0f}")
    print(f"  twin, numpy over houses and series:              {tv:>12,.0f}   {tv / bv:.1f}x baseline")
    if args.publish:
        rate, n = publish_rate(scale_config(min(args.villages, 200)), args.minutes)
        print(
            f"  published to mosquitto, QoS 1, auto format ({min(args.villages, 200)} villages): {rate:,.0f} "
            f"readings/s ({n:,} readings)"
        )


if __name__ == "__main__":
    main()
