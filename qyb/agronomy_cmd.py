"""`qyb agronomy`: the disease and pest risks the collector computed, and biofixes (first trap catches)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from qingyubiao.config import Config, load_config
from qingyubiao.risks import PESTS, RISK_NAMES, Biofix, biofix_problem
from qyb.args import Command


def register(command: Command) -> None:
    c = command("agronomy", run_agronomy, "disease and pest risks per site and day; biofixes for the pest models")
    c.add_argument("--village", help="village id (default: the config's first)")
    sub = c.add_subparsers(dest="action", required=True, metavar="ACTION")
    risks = sub.add_parser("risks", help="each site's risks on a day (default: the newest computed)")
    risks.add_argument("--day", help="a village date, YYYY-MM-DD")
    fix = sub.add_parser("biofix", help="set a pest's biofix at a site: its degree-days count from that day")
    fix.add_argument("site")
    fix.add_argument("day", help="the first sustained trap catch, YYYY-MM-DD (this year, not in the future)")
    fix.add_argument("--pest", choices=PESTS, default=PESTS[0])
    fix.add_argument("--by", default="cli", help="who set it (kept with it)")
    test = sub.add_parser("test", help="run the models on hourly input and check the expected risks")
    test.add_argument("cases_file", metavar="CASES_FILE", help="cases (alerts/examples/agronomy-cases.toml)")
    test.add_argument("--params", metavar="FILE", help="model parameters to test (default: the deployment's)")
    sums = sub.add_parser(
        "stage-sums",
        help="a crop's bud-stage degree-days from the days its blocks were seen at each stage: the county's own "
        "[phenology.<crop>] table (docs/agronomy.md)",
    )
    sums.add_argument("observations", metavar="OBSERVATIONS_CSV", help="columns site,stage,date (YYYY-MM-DD)")
    sums.add_argument("--crop", default="pear")
    sums.add_argument("--base-c", type=float, help="base temperature, °C (default: the crop's table's, else 5)")
    sums.add_argument("-o", "--output", metavar="FILE", help="write the table there (default: print it)")


def run_agronomy(args: argparse.Namespace) -> int:
    from ingest.store.sqlite_risks import SqliteRiskBook

    config = load_config(args.config)
    if args.action == "test":
        return _test(config, args.cases_file, args.params)
    if args.action == "stage-sums":
        return _stage_sums(config, args)
    village = config.village_by_id(args.village or config.village[0].id)
    book = SqliteRiskBook(config.deployment.store.db)
    try:
        if args.action == "risks":
            names = {s.id: s.name for s in village.site}
            rows = book.risks(village.id, args.day)
            if not rows:
                print(f"no risks computed for {village.id}{' on ' + args.day if args.day else ''} yet")
            for r in rows:
                risk = " ".join(RISK_NAMES.get(r.risk, (str(r.risk),)))
                print(f"{r.day}  {r.site:6} {names.get(r.site, r.site):8}  {r.model:13} {risk}  {r.detail}")
            return 0
        if args.site not in {s.id for s in village.site}:
            raise ValueError(f"no site {args.site!r} in {village.id}")
        try:
            day = dt.date.fromisoformat(args.day)
        except ValueError:
            raise ValueError(f"not a date (YYYY-MM-DD): {args.day!r}") from None
        today = dt.datetime.now(ZoneInfo(village.tz)).date()
        problem = biofix_problem(day, today)
        if problem is not None:
            raise ValueError(problem)
        book.set_biofix(Biofix(village.id, args.site, args.pest, day.isoformat(), args.by, int(time.time() * 1000)))
        print(f"biofix of {args.pest} at {args.site}: {day} (the collector recomputes the season within seconds)")
        return 0
    finally:
        book.close()


def _test(config: Config, cases_file: str, params_file: str | None) -> int:
    from agronomy.params import DEFAULT, load_params
    from alerts.risktest import run_risk_cases
    from alerts.rules import RulesError

    path = Path(params_file or config.deployment.agronomy.params or DEFAULT)
    try:
        params = load_params(path)
        results = run_risk_cases(config, params, Path(cases_file).read_text(encoding="utf-8"), cases_file)
    except (RulesError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed = 0
    for r in results:
        print(f"{'通过 ok  ' if r.ok else '失败 FAIL'} {r.name} ({r.checks} checks)")
        for f in r.failures:
            print(f"    {f}")
        failed += not r.ok
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _stage_sums(config: Config, args: argparse.Namespace) -> int:
    from agronomy.calibrate import phenology_table
    from agronomy.params import DEFAULT, load_params
    from alerts.stage_sums import calibrate, crop_stages, read_observations
    from qingyubiao.series import SeriesIndex
    from qingyubiao.store import ReadFailed
    from qyb.system import open_reader

    village = config.village_by_id(args.village or config.village[0].id)
    index = SeriesIndex(config)
    try:
        params = load_params(Path(config.deployment.agronomy.params or DEFAULT))
        table = params.phenology.get(args.crop)
        base_c = args.base_c if args.base_c is not None else table.base_c if table else 5.0
        min_hours, max_missing = (table.min_hours, table.max_missing_days) if table else (20, 5)
        order = crop_stages(args.crop, params)
        seen = read_observations(Path(args.observations).read_text(encoding="utf-8"), args.observations)
        today = dt.datetime.now(ZoneInfo(village.tz)).date()
        readings = open_reader(config, index)
        try:
            result = calibrate(village, index, readings, seen, args.crop, order, base_c, min_hours, max_missing, today)
        finally:
            readings.close()
        blocks = sorted({o.site for o, _ in result.used})
        years = sorted({o.day.year for o, _ in result.used})
        where = f"{len(result.used)} observations on {', '.join(blocks)} in {', '.join(map(str, years))}"
        text = phenology_table(args.crop, result.sums, order, base_c, min_hours, max_missing, where, today)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
    except (OSError, ValueError, ReadFailed) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for o, why in result.skipped:
        print(f"skipped line {o.line} ({o.site} {o.stage} {o.day}): {why}", file=sys.stderr)
    if args.output:
        print(f"wrote [phenology.{args.crop}] to {args.output}: add it to your copy of models.toml", file=sys.stderr)
    else:
        print(text, end="")
    print(f"used {len(result.used)} observations, skipped {len(result.skipped)}", file=sys.stderr)
    return 0
