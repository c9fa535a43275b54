"""`qyb status`: is the box healthy — broker, collector, API, dispatcher, readings, devices, spool, disk, backup."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from qingyubiao.config import Config, load_config
from qyb.args import Command


def register(command: Command) -> None:
    c = command("status", _status, "is the box healthy: services up, readings arriving, disk, last backup")
    c.add_argument("--api", metavar="URL", help="where qyb api answers (default: QYB_PUBLIC_URL)")
    c.add_argument("--json", action="store_true", help="the checks as JSON, for a script")


def village_ca(config: Config) -> str | None:
    """`qyb broker tls` writes the village CA beside the server certificate the API serves."""
    cert = config.deployment.api.cert_file
    ca = Path(cert).parent / "ca.crt" if cert else None
    return str(ca) if ca and ca.is_file() else None


def _status(args: argparse.Namespace) -> int:
    """Exit 0 healthy or needing a look, 1 when a part is down (for a monitoring script)."""
    from ingest.box_facts import box_status
    from qingyubiao.box import Level, report, worst

    config = load_config(args.config)
    d = config.deployment
    api = args.api or d.notify.public_url
    checks = box_status(config, int(time.time() * 1000), api_url=api, ca_file=d.mqtt.ca_file or village_ca(config))
    if args.json:
        print(json.dumps([{"part": c.part, "level": c.level.value, "text_zh": c.text_zh, "text_en": c.text_en}
                          for c in checks], ensure_ascii=False, indent=1))  # fmt: skip
    else:
        print(report(checks))
    return 1 if worst(checks) is Level.DOWN else 0
