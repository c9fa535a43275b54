"""The thresholds the alert core uses for a site's crop and stage, as the dashboards colour and draw them
(`qyb dashboards` hands them to the dashboards package, which imports only the kernel).

From the same rules the collector runs (the bundled crop profiles plus the village's rules file, with its
per-site overrides): for one site and metric, the warning and critical edges of the value rules, by day
and by night. Predicted crossings, rates and health rules are the alert core's own business and are not
drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alerts.plan import matches
from alerts.rules import Rule, RuleSet
from qingyubiao.config import Site

INF = math.inf


@dataclass(frozen=True, slots=True)
class Band:
    """Below `low` or above `high` is an alert of that severity (±inf: none on that side)."""

    warn_low: float = -INF
    warn_high: float = INF
    crit_low: float = -INF
    crit_high: float = INF


def value_rules(rules: RuleSet, site: Site, metric: str) -> list[Rule]:
    out = []
    for rule in rules.rule:
        if rule.signal != "value" or not matches(rule, site.crop, site.stage, site.id, "", site.kind, metric):
            continue
        if rule.scope.device:  # one device's rule is not the site's band
            continue
        applied = rules.for_site(rule, site.id)
        if applied is not None:
            out.append(applied)
    return out


def band(rules: RuleSet, site: Site, metric: str, daytime: bool) -> Band:
    """The innermost edges: where the first warning and the first critical alert begin."""
    edges = {"warning": [-INF, INF], "critical": [-INF, INF]}
    for rule in value_rules(rules, site, metric):
        low, high, _, _ = rule.band(daytime)
        level = "warning" if rule.severity == "warning" else "critical"  # emergency draws with critical
        edges[level][0] = max(edges[level][0], low)
        edges[level][1] = min(edges[level][1], high)
    (wl, wh), (cl, ch) = edges["warning"], edges["critical"]
    return Band(wl, wh, cl, ch)
