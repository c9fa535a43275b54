"""An alert storm: all 24 greenhouses at once. The robots' 20-a-minute budgets hold, and everyone is still
told everything, as digests."""

from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

from tests.notify.conftest import Clock, Receiver, at, notify_config, transition
from tests.notify.test_channels import pipeline

GREENHOUSES = [f"gh{i:02d}" for i in range(1, 25)]


def max_in_a_minute(times_ms: list[int]) -> int:
    times = sorted(times_ms)
    return max((sum(1 for u in times if t - 60_000 < u <= t) for t in times), default=0)


def test_all_24_greenhouses_at_once_stay_in_budget_and_everyone_hears_everything(
    receivers: dict[str, Receiver], tmp_path: Path
) -> None:
    clock = Clock(at("2026-07-15 13:30"))
    config = notify_config(receivers)
    notes, writer = pipeline(config, tmp_path, clock)
    t0 = clock.ms
    plan: list[tuple[int, object]] = []
    for i, site in enumerate(GREENHOUSES):  # a hot noon: every greenhouse crosses within 20 s, then humid, then clears
        start = t0 - 15 * 60_000
        plan.append((t0 + i * 800, transition(site=site, severity="critical", ts=t0 + i * 800, start=start)))
        plan.append((t0 + 120_000 + i * 500, transition(site=site, kind="humidity_high", metric="air_rh_pct",
                     value=95.0, threshold=90.0, ts=t0 + 120_000 + i * 500, start=t0 + 60_000)))  # fmt: skip
        end = t0 + 600_000 + i * 1000
        plan.append(
            (end, transition(site=site, severity="critical", state="resolved", value=31.0, ts=end, start=start))
        )
    plan.sort(key=lambda x: x[0])
    while clock.ms <= t0 + 25 * 60_000:
        while plan and plan[0][0] <= clock.ms:
            writer.queue([plan.pop(0)[1]], clock.ms)  # type: ignore[list-item]
        notes.dispatcher.run_once(clock.ms)
        clock.advance(1)
    db = notes.outbox._db

    # budgets: never more than 20 requests in any minute (DingTalk by its own signed timestamps)
    ding_times = [int(r.query["timestamp"][0]) for r in receivers["dingtalk"].requests]
    wecom_times = [r[0] for r in db.execute("SELECT ts_ms FROM notify_attempt WHERE channel='wecom'")]
    assert len(wecom_times) == len(receivers["wecom"].requests)
    assert max_in_a_minute(ding_times) <= 20 and max_in_a_minute(wecom_times) <= 20
    assert max_in_a_minute(ding_times) >= 15  # the budget was used, not starved
    # 72 changes per robot were told in fewer requests, with digests
    for robot in ("wecom", "dingtalk"):
        assert db.execute("SELECT count(*) FROM notify_message WHERE channel=?", (robot,)).fetchone()[0] == 72
        assert len(receivers[robot].requests) < 72
    contents = [r.json()["text"]["content"] if r.json()["msgtype"] == "text" else r.json()["markdown"]["content"]
                for r in receivers["wecom"].requests]  # fmt: skip
    assert any("汇总" in c for c in contents)
    # ... and nothing is lost: every notice sent, every greenhouse's heat, humidity and all-clear told
    assert notes.outbox.status_counts() == {"sent": db.execute("SELECT count(*) FROM notify_message").fetchone()[0]}
    for robot, texts in (
        ("wecom", contents),
        ("dingtalk", [r.json()["markdown"]["text"] for r in receivers["dingtalk"].requests]),
    ):
        told: Counter[tuple[str, str]] = Counter()
        for body in texts:
            for site in GREENHOUSES:
                name = f"(?<![0-9]){int(site[2:])}号棚"  # 1号棚 is not 11号棚
                for line in body.split("\n"):
                    if re.search(f"{name} 气温", line) and "已超过" in line:
                        told[(site, "hot")] += 1
                    elif re.search(f"{name} 空气湿度", line):
                        told[(site, "humid")] += 1
                    elif re.search(f"{name} 高温已恢复", line):
                        told[(site, "clear")] += 1
        assert told == Counter({(s, k): 1 for s in GREENHOUSES for k in ("hot", "humid", "clear")}), robot
    # every owner was @-mentioned (WeCom) for their own greenhouses
    owners = {p.phone for p in config.village[0].person if p.role == "farmer" and p.household != "coop"}
    mentioned = {m for r in receivers["wecom"].requests if r.json()["msgtype"] == "text"
                 for m in r.json()["text"]["mentioned_mobile_list"]}  # fmt: skip
    assert owners <= mentioned
    # the secretary's phone: critical alerts of all 24 by SMS, as a few digests within the per-phone budget
    sec = [r for r in receivers["sms"].requests if r.json()["phone"] == "13909120030"]
    assert max_in_a_minute([r[0] for r in db.execute(
        "SELECT ts_ms FROM notify_attempt WHERE channel='sms' AND target='secretary'")]) <= 2  # fmt: skip
    assert sum(r.json()["params"]["text"].count("已超过") for r in sec) == 24
    assert len(sec) < 24
    notes.close()


def test_two_villages_share_one_robot_and_its_budget(receivers: dict[str, Receiver], tmp_path: Path) -> None:
    def second_village(raw: dict) -> None:
        v2 = copy.deepcopy(raw["village"][0])
        v2.update(id="zhangjia", name="张家村", chirpstack_apps=[])
        for d in v2["device"]:
            d.pop("dev_eui", None)
        raw["village"].append(v2)

    clock = Clock(at("2026-07-15 13:30"))
    notes, writer = pipeline(notify_config(receivers, edit=second_village), tmp_path, clock)
    for village in ("lijiahe", "zhangjia"):
        for i, site in enumerate(GREENHOUSES[:15]):
            t = transition(site=site, severity="critical", ts=clock.ms + i)
            writer.queue([replace(t, village=village, episode=t.episode.replace("lijiahe", village))], clock.ms)
    for _ in range(300):
        notes.dispatcher.run_once(clock.ms)
        clock.advance(1)
    ding = [int(r.query["timestamp"][0]) for r in receivers["dingtalk"].requests]
    assert max_in_a_minute(ding) <= 20
    texts = "\n".join(r.json()["markdown"]["text"] for r in receivers["dingtalk"].requests)
    assert texts.count("【严重】") == 30 and "【张家晴雨表】" in texts and "【李家河晴雨表】" in texts
    notes.close()
