"""The MQTT collector: subscribe, decode to columnar batches, store, then acknowledge.

paho's network thread only appends (topic, payload, mid) to an inbox. The
collector's thread takes the inbox every `flush_interval_s` and has it decoded
into one batch, by default in a decoder process (ingest/decoding.py); a writer
thread stores each batch durably, hands it to the sinks (alerting) and only then
sends the PUBACKs (manual ack), in arrival order. A collector killed at any point
loses nothing: unacknowledged messages stay in the broker's persistent session
and are delivered again; the store is idempotent, so they are stored once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.decoding import Decoded, Decoder, Limits, start_decoder
from ingest.health import Health, Part, probe_broker
from ingest.metrics import IngestMetrics
from qingyubiao import topics
from qingyubiao.batch import Flag
from qingyubiao.config import Config, MqttSettings
from qingyubiao.mqtt_login import log_in, warn_if_plain_text
from qingyubiao.series import SeriesIndex
from qingyubiao.store import BatchSink, ReadingWriter

log = logging.getLogger(__name__)

# (topic, payload, mid, qos, connection generation, arrival monotonic time)
Inbound = tuple[str, bytes, int, int, int, float]


@dataclass(frozen=True, slots=True)
class _Chunk:
    msgs: list[Inbound]
    decoded: Decoded
    now_ms: int


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
    log_in(client, settings)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def session_options(settings: MqttSettings) -> dict[str, Any]:
    """connect() arguments for a persistent session that survives broker restarts.

    MQTT 5 needs clean_start=False from the very first connect (mosquitto does not
    restore a session across its restart otherwise) and a session expiry; MQTT
    3.1.1 gets its persistence from clean_session=False on the client.
    """
    if settings.protocol != 5:
        return {}
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = settings.session_expiry_s
    props.ReceiveMaximum = settings.receive_maximum
    return {"clean_start": False, "properties": props}


# Threads hand work along (paho's network loop -> collector thread -> SQLite writer). With the default 5 ms GIL
# switch interval a busy thread keeps the network thread from reading and acking; 1 ms stored 32 % more
# gateway readings/s when decoding ran in-thread, and narrows the spread with a decoder process
# (docs/performance.md). A process-wide setting: the process that
# is a collector sets it (`qyb collect`), not this class, which the demo embeds beside the API.
GIL_SWITCH_INTERVAL_S = 0.001


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
        health: Health | None = None,
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
        self.health = health or Health(self.metrics.problem)
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker granted the subscriptions: messages published now arrive
        self._stopping = False  # our own disconnect at the end of run() is not worth a warning
        self._taken = self._stored = 0  # messages taken from the inbox / stored and acknowledged
        self._inbox: list[Inbound] = []
        self._inbox_lock = threading.Lock()
        self._generation = 0
        # Decoding and writing overlap: the writer stores one chunk while the next is decoded.
        self._queue: queue.Queue[_Chunk | Callable[[], None] | None] = queue.Queue(maxsize=2)
        self._filters = topics.subscriptions(
            [v.id for v in config.village], sorted({a for v in config.village for a in v.chirpstack_apps})
        )
        self.client = make_client(self.mqtt_settings, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_subscribe = lambda *_: self.subscribed.set()
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
            # 134/135 (MQTT 3's 4/5): the login; paho goes on retrying, and a fixed env file is picked up on restart
            hint = (
                f" as {self.mqtt_settings.credentials[0] or 'anonymous'}: check QYB_MQTT_USERNAME and "
                "QYB_MQTT_PASSWORD (`qyb broker credentials` writes them to collector.env)"
                if reason.value in (134, 135)
                else ""
            )
            self.health.failing(Part.BROKER, f"the broker refused the connection: {reason}{hint}")
            return
        self.health.recovered(Part.BROKER)
        with self._inbox_lock:
            self._generation += 1  # message ids of earlier connections must not be acknowledged
        client.subscribe([(f, 1) for f in self._filters])
        self.metrics.connected.set(1)
        self.metrics.reconnects.inc()
        self.connected.set()
        log.info(
            "connected to %s:%d (session present: %s), subscribed to %s",  # not the URL: it may hold a password
            self.mqtt_settings.host,
            self.mqtt_settings.port,
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
        was_connected = self.connected.is_set()
        self.connected.clear()
        self.subscribed.clear()
        self.metrics.connected.set(0)
        if self._stopping:
            log.info("disconnected from broker")
            return
        log.warning("disconnected from broker (%s); reconnecting", reason)
        if not was_connected and not any(p.part is Part.BROKER for p in self.health.problems()):
            # hung up on before any CONNACK (a TLS client certificate it wants, say): find out why, as below
            self.health.failing(Part.BROKER, probe_broker(self.mqtt_settings))

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        # paho retries quietly (every 1 to 30 s); find out why, in words, for the log and the overview
        self.health.failing(Part.BROKER, probe_broker(self.mqtt_settings))  # not the URL: it may hold a password

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = "<topic is not UTF-8>"
        # paho types the payload bytes | bytearray; it is bytes, and bytes() of bytes is the same object
        item = (topic, bytes(msg.payload), msg.mid, msg.qos, self._generation, time.monotonic())
        with self._inbox_lock:
            self._inbox.append(item)

    # -- the collector's thread ---------------------------------------------------

    def start(self) -> None:
        s = self.mqtt_settings
        warn_if_plain_text(s, "the collector")
        self.client.connect_async(s.host, s.port, keepalive=s.keepalive_s, **session_options(s))
        self.client.loop_start()

    def run(self, stop: threading.Event) -> None:
        """Connect and process until `stop` is set; then store what is in hand and disconnect."""
        limits = Limits(self.settings.max_payload_bytes, self.settings.max_future_s)
        decoder = start_decoder(self.index, limits, self.settings.decoder_process)
        try:
            self._run(stop, decoder)
        finally:
            decoder.close()

    def _run(self, stop: threading.Event, decoder: Decoder) -> None:
        self.start()
        writer = threading.Thread(target=self._write_loop, name="qyb-writer", daemon=True)
        writer.start()
        maintenance_due = time.monotonic() + 5
        try:
            while not stop.wait(self.settings.flush_interval_s):
                self._decode_inbox(decoder)
                if self.maintenance and time.monotonic() >= maintenance_due:
                    self._queue.put(self.maintenance)  # on the writer thread, between batches
                    maintenance_due = time.monotonic() + 5
            self._decode_inbox(decoder)
        finally:
            self._queue.put(None)
            writer.join()
            self._stopping = True
            self.client.disconnect()
            self.client.loop_stop()

    def _decode_inbox(self, decoder: Decoder) -> None:
        """Decode what has arrived into batches for the writer (blocks while it is two batches behind)."""
        with self._inbox_lock:
            msgs, self._inbox = self._inbox, []
        self._taken += len(msgs)  # only this thread writes it; the writer only `_stored`
        self._show_backlog()
        step = self.settings.max_batch_messages
        for start in range(0, len(msgs), step):
            chunk = msgs[start : start + step]
            now_ms = int(self.clock() * 1000)
            self._queue.put(_Chunk(chunk, decoder.decode(now_ms, [(m[0], m[1]) for m in chunk]), now_ms))
        self.metrics.decoder_process.set(decoder.in_child)

    def _write_loop(self) -> None:
        """The writer thread: store, run the sinks, acknowledge — in arrival order."""
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if isinstance(item, _Chunk):
                    self._store(item)
                else:
                    try:
                        item()
                    except Exception:
                        log.exception("maintenance failed")
            finally:
                self._queue.task_done()

    def _show_backlog(self) -> None:
        """qyb_inbox_depth: messages received and not yet stored (waiting in the inbox or the writer's queue)."""
        self.metrics.inbox_depth.set(len(self._inbox) + self._taken - self._stored)

    def _store(self, c: _Chunk) -> None:
        d = c.decoded
        while True:
            try:
                self.store.write(d.batch, d.rejects, d.statuses)
                break
            except Exception as e:  # keep the messages unacknowledged and try again
                log.debug("store write failed; %d messages stay unacknowledged", len(c.msgs), exc_info=True)
                self.health.failing(Part.STORE, f"{type(e).__name__}: {e}")
                self.metrics.store_errors.inc()
                time.sleep(1.0)
        self.health.recovered(Part.STORE)
        for sink in self.sinks:
            try:
                sink.handle(d.batch, c.now_ms)
            except Exception:  # alerting must never cost a stored reading its acknowledgement
                log.exception("batch sink %r failed", sink)
        with self._inbox_lock:  # on_connect bumps the generation under this lock
            for _, _, mid, qos, gen, _ in c.msgs:
                if qos and gen == self._generation:
                    self.client.ack(mid, qos)
        self._stored += len(c.msgs)
        self._show_backlog()
        self._count(c.msgs, d)

    def _count(self, msgs: list[Inbound], d: Decoded) -> None:
        m = self.metrics
        stored = len(d.batch)
        m.readings_stored.inc(stored)
        m.out_of_range.inc(int(np.count_nonzero(d.batch.flags & Flag.OUT_OF_RANGE)))
        m.duplicates.inc(d.duplicates)
        for r in d.rejects:
            m.rejected.labels(r.reason.value).inc()
        m.readings_received.inc(stored + len(d.rejects))
        m.messages.inc(len(msgs))  # last: a scrape that sees the messages sees what they held
        if msgs:
            m.batch_latency.observe(time.monotonic() - msgs[0][5])
