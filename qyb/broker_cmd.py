"""`qyb broker`: the village broker's users, password file and ACL (and, for mqtts://, its certificates)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qingyubiao.broker_auth import BROKER_CONF, SERVICE_ENV_FILES, issue_credentials
from qingyubiao.config import load_config
from qingyubiao.village_ca import TLS_CONF, make_certificates
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
    tls = sub.add_parser(
        "tls",
        help="make the village CA (once) and a server certificate for mqtts:// and https://",
        description="The CA is made on the first run and kept (devices trust it); each run signs a new server "
        "certificate for the --host names, and a client certificate per --client. Writes mosquitto-tls.conf.",
    )
    tls.add_argument("--out", required=True, help="the folder for the CA and certificates (/etc/qyb/tls)")
    tls.add_argument("--host", action="append", default=[], required=True,
                     help="a name or address devices dial, e.g. qyb.lijiahe.cn or 10.0.0.2 (repeatable)")  # fmt: skip
    tls.add_argument("--days", type=int, default=3650, help="the server certificate's validity (default 3650)")
    tls.add_argument("--ca-days", type=int, default=7300, help="the CA's validity, on its first run (default 7300)")
    tls.add_argument("--client", action="append", default=[], metavar="NAME", help="also a client certificate")
    cred.add_argument("--rotate", action="append", default=[], metavar="USER", help="a user to give a new password")


def _broker(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.action == "tls":
        return _tls(args, config.village[0].name)
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


def _tls(args: argparse.Namespace, village_name: str) -> int:
    folder = Path(args.out)
    made = make_certificates(folder, args.host, args.days, args.ca_days, tuple(args.client), f"{village_name} qyb CA")
    for path in made:
        print(path)
    print(
        f"wrote {', '.join(p.name for p in made)} and {TLS_CONF} in {folder}; give devices ca.crt, keep ca.key "
        "off the network (a USB stick in the committee's drawer), restart the broker to use a new certificate",
        file=sys.stderr,
    )
    return 0
