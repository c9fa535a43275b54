"""The village config: the bundled 李家河村 file, every kind of error, and QYB_* overrides."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from qingyubiao.catalogue import METRICS
from qingyubiao.config import Config, ConfigError, bundled_config_path, load_config
from tests.conftest import qyb

# A small valid village; tests break one thing at a time.
MINIMAL = """
[[village]]
id = "v1"
name = "测试村"
lat = 37.45
lon = 110.7

[[village.household]]
id = "h1"
name = "一家"

[[village.site]]
id = "gh01"
name = "1号棚"
kind = "greenhouse"
crop = "tomato"
owner = "h1"

[[village.device]]
id = "gh01-air"
site = "gh01"
metrics = ["air_temp_c", "air_rh_pct"]

[[village.device]]
id = "or01-air"
site = "gh01"
metrics = ["air_temp_c"]
dev_eui = "A840410000180101"
"""


def write(tmp_path: Path, text: str, name: str = "village.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={} if env is None else env)
    assert caught.value.file == str(path)
    assert str(caught.value).startswith(f"{path}: ")
    return caught.value


# -- the bundled village ------------------------------------------------------------


@pytest.fixture(scope="module")
def lijiahe() -> Config:
    return load_config(env={})


def test_bundled_village_has_24_greenhouses_with_mixed_crops(lijiahe: Config) -> None:
    (v,) = lijiahe.village
    assert (v.id, v.name) == ("lijiahe", "李家河村")
    greenhouses = [s for s in v.site if s.kind == "greenhouse"]
    assert len(greenhouses) == 24
    crops = Counter(s.crop for s in greenhouses)
    assert set(crops) == {"tomato", "cucumber", "pepper", "strawberry"}
    assert min(crops.values()) >= 3  # a real mix, not one crop with a token other


def test_every_greenhouse_has_an_air_node_and_a_soil_node(lijiahe: Config) -> None:
    v = lijiahe.village[0]
    for site in (s for s in v.site if s.kind == "greenhouse"):
        metrics = [set(d.metrics) for d in v.device if d.site == site.id]
        assert any({"air_temp_c", "air_rh_pct"} <= m for m in metrics), site.id
        assert any(any(x.startswith("soil_") for x in m) for m in metrics), site.id


def test_six_orchard_blocks_of_apple_and_pear_with_lorawan_air_and_soil_nodes(lijiahe: Config) -> None:
    v = lijiahe.village[0]
    orchards = [s for s in v.site if s.kind == "orchard"]
    assert len(orchards) == 6
    assert {s.crop for s in orchards} == {"apple", "pear"}
    for site in orchards:
        devices = [d for d in v.device if d.site == site.id]
        assert all(d.dev_eui for d in devices), site.id
        assert any("air_temp_c" in d.metrics for d in devices), site.id
        assert any(any(m.startswith("soil_") for m in d.metrics) for d in devices), site.id
    euis = [d.dev_eui for d in v.device if d.dev_eui]
    assert len(euis) == len(set(euis))
    assert all(e == e.lower() for e in euis if e)


def test_households_own_greenhouses_and_a_secretary_watches_the_village(lijiahe: Config) -> None:
    v = lijiahe.village[0]
    households = {h.id for h in v.household}
    owned = [s for s in v.site if s.kind == "greenhouse"]
    assert all(s.owner in households for s in owned)
    farmers = [p for p in v.person if p.role == "farmer"]
    assert farmers and all(p.household in households for p in farmers)
    # a farmer sees the greenhouses of their household
    f = next(p for p in farmers if any(s.owner == p.household for s in owned))
    assert {s.id for s in owned if s.owner == f.household} <= {s.id for s in v.sites_of(f)}
    secretaries = [p for p in v.person if p.role == "secretary"]
    assert len(secretaries) == 1
    assert {s.id for s in v.sites_of(secretaries[0])} == {s.id for s in v.site}


def test_bundled_metrics_are_all_in_the_catalogue(lijiahe: Config) -> None:
    for d in lijiahe.village[0].device:
        assert set(d.metrics) <= set(METRICS)
        assert set(d.object_keys.values()) <= set(METRICS)


def test_minimal_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    assert [d.id for d in config.village[0].device] == ["gh01-air", "or01-air"]
    assert config.village[0].device[1].dev_eui == "a840410000180101"  # DevEUIs are compared lower-case


# -- errors name the file, the key path and the problem -----------------------------


def test_unknown_key_is_a_typo(tmp_path: Path) -> None:
    err = config_error(tmp_path, MINIMAL.replace('crop = "tomato"', 'crop = "tomato"\ncorp = "x"'))
    assert err.key == "village[0].site[0].corp"
    assert "unknown key" in err.problem


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = config_error(tmp_path, "[deploymnet]\nx = 1\n" + MINIMAL)
    assert err.key == "deploymnet"
    assert "unknown key" in err.problem


def test_missing_required_key(tmp_path: Path) -> None:
    err = config_error(tmp_path, MINIMAL.replace('kind = "greenhouse"\n', ""))
    assert err.key == "village[0].site[0].kind"
    assert "missing" in err.problem


def test_no_village_at_all(tmp_path: Path) -> None:
    err = config_error(tmp_path, '[deployment.mqtt]\nurl = "mqtt://h"\n')
    assert err.key == "village"
    assert "missing" in err.problem


def test_device_on_unknown_site(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, MINIMAL.replace('site = "gh01"\nmetrics = ["air_temp_c"]', 'site = "gh99"\nmetrics = ["air_temp_c"]')
    )
    assert err.key == "village[0].device[1].site"
    assert "unknown site 'gh99'" in err.problem


def test_unknown_metric_with_a_hint(tmp_path: Path) -> None:
    err = config_error(tmp_path, MINIMAL.replace('"air_rh_pct"]', '"air_rh"]'))
    assert err.key == "village[0].device[0].metrics[1]"
    assert "unknown metric 'air_rh'" in err.problem
    assert "did you mean" in err.problem and "air_rh_pct" in err.problem


def test_unknown_metric_without_a_close_name_lists_the_known_ones(tmp_path: Path) -> None:
    err = config_error(tmp_path, MINIMAL.replace('"air_rh_pct"]', '"ph"]'))
    assert "unknown metric 'ph'" in err.problem
    assert "soil_vwc_pct" in err.problem


def test_unknown_metric_in_object_keys(tmp_path: Path) -> None:
    err = config_error(tmp_path, MINIMAL + 'object_keys = { temperature = "air_temperature" }\n')
    assert err.key == "village[0].device[1].object_keys.temperature"
    assert "unknown metric 'air_temperature'" in err.problem


@pytest.mark.parametrize("kind", ["site", "device", "household"])
def test_duplicate_ids(tmp_path: Path, kind: str) -> None:
    first_block = MINIMAL.split(f"[[village.{kind}]]")[1].split("[[")[0]  # the first item of this kind, again
    err = config_error(tmp_path, MINIMAL + f"\n[[village.{kind}]]" + first_block)
    assert err.key.startswith(f"village[0].{kind}[")
    assert err.key.endswith("].id")
    assert "duplicate id" in err.problem


def test_duplicate_village_ids(tmp_path: Path) -> None:
    err = config_error(tmp_path, MINIMAL + '\n[[village]]\nid = "v1"\nname = "又一个"\nlat = 1\nlon = 2\n')
    assert err.key == "village[1].id"
    assert "duplicate village id 'v1'" in err.problem


def test_duplicate_dev_eui_in_any_case(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[village.device]]\nid = "or02-air"\nsite = "gh01"\nmetrics = ["air_temp_c"]\n'
    text += 'dev_eui = "a840410000180101"\n'
    err = config_error(tmp_path, text)
    assert err.key == "village[0].device[2].dev_eui"
    assert "v1/or01-air" in err.problem


def test_bad_dev_eui(tmp_path: Path) -> None:
    err = config_error(tmp_path, MINIMAL.replace("A840410000180101", "A84041000018010Z"))
    assert err.key == "village[0].device[1].dev_eui"
    assert "A84041000018010Z" in err.problem


@pytest.mark.parametrize(
    "url", ["http://broker:1883", "mqtt://", "broker:1883", "mqtt://broker:notaport", "mqtt://broker:99999"]
)
def test_bad_mqtt_url(tmp_path: Path, url: str) -> None:
    err = config_error(tmp_path, f'[deployment.mqtt]\nurl = "{url}"\n' + MINIMAL)
    assert err.key == "deployment.mqtt.url"
    assert url in err.problem


def test_bad_toml_syntax(tmp_path: Path) -> None:
    err = config_error(tmp_path, MINIMAL.replace('name = "1号棚"', 'name = "1号棚'))
    assert "not valid TOML" in err.problem
    assert "line" in err.problem  # tomllib says where


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert str(caught.value) == f"{path}: -: file not found"


def test_unknown_household_and_unknown_time_zone(tmp_path: Path) -> None:
    err = config_error(tmp_path, MINIMAL.replace('owner = "h1"', 'owner = "h9"'))
    assert (err.key, err.problem) == ("village[0].site[0].owner", "unknown household 'h9'")
    err = config_error(tmp_path, MINIMAL.replace("lon = 110.7", 'lon = 110.7\ntz = "Asia/Beijing"'))
    assert err.key == "village[0].tz"
    assert "Asia/Beijing" in err.problem


def test_device_named_gw_is_reserved_for_gateway_topics(tmp_path: Path) -> None:
    err = config_error(tmp_path, MINIMAL.replace('id = "or01-air"', 'id = "gw"'))
    assert err.key == "village[0].device[1].id"
    assert "reserved" in err.problem


# -- environment overrides ----------------------------------------------------------


def test_env_overrides_apply(tmp_path: Path) -> None:
    env = {
        "QYB_MQTT_URL": "mqtt://broker.example:1884",
        "QYB_MQTT_USERNAME": "collector",
        "QYB_MQTT_PASSWORD": "s3cret",
        "QYB_MQTT_CLIENT_ID": "c-7",
        "QYB_MQTT_PROTOCOL": "311",
        "QYB_DB": str(tmp_path / "x.sqlite"),
        "QYB_INFLUX_URL": "http://influx:8086",
        "QYB_INFLUX_TOKEN": "tok",
        "QYB_INFLUX_ORG": "county",
        "QYB_INFLUX_BUCKET": "village",
        "QYB_METRICS_PORT": "9200",
    }
    d = load_config(write(tmp_path, MINIMAL), env=env).deployment
    assert (d.mqtt.host, d.mqtt.port, d.mqtt.tls) == ("broker.example", 1884, False)
    assert d.mqtt.credentials == ("collector", "s3cret")
    assert (d.mqtt.client_id, d.mqtt.protocol) == ("c-7", 311)
    assert d.store.db == str(tmp_path / "x.sqlite")
    assert (d.influx.url, d.influx.token, d.influx.org, d.influx.bucket) == (
        "http://influx:8086",
        "tok",
        "county",
        "village",
    )
    assert d.metrics_port == 9200


def test_env_overrides_win_over_the_file(tmp_path: Path) -> None:
    text = '[deployment]\nmetrics_port = 1\n[deployment.mqtt]\nurl = "mqtt://file:1"\n' + MINIMAL
    d = load_config(write(tmp_path, text), env={"QYB_MQTT_URL": "mqtt://env:2", "QYB_METRICS_PORT": "0"}).deployment
    assert (d.mqtt.host, d.mqtt.port, d.metrics_port) == ("env", 2, 0)
    d = load_config(write(tmp_path, text), env={}).deployment
    assert (d.mqtt.host, d.mqtt.port, d.metrics_port) == ("file", 1, 1)


def test_mqtts_means_tls_on_8883_and_credentials_come_from_the_url(tmp_path: Path) -> None:
    d = load_config(write(tmp_path, MINIMAL), env={"QYB_MQTT_URL": "mqtts://u%40x:p%3Aw@emqx.example"}).deployment
    assert (d.mqtt.tls, d.mqtt.port, d.mqtt.host) == (True, 8883, "emqx.example")
    assert d.mqtt.credentials == ("u@x", "p:w")
    # explicit settings win over the URL's
    env = {"QYB_MQTT_URL": "mqtts://u:p@emqx.example:9883", "QYB_MQTT_PASSWORD": "other"}
    d = load_config(write(tmp_path, MINIMAL), env=env).deployment
    assert (d.mqtt.port, d.mqtt.credentials) == (9883, ("u", "other"))


def test_plain_mqtt_defaults_to_1883_without_credentials(tmp_path: Path) -> None:
    d = load_config(write(tmp_path, MINIMAL), env={}).deployment
    assert (d.mqtt.tls, d.mqtt.port, d.mqtt.credentials) == (False, 1883, (None, None))


@pytest.mark.parametrize(
    ("var", "value", "key"),
    [
        ("QYB_METRICS_PORT", "abc", "deployment.metrics_port"),
        ("QYB_METRICS_PORT", "70000", "deployment.metrics_port"),
        ("QYB_MQTT_URL", "http://x", "deployment.mqtt.url"),
        ("QYB_MQTT_PROTOCOL", "4", "deployment.mqtt.protocol"),
        ("QYB_MQTT_CA_FILE", "/nowhere/ca.crt", "deployment.mqtt.ca_file"),  # a missing CA: said at start
        ("QYB_FORECAST_URL", "api.open-meteo.com/v1/forecast", "deployment.agronomy.forecast_url"),
    ],
)
def test_bad_env_override_names_the_variable(tmp_path: Path, var: str, value: str, key: str) -> None:
    err = config_error(tmp_path, MINIMAL, env={var: value})
    assert err.key == f"{key} (from {var})"
    assert value in err.problem


def test_the_forecast_url_comes_from_the_environment(tmp_path: Path) -> None:
    url = "https://api.open-meteo.com/v1/forecast"
    assert load_config(write(tmp_path, MINIMAL), env={"QYB_FORECAST_URL": url}).deployment.agronomy.forecast_url == url
    assert load_config(write(tmp_path, MINIMAL), env={}).deployment.agronomy.forecast_url is None


def test_env_override_on_a_deployment_that_is_not_a_table(tmp_path: Path) -> None:
    err = config_error(tmp_path, "deployment = 3\n" + MINIMAL, env={"QYB_DB": "x.sqlite"})
    assert err.key == "deployment"


def test_load_config_does_not_read_env_when_given_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QYB_MQTT_URL", "http://not-used")
    assert load_config(write(tmp_path, MINIMAL), env={}).deployment.mqtt.port == 1883
    with pytest.raises(ConfigError, match="QYB_MQTT_URL"):
        load_config(write(tmp_path, MINIMAL))


# -- qyb check -----------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QYB_")}


@pytest.mark.slow
def test_qyb_check_accepts_the_bundled_config() -> None:
    proc = qyb("check", "--config", str(bundled_config_path()), env=clean_env(), timeout=60)
    assert proc.returncode == 0
    assert "24 greenhouses, 6 orchard blocks" in proc.stdout


@pytest.mark.slow
def test_qyb_check_rejects_a_broken_config_with_the_message(tmp_path: Path) -> None:
    path = write(
        tmp_path, MINIMAL.replace('site = "gh01"\nmetrics = ["air_temp_c"]', 'site = "gh99"\nmetrics = ["air_temp_c"]')
    )
    proc = qyb("check", "--config", str(path), env=clean_env(), check=False, timeout=60)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"{path}: village[0].device[1].site: unknown site 'gh99'" in out
    assert "Traceback" not in out


def test_person_references_are_checked(tmp_path: Path) -> None:
    person = '\n[[village.person]]\nid = "p1"\nname = "李"\nphone = "13900000000"\nrole = "farmer"\n'
    err = config_error(tmp_path, MINIMAL + person + 'household = "h9"\n')
    assert (err.key, err.problem) == ("village[0].person[0].household", "unknown household 'h9'")
    err = config_error(tmp_path, MINIMAL + person + 'watch = ["gh01", "gh02"]\n')
    assert (err.key, err.problem) == ("village[0].person[0].watch[1]", "unknown site 'gh02'")
    err = config_error(tmp_path, MINIMAL + person.replace('"farmer"', '"mayor"'))
    assert err.key == "village[0].person[0].role"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, env={})  # a directory
    assert caught.value.key == "-" and "cannot read" in caught.value.problem
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('name = "caf\xe9"'.encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(bad, env={})


def test_village_by_id(lijiahe: Config) -> None:
    assert lijiahe.village_by_id("lijiahe").name == "李家河村"
    with pytest.raises(KeyError):
        lijiahe.village_by_id("zhangjiagou")


# -- irrigation (docs/irrigation.md) ---------------------------------------------------

WATERED = 'owner = "h1"\narea_mu = 1.2\nirrigation = { soil = "loam", emitter_lph = 1.5, emitters = 2700 }'


def test_a_watered_block_loads_with_its_drip_rate(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL.replace('owner = "h1"', WATERED, 1)), env={})
    site = config.village[0].site[0]
    assert site.irrigation is not None and site.irrigation.mode == "advice"
    assert site.drip_mm_h == pytest.approx(2700 * 1.5 / 800.0)  # 1.2 mu = 800 m²


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ("emitters = 2700", "emitters = 2700, root_m = 0", "greater than 0"),
        ('soil = "loam"', 'soil = "loess"', "'sand'"),
        ("area_mu = 1.2\n", "", "irrigation needs area_mu"),
        ("emitters = 2700", 'emitters = 2700, valve = "gh01-air2"', "no device 'gh01-air2' at site 'gh01'"),
    ],
)
def test_a_bad_irrigation_config_is_a_clear_error(tmp_path: Path, change: str, key: str, problem: str) -> None:
    text = MINIMAL.replace('owner = "h1"', WATERED.replace(change, key), 1)
    err = config_error(tmp_path, text)
    assert err.key.startswith("village[0].site[0]") and problem in err.problem, (err.key, err.problem)


def test_the_soil_textures_are_the_water_tables(lijiahe: Config) -> None:
    from agronomy.water import load_water
    from qingyubiao.config import SOIL_TEXTURES

    assert set(load_water().soil) == set(SOIL_TEXTURES)


def test_a_block_on_an_unknown_pump_is_a_clear_error(tmp_path: Path) -> None:
    text = MINIMAL.replace('owner = "h1"', WATERED.replace("emitters = 2700", 'emitters = 2700, pump = "p9"'), 1)
    err = config_error(tmp_path, text)
    assert err.key == "village[0].site[0].irrigation.pump" and "no pump 'p9'" in err.problem
    ok = text + '\n[[village.pump]]\nid = "p9"\nmax_open_valves = 2\n'
    assert load_config(write(tmp_path, ok), env={}).village[0].pump[0].max_open_valves == 2
