"""`qyb broker`: the village broker's users, password file and ACL (and, for mqtts://, its certificates)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qingyubiao.broker_auth import BROKER_CONF, SERVICE_ENV_FILES, issue_credentials
from qingyubiao.config import load_config
from qyb.args import Command


def register(command: Command) -> None:
    c = command("broker", _broker, "the broker's users and ACL: one login per device, gateway and qyb service")
    sub = c.add_subparsers(dest="action", required=True, metavar="ACTION")
    cred = sub.add_parser(
        "credentials",
        help="write the password file, ACL and services' env files; print new passwords once",
        description="Users already in the folder's password file keep their passwords; new devices get one; "
        "--rotate gives the named users a new one. New passwords go to stdout (user, password, kind), "
        "once: the broker keeps only their hashes. Reload the broker afterwards (SIGHUP).",
    )
    cred.add_argument("--out", required=True, help="the folder for passwd, acl and the env files (/etc/qyb/broker)")
    cred.add_argument(
        "--broker-group",
        default="mosquitto",
        help="the group the broker runs as: passwd and acl go to it, if it exists",
    )
    cred.add_argument("--rotate", action="append", default=[], metavar="USER", help="a user to give a new password")


def _broker(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    folder = Path(args.out)
    try:
        issued = issue_credentials(config, folder, frozenset(args.rotate), args.broker_group)
    except OSError as e:
        print(f"qyb broker credentials: {e}", file=sys.stderr)
        return 1
    for user, password in issued.new:
        if user.kind != "service":  # the services' passwords are in their env files, not on the screen
            print(f"{user.name}\t{password}\t{user.kind}")
    services = sorted(u.name for u, _ in issued.new if u.kind == "service")
    print(
        f"{len(issued.new)} new passwords, {len(issued.kept)} kept, {len(issued.removed)} removed"
        + (f" ({', '.join(issued.removed)})" if issued.removed else "")
        + f"; wrote passwd, acl, {BROKER_CONF} and {', '.join(SERVICE_ENV_FILES)} in {folder}"
        + (f"; new service passwords for {', '.join(services)} are in the env files" if services else ""),
        file=sys.stderr,
    )
    print("reload the broker to apply: sudo systemctl reload mosquitto (or kill -HUP its pid)", file=sys.stderr)
    return 0
