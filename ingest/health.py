"""What keeps the collector from doing its job right now: the store refuses writes, the broker cannot be reached.

A problem is said at once (one ERROR line with the cause, repeated every few minutes while it lasts, and
one line when it ends), shown on /metrics as `qyb_problem{part, detail}` (the overview's red banner reads
it there, docs/design.md), and handed to `on_change(problem, ended)` so maintainers are told like a device fault
(alerts/notify/system.py). On a full disk that alert cannot be queued either (the outbox shares the
disk): it is sent from memory, once.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable

from prometheus_client import Gauge

from qingyubiao.config import MqttSettings
from qingyubiao.health import Part, Problem

log = logging.getLogger(__name__)

REPEAT_LOG_S = 300.0  # while a problem lasts, say it again this often


class Health:
    """The collector's current problems. Thread-safe: the writer and paho's thread both report."""

    def __init__(
        self,
        gauge: Gauge,
        on_change: Callable[[Problem, bool], None] | None = None,
        clock: Callable[[], float] = time.time,
        page_after_s: float = 0.0,
    ) -> None:
        self._gauge, self._on_change, self._clock = gauge, on_change, clock
        self._page_after_ms = page_after_s * 1000
        self._lock = threading.Lock()
        self._problems: dict[Part, Problem] = {}
        self._logged: dict[Part, float] = {}
        self._paged: set[Part] = set()  # problems maintainers were told of (so they hear the end too)

    def problems(self) -> list[Problem]:
        with self._lock:
            return list(self._problems.values())

    def failing(self, part: Part, detail: str) -> None:
        now = self._clock()
        detail = " ".join(detail.split())[:300]
        with self._lock:
            old = self._problems.get(part)
            if old is None or old.detail != detail:
                if old is not None:
                    self._gauge.remove(part.value, old.detail)
                problem = Problem(part, old.since_ms if old else int(now * 1000), detail)
                self._problems[part] = problem
                self._gauge.labels(part.value, detail).set(problem.since_ms / 1000)
            else:
                problem = old
            say = old is None or old.detail != detail or now - self._logged.get(part, 0.0) >= REPEAT_LOG_S
            if say:
                self._logged[part] = now
            # retries call again (the store every second, paho every 1-30 s): the page goes on the first
            # call after the problem has lasted page_after_s
            page = part not in self._paged and now * 1000 - problem.since_ms >= self._page_after_ms
            if page:
                self._paged.add(part)
        if say:
            since = "" if old is None else f" (since {(now * 1000 - problem.since_ms) / 60_000:.0f} min)"
            log.error("%s%s", problem.text_en, since)
        if page and self._on_change is not None:
            self._notify(problem, False)

    def recovered(self, part: Part) -> None:
        with self._lock:
            old = self._problems.pop(part, None)
            if old is not None:
                self._gauge.remove(part.value, old.detail)
            paged = part in self._paged
            self._paged.discard(part)
        if old is None:
            return
        took = (self._clock() * 1000 - old.since_ms) / 1000
        log.warning("%s works again after %.0f s", "the store" if part is Part.STORE else "the broker", took)
        if paged and self._on_change is not None:
            self._notify(old, True)

    def _notify(self, problem: Problem, ended: bool) -> None:
        assert self._on_change is not None
        try:
            self._on_change(problem, ended)
        except Exception as e:  # telling maintainers must not stop the collector; the log line above stands
            # expected on a full disk, where the outbox cannot take it either: the cause, without a traceback
            log.error(
                "could not queue the maintainer alert for the %s: %s: %s", problem.part.value, type(e).__name__, e
            )


def probe_broker(settings: MqttSettings, timeout_s: float = 5.0) -> str:
    """Why a connection to the broker fails, in words (paho's reconnect loop does not say)."""
    try:
        with socket.create_connection((settings.host, settings.port), timeout=timeout_s) as sock:
            if settings.tls:
                context = ssl.create_default_context(cafile=settings.ca_file)
                if settings.cert_file:
                    context.load_cert_chain(settings.cert_file, settings.key_file)
                with context.wrap_socket(sock, server_hostname=settings.host) as tls:
                    # TLS 1.3: a broker that wants a client certificate says so only after the handshake
                    tls.settimeout(1.0)
                    with contextlib.suppress(TimeoutError):  # it waits for our CONNECT, as it should
                        tls.recv(1)
    except ssl.SSLCertVerificationError as e:
        expired = "expired" in (e.verify_message or "")
        fix = "renew the broker's certificate (qyb broker tls)" if expired else "check ca_file"
        return f"TLS certificate of {settings.host}:{settings.port} not trusted ({e.verify_message}); {fix}"
    except ssl.SSLError as e:
        if "CERTIFICATE_REQUIRED" in str(e.reason):
            return (
                f"{settings.host}:{settings.port} asks for a client certificate: set QYB_MQTT_CERT_FILE and "
                "QYB_MQTT_KEY_FILE (qyb broker tls --client NAME makes one)"
            )
        return f"TLS handshake with {settings.host}:{settings.port} failed: {e.reason or e}"
    except FileNotFoundError:
        return f"the CA file {settings.ca_file!r} does not exist"
    except OSError as e:
        return f"{settings.host}:{settings.port}: {e.strerror or e}"
    return f"{settings.host}:{settings.port} answers, but the MQTT connection failed (see the broker's log)"
