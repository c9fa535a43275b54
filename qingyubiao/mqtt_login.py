"""How every qyb MQTT client logs in: username and password, and TLS against the village's CA for mqtts://."""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl

import paho.mqtt.client as mqtt

from qingyubiao.config import MqttSettings

log = logging.getLogger(__name__)


def client_for(settings: MqttSettings, client_id: str) -> mqtt.Client:
    """A paho client speaking the configured MQTT version (the demo's embedded broker speaks 3.1.1 only),
    logged in as `log_in` says; the caller sets its callbacks and connects."""
    protocol = mqtt.MQTTv5 if settings.protocol == 5 else mqtt.MQTTv311
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    log_in(client, settings)
    return client


def log_in(client: mqtt.Client, settings: MqttSettings) -> None:
    """Set the login of `client`: the same for the collector, its valve link, the notifier and the simulator."""
    user, password = settings.credentials
    if user:
        client.username_pw_set(user, password)
    if settings.tls:
        # the server is checked against ca_file (the system's CAs without one) and by its name; a client
        # certificate, when the broker asks for one (require_certificate), from cert_file and key_file
        client.tls_set(
            ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file,
            cert_reqs=ssl.CERT_REQUIRED,
        )  # fmt: skip


def warn_if_plain_text(settings: MqttSettings, who: str) -> None:
    """Say at start when passwords and readings would cross a network unencrypted."""
    if not settings.tls and not is_loopback(settings.host):
        log.warning(
            "%s: MQTT to %s:%d is plain text: its password and every reading cross the network readable; "
            "use mqtts:// with the village's CA (docs/operations.md)", who, settings.host, settings.port,
        )  # fmt: skip


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: what it resolves to now
        try:
            return all(ipaddress.ip_address(a[4][0]).is_loopback for a in socket.getaddrinfo(host, None))
        except OSError:
            return False
