"""Short, actionable alert text: zh-CN first, English alongside."""

from __future__ import annotations

from alerts.rules import DERIVED_METRICS
from qingyubiao.alerting import Kind, State
from qingyubiao.catalogue import METRICS

SEVERITY_ZH = {"warning": "注意", "critical": "严重", "emergency": "紧急"}
STATE_ZH = {
    State.PENDING: "观察中",
    State.FIRING: "",
    State.RESOLVED: "已恢复",
    State.CANCELLED: "已解除",
}
KIND_ZH = {
    Kind.AIR_TEMP_HIGH: "高温",
    Kind.AIR_TEMP_LOW: "低温",
    Kind.FROST: "霜冻",
    Kind.HUMIDITY_HIGH: "高湿",
    Kind.HUMIDITY_LOW: "干燥",
    Kind.SOIL_DRY: "土壤缺水",
    Kind.SOIL_WET: "土壤过湿",
    Kind.VPD_HIGH: "空气过干（VPD 高）",
    Kind.VPD_LOW: "空气过湿（VPD 低）",
    Kind.CONDENSATION: "结露风险",
    Kind.TEMP_MEAN_HIGH: "日均温偏高",
    Kind.PEER_DEVIATION: "与邻棚差异大",
    Kind.STALE: "数据中断",
    Kind.DEVICE_OFFLINE: "设备离线",
    Kind.SENSOR_FAULT: "传感器故障",
    Kind.STORE_FAILING: "数据库写入失败",
    Kind.BROKER_UNREACHABLE: "连不上消息代理",
    Kind.DISEASE_RISK: "病害风险",
    Kind.PEST_RISK: "虫害风险",
    Kind.VALVE_FAULT: "阀门故障",
    Kind.IRRIGATION_DUE: "需要灌溉",
}


def metric_names(metric: str) -> tuple[str, str, str]:
    """(zh, en, unit) of a catalogue or derived metric."""
    if metric in METRICS:
        m = METRICS[metric]
        return m.zh, m.en, m.unit
    if metric in DERIVED_METRICS:
        unit, zh, en = DERIVED_METRICS[metric]
        return zh, en, unit
    return metric, metric, ""


def describe(
    kind: str,
    severity: str,
    state: str,
    place_zh: str,
    place_en: str,
    metric: str,
    value: float,
    threshold: float,
    when: str,
    signal: str,
    eta_min: float | None,
    late: bool,
) -> tuple[str, str]:
    """(zh, en) one-liners, e.g. "3号棚 低温（严重）：气温 4.2 °C，低于 5 °C" ."""
    mzh, men, unit = metric_names(metric)
    head_zh = f"{place_zh} {KIND_ZH.get(Kind(kind), kind) if kind in Kind.__members__.values() else kind}"
    head_zh += f"（{SEVERITY_ZH.get(severity, severity)}）"
    head_en = f"{place_en} {kind.replace('_', ' ')} ({severity})"
    st = State(state)
    suffix_zh = f" {STATE_ZH[st]}" if STATE_ZH[st] else ""
    suffix_en = "" if st == State.FIRING else f" {st.value}"
    past_zh = "（离线期间发生，补报）" if late else ""
    past_en = " (happened while offline, backfilled)" if late else ""
    if kind in (Kind.STALE, Kind.DEVICE_OFFLINE):
        return f"{head_zh}{suffix_zh}：请检查设备供电和网络{past_zh}", f"{head_en}{suffix_en}: check power and network"
    if signal == "predict" and eta_min is not None:
        zh = f"{head_zh}{suffix_zh}：{mzh}{value:.1f}{unit}，预计约 {eta_min:.0f} 分钟后降到 {threshold:g}{unit}"
        en = f"{head_en}{suffix_en}: {men} will reach {threshold:g} {unit} in about {eta_min:.0f} minutes"
        return zh + past_zh, en + past_en
    word_zh = {"above": "高于", "below": "低于"}.get(when, "超出")
    word_en = {"above": "above", "below": "below"}.get(when, "outside")
    sig_zh = {
        "rate_10min": "每10分钟变化",
        "stuck_hours": "读数不变小时数",
        "step": "跳变",
        "out_of_range": "超量程",
        "peer": f"{mzh}比同作物各棚中位数",
        "wet_hours": "湿度≥90%小时数",
        "mean_24h": "24小时平均",
    }
    label_zh = sig_zh.get(signal, mzh)
    label_en = men if signal == "value" else f"{men} {signal.replace('_', ' ')}"
    zh = f"{head_zh}{suffix_zh}：{label_zh} {value:.1f}{unit}，{word_zh} {threshold:g}{unit}{past_zh}"
    en = f"{head_en}{suffix_en}: {label_en} {value:.1f} {unit}, {word_en} {threshold:g} {unit}{past_en}"
    return zh, en
