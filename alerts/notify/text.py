"""Message text: zh-CN first, English alongside; short and actionable.

【李家河晴雨表】3号棚 气温 38.2℃，已超过 35℃ 15 分钟。建议：立即开风口通风。
"""

from __future__ import annotations

from alerts.notify.advice import advice
from alerts.notify.notice import Notice, Why
from alerts.text import KIND_ZH, SEVERITY_ZH, metric_names
from qingyubiao.alerting import Kind


def _unit_zh(unit: str) -> str:
    return "℃" if unit == "°C" else unit


def _minutes(ms: int) -> int:
    return max(1, round(ms / 60_000))


SYSTEM_KINDS = (Kind.STORE_FAILING, Kind.BROKER_UNREACHABLE)
# a day's risk, a valve's fault: the alert's own text says what, why and what to do
MODEL_KINDS = (Kind.DISEASE_RISK, Kind.PEST_RISK, Kind.VALVE_FAULT, Kind.IRRIGATION_DUE)


def line(n: Notice, now_ms: int) -> tuple[str, str]:
    """The core sentence without brand or link: (zh, en)."""
    do_zh, do_en = advice(n.kind)
    mzh, men, unit = metric_names(n.metric)
    since = _minutes(max(n.ts_ms, now_ms) - n.started_ms) if n.why != Why.RESOLVED else None
    sev_zh = f"【{SEVERITY_ZH[n.severity]}】" if n.severity in ("critical", "emergency") else ""
    sev_en = f"[{n.severity}] " if n.severity in ("critical", "emergency") else ""
    place_en = f"{n.site_name} ({n.site})" if n.site else n.device
    if n.kind in MODEL_KINDS:
        if n.why == Why.RESOLVED:
            return f"{n.site_name} {n.alert_zh}", f"{place_en} {n.alert_en}"
        zh, en = f"{sev_zh}{n.site_name} {n.alert_zh}", f"{sev_en}{place_en} {n.alert_en}"
        if n.why == Why.REPEAT:
            zh, en = "仍未处理：" + zh, "Still open: " + en
        return zh, en
    if n.why == Why.RESOLVED:
        lasted = _minutes(n.ts_ms - n.started_ms)
        kind_zh = KIND_ZH.get(n.kind, n.kind)  # type: ignore[call-overload]
        if n.value is not None:
            zh = f"{n.site_name} {kind_zh}已恢复：{mzh} {n.value:.1f}{_unit_zh(unit)}（持续 {lasted} 分钟）。"
            en = f"{place_en} {n.kind.replace('_', ' ')} cleared: {men} {n.value:.1f} {unit} (lasted {lasted} min)."
        else:
            zh = f"{n.site_name or n.device} {kind_zh}已恢复（持续 {lasted} 分钟）。"
            en = f"{place_en} {n.kind.replace('_', ' ')} cleared (lasted {lasted} min)."
        return zh, en
    if n.kind in SYSTEM_KINDS:  # the box itself (alerts/notify/system.py): the collector's own words say it
        zh = f"{sev_zh}服务器：{n.alert_zh}（{since} 分钟）。建议：{do_zh}"
        en = f"{sev_en}server: {n.alert_en} (for {since} min). Do: {do_en}"
    elif n.value is not None and n.threshold is not None:
        over = n.value > n.threshold
        zh = (
            f"{sev_zh}{n.site_name} {mzh} {n.value:.1f}{_unit_zh(unit)}，已{'超过' if over else '低于'} "
            f"{n.threshold:g}{_unit_zh(unit)} {since} 分钟。建议：{do_zh}"
        )
        en = (
            f"{sev_en}{place_en} {men} {n.value:.1f} {unit}, {'above' if over else 'below'} {n.threshold:g} {unit} "
            f"for {since} min. Do: {do_en}"
        )
    else:  # device health: which device, what is wrong, since when
        kind_zh = KIND_ZH.get(n.kind, n.kind)  # type: ignore[call-overload]
        where_zh = f"{n.site_name} {n.device}" if n.site else f"网关 {n.device}"
        where_en = f"{place_en} device {n.device}" if n.site else f"gateway {n.device}"
        zh = f"{sev_zh}{where_zh} {kind_zh} {since} 分钟。建议：{do_zh}"
        en = f"{sev_en}{where_en} {n.kind.replace('_', ' ')} for {since} min. Do: {do_en}"
    if n.why == Why.REPEAT:
        zh, en = "仍未处理：" + zh, "Still open: " + en
    elif n.why == Why.ESCALATION:
        zh, en = f"升级（{since} 分钟无人确认）：" + zh, f"Escalated (unacknowledged {since} min): " + en
    return zh, en


def single(n: Notice, now_ms: int) -> tuple[str, str]:
    zh, en = line(n, now_ms)
    link_zh = f" 收到请点：{n.ack_url}" if n.ack_url and n.why != Why.RESOLVED else ""
    link_en = f" Ack: {n.ack_url}" if n.ack_url and n.why != Why.RESOLVED else ""
    if n.confirm_url and n.why != Why.RESOLVED:
        link_zh += f" 确认灌溉请点：{n.confirm_url}"
        link_en += f" Confirm watering: {n.confirm_url}"
    return f"【{n.brand}】{zh}{link_zh}", f"[{n.brand}] {en}{link_en}"


def digest(notices: list[Notice], now_ms: int) -> tuple[str, str]:
    """Several notices in one message, in queue order (so in order per site)."""
    brand = notices[0].brand
    sites = len({n.site for n in notices})
    zh = [f"【{brand}】汇总：{sites} 个棚/园 {len(notices)} 条提醒"]
    en = [f"[{brand}] Digest: {len(notices)} notices from {sites} sites"]
    for i, n in enumerate(notices, 1):
        lz, le = line(n, now_ms)
        linked = n.ack_url and n.why != Why.RESOLVED
        water = n.confirm_url and n.why != Why.RESOLVED
        zh.append(
            f"{i}. {lz}" + (f" 确认：{n.ack_url}" if linked else "") + (f" 灌溉：{n.confirm_url}" if water else "")
        )
        en.append(
            f"{i}. {le}" + (f" Ack: {n.ack_url}" if linked else "") + (f" Water: {n.confirm_url}" if water else "")
        )
    return "\n".join(zh), "\n".join(en)


def render(notices: list[Notice], now_ms: int) -> tuple[str, str]:
    return single(notices[0], now_ms) if len(notices) == 1 else digest(notices, now_ms)


# Put before a request resent after a crash cut it off, where the receiver cannot dedup (robots, SMS, loudspeaker)
POSSIBLE_REPEAT = {"zh": "（可能重复）", "en": "(possible repeat) "}


def possible_repeat(lang: str) -> str:
    return POSSIBLE_REPEAT["en" if lang == "en" else "zh"]


def render_in(lang: str, notices: list[Notice], now_ms: int, repeat: bool = False) -> str:
    """One message in the recipient's language: zh-CN unless "en"; `repeat` marks a possible duplicate."""
    zh, en = render(notices, now_ms)
    return (possible_repeat(lang) if repeat else "") + (en if lang == "en" else zh)


def loudspeaker(n: Notice) -> str:
    """Short text the village loudspeaker (智慧小喇叭) reads out twice."""
    mzh, _, unit = metric_names(n.metric)
    do_zh, _ = advice(n.kind)
    if n.value is None:
        value = ""
    elif unit == "°C":  # spoken: 零下3度, not -3度
        value = f"{mzh}{'零下' if n.value < -0.5 else ''}{abs(n.value):.0f}度，"
    else:
        value = f"{mzh}{n.value:.0f}{unit}，"
    text = f"{n.site_name}{KIND_ZH.get(n.kind, n.kind)}，{value}{do_zh}"  # type: ignore[call-overload]
    return f"请注意，{text}重复一遍，{text}"
