"""A bounded, crash-safe FIFO of line-protocol bodies on disk: the queue in front of a remote store.

Layout in its folder: segment files `NNNNNNNNNNNN.seg` of appended records and a
`cursor` file naming the first record not yet delivered. A record is a header
(magic, payload length, CRC-32, lines, append time in ms) and the UTF-8 body.

- Crash safety: `append` writes the record with one `write()` (and `fsync` when
  asked) before it returns, so an appended body survives a killed process (and,
  with fsync, a power cut). A record torn by a crash fails its CRC and is cut
  off when the spool is opened again. The cursor is replaced atomically (write,
  fsync, rename) after delivery; a crash in between delivers a record twice,
  which idempotent stores absorb.
- Bound: at most `max_bytes` of undelivered records. A record that does not fit
  is refused (`append` returns False): the oldest data is kept, the newest is
  not spooled, and the caller says so loudly. Disk use is at most `max_bytes`
  plus one segment of delivered records not yet deleted.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<4sIIIq")  # magic, payload bytes, crc32(payload), lines, appended at (epoch ms)
_MAGIC = b"QSP1"
SEGMENT_BYTES = 8 * 1024 * 1024

Position = tuple[int, int]  # (segment number, byte offset)


class SpoolBusy(RuntimeError):
    """Another process has the spool open."""


@dataclass(frozen=True, slots=True)
class Record:
    position: Position
    next_position: Position
    body: bytes  # UTF-8 line protocol
    lines: int
    appended_ms: int

    @property
    def size(self) -> int:
        return self.next_position[1] - self.position[1]


def pending_bytes_in(folder: str | Path) -> int:
    """Bytes not yet delivered, read from the files without opening (locking, repairing) the spool:
    what `qyb status` shows while the collector holds it."""
    at = Path(folder)
    try:
        seg, off = (int(x) for x in (at / "cursor").read_text().split())
    except (FileNotFoundError, ValueError):
        seg, off = 0, 0
    sizes = [p.stat().st_size for p in at.glob("*.seg") if p.stem.isdigit() and int(p.stem) >= seg]
    return max(0, sum(sizes) - off)


class Spool:
    """Append from one thread, peek and consume from another."""

    def __init__(
        self, folder: str | Path, max_bytes: int, *, fsync: bool = True, segment_bytes: int = SEGMENT_BYTES
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # One process per spool: two collectors appending to one folder would interleave their records.
        self._lock_fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpoolBusy(f"spool {self.folder} is in use by another process (give each collector its own)") from None
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._cursor: Position = self._read_cursor()
        segments = self._segments()
        for seg in segments:
            if seg < self._cursor[0]:
                self._path(seg).unlink()  # delivered before the last crash
        segments = [s for s in segments if s >= self._cursor[0]]
        if not segments:
            segments = [self._cursor[0]]
            self._path(segments[0]).touch()
        self._sizes: dict[int, int] = {}
        self.depth = 0  # undelivered records
        for seg in segments:
            start = self._cursor[1] if seg == self._cursor[0] else 0
            end, n = self._scan(seg, start, repair=seg == segments[-1])
            self._sizes[seg] = end
            self.depth += n
        self._write_seg = segments[-1]
        self._fd = os.open(self._path(self._write_seg), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    # -- files -------------------------------------------------------------------

    def _path(self, seg: int) -> Path:
        return self.folder / f"{seg:012d}.seg"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.folder.glob("*.seg") if p.stem.isdigit())

    def _read_cursor(self) -> Position:
        try:
            seg, off = (self.folder / "cursor").read_text().split()
            return int(seg), int(off)
        except FileNotFoundError:
            first = self._segments()
            return (first[0] if first else 0), 0

    def _write_cursor(self, pos: Position) -> None:
        tmp = self.folder / "cursor.tmp"
        with open(tmp, "w") as f:
            f.write(f"{pos[0]} {pos[1]}\n")
            if self.fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, self.folder / "cursor")

    def _scan(self, seg: int, start: int, repair: bool) -> tuple[int, int]:
        """(end of the last whole record, records from `start`). `repair` cuts a torn tail off the file."""
        path = self._path(seg)
        data = path.read_bytes()
        off, n = start, 0
        while off + _HEADER.size <= len(data):
            magic, length, crc, _, _ = _HEADER.unpack_from(data, off)
            payload = data[off + _HEADER.size : off + _HEADER.size + length]
            if magic != _MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
                break
            off += _HEADER.size + length
            n += 1
        if off < len(data):
            log.warning("spool %s: %d bytes after offset %d are torn or corrupt; cut off", path, len(data) - off, off)
            if repair:
                os.truncate(path, off)
        return off, n

    # -- the queue ---------------------------------------------------------------

    @property
    def pending_bytes(self) -> int:
        """Bytes of records not yet delivered (what the bound limits)."""
        with self._lock:
            return sum(self._sizes.values()) - self._cursor[1]

    def append(self, payload: bytes, lines: int, now_ms: int) -> bool:
        """Durably append one body. False (nothing written) when it would pass the bound."""
        record = _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload), lines, now_ms) + payload
        with self._lock:
            if sum(self._sizes.values()) - self._cursor[1] + len(record) > self.max_bytes:
                return False
            if self._sizes[self._write_seg] and self._sizes[self._write_seg] + len(record) > self.segment_bytes:
                self._roll()
            os.write(self._fd, record)
            if self.fsync:
                os.fsync(self._fd)
            self._sizes[self._write_seg] += len(record)
            self.depth += 1
        return True

    def _roll(self) -> None:
        os.close(self._fd)
        self._write_seg += 1
        self._sizes[self._write_seg] = 0
        self._fd = os.open(self._path(self._write_seg), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def peek(self, max_lines: int) -> list[Record]:
        """The oldest undelivered records, in order, up to `max_lines` lines (at least one record if any)."""
        with self._lock:
            seg, off = self._cursor
            sizes = dict(self._sizes)
        out: list[Record] = []
        lines = 0
        while seg in sizes and lines < max_lines:
            end = sizes[seg]
            if off >= end:
                if seg + 1 not in sizes:
                    break
                seg, off = seg + 1, 0
                continue
            with open(self._path(seg), "rb") as f:
                f.seek(off)
                data = f.read(end - off)
            pos = 0
            while pos < len(data) and lines < max_lines:
                _, length, _, n, appended = _HEADER.unpack_from(data, pos)
                body = data[pos + _HEADER.size : pos + _HEADER.size + length]
                nxt = (seg, off + pos + _HEADER.size + length)
                out.append(Record((seg, off + pos), nxt, body, n, appended))
                pos += _HEADER.size + length
                lines += n
            off += pos
        return out

    def consume(self, records: list[Record]) -> None:
        """Mark records (the first ones `peek` returned, in order) delivered; delete finished segments."""
        if not records:
            return
        with self._lock:
            pos = records[-1].next_position
            self._write_cursor(pos)
            self._cursor = pos
            self.depth -= len(records)
            done = [s for s in self._sizes if s < pos[0]]
            for seg in done:
                del self._sizes[seg]
        for seg in done:
            self._path(seg).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)
            os.close(self._lock_fd)  # releases the flock
