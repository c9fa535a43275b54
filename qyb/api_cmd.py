"""`qyb api`: serve the API, the phone page and the overview with uvicorn."""

from __future__ import annotations

import argparse
import logging

from qingyubiao.config import load_config
from qingyubiao.mqtt_login import is_loopback
from qyb.args import Command
from qyb.system import build_api

log = logging.getLogger(__name__)


def register(command: Command) -> None:
    c = command("api", run_api, "serve the API, the phone page and the overview")
    c.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for the village network)")
    c.add_argument("--port", type=int, default=8000)
    c.add_argument("--stream-poll", type=float, default=2.0, help="seconds between store polls of the live stream")


def run_api(args: argparse.Namespace) -> int:
    import uvicorn

    config = load_config(args.config)
    tls = config.deployment.api
    app = build_api(config, args.stream_poll)
    scheme = "https" if tls.cert_file else "http"
    if scheme == "http" and not is_loopback(args.host):
        log.warning(
            "the API serves plain HTTP on %s: login tokens cross the village network readable; set "
            "QYB_API_CERT_FILE and QYB_API_KEY_FILE (qyb broker tls), or put a TLS proxy in front", args.host,
        )  # fmt: skip
    print(
        f"晴雨表 API on {scheme}://{args.host}:{args.port}/  (docs: /api/v1/docs; store {config.deployment.store.db})"
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if args.verbose else "warning",
                ssl_certfile=tls.cert_file, ssl_keyfile=tls.key_file)  # fmt: skip
    return 0
