"""`qyb check`, `qyb export`, `qyb deadletters`, `qyb devices`: the config and what the store holds."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from qingyubiao.config import load_config
from qingyubiao.series import SeriesIndex
from qingyubiao.spreadsheet import ReadingTable, csv_chunks
from qingyubiao.timeutil import iso
from qyb.args import Command, parse_when
from qyb.system import open_reader, open_store


def register(command: Command) -> None:
    command("check", _check, "validate a config file; exit non-zero on error")
    c = command("export", _export, "write stored readings as CSV (for Excel: names, local time) or JSON lines")
    c.add_argument("--from", dest="start", help="start: 2026-11-01, an RFC 3339 time, or -24h / -7d")
    c.add_argument("--to", dest="end", help="end (exclusive), same forms")
    c.add_argument("--site", action="append", help="only this site (repeatable)")
    c.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    c.add_argument("--output", "-o", help="file to write (default: standard output)")
    c.add_argument(
        "--bom",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start the CSV with the UTF-8 byte order mark Excel needs to read 3号棚 "
        "(default: with --output yes, on standard output no)",
    )
    c.add_argument(
        "--include-flagged",
        action="store_true",
        help="also export readings flagged out of physical range, with a flags column",
    )

    c = command("deadletters", _deadletters, "show rejected payloads and the counts per reason")
    c.add_argument("--limit", type=int, default=20)
    c.add_argument("--reason")

    c = command("devices", _devices, "list configured devices, or unknown ones that tried to report")
    c.add_argument("--unknown", action="store_true", help="devices seen on the broker but not configured")


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    index = SeriesIndex(config)
    for v in config.village:
        kinds = {k: sum(s.kind == k for s in v.site) for k in ("greenhouse", "orchard")}
        print(
            f"{v.name} ({v.id}): {kinds['greenhouse']} greenhouses, {kinds['orchard']} orchard blocks, "
            f"{len(v.device)} devices, {len(v.person)} people"
        )
    print(f"ok: {len(index)} series; MQTT {config.deployment.mqtt.url}; store {config.deployment.store.db}")
    return 0


def _export(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.bom and args.format != "csv":
        raise ValueError("字节顺序标记只用于 CSV / --bom applies to CSV only")
    # A file is most likely for Excel, which needs the BOM to read 3号棚; standard output most likely feeds
    # a script or a pipe, where a BOM would stick to the first column's name.
    bom = args.format == "csv" and (args.bom if args.bom is not None else bool(args.output))
    index = SeriesIndex(config)
    store = open_reader(config, index)  # deployment.store.read: SQLite or InfluxDB
    tz = ZoneInfo(config.village[0].tz)
    start = parse_when(args.start, tz) if args.start else None
    end = parse_when(args.end, tz) if args.end else None
    series = None
    if args.site:
        known = {s.id for v in config.village for s in v.site}
        for site in args.site:
            if site not in known:
                raise ValueError(f"unknown site {site!r}; sites: {', '.join(sorted(known))}")
        series = [i for i, k in enumerate(index.keys) if k.site in args.site]
    table = ReadingTable(config.village, args.include_flagged)
    rows = table.rows(store.export(start, end, series))
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    n = 0

    def counted() -> Iterator[list[object]]:
        nonlocal n
        for row in rows:
            n += 1
            yield row

    try:
        if args.format == "csv":
            for piece in csv_chunks(table.columns, counted(), bom):
                out.write(piece)
        else:
            for row in counted():
                out.write(json.dumps(dict(zip(table.columns, row, strict=True)), ensure_ascii=False) + "\n")
        out.flush()
    except BrokenPipeError:
        # `qyb export | head`: the reader has what it wanted. Stop quietly, and point standard output at
        # /dev/null so the interpreter's last flush at exit does not fail (and print) again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    finally:
        if args.output:
            out.close()
        store.close()
    print(f"exported {n} readings", file=sys.stderr)
    return 0


def _deadletters(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = open_store(config, SeriesIndex(config), readonly=True)
    try:
        counts = store.rejection_counts()
        print("rejected, by reason (since the database was created):")
        for reason, n in counts.items():
            print(f"  {reason:<18} {n}")
        if not counts:
            print("  (none)")
        print(f"  {'out_of_range':<18} {store.out_of_range_count()}  (stored, flagged)")
        letters = store.dead_letters(args.limit, args.reason)
        print(f"\nlatest {len(letters)} dead letters:")
        for r in letters:
            payload = r.payload[:120].decode("utf-8", "replace")
            print(f"{iso(r.received_ms)}  {r.reason.value:<16} {r.topic}\n    {r.detail}\n    payload: {payload}")
    finally:
        store.close()
    return 0


def _devices(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not args.unknown:
        for v in config.village:
            for d in v.device:
                lora = f" DevEUI {d.dev_eui}" if d.dev_eui else ""
                print(f"{v.id}/{d.id}  site {d.site}  every {d.interval_s:g} s  {', '.join(d.metrics)}{lora}")
        return 0
    store = open_store(config, SeriesIndex(config), readonly=True)
    try:
        unknown = store.unknown_devices()
        print(f"{len(unknown)} unknown devices (add them to the config to store their readings):")
        for u in unknown:
            print(f"  {u.village}/{u.device}  {u.count} messages  last {iso(u.last_ms)}  topic {u.topic}")
    finally:
        store.close()
    return 0
