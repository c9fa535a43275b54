"""A load generator that is never the bottleneck: pre-encoded MQTT 3.1.1 QoS 1 PUBLISH packets.

paho spends ~30 µs per QoS 1 publish in Python; this writes pre-built packets
with large sendall() calls (well under 1 µs per message) and drains PUBACKs on
a thread, like the C publisher in the research baselines.
"""

from __future__ import annotations

import multiprocessing
import socket
import struct
import threading
from multiprocessing.synchronize import Event


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    body = _string(topic.encode()) + struct.pack("!H", packet_id) + payload
    return b"\x32" + _remaining_length(len(body)) + body  # PUBLISH, QoS 1


def flood(port: int, messages: list[tuple[str, bytes]], client_id: str = "rawpub", chunk: int = 256_000) -> int:
    """Send every message at QoS 1 and wait for all PUBACKs. Returns the number sent."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    var = _string(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60)  # v3.1.1, clean session
    connect = var + _string(client_id.encode())
    sock.sendall(b"\x10" + _remaining_length(len(connect)) + connect)
    if sock.recv(4)[:1] != b"\x20":
        raise ConnectionError("no CONNACK")
    acked = [0]

    def read_acks() -> None:
        buf = b""
        while acked[0] < len(messages):
            data = sock.recv(65536)
            if not data:
                return
            buf += data
            whole = len(buf) // 4  # PUBACK is always 4 bytes: 0x40 0x02 id id
            acked[0] += whole
            buf = buf[whole * 4 :]

    reader = threading.Thread(target=read_acks)
    reader.start()
    out = bytearray()
    for i, (topic, payload) in enumerate(messages):
        out += publish_packet(topic, payload, i % 65535 + 1)
        if len(out) >= chunk:
            sock.sendall(out)
            out.clear()
    sock.sendall(out)
    reader.join(300)
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    if acked[0] != len(messages):
        raise RuntimeError(f"only {acked[0]} of {len(messages)} PUBACKs")
    return len(messages)


class FloodProcess:
    """flood() from a forked process, so the load generator never shares the GIL with the consumer measured.

    Create it before the consumer starts its threads (fork copies only the calling
    thread), then `go()` once the consumer is subscribed.
    """

    def __init__(self, port: int, messages: list[tuple[str, bytes]]) -> None:
        ctx = multiprocessing.get_context("fork")
        self._go: Event = ctx.Event()
        self._proc = ctx.Process(target=self._run, args=(port, messages), daemon=True)
        self._proc.start()

    def _run(self, port: int, messages: list[tuple[str, bytes]]) -> None:
        self._go.wait()
        flood(port, messages)

    def go(self) -> None:
        self._go.set()

    def join(self, timeout: float) -> None:
        self._proc.join(timeout)
        if self._proc.exitcode != 0:
            raise RuntimeError(f"publisher process ended with {self._proc.exitcode}")
