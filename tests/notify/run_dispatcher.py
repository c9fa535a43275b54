"""A dispatcher in its own process, for the kill-and-restart test.

    python -m tests.notify.run_dispatcher CONFIG.json DB START_MS

Runs passes on a fake clock (one second per pass) until killed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alerts.notify.build import build_notifications
from qingyubiao.config import parse_config


def main() -> None:
    config = parse_config(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")), sys.argv[1], {})
    now = int(sys.argv[3])
    notes = build_notifications(config, sys.argv[2], now_ms=now)
    print("ready", flush=True)
    while True:
        notes.dispatcher.run_once(now)
        now += 1000


if __name__ == "__main__":
    main()
