"""`qyb dashboards build`: the village's Grafana dashboards and data sources as file provisioning."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qingyubiao.config import load_config
from qyb.args import Command


def register(command: Command) -> None:
    c = command("dashboards", _usage, "Grafana dashboards as code: build the provisioning files")
    sub = c.add_subparsers(metavar="ACTION")
    b = sub.add_parser("build", help="write Grafana file provisioning (data sources, provider, dashboards) to --out")
    b.add_argument("--out", required=True, help="folder to write (provisioning/ and dashboards/ inside)")
    b.add_argument("--lang", choices=["zh", "en"], default="zh", help="titles and names (default zh)")
    b.add_argument("--influx-url", help="InfluxDB as Grafana reaches it (default: deployment.influx.url)")
    b.add_argument("--prometheus-url", default="http://127.0.0.1:9090", help="Prometheus (or VictoriaMetrics)")
    b.set_defaults(handler=_build)
    p = sub.add_parser("push", help="create or update the folder, data sources and dashboards in a Grafana")
    p.add_argument("--url", required=True, help="Grafana's base URL; the token comes from QYB_GRAFANA_TOKEN")
    p.add_argument("--force", action="store_true", help="overwrite dashboards edited by hand in Grafana")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.add_argument("--influx-url", help="InfluxDB as Grafana reaches it (default: deployment.influx.url)")
    p.add_argument("--prometheus-url", default="http://127.0.0.1:9090", help="Prometheus (or VictoriaMetrics)")
    p.set_defaults(handler=_push)
    k = sub.add_parser("sketch", help="draw each kind of dashboard's panel grid as a PNG (docs/dashboards.md)")
    k.add_argument("--out", required=True, help="folder for the PNG files")
    k.add_argument("--lang", choices=["zh", "en"], default="zh")
    k.set_defaults(handler=_sketch)


def _usage(args: argparse.Namespace) -> int:
    print("usage: qyb dashboards build --out DIR (qyb dashboards --help)", file=sys.stderr)
    return 2


def _dashboards(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    from alerts.bands import band
    from alerts.rules import deployment_rules
    from dashboards.build import village_dashboards

    config = load_config(args.config)
    rules = deployment_rules(config.deployment.alerts.rules_file)
    out: dict[str, dict[str, object]] = {}
    for v in config.village:
        out |= village_dashboards(v, lambda s, m, day: band(rules, s, m, day), args.lang)
    return out


def _sketch(args: argparse.Namespace) -> int:
    from dashboards.sketch import sketch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, dict[str, object]] = {}
    for uid, d in _dashboards(args).items():  # one site detail stands for all
        kind = uid.rsplit("-", 1)[1]
        kinds.setdefault("site" if kind[:2] in ("gh", "or") and kind[2:].isdigit() else kind, d)
    for kind, d in kinds.items():
        sketch(d, out / f"dashboard-{kind}.png")
    print(f"{len(kinds)} sketches in {out}")
    return 0


def _sources(args: argparse.Namespace) -> object:
    from dashboards.provision import Sources

    influx = load_config(args.config).deployment.influx
    url = args.influx_url or influx.url
    if not url:
        return None
    return Sources(url, influx.database or influx.bucket or "qingyubiao", args.prometheus_url, bool(influx.token))


def _push(args: argparse.Namespace) -> int:
    import os

    from dashboards.provision import FOLDER, Sources, datasources
    from dashboards.push import Grafana, PushError, push

    token = os.environ.get("QYB_GRAFANA_TOKEN")
    if not token:
        print("qyb dashboards push: set QYB_GRAFANA_TOKEN (a Grafana service account token)", file=sys.stderr)
        return 2
    sources = _sources(args)
    if not isinstance(sources, Sources):
        print("qyb dashboards push: no InfluxDB: set deployment.influx.url (QYB_INFLUX_URL) or --influx-url",
              file=sys.stderr)  # fmt: skip
        return 2
    secret = load_config(args.config).deployment.influx.token or ""
    try:
        outcomes = push(Grafana(args.url, token), FOLDER, datasources(sources, secret)["datasources"],
                        _dashboards(args), args.force)  # fmt: skip
    except PushError as e:
        print(f"qyb dashboards push: {e}", file=sys.stderr)
        return 1
    for o in outcomes:
        note = "  (edited in Grafana since the last push: --force to overwrite)" if o.result == "refused" else ""
        print(f"  {o.kind:10s} {o.uid:28s} {o.result}{note}")
    counts = {r: sum(o.result == r for o in outcomes) for r in ("created", "updated", "unchanged", "refused")}
    print(", ".join(f"{n} {r}" for r, n in counts.items()))
    return 3 if counts["refused"] else 0


def _build(args: argparse.Namespace) -> int:
    from dashboards.provision import Sources, write

    sources = _sources(args)
    if not isinstance(sources, Sources):
        print("qyb dashboards build: no InfluxDB: set deployment.influx.url (QYB_INFLUX_URL) or --influx-url",
              file=sys.stderr)  # fmt: skip
        return 2
    dashboards = _dashboards(args)
    files = write(Path(args.out), dashboards, sources)
    print(f"{len(dashboards)} dashboards, 2 data sources: {len(files)} files in {args.out}")
    print(f"  start Grafana with GF_PATHS_PROVISIONING={Path(args.out).resolve() / 'provisioning'}")
    return 0
