"""The campaign overview's words and tables: one campaign's plan, selection, sends and results.

:func:`crm_lab.campaign.reconcile` returns the numbers (:class:`crm_lab.campaign.CampaignStatus`);
these functions make what a reader sees of them, and :func:`campaign_facts` names the numbers the
way every page of the campaign names them (``wave1_selected``, ``target`` ...), so a test can
check that the pages agree.

Examples
--------
>>> from crm_lab.report.campaign_page import FACT_NAMES
>>> FACT_NAMES["selected"]
'圈选'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crm_lab.report.display import fmt_pct, fmt_pp, fmt_yuan
from crm_lab.report.labels import WAVE_AUDIENCE_ZH, window_name

__all__ = ["FACT_NAMES", "campaign_facts", "campaign_cards", "campaign_notes", "campaign_waves_table", "plan_table"]

#: A wave's counts and results, as every page of a campaign names them.
FACT_NAMES = {"planned": "计划需触达", "selected": "圈选", "sent": "实际发送", "treated": "实验组", "control": "对照组",
              "incremental_value": "增量有效金额", "difference": "响应提升"}


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and not pd.isna(value)


def campaign_facts(status: Any) -> dict[str, Any]:
    """The campaign's numbers by name: ``target, forecast, actual`` and ``<wave>_<count>`` per wave."""
    found: dict[str, Any] = {"target": status.target, "forecast": status.forecast, "actual": status.actual}
    for row in status.waves.to_dict("records"):
        for key in FACT_NAMES:
            if _present(row.get(key)):
                found[f"{row['wave']}_{key}"] = row[key]
    return {k: v for k, v in found.items() if _present(v)}


def campaign_cards(status: Any) -> list[tuple[str, str, str]]:
    """KPI cards: actual vs target, the forecast without touches, the first measured wave's increment and its ROI."""
    cards = [("实际有效金额", fmt_yuan(status.actual),
              (f"目标 {fmt_yuan(status.target)} · 完成 {fmt_pct(status.actual / status.target)}" if not np.isnan(status.target) else "活动期内")
              + ("" if status.complete else f" · 截至 {status.actual_until:%m-%d}")),
             ("基线预测", fmt_yuan(status.forecast), "不触达时老客 + 新客（往期同类大促）")]
    measured = status.measured
    if len(measured):
        w = measured.iloc[0]
        cards += [(f"{w['name']}增量有效金额", fmt_yuan(w["incremental_value"]),
                   f"对比对照组，95% 区间 {fmt_yuan(w['incremental_value_low'])} ~ {fmt_yuan(w['incremental_value_high'])}"),
                  (f"{w['name']} ROI", f"{w['roi']:.1f}x" if np.isfinite(w["roi"]) else "–", f"扣除触达成本 {fmt_yuan(w['cost'])}")]
    else:
        cards += [("增量有效金额", "–", "尚无发送记录"), ("ROI", "–", "尚无发送记录")]
    return cards


def campaign_notes(status: Any) -> list[str]:
    """Where planned, selected and sent disagree, in words: sends outside the selection, a late send."""
    notes = []
    for row in status.waves.to_dict("records"):
        if row.get("not_selected", 0) and row["not_selected"] > 0:
            notes.append(f"{row['name']}实际发送 {row['sent']:,.0f} 人中，有 {row['not_selected']:,.0f} 人不在 {row['select_on']:%m-%d} "
                         "的圈选名单里：发送名单与计划的人群规则不完全一致")
        delay = row.get("send_delay")
        if _present(delay) and abs(delay) > pd.Timedelta(hours=12):
            notes.append(f"{row['name']}实际发送于 {row['sent_first']:%m-%d %H:%M}，计划 {row['send_at']:%m-%d %H:%M}")
    return notes


def _count(value: Any) -> str:
    return f"{value:,.0f}" if _present(value) else "–"


def campaign_waves_table(status: Any) -> pd.DataFrame:
    """Per wave, in words: planned / selected / sent (treatment + control) / responded / incremental value / ROI."""
    rows = []
    for row in status.waves.to_dict("records"):
        sent = _count(row.get("sent"))
        if _present(row.get("sent")):
            sent += f"（{_count(row['treated'])} + 对照 {_count(row['control'])}）"
        rows.append({
            "波次": row["name"], "圈选日": f"{row['select_on']:%m-%d}", "计划发送": f"{row['send_at']:%m-%d %H:%M}",
            FACT_NAMES["planned"]: _count(row.get("planned")), FACT_NAMES["selected"]: _count(row.get("selected")),
            FACT_NAMES["sent"]: sent,
            "响应人数（实验组）": _count(row.get("responded")),
            "响应率 实验组 / 对照组": f"{fmt_pct(row['rate'])} / {fmt_pct(row['control_rate'])}" if _present(row.get("rate")) else "–",
            FACT_NAMES["difference"]: fmt_pp(row["difference"]) if _present(row.get("difference")) else "–",
            FACT_NAMES["incremental_value"]: fmt_yuan(row["incremental_value"]) if _present(row.get("incremental_value")) else "–",
            "ROI": f"{row['roi']:.1f}x" if _present(row.get("roi")) and np.isfinite(row["roi"]) else "–",
        })
    return pd.DataFrame(rows)


def plan_table(plan: Any) -> pd.DataFrame:
    """The plan as a reader checks it: event, target and each wave's rule, days, control share, cost and channel."""
    rows = [{"项目": "活动期", "内容": f"{plan.event_start:%Y-%m-%d} → {plan.event_end:%Y-%m-%d}"}]
    if plan.target_net_amount is not None:
        rows.append({"项目": "目标有效金额", "内容": fmt_yuan(plan.target_net_amount)})
    if plan.baselines:
        rows.append({"项目": "对比往期", "内容": "；".join(f"{a:%Y-%m-%d} → {b:%Y-%m-%d}" for a, b in plan.baselines)})
    for w in plan.waves:
        rule = WAVE_AUDIENCE_ZH[w.audience] + (f"（{window_name(w.within)}内下过单）" if w.audience == "active" else "")
        if w.exclude_recent_buyers and w.audience != "wave1_not_bought":
            rule += f"，去掉{window_name(w.exclude_recent_buyers)}内刚买过的人"
        rows.append({"项目": w.name, "内容": f"{rule}；{w.select_on:%m-%d} 圈选，{w.send_at:%m-%d %H:%M} 发送；对照组 {fmt_pct(w.control_share, 0)}；"
                                              f"{w.channel}，每条 {fmt_yuan(w.cost_per_touch, 2)}"})
    return pd.DataFrame(rows)
