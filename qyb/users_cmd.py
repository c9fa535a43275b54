"""`qyb users`: people and their login tokens."""

from __future__ import annotations

import argparse
from pathlib import Path

from qingyubiao.config import Person, load_config
from qyb.args import Command


def register(command: Command) -> None:
    c = command("users", run_users, "add people, issue and revoke API tokens")
    c.add_argument("--village", help="village id (default: the config's first)")
    sub = c.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="add (or replace) a person")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--phone", required=True)
    add.add_argument("--role", choices=["farmer", "secretary", "admin"], default="farmer")
    add.add_argument("--household")
    add.add_argument("--site", action="append", default=[], help="a site this person looks after (repeatable)")
    token = sub.add_parser("token", help="issue a token for a person and print a login link")
    token.add_argument("person")
    token.add_argument("--label", default="")
    token.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the pages are served")
    revoke = sub.add_parser("revoke", help="revoke a token by its hash prefix, or all tokens of --person")
    revoke.add_argument("hash_prefix", nargs="?")
    revoke.add_argument("--person")
    sub.add_parser("list", help="people and their tokens (hash prefixes only)")


def run_users(args: argparse.Namespace) -> int:
    from api.users import UserStore

    config = load_config(args.config)
    village = args.village or config.village[0].id
    config.village_by_id(village)
    Path(config.deployment.store.db).parent.mkdir(parents=True, exist_ok=True)
    users = UserStore(config.deployment.store.db, config)
    try:
        if args.action == "add":
            person = Person(
                id=args.id,
                name=args.name,
                phone=args.phone,
                role=args.role,
                household=args.household,
                sites=args.site,
            )
            users.add_person(village, person, replace=True)  # documented: "add (or replace)"
            print(f"added {person.name} ({person.id}, {person.role}) to {village}")
        elif args.action == "token":
            token = users.issue(village, args.person, args.label)
            days = config.deployment.api.token_ttl_days
            print(f"token for {args.person} (shown once, stored hashed; {days:g} days, renewed by every use):")
            print(f"  {token}")
            print(f"login link:\n  {args.base_url.rstrip('/')}/#token={token}")
        elif args.action == "revoke":
            if args.person:
                n = users.revoke_person(village, args.person)
            elif args.hash_prefix:
                n = users.revoke(args.hash_prefix)
            else:
                raise ValueError("give a token hash prefix or --person")
            print(f"revoked {n} token(s)")
        else:
            tokens = users.tokens(village)
            for p in users.people(village):
                mine = [t for t in tokens if t.person == p.id]
                live = ", ".join(t.hash_prefix for t in mine if t.revoked_ms is None) or "-"
                print(f"{p.id:<16} {p.name:<8} {p.role:<9} tokens: {live}")
    finally:
        users.close()
    return 0
