"""`qyb`: the one command. This module parses the arguments; each command lives in its own module
(qyb/*_cmd.py), and qyb/system.py builds what they run."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from qingyubiao import LOG_FORMAT, __version__
from qingyubiao.config import ConfigError
from qingyubiao.store import ReadFailed
from qyb import (
    agronomy_cmd,
    alerts_cmd,
    api_cmd,
    backup_cmd,
    broker_cmd,
    collect_cmd,
    dashboards_cmd,
    demo_cmd,
    readings_cmd,
    sim_cmd,
    status_cmd,
    store_cmd,
    users_cmd,
)
from qyb.args import Handler


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=LOG_FORMAT,
        stream=sys.stderr,
    )
    # httpx logs every request's full URL at INFO, and the WeCom and DingTalk robot keys and an SMS gateway's
    # credentials are in those URLs. The outbox keeps every attempt's outcome, and the dispatcher logs failures,
    # without the URL.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(_glue_time_values(sys.argv[1:] if argv is None else argv))
    configure_logging(getattr(args, "verbose", False))
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, ReadFailed) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


# Options whose value may be a relative time like -24h, which argparse would take for an option.
_TIME_OPTIONS = ("--from", "--to", "--since", "--start", "--on")


def _glue_time_values(argv: Sequence[str]) -> list[str]:
    """`--from -24h` → `--from=-24h`, so the README's commands work as typed."""
    out: list[str] = []
    args = iter(argv)
    for a in args:
        value = next(args, None) if a in _TIME_OPTIONS else None
        out.append(a if value is None else f"{a}={value}")
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qyb", description="晴雨表 Qingyubiao: greenhouse and orchard monitoring")
    p.add_argument("--version", action="version", version=f"qyb {__version__}")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_text, description=help_text)
        c.add_argument(
            "--config",
            metavar="FILE",
            default=os.environ.get("QYB_CONFIG"),
            help="village config (default: $QYB_CONFIG, else the bundled 李家河村)",
        )
        c.add_argument("-v", "--verbose", action="store_true")
        c.set_defaults(handler=handler)
        return c

    collect_cmd.register(command)
    sim_cmd.register(command)
    readings_cmd.register(command)  # check, export, deadletters, devices
    demo_cmd.register(command)
    store_cmd.register(command)
    alerts_cmd.register(command)
    api_cmd.register(command)
    users_cmd.register(command)
    agronomy_cmd.register(command)
    dashboards_cmd.register(command)
    backup_cmd.register(command)
    broker_cmd.register(command)
    status_cmd.register(command)
    return p


if __name__ == "__main__":
    raise SystemExit(main())
