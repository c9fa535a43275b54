"""Build the notification pipeline from the config (called by the composition root, `qyb`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
from prometheus_client import CollectorRegistry

from alerts.notify.channels.base import Channel
from alerts.notify.channels.dingtalk import DingTalkChannel
from alerts.notify.channels.feed import FeedChannel
from alerts.notify.channels.mqtt import BroadcastChannel, MqttAlertsChannel, MqttLink
from alerts.notify.channels.sms import SmsChannel
from alerts.notify.channels.webhook import WebhookChannel
from alerts.notify.channels.wecom import WeComChannel
from alerts.notify.dispatcher import Dispatcher
from alerts.notify.followup import FollowUp
from alerts.notify.metrics import NotifyMetrics
from alerts.notify.outbox import Outbox
from alerts.notify.routing import Directory, Router
from qingyubiao.alerting import AlertReader
from qingyubiao.config import Config, Person

T = TypeVar("T")


@dataclass
class Notifications:
    outbox: Outbox
    router: Router
    dispatcher: Dispatcher
    client: httpx.Client
    links: list[MqttLink] = field(default_factory=list)

    def close(self) -> None:
        for link in self.links:
            link.close()
        self.client.close()
        self.outbox.close()


class LivePeople(Mapping[str, T]):
    """Person id -> `pick(person)`, looked up in the directory at each use: a phone number changed or a
    person added through the API reaches the SMS and webhook channels without a restart."""

    def __init__(self, config: Config, directory: Directory, pick: Callable[[Person], T]) -> None:
        self.villages, self.directory, self.pick = [v.id for v in config.village], directory, pick

    def _now(self) -> dict[str, T]:
        return {p.id: self.pick(p) for v in self.villages for p in self.directory(v)}

    def __getitem__(self, person: str) -> T:
        return self._now()[person]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return len(self._now())


def config_directory(config: Config) -> Directory:
    villages = {v.id: v for v in config.village}
    return lambda village: villages[village].person


def build_channels(
    config: Config,
    outbox: Outbox,
    client: httpx.Client,
    mqtt_client_id: str | None = None,
    directory: Directory | None = None,
) -> tuple[list[Channel], list[MqttLink]]:
    s = config.deployment.notify
    directory = directory or config_directory(config)
    people = LivePeople(config, directory, lambda p: (p.name, p.phone))
    channels: list[Channel] = [FeedChannel(outbox)]
    links: list[MqttLink] = []
    if s.webhook.url:
        if not s.webhook.secret:
            raise ValueError("deployment.notify.webhook.secret is required with a webhook url (the app checks it)")
        channels.append(WebhookChannel(s.webhook.url, s.webhook.secret, client, people))
    if s.wecom.url:
        channels.append(WeComChannel(s.wecom.url, client, s.wecom.per_minute, s.wecom.lang))
    if s.dingtalk.url:
        channels.append(
            DingTalkChannel(s.dingtalk.url, s.dingtalk.secret, client, s.dingtalk.per_minute, s.dingtalk.lang)
        )
    sms = s.sms
    if sms.url:
        phones = LivePeople(config, directory, lambda p: p.phone)
        langs = {pid: prefs.lang for pid, prefs in s.person.items()}
        channels.append(SmsChannel(sms.url, sms.api_key, sms.sign_name, sms.template, sms.body_template, client,
                                   phones, sms.per_minute, langs))  # fmt: skip
    if s.mqtt:
        link = MqttLink(
            config.deployment.mqtt.for_notifier(), mqtt_client_id or f"{config.deployment.mqtt.client_id}-notify"
        )
        links.append(link)
        channels += [MqttAlertsChannel(link), BroadcastChannel(link)]
    return channels, links


def build_notifications(
    config: Config,
    db: str | Path | None = None,
    alerts: AlertReader | None = None,
    now_ms: int | None = None,
    mqtt_client_id: str | None = None,
    registry: CollectorRegistry | None = None,
    directory: Directory | None = None,
) -> Notifications:
    """`registry`: where the outbox metrics go (the collector's, `IngestMetrics.registry`); None = no metrics.
    `directory`: a village's people now (default: the config's)."""
    s = config.deployment.notify
    outbox = Outbox(db or config.deployment.store.db, synchronous=config.deployment.store.synchronous)
    client = httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
    channels, links = build_channels(config, outbox, client, mqtt_client_id, directory)
    router = Router(config, {c.name for c in channels}, directory)
    metrics = NotifyMetrics(registry, [c.name for c in channels]) if registry is not None else None
    acked = None
    if alerts is not None:
        reader = alerts
        acked = lambda: {e.id for e in reader.active_episodes() if e.ack_by}  # noqa: E731
    followup = FollowUp(outbox, router, int(s.repeat_min * 60_000), int(s.escalate_min * 60_000), acked)
    dispatcher = Dispatcher(
        outbox, channels, followup,
        group_wait_ms=int(s.group_wait_s * 1000),
        retry_initial_ms=int(s.retry_initial_s * 1000),
        retry_max_ms=int(s.retry_max_s * 1000),
        give_up_ms=int(s.give_up_h * 3_600_000),
        now_ms=now_ms,
        metrics=metrics,
    )  # fmt: skip
    return Notifications(outbox, router, dispatcher, client, links)
