"""uvicorn's access log without credentials.

EventSource and download links cannot send headers, so they carry `?access_token=`; an ack link is its own
token (`/a/{token}`). A village server's log file is read by whoever helps run it: the log keeps the route
and the status, never the credential.
"""

from __future__ import annotations

import logging
import re

_CREDENTIAL = re.compile(r"(?<=[?&]access_token=)[^&\s]+|(?<=^/[aw]/)[^/?\s]+")


def redact(path: str) -> str:
    return _CREDENTIAL.sub("…", path)


class RedactCredentials(logging.Filter):
    """For uvicorn.access, whose records carry (client, method, path with query, HTTP version, status) as args."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_access_log() -> None:
    """Install the filter once. uvicorn's logging config replaces handlers, not logger filters, so it stays."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactCredentials) for f in logger.filters):
        logger.addFilter(RedactCredentials())
