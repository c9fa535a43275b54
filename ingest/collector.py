"""The MQTT collector: subscribe, decode to columnar batches, store, then acknowledge.

paho's network thread only appends (topic, payload, mid) to an inbox. The
collector's own thread takes the inbox every `flush_interval_s`, decodes it
into one batch, writes it durably, hands it to the sinks (alerting) and only
then sends the PUBACKs (manual ack). A collector killed at any point loses
nothing: unacknowledged messages stay in the broker's persistent session and
are delivered again; the store is idempotent, so they are stored once.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.decoders.context import DecodeContext, Deduplicator
from ingest.decoders.router import route
from ingest.metrics import IngestMetrics
from qingyubiao import topics
from qingyubiao.batch import Flag
from qingyubiao.config import Config, MqttSettings
from qingyubiao.series import SeriesIndex
from qingyubiao.store import BatchSink, ReadingWriter

log = logging.getLogger(__name__)

# (topic, payload, mid, qos, connection generation, arrival monotonic time)
Inbound = tuple[str, bytes, int, int, int, float]


def make_client(settings: MqttSettings, client_id: str | None = None, manual_ack: bool = False) -> mqtt.Client:
    """A paho client for these settings: persistent session, TLS for mqtts://."""
    v5 = settings.protocol == 5
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or settings.client_id,
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        clean_session=None if v5 else False,
        manual_ack=manual_ack,
    )
    user, password = settings.credentials
    if user:
        client.username_pw_set(user, password)
    if settings.tls:
        client.tls_set(ca_certs=settings.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_properties(settings: MqttSettings) -> Properties | None:
    if settings.protocol != 5:
        return None
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = settings.session_expiry_s
    props.ReceiveMaximum = settings.receive_maximum
    return props


class Collector:
    def __init__(
        self,
        config: Config,
        index: SeriesIndex,
        store: ReadingWriter,
        sinks: Sequence[BatchSink] = (),
        metrics: IngestMetrics | None = None,
        clock: Callable[[], float] = time.time,
        maintenance: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.settings = config.deployment.ingest
        self.mqtt_settings = config.deployment.mqtt
        self.index = index
        self.store = store
        self.sinks = list(sinks)
        self.metrics = metrics or IngestMetrics()
        self.clock = clock
        self.maintenance = maintenance
        self.dedup = Deduplicator()
        self.connected = threading.Event()
        self._inbox: list[Inbound] = []
        self._inbox_lock = threading.Lock()
        self._generation = 0
        self._filters = topics.subscriptions(
            [v.id for v in config.village], sorted({a for v in config.village for a in v.chirpstack_apps})
        )
        self.client = make_client(self.mqtt_settings, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # -- paho's network thread ----------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: mqtt.ReasonCode,
        props: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        with self._inbox_lock:
            self._generation += 1  # message ids of earlier connections must not be acknowledged
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in self._filters])
        self.metrics.connected.set(1)
        self.metrics.reconnects.inc()
        self.connected.set()
        log.info(
            "connected to %s (session present: %s), subscribed to %s",
            self.mqtt_settings.url,
            flags.session_present,
            ", ".join(self._filters),
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: mqtt.ReasonCode,
        props: Properties | None,
    ) -> None:
        self.connected.clear()
        self.metrics.connected.set(0)
        log.warning("disconnected from broker (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = "<topic is not UTF-8>"
        item = (topic, msg.payload, msg.mid, msg.qos, self._generation, time.monotonic())
        with self._inbox_lock:
            self._inbox.append(item)

    # -- the collector's thread ---------------------------------------------------

    def start(self) -> None:
        s = self.mqtt_settings
        self.client.connect_async(
            s.host,
            s.port,
            keepalive=s.keepalive_s,
            clean_start=False if s.protocol == 5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=connect_properties(s),
        )
        self.client.loop_start()

    def run(self, stop: threading.Event) -> None:
        """Connect and process until `stop` is set; then store what is in hand and disconnect."""
        self.start()
        maintenance_due = time.monotonic() + 5
        try:
            while not stop.wait(self.settings.flush_interval_s):
                self.flush()
                if self.maintenance and time.monotonic() >= maintenance_due:
                    self.maintenance()
                    maintenance_due = time.monotonic() + 5
            self.flush()
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def flush(self) -> int:
        """Store and acknowledge everything received so far. Returns messages handled."""
        with self._inbox_lock:
            msgs, self._inbox = self._inbox, []
        self.metrics.inbox_depth.set(0)
        done = 0
        for start in range(0, len(msgs), self.settings.max_batch_messages):
            chunk = msgs[start : start + self.settings.max_batch_messages]
            while not self._store_chunk(chunk):
                time.sleep(1.0)  # the store failed: keep the messages unacknowledged and try again
            done += len(chunk)
        return done

    def _store_chunk(self, msgs: list[Inbound]) -> bool:
        now_ms = int(self.clock() * 1000)
        ctx = DecodeContext(self.index, now_ms, self.settings.max_future_s, self.dedup)
        max_bytes = self.settings.max_payload_bytes
        for topic, payload, *_ in msgs:
            route(ctx, topic, payload, max_bytes)
        batch = ctx.builder.build(self.index.lo, self.index.hi)
        try:
            self.store.write(batch, ctx.rejects, ctx.statuses)
        except Exception:
            log.exception("store write failed; %d messages stay unacknowledged", len(msgs))
            self.metrics.store_errors.inc()
            return False
        for sink in self.sinks:
            try:
                sink.handle(batch, now_ms)
            except Exception:  # alerting must never cost a stored reading its acknowledgement
                log.exception("batch sink %r failed", sink)
        with self._inbox_lock:  # on_connect bumps the generation under this lock
            for _, _, mid, qos, gen, _ in msgs:
                if qos and gen == self._generation:
                    self.client.ack(mid, qos)
        self._count(msgs, ctx, len(batch), int((batch.flags & Flag.OUT_OF_RANGE).astype(bool).sum()))
        return True

    def _count(self, msgs: list[Inbound], ctx: DecodeContext, stored: int, out_of_range: int) -> None:
        m = self.metrics
        m.messages.inc(len(msgs))
        m.readings_stored.inc(stored)
        m.out_of_range.inc(out_of_range)
        m.duplicates.inc(ctx.duplicates)
        reading_rejects = 0
        for r in ctx.rejects:
            m.rejected.labels(r.reason.value).inc()
            reading_rejects += 1
        m.readings_received.inc(stored + reading_rejects)
        if msgs:
            m.batch_latency.observe(time.monotonic() - msgs[0][5])
