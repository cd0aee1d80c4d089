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

from crm_lab.report.display import fmt_pct, fmt_pp, fmt_yuan
from crm_lab.report.labels import WAVE_ZH

__all__ = ["overview_verdict", "overview_cards", "wave_plan_verdict", "wave_plan_cards", "window_text", "clv_verdict", "clv_cards", "clv_notes", "response_verdict"]

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


def clv_verdict(model: Any, predictions: pd.DataFrame, holdout: Any, horizon_days: int) -> str:
    """客户价值预测: the predicted total, or "模型不可信" when the fit cannot be trusted, and whether
    the model forecast the holdout better than the naive run-rate."""
    hs = holdout.summary()["value"]
    actual, predicted = hs["actual repeat purchases"], hs["predicted (model)"]
    check = (f"验证期实际复购 {actual:,.0f} 次，模型预测 {predicted:,.0f} 次"
             f"（误差 {fmt_pct(predicted / actual - 1, signed=True)}）" if actual > 0 else "验证期没有复购")
    if holdout.beats_naive:
        check += "，优于朴素预测（按历史频率外推）"
    else:
        check += (f"，**不如朴素预测**（人均误差 {hs['MAE per customer (model)']:.3f}，朴素 "
                  f"{hs['MAE per customer (naive)']:.3f}）")
    if not model.trustworthy:
        return ("**模型不可信**：参数估计落在边界或无法确定（诊断见下），下面的预测数字不能当作事实，"
                f"不宜据此分层投放。{check}。")
    return f"未来{horizon_days}天预测有效金额合计 **{fmt_yuan(predictions['clv'].sum())}**；{check}。"


def clv_cards(model: Any, predictions: pd.DataFrame, holdout: Any, horizon_days: int) -> list[Card]:
    """KPI cards of the CLV report; the model's numbers are struck out (–) when it cannot be trusted."""
    hs = holdout.summary()["value"]
    trusted = model.trustworthy
    return [
        ("预测价值合计", fmt_yuan(predictions["clv"].sum()) if trusted else "–", f"未来{horizon_days}天" if trusted else "模型不可信"),
        ("平均活跃概率", fmt_pct(predictions["p_alive"].mean()) if trusted else "–", "P(alive)" if trusted else "模型不可信"),
        ("验证期误差 (MAE)", f"{hs['MAE per customer (model)']:.3f}", f"朴素预测 {hs['MAE per customer (naive)']:.3f}"),
        ("客户数", f"{len(predictions):,}", ""),
    ]


def response_verdict(result: Any, arm: str = "treatment", window: str = "7天", observed_until: Any = None) -> str:
    """活动响应: the lift of ``arm`` over control with its interval and p-value, and the incremental value.

    While the response window is open (``result.final`` False) the always-valid interval and
    p-value are shown, valid however many mornings the report is read, and the verdict says the
    result is interim.
    """
    row = result.summary().loc[arm]
    final = getattr(result, "final", True)
    low, high, p = ((row["difference_low"], row["difference_high"], row["p_value"]) if final else
                    (row["difference_always_low"], row["difference_always_high"], row["p_value_always_valid"]))
    interval = "95% CI" if final else "随时有效 95% 区间"
    text = "" if final else (f"**中期结果**（数据截至 {pd.Timestamp(observed_until):%m-%d}，{window}窗口尚未结束；"
                             "区间已按每日查看校正）：" if observed_until is not None else "**中期结果**（窗口尚未结束）：")
    exact = "，人数少，用 Fisher 精确检验" if row["test"] == "Fisher exact" else ""
    text += (f"{window}响应率 实验组 {fmt_pct(row['rate'])} vs 对照组 {fmt_pct(row['control_rate'])}，"
             f"提升 **{fmt_pp(row['difference'])}**（{interval} {fmt_pp(low)} ~ {fmt_pp(high)}，p={p:.1g}{exact}）")
    if "incremental_value" in row:
        text += f"，增量有效金额 **{fmt_yuan(row['incremental_value'])}**"
    text += "。"
    if not (low > 0 or high < 0):
        text += " 提升尚不显著。" if final else " 尚不能下结论，继续观察。"
    elif not final:
        text += " 已可下结论。"
    if not result.srm["passed"]:
        text += " ⚠ 分组比例异常（SRM），结论需谨慎。"
    return text


def clv_notes(model: Any) -> list[str]:
    """What the reader should know about how the CLV model was fitted, in Chinese: which purchase
    model was chosen and why, and whether it was fitted on a sample."""
    notes = []
    choice = getattr(model, "choice", None)
    if choice is not None:
        chosen = choice[choice["chosen"]].iloc[0]
        other = choice[~choice["chosen"]].iloc[0]
        if "holdout_mae" in choice:
            mine, theirs = f"{chosen['holdout_mae']:.3f}", f"{other['holdout_mae']:.3f}"
            compared = f"低于 {other['model']} 的 {theirs}" if mine != theirs else f"与 {other['model']} 相当"
            notes.append(f"购买模型选用 {chosen['model']}：验证期人均误差 {mine}，{compared}")
        else:
            notes.append(f"购买模型选用 {chosen['model']}：拟合似然高于 {other['model']}（未做验证期比较）")
    if model.sample_size is not None:
        notes.append(f"模型用随机抽取的 {model.sample_size:,} 位客户拟合，预测覆盖全部 {len(model.customers):,} 位")
    return notes
