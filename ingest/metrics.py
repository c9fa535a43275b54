"""Prometheus metrics for operators, in a registry of the collector's own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from qingyubiao.health import PROBLEM_METRIC


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter("qyb_messages_received", "MQTT messages received", registry=r)
        self.readings_received = Counter(
            "qyb_readings_received", "Readings decoded from payloads, stored or rejected", registry=r
        )
        self.readings_stored = Counter("qyb_readings_stored", "Readings durably stored", registry=r)
        self.rejected = Counter("qyb_rejected", "Refused messages and readings, by reason", ["reason"], registry=r)
        self.out_of_range = Counter("qyb_out_of_range", "Stored readings flagged out of physical range", registry=r)
        self.duplicates = Counter("qyb_duplicates", "Uplinks dropped as already seen (ChirpStack)", registry=r)
        self.batch_latency = Histogram(
            "qyb_batch_latency_seconds",
            "From the first message of a batch arriving to its acknowledgement",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.store_errors = Counter("qyb_store_errors", "Failed store writes (retried)", registry=r)
        self.spool_depth = Gauge("qyb_spool_depth", "Batches waiting in the outage spool", registry=r)
        self.inbox_depth = Gauge("qyb_inbox_depth", "Messages received but not yet stored", registry=r)
        self.decoder_process = Gauge(
            "qyb_decoder_process",
            "1 while a decoder process decodes; 0 when the collector decodes in its own (configured, or after a crash)",
            registry=r,
        )
        self.problem = Gauge(
            PROBLEM_METRIC,
            "Since when (epoch s) the store refuses writes or the broker cannot be reached, while it lasts",
            ["part", "detail"],
            registry=r,
        )
        self.connected = Gauge("qyb_mqtt_connected", "1 while connected to the broker", registry=r)
        self.reconnects = Counter("qyb_mqtt_connects", "Successful connections to the broker", registry=r)
        # The InfluxDB forwarder (ingest/store/forwarder.py); qyb_spool_depth above counts its spooled batches.
        self.influx_written = Counter("qyb_influx_written_readings", "Readings InfluxDB accepted", registry=r)
        self.influx_errors = Counter(
            "qyb_influx_write_errors",
            "Failed InfluxDB write requests, by HTTP status or error kind",
            ["status"],
            registry=r,
        )
        self.influx_rejected = Counter(
            "qyb_influx_rejected_readings", "Readings InfluxDB refused as malformed (HTTP 400): not retried", registry=r
        )
        self.spool_bytes = Gauge("qyb_influx_spool_bytes", "Bytes in the InfluxDB outage spool", registry=r)
        self.spool_limit = Gauge("qyb_influx_spool_limit_bytes", "Bound of the InfluxDB outage spool", registry=r)
        self.spool_dropped = Counter(
            "qyb_influx_spool_dropped_readings",
            "Readings not forwarded to InfluxDB because its spool was full (they stay in the local store)",
            registry=r,
        )
        self.influx_lag = Gauge(
            "qyb_influx_lag_seconds", "Age of the oldest spooled batch not yet written to InfluxDB", registry=r
        )

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        start_http_server(port, addr=addr, registry=self.registry)
