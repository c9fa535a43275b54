"""The API over a real SQLite store, alert store and notification outbox, with one token per kind of person."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from alerts.notify.channels.feed import FeedChannel
from alerts.notify.dispatcher import Dispatcher
from alerts.notify.outbox import Outbox
from alerts.notify.routing import Router
from alerts.notify.writer import NotifyingWriter
from alerts.rulebook import AlertRuleBook
from api.app import create_app
from api.users import UserStore
from ingest.store.sqlite import SqliteStore
from ingest.store.sqlite_alerts import SqliteAlertStore
from ingest.store.sqlite_risks import SqliteRiskBook
from ingest.store.sqlite_water import SqliteWaterBook
from qingyubiao.alerting import Episode, Transition
from qingyubiao.batch import Batch
from qingyubiao.config import Config
from qingyubiao.risks import DayRisk
from qingyubiao.series import SeriesIndex

HOUR = 3_600_000
# li-jianjun's household owns gh01 and gh02; li-guohua's owns gh03.
FARMER, OTHER_FARMER, SECRETARY, ADMIN = "li-jianjun", "li-guohua", "secretary", "technician"
ACK_SECRET = "api-test-ack-secret"  # the API checks one-tap ack links with it (the collector signs with it)
PUBLIC_URL = "https://qyb.lijiahe.example.cn"


def write_readings(store: SqliteStore, index: SeriesIndex, rows: list[tuple[str, str, int, float]]) -> None:
    """rows: (device, metric, ts_ms, value) in village lijiahe."""
    series = [index.find("lijiahe", d, m) for d, m, _, _ in rows]
    assert None not in series
    store.write(
        Batch(
            np.array(series, dtype=np.int32),
            np.array([r[2] for r in rows], dtype=np.int64),
            np.array([r[3] for r in rows], dtype=np.float64),
            np.zeros(len(rows), dtype=np.uint16),
        )
    )
    store.refresh_rollups()


def episode(eid: str, site: str, device: str, metric: str, started_ms: int, **kw: object) -> Episode:
    base: dict[str, object] = dict(
        id=eid,
        rule=f"{metric}_high",
        kind="air_temp_high",
        severity="critical",
        audience="farmer",
        village="lijiahe",
        site=site,
        device=device,
        metric=metric,
        state="firing",
        started_ms=started_ms,
        fired_ms=started_ms + 60_000,
        ended_ms=None,
        late=False,
        value=38.5,
        # the episode's own site: the role tests look for other sites' ids in what a farmer is answered
        text_zh=f"{site} 气温过高 38.5°C",
        text_en=f"{site} air temperature high 38.5 °C",
    )
    base.update(kw)
    return Episode(**base)  # type: ignore[arg-type]


@dataclass
class ApiWorld:
    client: TestClient
    store: SqliteStore
    alerts: SqliteAlertStore
    users: UserStore
    tokens: dict[str, str]
    now_ms: int
    db: Path
    outbox: Outbox  # the collector's side: notices, the feed and ack references

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def build_world(village: Config, index: SeriesIndex, folder: Path) -> Iterator[ApiWorld]:
    db = folder / "qyb.sqlite"
    now = int(time.time() * 1000)
    writer = SqliteStore(db, index, synchronous="NORMAL")
    rows: list[tuple[str, str, int, float]] = []
    # gh01: two days of air readings every 5 minutes with a hole from -10 h to -8 h; soil fresh.
    for k in range(2 * 24 * 12):
        ts = now - k * 300_000
        if not (8 * HOUR <= now - ts < 10 * HOUR):
            rows += [("gh01-air", "air_temp_c", ts, 20.0 + (k % 12)), ("gh01-air", "air_rh_pct", ts, 70.0)]
    rows += [("gh01-soil", "soil_vwc_pct", now - 60_000, 31.5), ("gh01-air", "bat_v", now - 60_000, 3.1)]
    # gh03 (the other farmer's): a reading an hour old, so its 60 s air sensor is stale.
    rows += [("gh03-air", "air_temp_c", now - HOUR, 15.0), ("gh03-air", "air_rh_pct", now - HOUR, 80.0)]
    write_readings(writer, index, rows)
    alerts = SqliteAlertStore(db)
    alerts.record(
        [],
        [
            episode("ep-gh01", "gh01", "gh01-air", "air_temp_c", now - HOUR),
            episode("ep-gh03", "gh03", "gh03-air", "air_temp_c", now - HOUR, severity="warning"),
            episode(
                "ep-old",
                "gh01",
                "gh01-air",
                "air_temp_c",
                now - 30 * HOUR,
                state="resolved",
                ended_ms=now - 29 * HOUR,
                ack_by=FARMER,
                ack_ms=now - 29 * HOUR - HOUR // 2,
            ),
        ],
        None,
        now,
    )
    users = UserStore(db, village)
    tokens = {who: users.issue("lijiahe", who) for who in (FARMER, OTHER_FARMER, SECRETARY, ADMIN)}
    reader = SqliteStore(db, index, readonly=True)
    outbox = Outbox(db, synchronous="NORMAL")
    feed = Outbox(db, readonly=True)  # as `qyb api` opens it
    risks = SqliteRiskBook(db)
    water = SqliteWaterBook(db)
    risks.write_risks([DayRisk("lijiahe", s, "apple_scab", "2026-04-20", risk, {"wet_h": 18.0, "mean_c": 12.0})
                       for s, risk in (("gh01", 0), ("gh03", -2), ("or01", 3))])  # fmt: skip
    app = create_app(
        village,
        reader=reader,
        ingest_log=reader,
        users=users,
        alerts=alerts,
        device_statuses=reader.device_statuses,
        rules=AlertRuleBook(village, str(folder / "rules.toml")),
        risks=risks,
        water=water,
        index=index,
        stream_poll_s=0.2,
        feed=feed,
        ack_refs=feed,
        ack_secret=ACK_SECRET,
    )
    with TestClient(app) as client:
        yield ApiWorld(client, writer, alerts, users, tokens, now, db, outbox)
    feed.close()
    risks.close()
    water.close()
    outbox.close()
    reader.close()
    writer.close()
    alerts.close()
    users.close()


@pytest.fixture
def world(village: Config, index: SeriesIndex, tmp_path: Path) -> Iterator[ApiWorld]:
    yield from build_world(village, index, tmp_path)


@pytest.fixture(scope="module")
def shared_world(village: Config, index: SeriesIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    """One world for tests whose changes cannot alter each other's answers (the role table)."""
    yield from build_world(village, index, tmp_path_factory.mktemp("api"))


@dataclass
class Paging:
    """Alerts paged through the real notification pipeline on the world's database:
    NotifyingWriter (routing, ack references) → outbox → dispatcher → the feed channel's rows."""

    world: ApiWorld
    config: Config
    writer: NotifyingWriter
    dispatcher: Dispatcher
    episodes: dict[str, Episode]

    def fire(self, site: str, severity: str = "critical", metric: str = "air_temp_c", minutes_ago: int = 20) -> str:
        """A heat alert on the site's air sensor: pending, then firing 15 minutes later; returns the episode id."""
        now = self.world.now_ms
        start = now - minutes_ago * 60_000
        device, rule = f"{site}-air", f"test-heat-{severity}"
        name = next(s.name for s in self.config.village[0].site if s.id == site)
        zh, en = f"{name} 高温：气温 38.2 °C，高于 35 °C", f"{name} air temp high: 38.2 °C, above 35 °C"
        eid = f"{rule}/lijiahe/{device}/{metric}@{start}"
        pending = Transition(eid, rule, "air_temp_high", severity, "farmer", "pending", start, "lijiahe", site, device,
                             metric, 36.0, 35.0, text_zh=zh, text_en=en)  # fmt: skip
        firing = replace(pending, state="firing", ts_ms=start + 15 * 60_000, value=38.2)
        ep = Episode(eid, rule, "air_temp_high", severity, "farmer", "lijiahe", site, device, metric, "firing", start,
                     firing.ts_ms, None, False, 38.2, zh, en)  # fmt: skip
        self.writer.record([pending, firing], [ep], None, now)
        self.episodes[eid] = ep
        self.dispatcher.run_once(now)
        return eid

    def resolve(self, eid: str) -> None:
        ep = self.episodes[eid]
        now = self.world.now_ms
        last = self.world.alerts.transitions(eid)[-1]
        self.writer.record([replace(last, state="resolved", ts_ms=now, value=30.0)],
                           [replace(ep, state="resolved", ended_ms=now, value=30.0)], None, now)  # fmt: skip
        self.dispatcher.run_once(now)

    def token(self, eid: str, person: str) -> str:
        """The token of the ack link in the person's notice of this episode, as the phone shows it."""
        url = next(e.ack_url for e in self.world.outbox.events_since(0, person) if e.episode == eid)
        assert url is not None and url.startswith(f"{PUBLIC_URL}/a/")
        return url.rsplit("/", 1)[1]


@pytest.fixture
def paging(world: ApiWorld, village: Config) -> Paging:
    notify = village.deployment.notify.model_copy(update={"ack_secret": ACK_SECRET, "public_url": PUBLIC_URL})
    config = village.model_copy(update={"deployment": village.deployment.model_copy(update={"notify": notify})})
    router = Router(config, {"feed", "sms"})
    writer = NotifyingWriter(world.alerts, world.outbox, router)
    dispatcher = Dispatcher(world.outbox, [FeedChannel(world.outbox)], group_wait_ms=0, now_ms=world.now_ms)
    return Paging(world, config, writer, dispatcher, {})
