"""What the demo says on its terminal besides the banner: the loudspeaker's text and the notices sent.

A village box hands qyb/{village}/broadcast to a loudspeaker gateway (智慧小喇叭) and sends notices by SMS
or the village app with a one-tap ack link. The demo has neither, so the terminal is both: each
broadcast text as it arrives, and each notice put on a phone page's feed with its ack link, which
opens in any browser.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt

from alerts.notify.outbox import Outbox
from qingyubiao import topics
from qingyubiao.config import Config, MqttSettings
from qingyubiao.mqtt_login import client_for
from qingyubiao.notifying import FeedEvent


class Loudspeaker:
    """Subscribes to the villages' broadcast topics and calls `say(village, text)` for each message."""

    def __init__(self, settings: MqttSettings, villages: list[str], say: Callable[[str, str], None]) -> None:
        self.subscribed = threading.Event()
        self._topics = {topics.broadcast(v): v for v in villages}
        self._say = say
        self.client = client_for(settings, f"{settings.client_id}-demo-speaker")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect_async(settings.host, settings.port, keepalive=settings.keepalive_s)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe([(t, 1) for t in self._topics])  # again after a reconnect: a clean session

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        village = self._topics.get(msg.topic)
        if village is not None:
            self._say(village, bytes(msg.payload).decode("utf-8", "replace"))

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Notices:
    """Polls the phone pages' feed (the outbox's `notify_feed`, as the API's stream does) from its newest
    row on, and calls `tell(event, person's name)` for each new one, in order."""

    POLL_S = 1.0

    def __init__(self, config: Config, tell: Callable[[FeedEvent, str], None]) -> None:
        self._names = {(v.id, p.id): p.name for v in config.village for p in v.person}
        self._tell = tell
        self._outbox = Outbox(config.deployment.store.db, readonly=True)
        self._after = self._outbox.newest_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-notices", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.POLL_S):
            for e in self._outbox.events_since(self._after):
                self._after = e.id
                self._tell(e, self._names.get((e.village, e.person), e.person))  # people added later: their id

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._outbox.close()
