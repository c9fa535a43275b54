"""Response bodies, one per resource (what the village app and the pages read)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.params import SLUG
from qingyubiao.alerting import Kind
from qingyubiao.box import Check, Level


class MetricOut(BaseModel):
    metric: str
    label_zh: str
    label_en: str
    unit: str
    device: str
    ts_ms: int | None
    value: float | None
    status: str


class SiteOut(BaseModel):
    id: str
    name: str
    kind: str
    crop: str
    stage: str | None
    owner: str | None
    status: str
    updated_ms: int | None
    vpd_kpa: float | None
    active_alerts: int
    readings: list[MetricOut]


class VillageOut(BaseModel):
    id: str
    name: str
    lat: float
    lon: float
    tz: str
    sites: int


class MeOut(BaseModel):
    id: str
    name: str
    role: str
    village: str
    village_name: str
    sites: list[str]
    token_expires_ms: int  # the page renews the token (POST /me/renew) when it is opened


class HistoryOut(BaseModel):
    site: str
    metric: str
    unit: str
    start_ms: int
    end_ms: int
    step_ms: int
    # one row per bucket that has readings: [bucket_ms, mean, min, max, count]; empty buckets are absent
    points: list[tuple[int, float, float, float, int]]


class DeviceOut(BaseModel):
    id: str
    site: str
    metrics: list[str]
    interval_s: float
    last_seen_ms: int | None
    online: bool | None  # from the retained status topic; None when the device never said
    battery_v: float | None
    rssi_dbm: float | None
    snr_db: float | None
    status: str  # ok / stale / unknown / offline / low_battery


class UnknownDeviceOut(BaseModel):
    village: str
    device: str
    topic: str
    first_ms: int
    last_ms: int
    count: int


class DeadLetterOut(BaseModel):
    received_ms: int
    reason: str
    topic: str
    village: str | None
    device: str | None
    detail: str
    payload: str


class DeadLettersOut(BaseModel):
    counts: dict[str, int]
    letters: list[DeadLetterOut]


class EpisodeOut(BaseModel):
    id: str
    rule: str
    kind: str
    severity: str
    audience: str
    village: str
    site: str
    site_name: str
    device: str
    metric: str
    state: str
    started_ms: int
    fired_ms: int | None
    ended_ms: int | None
    late: bool
    value: float | None
    text_zh: str
    text_en: str
    ack_by: str | None
    ack_ms: int | None


MAX_SILENCE_MIN = 7 * 24 * 60  # a week: longer is a rule change, not a silence
REASON_MAX = 200  # 「修棚膜，明天下午换传感器」 fits many times over; every caller of GET silences reads it


class SilenceIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=REASON_MAX, pattern=r"\S", description="why, e.g. 修棚膜")]
    duration_min: Annotated[float, Field(gt=0, le=MAX_SILENCE_MIN, description="at most a week")]
    site: Annotated[str | None, Field(pattern=SLUG)] = None
    rule: Annotated[str | None, Field(max_length=64)] = None
    kind: Kind | None = None  # an unknown kind would silence nothing: 422


class SilenceOut(BaseModel):
    id: str
    created_by: str
    reason: str
    start_ms: int
    end_ms: int
    village: str | None
    site: str | None
    rule: str | None
    kind: str | None
    active: bool


class PersonOut(BaseModel):
    id: str
    name: str
    phone: str
    role: str
    household: str | None
    sites: list[str]
    watch: list[str]


class TokenOut(BaseModel):
    hash_prefix: str
    person: str
    label: str
    created_ms: int
    revoked_ms: int | None
    expires_ms: int


class NewTokenOut(BaseModel):
    person: str
    token: str  # shown once; only its hash is kept
    login_url: str
    expires_ms: int


class RenewedOut(BaseModel):
    expires_ms: int  # the token works until then unless it is renewed again or revoked


class CheckOut(BaseModel):
    """One line of `qyb status` (qingyubiao/box.py)."""

    part: str
    level: Level
    text_zh: str
    text_en: str


class BoxOut(BaseModel):
    level: Level  # the worst of the checks
    checks: list[CheckOut]


def check_out(c: Check) -> CheckOut:
    return CheckOut(part=c.part, level=c.level, text_zh=c.text_zh, text_en=c.text_en)
