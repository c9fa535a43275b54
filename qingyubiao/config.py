"""The village config (TOML): villages, sites, devices, people, deployment settings.

`load_config(path)` reads and validates a file; deployment settings are then
overridden by `QYB_*` environment variables. Every problem is reported as a
`ConfigError` naming the file, the key and what is wrong, e.g.

    lijiahe.toml: village[0].device[3].site: unknown site 'gh99'
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from qingyubiao.catalogue import METRICS

BUNDLED_CONFIG = "lijiahe.toml"

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
NAME_MAX = 64  # names people and places are called by: 李建军, 3号棚, 李家河村
SITES_MAX = 1_000  # sites one person may be assigned or watch: more than a county's villages hold


class ConfigError(ValueError):
    """A config problem: which file, which key, what is wrong."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}")
        self.file, self.key, self.problem = file, key, problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# FAO-56 Table 19's soil textures (agronomy/params/water.toml gives their water)
SOIL_TEXTURES = ("sand", "loamy_sand", "sandy_loam", "loam", "silt_loam", "silt", "silty_clay_loam", "silty_clay",
                 "clay")  # fmt: skip


class Irrigation(_Strict):
    """How a block is watered: what its water balance and the advice need (docs/irrigation.md)."""

    soil: Literal[SOIL_TEXTURES]  # type: ignore[valid-type]  # the tuple above
    root_m: float | None = Field(default=None, gt=0, le=5)  # default: FAO-56 Table 22 for the crop
    emitter_lph: float = Field(gt=0, le=200)  # one emitter's flow, litres an hour
    emitters: int = Field(gt=0, le=10_000_000)  # on the whole block
    valve: str | None = None  # the device id of the block's valve controller, if it has one
    mode: Literal["advice", "confirm", "automatic"] = "advice"
    # interlocks (qingyubiao/interlocks.py): each command passes them all
    max_open_min: int = Field(default=240, ge=1, le=1440)  # one command's longest opening
    max_day_min: int = Field(default=480, ge=1, le=1440)  # all openings of a village day together
    pump: str | None = None  # the pump the block's valve draws on (village.pump)
    frost_protection: bool = False  # may water against frost even when wet or raining
    fertigation_max_l_day: float | None = Field(default=None, gt=0)  # fertiliser solution a day; None: none allowed


class Pump(_Strict):
    """A pump and how many valves it can feed at once (the pump-capacity interlock)."""

    id: Slug
    name: str = ""
    max_open_valves: int = Field(ge=1, le=1000)


class Site(_Strict):
    id: Slug
    name: str
    kind: Literal["greenhouse", "orchard"]
    crop: str
    stage: str | None = None
    owner: str | None = None  # household id
    area_mu: float | None = Field(default=None, gt=0)
    irrigation: Irrigation | None = None

    @model_validator(mode="after")
    def _area_for_water(self) -> Site:
        if self.irrigation is not None and self.area_mu is None:
            raise ValueError("irrigation needs area_mu: the drip rate is litres over the block's area")
        return self

    @property
    def drip_mm_h(self) -> float | None:
        """The depth the block's drip lines put down in an hour (litres per m² = mm); 1 mu = 666.7 m²."""
        if self.irrigation is None or self.area_mu is None:
            return None
        return self.irrigation.emitters * self.irrigation.emitter_lph / (self.area_mu * 2000.0 / 3.0)


class Device(_Strict):
    id: Slug
    site: str
    metrics: list[str] = Field(min_length=1)
    interval_s: float = Field(default=60.0, gt=0)
    gateway: str | None = None
    dev_eui: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{16}$")
    # ChirpStack codec output key -> metric name, for codecs that do not use ours.
    object_keys: dict[str, str] = Field(default_factory=dict)
    # codec output keys that carry no measurement (status strings and the like).
    object_ignore: list[str] = Field(default_factory=list)

    @field_validator("dev_eui")
    @classmethod
    def _lower(cls, v: str | None) -> str | None:
        return v.lower() if v else v


class Household(_Strict):
    id: Slug
    name: str


class Person(_Strict):
    id: Slug
    name: str = Field(min_length=1, max_length=NAME_MAX)
    phone: str = Field(pattern=r"^\+?[0-9]{5,15}$")
    role: Literal["farmer", "secretary", "admin"]
    household: Slug | None = None
    sites: list[Slug] = Field(default_factory=list, max_length=SITES_MAX)  # sites assigned to this person
    watch: list[Slug] = Field(default_factory=list, max_length=SITES_MAX)  # sites this person follows


class Village(_Strict):
    id: Slug
    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    elevation_m: float = Field(default=1000.0, ge=-500, le=6000)  # for the air pressure of ET0 (FAO-56 eq. 7)
    tz: str = "Asia/Shanghai"
    chirpstack_apps: list[str] = Field(default_factory=list)
    household: list[Household] = Field(default_factory=list)
    site: list[Site] = Field(default_factory=list)
    device: list[Device] = Field(default_factory=list)
    person: list[Person] = Field(default_factory=list)
    pump: list[Pump] = Field(default_factory=list)

    @field_validator("tz")
    @classmethod
    def _known_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r}") from e
        return v

    def sites_of(self, person: Person) -> list[Site]:
        """Sites a person owns (through the household), is assigned or watches."""
        ids = set(person.sites) | set(person.watch)
        return [s for s in self.site if s.id in ids or (s.owner and s.owner == person.household)]


class MqttSettings(_Strict):
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    client_id: str = "qyb-collector"
    protocol: Literal[5, 311] = 5
    keepalive_s: int = Field(default=30, ge=5)
    # MQTT 5 session expiry: how long the broker keeps our queue while we are away.
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    # MQTT 5: messages the broker may send us before our acknowledgements (which follow each commit).
    # Mosquitto saves its database only on changes to its queues, and a message sent ahead is in flight,
    # not queued: 100 lets a broker killed while the collector stalls keep the backlog (README).
    receive_maximum: int = Field(default=10_000, ge=1, le=65_535)
    ca_file: str | None = None
    # a client certificate and its key, for a broker that asks for one (mosquitto's require_certificate)
    cert_file: str | None = None
    key_file: str | None = None
    # the dispatcher's MQTT channel logs in as a user of its own, the one the ACL lets publish alerts
    # (`qyb broker credentials`); without one it uses the collector's
    notify_username: str | None = None
    notify_password: str | None = None

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_from_text(cls, v: object) -> object:
        # QYB_MQTT_PROTOCOL arrives as text, and a Literal does not coerce "311" to 311.
        return int(v) if isinstance(v, str) and v.strip().isdigit() else v

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _file_exists(cls, v: str | None, info: ValidationInfo) -> str | None:
        # said at start, by name: paho would fail on it at every reconnect, and only the log would know
        what = {"ca_file": "the CA file", "cert_file": "the client certificate", "key_file": "the client key"}
        if v is not None and not Path(v).is_file():
            need = "(mqtts:// needs the broker's CA certificate)" if info.field_name == "ca_file" else ""
            raise ValueError(f"{what[str(info.field_name)]} {v!r} does not exist {need}".rstrip())
        return v

    @model_validator(mode="after")
    def _cert_with_key(self) -> MqttSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs its key: set both cert_file and key_file, or neither")
        return self

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"{v!r} is not an mqtt:// or mqtts:// URL with a host")
        try:
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError as e:
            raise ValueError(f"{v!r} has a bad port") from e
        return v

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    def for_notifier(self) -> MqttSettings:
        """These settings with the notifier's own login, when it has one."""
        if self.notify_username is None:
            return self
        return self.model_copy(update={"username": self.notify_username, "password": self.notify_password})

    @property
    def credentials(self) -> tuple[str | None, str | None]:
        """Username and password from the settings, else from the URL."""
        parts = urlsplit(self.url)
        user = self.username or (unquote(parts.username) if parts.username else None)
        pw = self.password or (unquote(parts.password) if parts.password else None)
        return user, pw


class InfluxSettings(_Strict):
    url: str | None = None  # set it to forward every stored batch to InfluxDB as well
    token: str | None = None
    org: str | None = None
    bucket: str | None = None
    database: str | None = None  # InfluxQL database for reads (/query?db=); default: the bucket
    # v2: /api/v2/write (InfluxDB 1.8+, 2.x, 3.x, VictoriaMetrics); v1: /write?db= for InfluxDB 1.0-1.7
    api: Literal["v2", "v1"] = "v2"
    batch_size: int = Field(default=10_000, ge=1)  # readings (lines) per write request
    flush_interval_ms: int = Field(default=1_000, ge=0)  # wait this long for a fuller request
    timeout_ms: int = Field(default=10_000, ge=100)
    gzip: bool = True
    retry_initial_ms: int = Field(default=500, ge=1)  # backoff on 429/5xx/network errors, doubling
    retry_max_ms: int = Field(default=30_000, ge=1)
    spool_dir: str = "data/influx-spool"
    spool_max_bytes: int = Field(default=1024**3, ge=4096)  # at the bound new batches are dropped, oldest kept
    spool_fsync: bool = True


class IngestSettings(_Strict):
    max_payload_bytes: int = Field(default=256 * 1024, ge=256)
    max_future_s: float = Field(default=600.0, ge=0)  # device clocks may run a little fast
    flush_interval_s: float = Field(default=0.05, gt=0)
    # Decode in a child process, beside paho and the SQLite writer (true), or in the collector's thread (false).
    decoder_process: bool = True
    max_batch_messages: int = Field(default=5_000, ge=1)
    dead_letter_limit: int = Field(default=10_000, ge=10)
    # A store or broker problem is logged and shown at once; maintainers are paged once it lasts this long
    # (a broker restart is a second's reconnect, not worth a phone call).
    page_after_s: float = Field(default=60.0, ge=0)


class StoreSettings(_Strict):
    db: str = "data/qyb.sqlite"
    retention_days: float = Field(default=400.0, gt=0)  # raw readings; rollups are kept
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    # where the API, the pages and `qyb export` read readings: the embedded SQLite store, or the InfluxDB
    # the collector forwards to (deployment.influx; InfluxQL, for a township or county box)
    read: Literal["sqlite", "influx"] = "sqlite"
    # where `qyb backup` writes by default and `qyb status` looks for the last backup
    backup_dir: str = "data/backups"


HHMM_RANGE = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"


class WebhookSettings(_Strict):
    """Village app (数字乡村) webhook: JSON events signed with HMAC-SHA256 over timestamp + body."""

    url: str | None = None
    secret: str | None = None


class RobotSettings(_Strict):
    """A WeCom (企业微信) or DingTalk (钉钉) group robot; `secret` is DingTalk's SEC... signing secret."""

    url: str | None = None
    secret: str | None = None
    per_minute: int = Field(default=20, ge=1, le=20)  # both robots allow 20 a minute; DingTalk blocks 10 min beyond
    lang: Literal["zh", "en"] = "zh"  # the language of the group's messages


class SmsSettings(_Strict):
    """An HTTP SMS gateway: the body is `body_template` (JSON) with {phone} {text} {sign_name} {template} filled in."""

    url: str | None = None
    api_key: str | None = None  # sent as the Authorization bearer token
    sign_name: str = "晴雨表"  # the approved SMS signature (短信签名)
    template: str = ""  # the approved template id (模板 ID)
    body_template: str = (
        '{"phone": "{phone}", "sign_name": "{sign_name}", "template": "{template}", "params": {"text": "{text}"}}'
    )
    per_minute: int = Field(default=2, ge=1)  # per phone number: gateways throttle one number hard


class PersonNotify(_Strict):
    """One person's choices: channels (app = village app + phone page), quiet hours, smartphone or not."""

    channels: list[Literal["app", "wecom", "dingtalk", "sms"]] = ["app", "wecom", "dingtalk", "sms"]
    quiet_hours: str | None = Field(default=None, pattern=HHMM_RANGE)  # None: the village default
    smartphone: bool = True  # False: everything by SMS
    lang: Literal["zh", "en"] = "zh"  # the language of this person's SMS


class NotifySettings(_Strict):
    enabled: bool = True
    brand: str | None = None  # message prefix 【...】; default: the village name without 村 + 晴雨表
    public_url: str = "http://127.0.0.1:8000"  # where the phone reaches the API (ack links)
    ack_secret: str | None = None  # signs the one-tap ack links; no secret, no links
    ack_ttl_h: float = Field(default=24.0, gt=0)
    group_wait_s: float = Field(default=30.0, ge=0)  # gather a site's alerts this long into one message
    repeat_min: float = Field(default=30.0, gt=0)  # re-send firing critical alerts nobody acknowledged
    escalate_min: float = Field(default=30.0, gt=0)  # then tell the secretary
    quiet_hours: str = Field(default="22:00-06:30", pattern=HHMM_RANGE)  # warnings wait for the morning digest
    retry_initial_s: float = Field(default=5.0, gt=0)
    retry_max_s: float = Field(default=600.0, gt=0)
    give_up_h: float = Field(default=24.0, gt=0)  # a message still failing after this is marked failed
    mqtt: bool = True  # alert events to qyb/{village}/alerts, loudspeaker text to qyb/{village}/broadcast
    webhook: WebhookSettings = WebhookSettings()
    wecom: RobotSettings = RobotSettings()
    dingtalk: RobotSettings = RobotSettings()
    sms: SmsSettings = SmsSettings()
    person: dict[str, PersonNotify] = Field(default_factory=dict)  # by person id


class ApiSettings(_Strict):
    """Login tokens and the live stream of `qyb api`."""

    # A token unused this long stops working; every use of the page renews it (docs/api.md "Tokens").
    # Half a year: a farmer who opens the page only in the busy months keeps it, an abandoned phone does not.
    token_ttl_days: float = Field(default=180.0, gt=0, le=3650)
    # An open live stream checks its token this often: revoked or expired, the stream ends.
    token_recheck_s: float = Field(default=30.0, gt=0, le=3600)
    # https:// straight from `qyb api` (uvicorn's TLS): the certificate `qyb broker tls` signs, and its key
    cert_file: str | None = None
    key_file: str | None = None

    @model_validator(mode="after")
    def _tls_files(self) -> ApiSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("https needs the certificate and its key: set both cert_file and key_file, or neither")
        for f in (self.cert_file, self.key_file):
            if f is not None and not Path(f).is_file():
                raise ValueError(f"{f!r} does not exist")
        return self


class AlertSettings(_Strict):
    # The village's own rules and per-site overrides, on top of the bundled crop profiles; the API writes
    # overrides here and the running collector re-reads it when it changes (alerts/rulebook.py).
    rules_file: str | None = None


class AgronomySettings(_Strict):
    # The disease and pest models (docs/agronomy.md): daily risks and their alerts, in the collector.
    enabled: bool = True
    params: str | None = None  # a county's own copy of agronomy/params/models.toml
    # an Open-Meteo compatible forecast API (https://api.open-meteo.com/v1/forecast, or the county's own):
    # the water advice counts the rain it forecasts; None: the advice runs without a forecast
    forecast_url: str | None = Field(default=None, pattern=r"^https?://")


class Deployment(_Strict):
    mqtt: MqttSettings = MqttSettings()
    store: StoreSettings = StoreSettings()
    influx: InfluxSettings = InfluxSettings()
    ingest: IngestSettings = IngestSettings()
    notify: NotifySettings = NotifySettings()
    api: ApiSettings = ApiSettings()
    alerts: AlertSettings = AlertSettings()
    agronomy: AgronomySettings = AgronomySettings()
    metrics_port: int = Field(default=9108, ge=0, le=65_535)  # 0 = no metrics endpoint
    # loopback by default: the metrics name every device and village; 0.0.0.0 for a scraper on another box
    metrics_addr: str = Field(default="127.0.0.1", min_length=1)

    @model_validator(mode="after")
    def _reads_from_a_store_that_exists(self) -> Deployment:
        if self.store.read == "influx" and not self.influx.url:
            raise ValueError("store.read = influx needs deployment.influx.url (QYB_INFLUX_URL)")
        return self


class Config(_Strict):
    deployment: Deployment = Deployment()
    village: list[Village] = Field(min_length=1)

    def village_by_id(self, village_id: str) -> Village:
        for v in self.village:
            if v.id == village_id:
                return v
        raise KeyError(village_id)


# Environment variable -> path into the raw TOML mapping.
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "QYB_MQTT_URL": ("deployment", "mqtt", "url"),
    "QYB_MQTT_USERNAME": ("deployment", "mqtt", "username"),
    "QYB_MQTT_PASSWORD": ("deployment", "mqtt", "password"),
    "QYB_MQTT_NOTIFY_USERNAME": ("deployment", "mqtt", "notify_username"),
    "QYB_MQTT_NOTIFY_PASSWORD": ("deployment", "mqtt", "notify_password"),
    "QYB_MQTT_CLIENT_ID": ("deployment", "mqtt", "client_id"),
    "QYB_MQTT_PROTOCOL": ("deployment", "mqtt", "protocol"),
    "QYB_MQTT_RECEIVE_MAXIMUM": ("deployment", "mqtt", "receive_maximum"),
    "QYB_MQTT_CA_FILE": ("deployment", "mqtt", "ca_file"),
    "QYB_MQTT_CERT_FILE": ("deployment", "mqtt", "cert_file"),
    "QYB_MQTT_KEY_FILE": ("deployment", "mqtt", "key_file"),
    "QYB_PAGE_AFTER_S": ("deployment", "ingest", "page_after_s"),
    "QYB_DB": ("deployment", "store", "db"),
    "QYB_INFLUX_URL": ("deployment", "influx", "url"),
    "QYB_INFLUX_TOKEN": ("deployment", "influx", "token"),
    "QYB_INFLUX_ORG": ("deployment", "influx", "org"),
    "QYB_INFLUX_BUCKET": ("deployment", "influx", "bucket"),
    "QYB_INFLUX_DATABASE": ("deployment", "influx", "database"),
    "QYB_INFLUX_API": ("deployment", "influx", "api"),
    "QYB_INFLUX_SPOOL_DIR": ("deployment", "influx", "spool_dir"),
    "QYB_READ_STORE": ("deployment", "store", "read"),
    "QYB_METRICS_PORT": ("deployment", "metrics_port"),
    "QYB_METRICS_ADDR": ("deployment", "metrics_addr"),
    "QYB_TOKEN_TTL_DAYS": ("deployment", "api", "token_ttl_days"),
    "QYB_TOKEN_RECHECK_S": ("deployment", "api", "token_recheck_s"),
    "QYB_API_CERT_FILE": ("deployment", "api", "cert_file"),
    "QYB_API_KEY_FILE": ("deployment", "api", "key_file"),
    "QYB_ALERT_RULES": ("deployment", "alerts", "rules_file"),
    "QYB_AGRONOMY": ("deployment", "agronomy", "enabled"),
    "QYB_AGRONOMY_PARAMS": ("deployment", "agronomy", "params"),
    "QYB_FORECAST_URL": ("deployment", "agronomy", "forecast_url"),
    # secrets are better kept out of the config file
    "QYB_ACK_SECRET": ("deployment", "notify", "ack_secret"),
    "QYB_PUBLIC_URL": ("deployment", "notify", "public_url"),
    "QYB_BACKUP_DIR": ("deployment", "store", "backup_dir"),
    "QYB_WEBHOOK_URL": ("deployment", "notify", "webhook", "url"),
    "QYB_WEBHOOK_SECRET": ("deployment", "notify", "webhook", "secret"),
    "QYB_WECOM_URL": ("deployment", "notify", "wecom", "url"),
    "QYB_DINGTALK_URL": ("deployment", "notify", "dingtalk", "url"),
    "QYB_DINGTALK_SECRET": ("deployment", "notify", "dingtalk", "secret"),
    "QYB_SMS_URL": ("deployment", "notify", "sms", "url"),
    "QYB_SMS_API_KEY": ("deployment", "notify", "sms", "api_key"),
}


def bundled_config_path() -> Path:
    return Path(str(resources.files("qingyubiao") / "data" / BUNDLED_CONFIG))


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment and validate a config file.

    `path=None` loads the bundled 李家河村 config. Raises ConfigError.
    """
    file = Path(path) if path is not None else bundled_config_path()
    name = str(file)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(name, "-", "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(name, "-", f"cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(name, "-", f"not valid TOML: {e}") from None
    return parse_config(raw, name, os.environ if env is None else env)


def parse_config(raw: dict[str, Any], name: str, env: Mapping[str, str]) -> Config:
    """Apply the `QYB_*` overrides in `env` to a parsed TOML mapping and validate it. Raises ConfigError."""
    for var, key_path in ENV_OVERRIDES.items():
        if env.get(var):
            node = raw
            for depth, key in enumerate(key_path[:-1]):
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    where = ".".join(key_path[: depth + 1])
                    raise ConfigError(name, where, f"must be a table to take {var} (got {node!r})")
            node[key_path[-1]] = env[var]
    try:
        config = Config.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        key = _key_path(err["loc"])
        env_var = next((v for v, p in ENV_OVERRIDES.items() if ".".join(p) == key and env.get(v)), None)
        where = f"{key} (from {env_var})" if env_var else key
        raise ConfigError(name, where, _problem(err)) from None
    _check_references(config, name)
    return config


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "-"


def _problem(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (check the spelling)"
    if err["type"] == "missing":
        return "required key is missing"
    msg: str = err["msg"]
    return f"{msg} (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict | list) else msg


def _check_references(config: Config, name: str) -> None:
    seen_eui: dict[str, str] = {}
    village_ids: set[str] = set()
    for vi, v in enumerate(config.village):
        at = f"village[{vi}]"
        if v.id in village_ids:
            raise ConfigError(name, f"{at}.id", f"duplicate village id {v.id!r}")
        village_ids.add(v.id)
        for kind in ("household", "site", "device", "person", "pump"):
            ids = [item.id for item in getattr(v, kind)]
            for i, item_id in enumerate(ids):
                if item_id in ids[:i]:
                    raise ConfigError(name, f"{at}.{kind}[{i}].id", f"duplicate id {item_id!r}")
        households = {h.id for h in v.household}
        sites = {s.id for s in v.site}
        devices = {d.id: d for d in v.device}
        for i, s in enumerate(v.site):
            if s.owner is not None and s.owner not in households:
                raise ConfigError(name, f"{at}.site[{i}].owner", f"unknown household {s.owner!r}")
            valve = s.irrigation.valve if s.irrigation else None
            if valve is not None and (valve not in devices or devices[valve].site != s.id):
                raise ConfigError(name, f"{at}.site[{i}].irrigation.valve", f"no device {valve!r} at site {s.id!r}")
            pump = s.irrigation.pump if s.irrigation else None
            if pump is not None and pump not in {x.id for x in v.pump}:
                raise ConfigError(name, f"{at}.site[{i}].irrigation.pump", f"no pump {pump!r} in village.pump")
        for i, d in enumerate(v.device):
            if d.id == "gw":
                raise ConfigError(name, f"{at}.device[{i}].id", "'gw' is reserved for gateway topics")
            if d.site not in sites:
                raise ConfigError(name, f"{at}.device[{i}].site", f"unknown site {d.site!r}")
            for j, metric in enumerate(d.metrics):
                if metric not in METRICS:
                    raise ConfigError(name, f"{at}.device[{i}].metrics[{j}]", _unknown_metric(metric))
            for key, metric in d.object_keys.items():
                if metric not in METRICS:
                    raise ConfigError(name, f"{at}.device[{i}].object_keys.{key}", _unknown_metric(metric))
            if d.dev_eui:
                if d.dev_eui in seen_eui:
                    raise ConfigError(
                        name, f"{at}.device[{i}].dev_eui", f"DevEUI already used by {seen_eui[d.dev_eui]}"
                    )
                seen_eui[d.dev_eui] = f"{v.id}/{d.id}"
        for i, p in enumerate(v.person):
            if p.household is not None and p.household not in households:
                raise ConfigError(name, f"{at}.person[{i}].household", f"unknown household {p.household!r}")
            for field in ("sites", "watch"):
                for j, site in enumerate(getattr(p, field)):
                    if site not in sites:
                        raise ConfigError(name, f"{at}.person[{i}].{field}[{j}]", f"unknown site {site!r}")


def _unknown_metric(metric: str) -> str:
    close = [m for m in METRICS if re.sub(r"_.*", "", m) == re.sub(r"_.*", "", metric)]
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(METRICS)}"
    return f"unknown metric {metric!r}{hint}"
