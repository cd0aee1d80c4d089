"""The words on top of a report: verdicts and KPI cards computed from an analysis' result.

Analyses return numbers (:class:`crm_lab.summary.ShopOverview`, :class:`crm_lab.planning.WavePlan`
...); these functions turn them into the one-line conclusion and the cards a reader sees.
``**bold**`` marks the key numbers (see :func:`crm_lab.report.verdict`).

Examples
--------
>>> import crm_lab as cl
>>> ov = cl.summary.shop_overview(cl.datasets.make_shop(500, seed=1))
>>> cl.report.overview_cards(ov)[0][0]
'累计客户数'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crm_lab.report.display import fmt_pct, fmt_yuan
from crm_lab.report.labels import WAVE_ZH

__all__ = ["overview_verdict", "overview_cards", "wave_plan_verdict", "wave_plan_cards", "window_text"]

Card = tuple[str, str, str]


def overview_verdict(ov: Any) -> str:
    """The shop overview's conclusion: the last 12 months' net amount, its growth, repeat and refund rates."""
    k = ov.kpis
    text = f"截至 {ov.as_of:%Y-%m-%d}，近12个月有效金额 **{fmt_yuan(ov.last_12m)}**"
    if not np.isnan(ov.growth):
        text += f"（较前12个月 **{fmt_pct(ov.growth, signed=True)}**）"
    text += f"；复购率 {fmt_pct(k['repeat_rate'])}，退款率 {fmt_pct(k['refund_rate'])}。"
    return text


def overview_cards(ov: Any) -> list[Card]:
    """The shop overview's KPI cards: (label, value, note)."""
    k = ov.kpis
    return [
        ("累计客户数", f"{int(k['customers']):,}", f"近12个月活跃 {int(k['active_customers']):,}"),
        ("近12个月有效金额", fmt_yuan(ov.last_12m), "实付 - 退款"),
        ("客单价", fmt_yuan(k["aov"]), "有效金额 / 订单数"),
        ("复购率", fmt_pct(k["repeat_rate"]), f"退款率 {fmt_pct(k['refund_rate'])}"),
    ]


def window_text(start: Any, end: Any) -> str:
    """'10-20 → 11-11', or 尚未开始 while a window has not begun."""
    if pd.isna(start):
        return "尚未开始"
    return f"{pd.Timestamp(start):%m-%d} → {pd.Timestamp(end):%m-%d}"


def wave_plan_verdict(plan: Any) -> str:
    """大促两波: who each wave is, when it is sent and, once known, what it bought."""
    t = plan.summary().set_index("wave")
    w1 = t.loc["wave1"]
    text = f"第一波 **{w1['customers']:,}** 人（大促前 RF 核心格老客），{w1['send_on']:%m-%d} 发送"
    if pd.notna(w1["response_rate"]):
        text += f"，大促期间购买率 **{fmt_pct(w1['response_rate'])}**（有效金额 {fmt_yuan(w1['net_amount'])}）"
    if "wave2" in t.index:
        w2 = t.loc["wave2"]
        text += f"；第二波 **{w2['customers']:,}** 人（第一波未购买或退款），{w2['send_on']:%m-%d} 发送"
        if pd.notna(w2["response_rate"]):
            text += f"，之后购买率 {fmt_pct(w2['response_rate'])}"
    else:
        text += f"；第二波待数据到达圈选日（大促结束前 3 天，{plan.event_end - pd.Timedelta(days=3):%m-%d}）后圈选"
    return text + "。购买率含对照组，触达的增量请看活动响应报告。"


def wave_plan_cards(plan: Any) -> list[Card]:
    """KPI cards: size and response of each wave."""
    t = plan.summary().set_index("wave")
    cards = []
    for wave, label in WAVE_ZH.items():
        if wave in t.index:
            row = t.loc[wave]
            cards += [(f"{label}人数", f"{row['customers']:,}", f"{row['send_on']:%m-%d} 发送"),
                      (f"{label}购买率", fmt_pct(row["response_rate"]), window_text(row["window_start"], row["window_end"]))]
        else:
            cards += [(f"{label}人数", "–", "待圈选"), (f"{label}购买率", "–", "")]
    return cards
