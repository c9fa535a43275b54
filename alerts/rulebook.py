"""The village's rules file: edited by the API (`AlertRuleBook`), watched by the collector (`RulesFile`).

One file (deployment.alerts.rules_file, QYB_ALERT_RULES) holds a village's own rules and per-site
overrides on top of the bundled crop profiles. The API appends overrides to it; the collector looks at
the file's identity (inode, size, modification time) at every maintenance pass, every 5 s, and recompiles
its plan when it changed, so a threshold edited on the overview is in force seconds later, without a
restart. A hand edit of the file travels the same way.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

from alerts.rules import RulesError, RuleSet, bundled_rules, deployment_rules, parse_rules
from qingyubiao.config import Config

log = logging.getLogger(__name__)
RULES_ENV = "QYB_ALERT_RULES"  # named in the API's refusal, so the secretary's helper knows what to set


class AlertRuleBook:
    """The alert core's rules for the API: bundled crop profiles plus the village's file
    (deployment.alerts.rules_file, QYB_ALERT_RULES).

    Overrides are appended to that file as `[[override]]` tables (later ones win, comments survive);
    the running collector sees the file change at its next maintenance pass (`RulesFile`).
    """

    def __init__(self, config: Config, path: str | None) -> None:
        self.config = config
        self.path = path

    def _set(self) -> RuleSet:
        # the village's file is created by the first edit
        return deployment_rules(self.path if self.path and Path(self.path).exists() else None)

    @staticmethod
    def _dump(model: BaseModel) -> dict[str, object]:
        out: dict[str, object] = model.model_dump(mode="json", by_alias=True)
        return out

    def rules(self) -> list[dict[str, object]]:
        return [self._dump(r) for r in self._set().rule]

    def in_force(self, village: str, site: str) -> list[dict[str, object]]:
        rs = self._set()
        v = self.config.village_by_id(village)
        s = next(x for x in v.site if x.id == site)
        out = []
        for rule in rs.rule:
            sc = rule.scope
            if (
                (sc.crop and s.crop not in sc.crop)
                or (sc.stage and s.stage not in sc.stage)
                or (sc.site and s.id not in sc.site)
                or (sc.kind and s.kind not in sc.kind)
            ):
                continue
            applied = rs.for_site(rule, site)
            if applied is not None:
                out.append(self._dump(applied))
        return out

    def overrides(self) -> list[dict[str, object]]:
        return [self._dump(o) for o in self._set().override]

    def set_override(self, override: dict[str, object]) -> dict[str, object]:
        if not self.path:
            raise PermissionError(f"设置 {RULES_ENV} 指向村里的规则文件后才能修改 / set {RULES_ENV} to edit rules")
        lines = ["", "[[override]]"]
        for key, value in override.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int | float):
                lines.append(f"{key} = {value!r}")
            elif isinstance(value, list | tuple):
                lines.append(f"{key} = [{', '.join(repr(float(x)) for x in value)}]")
            else:
                lines.append(f"{key} = {json.dumps(str(value), ensure_ascii=False)}")
        block = "\n".join(lines) + "\n"
        file = Path(self.path)
        old = file.read_text(encoding="utf-8") if file.exists() else ""
        try:
            parsed = parse_rules(old + block, str(file))  # the whole file must stay valid
            # an override is not checked against its rule by the parser: check the rule it makes for the site
            merged = bundled_rules().merged(parsed)
            rule = next(r for r in merged.rule if r.id == override["rule"])
            applied = merged.for_site(rule, str(override["site"]))
            if applied is not None:
                type(rule).model_validate(applied.model_dump(by_alias=True))
        except (RulesError, StopIteration) as e:
            raise ValueError(str(e) or f"no rule {override['rule']!r}") from None
        except ValidationError as e:
            raise ValueError(f"{override['rule']} for {override['site']}: {e.errors()[0]['msg']}") from None
        # whole or not at all: the collector may read the file at any moment (RulesFile)
        # and durable before the API says yes: the new file's bytes, then its name, reach the disk
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(old + block)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, file)
        folder = os.open(file.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return self._dump(parsed.override[-1])


class RulesFile:
    """The rules in force: the bundled profiles plus the village's file, re-read when the file changes."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._seen = self._identity()

    def _identity(self) -> tuple[int, int, int] | None:
        if not self.path:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def load(self) -> RuleSet:
        """The rules now (raises RulesError for a bad file: at start, the collector refuses to run on it)."""
        return deployment_rules(self.path if self._seen is not None else None)

    def changed(self) -> RuleSet | None:
        """The new rules if the file changed since the last look and parses; None otherwise. A file
        that does not parse is logged once and the rules in force stay: a typo must not end alerting."""
        now = self._identity()
        if now == self._seen:
            return None
        self._seen = now
        try:
            rules = deployment_rules(self.path if now is not None else None)
        except RulesError as e:
            log.error("the rules file changed but cannot be used, the previous rules stay in force: %s", e)
            return None
        log.warning("rules file %s changed: the new rules are in force", self.path)
        return rules
