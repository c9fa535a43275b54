"""Who hears what, on which channel, and when.

- Crop alerts (audience farmer): the people whose sites they are (owner
  household, assigned or watching, `Village.sites_of`); the secretary gets
  critical and emergency alerts of the whole village, and escalations.
- Device health (audience maintainer): the admins.
- Each person's channels come from `deployment.notify.person.<id>`; people
  without a smartphone get everything by SMS; SMS otherwise carries critical
  and emergency alerts and escalations only.
- Warnings that arrive in quiet hours wait for the end of the window and go
  out as one morning digest; critical and emergency alerts always ring.
- Machines (MQTT alert events, the phone page's feed) are never held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alerts.notify.notice import Notice, Why, finite, key_of
from alerts.notify.quiet import quiet_until
from qingyubiao.alerting import Audience, Kind, Transition
from qingyubiao.config import Config, NotifySettings, Person, PersonNotify, Village
from qingyubiao.notifying import CONFIRM, GROUP, ack_ref, group_ack_ref, sign_ack_token

URGENT = ("critical", "emergency")


Directory = Callable[[str], list[Person]]  # village id -> its people


@dataclass(frozen=True, slots=True)
class Queued:
    """A notice and when it may go: `held` notices waited out quiet hours (they go as a digest)."""

    notice: Notice
    due_ms: int
    held: bool
    ack: tuple[str, str, str, str] | None  # (ref, episode, person, village) to register
    ack_people: tuple[str, ...] = ()  # a group link (person GROUP): the people its message names


class Router:
    def __init__(self, config: Config, channels: set[str], directory: Directory | None = None) -> None:
        """`directory`: a village's people now (the config's and those added at run time, api/users.py),
        asked at every transition, so a person added on the overview is paged from the next alert."""
        self.config = config
        self.settings: NotifySettings = config.deployment.notify
        self.channels = channels  # the configured ones
        self.villages = {v.id: v for v in config.village}
        self.directory: Directory = directory or (lambda village: self.villages[village].person)

    def prefs(self, person: Person) -> PersonNotify:
        return self.settings.person.get(person.id, PersonNotify())

    def brand(self, v: Village) -> str:
        return self.settings.brand or f"{v.name.removesuffix('村')}晴雨表"

    def people(self, t: Transition) -> list[Person]:
        v = self.villages.get(t.village)
        if v is None:
            return []
        if t.audience == Audience.MAINTAINER:
            return [p for p in self.directory(v.id) if p.role == "admin"]
        people = self.directory(v.id)
        out = [p for p in people if p.role == "farmer" and any(s.id == t.site for s in v.sites_of(p))]
        if t.severity in URGENT:
            out += [p for p in people if p.role == "secretary"]
        return out

    def secretaries(self, village: str) -> list[Person]:
        v = self.villages.get(village)
        return [p for p in self.directory(v.id) if p.role == "secretary"] if v else []

    def route(
        self, t: Transition, state: str, started_ms: int, now_ms: int, people: list[Person] | None = None
    ) -> list[Queued]:
        """Notices for one transition (state: firing, resolved, repeat-N or escalation)."""
        v = self.villages.get(t.village)
        if v is None:
            return []
        people = self.people(t) if people is None else people
        why = state.split("-", 1)[0]
        urgent = t.severity in URGENT or why == Why.ESCALATION
        site = next((s for s in v.site if s.id == t.site), None)
        base = dict(
            episode=t.episode, state=state, kind=t.kind, severity=t.severity, audience=t.audience,
            village=v.id, village_name=v.name, site=t.site, site_name=site.name if site else t.site,
            device=t.device, metric=t.metric, value=finite(t.value), threshold=finite(t.threshold),
            started_ms=started_ms, ts_ms=t.ts_ms if why in (Why.FIRING, Why.RESOLVED) else now_ms,
            brand=self.brand(v), alert_zh=t.text_zh, alert_en=t.text_en,
        )  # fmt: skip
        village_quiet = None if urgent else quiet_until(self.settings.quiet_hours, v.tz, now_ms)
        irrigation = site.irrigation if site else None
        confirmable = bool(t.kind == Kind.IRRIGATION_DUE and irrigation and irrigation.valve
                           and irrigation.mode == "confirm")  # fmt: skip
        out: list[Queued] = []

        def add(channel: str, target: str, who: list[Person], quiet_end: int | None, ack_for: str | None) -> None:
            """`ack_for`: the person of a personal link, GROUP for a group message's link, None for no link."""
            if channel not in self.channels:
                return
            ack = None
            url = confirm = None
            named = tuple(p.id for p in who) if ack_for == GROUP else ()
            if ack_for and self.settings.ack_secret and why != Why.RESOLVED and (ack_for != GROUP or named):
                # a group chat is read by everyone it names: whoever taps says who they are (not the first named)
                ref = group_ack_ref(t.episode, list(named)) if ack_for == GROUP else ack_ref(t.episode, ack_for)
                expires = now_ms + int(self.settings.ack_ttl_h * 3.6e6)
                public = self.settings.public_url.rstrip("/")
                url = f"{public}/a/{sign_ack_token(self.settings.ack_secret, ref, expires)}"
                if confirmable:  # the same reference, signed as a 确认灌溉 (api/routes/confirm_link.py)
                    confirm = f"{public}/w/{sign_ack_token(self.settings.ack_secret, CONFIRM + ref, expires)}"
                ack = (ref, t.episode, ack_for, v.id)
            n = Notice(
                key=key_of(t.episode, state, target, channel), channel=channel, target=target,
                mentions=[p.phone for p in who], people=[p.id for p in who], ack_url=url, confirm_url=confirm,
                **base,  # type: ignore[arg-type]
            )  # fmt: skip
            out.append(Queued(n, quiet_end or now_ms, quiet_end is not None, ack, named if ack else ()))

        smart = [p for p in people if self.prefs(p).smartphone]
        if why in (Why.FIRING, Why.RESOLVED):
            add("mqtt", v.id, people, None, None)  # machines: every paging change, never held
        if t.audience == Audience.FARMER and t.severity in URGENT and why == Why.FIRING:
            add("broadcast", v.id, [], None, None)
        app = [p for p in smart if "app" in self.prefs(p).channels]
        if app:
            add("webhook", v.id, app, village_quiet, GROUP)
        for robot in ("wecom", "dingtalk"):
            chosen = [p for p in smart if robot in self.prefs(p).channels]
            if chosen:
                add(robot, v.id, chosen, village_quiet, GROUP)
        for p in people:
            prefs = self.prefs(p)
            quiet = None if urgent else quiet_until(prefs.quiet_hours or self.settings.quiet_hours, v.tz, now_ms)
            if prefs.smartphone and "app" in prefs.channels:
                add("feed", p.id, [p], None, p.id)
            if "sms" in prefs.channels and (urgent or not prefs.smartphone):
                add("sms", p.id, [p], quiet, p.id)
        return out
