"""A drawing of a dashboard's panel grid from its JSON (Grafana itself cannot render here): each panel's
box at its gridPos (24 columns), its type and title, for docs/dashboards.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLOURS = {"stat": "#d9ead3", "timeseries": "#cfe2f3", "state-timeline": "#fce5cd", "table": "#ead1dc",
           "row": "#eeeeee"}  # fmt: skip


def sketch(d: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    cjk = [f.name for f in font_manager.fontManager.ttflist if "CJK" in f.name or "WenQuanYi" in f.name]
    if cjk:
        plt.rcParams["font.family"] = cjk[0]
    panels = d.get("panels", [])
    rows = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels), default=1)
    fig, ax = plt.subplots(figsize=(12, max(2.0, rows * 0.22)))
    for p in panels:
        g = p["gridPos"]
        ax.add_patch(plt.Rectangle((g["x"], g["y"]), g["w"], g["h"], facecolor=COLOURS.get(p["type"], "#ffffff"),
                                   edgecolor="#555555", linewidth=0.8))  # fmt: skip
        title = p.get("title", "")
        if not cjk and not title.isascii():  # no Chinese font on this box: the site id the description starts with
            title = p.get("description", "").split(" · ")[0] or "?"
        label = title if p["type"] == "row" else f"{title}\n[{p['type']}]"
        ax.text(g["x"] + 0.2, g["y"] + 0.3, label, fontsize=6.5, va="top", ha="left", wrap=True)
    ax.set_xlim(0, 24)
    ax.set_ylim(rows, 0)
    ax.set_axis_off()
    heading = d.get("title", "") if cjk or str(d.get("title", "")).isascii() else ""
    ax.set_title(f"{heading}  ({d.get('uid', '')})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
