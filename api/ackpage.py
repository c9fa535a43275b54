"""The tiny HTML page of a one-tap acknowledge link: zh-CN first, English below (or first with ?lang=en).

No script, no external file, inline style: it must open in WeChat's in-app
browser on a cheap phone over weak 4G, and look the same when it is all the
page manages to load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# (zh, en) pairs: every line of the page in both languages
Text = tuple[str, str]

STYLE = (
    "body{margin:0;background:#f3f5f1;color:#1c2320;font:17px/1.5 system-ui,'Noto Sans CJK SC','PingFang SC',"
    "'Microsoft YaHei',sans-serif}header{background:#1d6b3a;color:#fff;padding:.6rem .9rem}"
    "main{max-width:32rem;margin:auto;padding:.8rem 1rem}h1{font-size:1.45rem;margin:.3rem 0 .7rem}"
    ".site{font-size:1.3rem;font-weight:bold;margin:.2rem 0}"
    ".alert{background:#fff;border-left:6px solid #c62828;border-radius:6px;padding:.6rem;margin:.3rem 0}"
    "[data-outcome=cleared] .alert,[data-outcome=already] .alert,[data-outcome=acked] .alert{border-color:#1f8a4c}"
    "button{width:100%;font-size:1.25rem;padding:.9rem;margin:.8rem 0;border:0;border-radius:8px;"
    "background:#c62828;color:#fff}.other{color:#555;font-size:.92rem;border-top:1px solid #ccc;margin-top:1.2rem}"
    ".other h2{font-size:1.05rem;margin:.6rem 0 .3rem}a{color:#1d6b3a}"
)


@dataclass(frozen=True, slots=True)
class AckPage:
    """What one answer says: a heading, the alert (site and text), lines, and maybe the confirm button(s)."""

    outcome: str  # confirm | acked | already | cleared | expired | invalid | unknown | unavailable
    status: int
    heading: Text
    site: Text | None = None
    alert: Text | None = None
    lines: list[Text] = field(default_factory=list)
    button: Text | None = None  # a POST form back to the same link
    # a group link: one button per named person, each posting as=<person id> ("I'm …, on my way")
    choices: list[tuple[str, Text]] = field(default_factory=list)


def when(ms: int, tz: str) -> Text:
    """A time for people: '7月15日 14:05' / '15 Jul 14:05' in the village's time zone."""
    d = datetime.fromtimestamp(ms / 1000, ZoneInfo(tz))
    return f"{d.month}月{d.day}日 {d:%H:%M}", f"{d.day} {MONTHS[d.month - 1]} {d:%H:%M}"  # %b follows the locale


def render(page: AckPage, title: Text, lang: str, action: str) -> str:
    """The whole document; `title` is the village's (e.g. 晴雨表 · 李家河村), `action` the form's URL.
    Links are relative (./token, ../), so the page also works behind a proxy's path prefix."""
    first, second = (1, 0) if lang == "en" else (0, 1)
    codes = ("zh-CN", "en")

    def block(i: int, main: bool) -> str:
        h = "h1" if main else "h2"
        out = [f"<{h}>{escape(page.heading[i])}</{h}>"]
        if page.site is not None and main:  # once: the alert's text names it too
            out.append(f'<p class="site">{escape(page.site[i])}</p>')
        if page.alert is not None and page.alert[i]:
            out.append(f'<p class="alert">{escape(page.alert[i])}</p>')
        out += [f"<p>{escape(line[i])}</p>" for line in page.lines]
        if main and page.button is not None:  # both languages on the button: whoever holds the phone can tap
            label = f"{escape(page.button[i])}<br><small>{escape(page.button[1 - i])}</small>"
            out.append(f'<form method="post" action="{escape(action)}"><button type="submit">{label}</button></form>')
        if main and page.choices:  # one form, a button each: the tapped one sends its as=<person id>
            buttons = "".join(
                f'<button type="submit" name="as" value="{escape(who)}">{escape(label[i])}'
                f"<br><small>{escape(label[1 - i])}</small></button>"
                for who, label in page.choices
            )
            out.append(f'<form method="post" action="{escape(action)}">{buttons}</form>')
        return "".join(out)

    phone = ("打开晴雨表手机页", "Open the Qingyubiao phone page")
    return (
        f'<!doctype html><html lang="{codes[first]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
        f"<title>{escape(page.heading[first])} · {escape(title[first])}</title><style>{STYLE}</style></head>"
        f'<body data-outcome="{page.outcome}"><header>{escape(title[first])}</header><main>'
        f"{block(first, True)}"
        f'<section class="other" lang="{codes[second]}">{block(second, False)}</section>'
        f'<p><a href="../">{escape(phone[first])}</a> · <a href="../">{escape(phone[second])}</a></p>'
        "</main></body></html>"
    )
