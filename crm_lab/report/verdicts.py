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

from crm_lab.report.display import fmt_p, fmt_pct, fmt_pp, fmt_yuan
from crm_lab.report.labels import WAVE_ZH

__all__ = ["overview_verdict", "overview_cards", "wave_plan_verdict", "wave_plan_cards", "window_text", "clv_verdict", "clv_cards", "clv_notes",
           "response_verdict", "response_status", "response_decision", "gap_decision", "waves_decision", "campaign_decision",
           "overview_decision", "clv_decision", "audience_decision", "lifecycle_decision", "care_decision", "pivot_decision", "MIN_AUDIENCE"]

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
        ("近12个月有效金额", fmt_yuan(ov.last_12m),
         f"较前12个月 {fmt_pct(ov.growth, signed=True)}" if not np.isnan(ov.growth) else "前12个月无数据，无法比较"),
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
    rules = plan.recipe.audiences["wave1"].rules
    who = rules[0].zh if rules else "大促前 RF 核心格老客"
    text = f"第一波 **{w1['customers']:,}** 人（{who}），{w1['send_on']:%m-%d} 发送"
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
        ("平均活跃概率", fmt_pct(predictions["p_alive"].mean()) if trusted else "–", "仍会再来购买的概率" if trusted else "模型不可信"),
        ("验证期人均误差", f"{hs['MAE per customer (model)']:.3f}", f"对比朴素预测 {hs['MAE per customer (naive)']:.3f}（越小越好）"),
        ("客户数", f"{len(predictions):,}", "有购买记录的全部客户"),
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
    interval = "95% 区间" if final else "随时有效 95% 区间"
    text = "" if final else (f"**中期结果**（数据截至 {pd.Timestamp(observed_until):%m-%d}，{window}窗口尚未结束；"
                             "区间已按每日查看校正）：" if observed_until is not None else "**中期结果**（窗口尚未结束）：")
    exact = "，人数少，用 Fisher 精确检验" if row["test"] == "Fisher exact" else ""
    text += (f"{window}响应率 实验组 {fmt_pct(row['rate'])} vs 对照组 {fmt_pct(row['control_rate'])}，"
             f"提升 **{fmt_pp(row['difference'])}**（{interval} {fmt_pp(low)} ~ {fmt_pp(high)}，{fmt_p(p)}{exact}）")
    if "incremental_value" in row:
        text += f"，增量有效金额 **{fmt_yuan(row['incremental_value'])}**"
    text += "。"
    status = response_status(row, final)
    if status == "样本不足":
        text += " 人数太少，不能下结论。"
    elif status in ("不显著", "中期结果"):
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


# ---- decisions: 结论 + 建议 + status badge for the top box (``cl.report.verdict(**decision)``) ----------

Decision = dict[str, Any]

#: An audience smaller than this cannot carry a test with a control group worth reading.
MIN_AUDIENCE = 200


def response_status(row: Any, final: bool = True) -> str:
    """显著 / 负向显著 / 不显著 / 样本不足 / 中期结果 for one arm's comparison (:func:`crm_lab.uplift.test`)."""
    low, high, p = ((row["difference_low"], row["difference_high"], row["p_value"]) if final else
                    (row.get("difference_always_low", row["difference_low"]), row.get("difference_always_high", row["difference_high"]),
                     row.get("p_value_always_valid", row["p_value"])))
    # Both the interval and the test that ran must agree (3/3 vs 0/3: the interval excludes 0, Fisher's p is 0.10).
    if low > 0 and p < 0.05:
        return "显著"
    if high < 0 and p < 0.05:
        return "负向显著"
    if min(row["customers"], row["control_customers"]) < MIN_AUDIENCE / 2 or row["test"] == "Fisher exact":
        return "样本不足"
    return "不显著" if final else "中期结果"


def response_decision(result: Any, window: str = "7天", observed_until: Any = None, segments: Any = None) -> Decision:
    """活动响应 top box: the verdict (:func:`response_verdict`), its badge and what to do next.

    ``segments`` (the result's per-segment table) names the segment with the largest significant
    lift in the advice.
    """
    row = result.summary().loc["treatment"]
    final = getattr(result, "final", True)
    status = response_status(row, final)
    if status == "显著":
        roi = row.get("roi", np.nan)
        advice = (f"继续发送：每花 {fmt_yuan(1)} 带回 {fmt_yuan(row['return_on_spend'] , 1)} 增量有效金额" if np.isfinite(roi)
                  else "继续发送：提升显著")
        if segments is not None and len(segments) > 1:
            best = segments.sort_values("difference", ascending=False).iloc[0]
            if best["difference_low"] > 0:
                advice += f"；下一波优先「{best['segment']}」（提升 {fmt_pp(best['difference'])}）"
    elif status == "负向显著":
        advice = "停止这组人群的触达，检查文案与时段"
    elif status == "样本不足":
        advice = f"人数太少，结果不能当作结论：下次实验组和对照组各至少 {MIN_AUDIENCE // 2:,} 人"
    elif status == "中期结果":
        advice = "窗口结束前不要据此加减预算"
    else:
        advice = "不建议按这次的结果扩大投放；换人群或权益后再测"
    return {"text": response_verdict(result, window=window, observed_until=observed_until), "status": status, "advice": advice}


def gap_decision(g: Any, status: Any = None) -> Decision:
    """大促 Gap top box: whether touches can close the gap at the planned incremental response; once
    the event is over (``status``, :func:`crm_lab.campaign.reconcile`), whether it reached its target."""
    if status is not None and status.attained is not None:
        done = campaign_decision(status)
        return {**done, "text": f"活动已结束。{done['text']}"}
    s = g.summary()["value"]
    needed, audience = s["extra buyers needed"], s["audience to touch"]
    reachable = audience * g.touch_uplift
    text = (f"目标有效金额 {fmt_yuan(g.target)}，老客基线预测 {fmt_yuan(g.forecast_returning)}，新客预计 "
            f"{fmt_yuan(g.new_customer_amount)}：Gap **{fmt_yuan(g.gap)}**")
    if g.gap <= 0:
        return {"text": text + "，不触达也预计达标。", "status": "预计达标", "advice": "按常规节奏触达，把预算留给高潜和新客"}
    text += f"，需多带来约 **{needed:,.0f}** 位老客购买。"
    if reachable + 0.5 < needed:
        text += (f"即使触达这些 RF 格的全部未购老客 **{audience:,.0f}** 人，按增量响应 {fmt_pct(g.touch_uplift)} 也只多带来约 "
                 f"{reachable:,.0f} 位，仍差约 {needed - reachable:,.0f} 位。")
        return {"text": text, "status": "无法补足",
                "advice": "仅靠老客短信补不上：扩大到更多 RF 格、用更强的权益提高增量响应，或调整目标"}
    return {"text": text + f"触达约 **{audience:,.0f}** 人可补足。", "status": "有缺口",
            "advice": f"第一波触达这 {audience:,.0f} 人，第二波追未购买的客户"}


def waves_decision(plan: Any, status: Any = None) -> Decision:
    """大促两波 top box: both waves' sizes and, once known, what they bought; with ``status``
    (:func:`crm_lab.campaign.reconcile`) the increment each sent wave earned against its control group."""
    t = plan.summary().set_index("wave")
    measured = status.measured if status is not None else None
    if measured is not None and len(measured):
        text = wave_plan_verdict(plan).replace("购买率含对照组，触达的增量请看活动响应报告。", "购买率含对照组。")
        for row in measured.itertuples():
            text += (f"{row.name}对比对照组：响应提升 {fmt_pp(row.difference)}，增量有效金额 **{fmt_yuan(row.incremental_value)}**"
                     f"（95% 区间 {fmt_yuan(row.incremental_value_low)} ~ {fmt_yuan(row.incremental_value_high)}）。")
        first = measured.iloc[0]
        worked = first["difference_low"] > 0
        advice = (f"{first['name']}有效：第二波按计划发送" if worked else f"{first['name']}的提升不显著：第二波换权益或缩小到响应高的人群")
        return {"text": text, "status": "显著" if worked else "不显著", "advice": advice}
    if "wave2" in t.index:
        w2 = t.loc["wave2"]
        status, advice = "已圈选", f"第二波 {w2['customers']:,} 人 {w2['send_on']:%m-%d} 发送；增量看活动响应报告的对照组比较"
    else:
        status = "待圈选"
        advice = f"第二波在圈选日后按「第一波未购买（含退款）」圈选，第一波 {t.loc['wave1', 'send_on']:%m-%d} 发送"
    return {"text": wave_plan_verdict(plan), "status": status, "advice": advice}


def campaign_decision(status: Any) -> Decision:
    """活动总览 top box: 目标 vs 预测 vs 实际 and the waves' incremental value."""
    target, actual = status.target, status.actual
    text = f"{status.plan.name}：实际有效金额 **{fmt_yuan(actual)}**"
    if not np.isnan(target):
        text += f"，目标 {fmt_yuan(target)}（完成 **{fmt_pct(actual / target)}**）"
    if not np.isnan(status.forecast):
        text += f"，不触达的基线预测 {fmt_yuan(status.forecast)}"
    text += "。" if status.complete else f"（截至 {status.actual_until:%m-%d}，活动尚未结束）。"
    for row in status.measured.itertuples():
        text += f"{row.name}增量有效金额 **{fmt_yuan(row.incremental_value)}**（{fmt_yuan(row.incremental_value_low)} ~ {fmt_yuan(row.incremental_value_high)}）。"
    if status.attained is None:
        badge, advice = "进行中", "活动结束后再判断是否达标"
    elif status.attained:
        badge, advice = "达标", "复盘增量最高的波次和人群，作为下次大促的基线"
    else:
        badge = "未达标"
        advice = f"差 {fmt_yuan(target - actual)}：对照 Gap 分析看缺在哪些 RF 格，下次提前扩大第一波"
    return {"text": text, "status": badge, "advice": advice}


def overview_decision(ov: Any) -> Decision:
    """店铺概览 top box: growth of the last 12 months."""
    growth = ov.growth
    status = None if np.isnan(growth) else ("增长" if growth >= 0 else "下滑")
    advice = ("复购率低于 30%：优先做新客二单（新会员首购、达人新客复购）" if ov.kpis["repeat_rate"] < 0.3
              else "复购基础好：把预算放在高价值老客的大促两波触达")
    return {"text": overview_verdict(ov), "status": status, "advice": advice}


def clv_decision(model: Any, predictions: pd.DataFrame, holdout: Any, horizon_days: int) -> Decision:
    """客户价值预测 top box: trusted or not, and how to use it."""
    trusted = model.trustworthy and holdout.beats_naive
    advice = ("按价值层级分层投放：头部与高价值层优先，导出名单见下" if trusted else
              "不要据此分层投放；先用 RFM 分层，数据更多后再看")
    return {"text": clv_verdict(model, predictions, holdout, horizon_days), "status": "可信" if trusted else "模型不可信", "advice": advice}


def audience_decision(text: str, size: int, what: str = "人群") -> Decision:
    """A scenario's top box: 可投放, or 人群过小 below :data:`MIN_AUDIENCE` customers."""
    if size < MIN_AUDIENCE:
        return {"text": text, "status": "人群过小",
                "advice": f"{what}只有 {size:,} 人，留对照后测不出效果：放宽规则（更长的时间窗）或与其他场景合并发送"}
    return {"text": text, "status": "可投放", "advice": f"导出{what}发送，留对照组，发送后看活动响应报告"}


#: The membership check's status as a badge.
MEMBERSHIP_BADGE = {"ok": "规则达标", "warning": "规则预警", "breach": "规则违规"}


def lifecycle_decision(funnel: pd.DataFrame, cohorts: pd.DataFrame, check: Any = None, within: str = "30天") -> Decision:
    """会员生命周期 top box: the last complete cohort's first purchase and repurchase, 新人三单, and the
    member-system rules (``check``: :func:`crm_lab.lifecycle.membership_check`, or None without its tables)."""
    from crm_lab.report.labels import MEMBERSHIP_RULE_ZH

    done = funnel[funnel["complete"] & (funnel["eligible"] > 0)]
    text = ""
    if len(done):
        last = done.iloc[-1]
        text += (f"{last['cohort']:%Y-%m} 入会的新会员 {int(last['new_to_buy']):,} 人，{within}首购率 **{fmt_pct(last['first_purchase_rate'])}**"
                 f"（{fmt_pct(last['first_purchase_low'])} ~ {fmt_pct(last['first_purchase_high'])}），首购后{within}复购率 "
                 f"{fmt_pct(last['repurchase_rate'])}"
                 + (f"，裂变率 {fmt_pct(last['referral_rate'])}（人均带来 {last['referral_factor']:.1f} 位新会员）"
                    if "referral_rate" in funnel and last["referral_eligible"] and last["referring"] else "") + "。")
    seen = cohorts[cohorts["eligible"] > 0]
    if len(seen):
        n = seen["eligible"].sum()
        text += f"新人三单：二单率 **{fmt_pct(seen['second'].sum() / n)}**，三单率 {fmt_pct(seen['third'].sum() / n)}（{int(n):,} 位已观察满的新客）。"
    if check is None:
        return {"text": text + "本店没有权益与优惠券表，未检查会员体系规则。", "status": None,
                "advice": "补充会员权益与优惠券数据，以免会员体系因 90 天无权益被平台关闭"}
    if np.isnan(check.days_since_benefit):
        text += "会员体系：从未提供会员权益。"
    else:
        text += f"会员体系：距上次会员权益 **{check.days_since_benefit:.0f}** 天（60 天预警，90 天平台关闭）。"
    if check.status == "ok":
        return {"text": text, "status": MEMBERSHIP_BADGE["ok"], "advice": "新会员入会 7 天内发首购券，首购后 30 天内推二单权益"}
    worst = check.findings.sort_values("severity").iloc[0] if len(check.findings) else None
    rules = "、".join(dict.fromkeys(MEMBERSHIP_RULE_ZH.get(r, r) for r in check.findings["rule"]))
    advice = (f"立即上线会员专享权益或会员券（已 {check.days_since_benefit:.0f} 天没有）" if check.days_since_benefit >= 60
              else f"处理「{rules}」：见下方明细" + (f"（{'、'.join(worst['rows'])}）" if worst is not None and worst["rows"] else ""))
    return {"text": text + f"发现 {len(check.findings)} 项：{rules}。", "status": MEMBERSHIP_BADGE[check.status], "advice": advice}


def care_decision(cards: Any, reminders: Any, test: Any = None, days: int = 30) -> Decision:
    """事件关怀 top box: today's package-card notes and 催付 list, and what the reminders of the last
    ``days`` earned against their held-out customers (``test``: :func:`crm_lab.uplift.test` on
    :func:`crm_lab.campaign.payment_reminder_response`, or None when none were sent)."""
    advice = []
    text = ""
    if cards is not None:
        orders = cards.orders
        unmatched = int(orders["rule"].isna().sum())
        text += f"已付款未发货订单 **{len(orders):,}** 笔，{len(orders) - unmatched:,} 笔已按规则生成包裹卡备注"
        text += f"，{unmatched:,} 笔未命中任何规则。" if unmatched else "。"
        if unmatched:
            advice.append(f"为未命中规则的 {unmatched:,} 笔订单加一条兜底规则（如品牌感谢卡）")
    if reminders is not None:
        due = reminders.orders
        control = int((due["group"] == "control").sum())
        text += f"今日催付 **{len(due) - control:,}** 笔" + (f"（另有 {control:,} 笔留作对照不发）" if control else "") + "。"
    if test is None:
        return {"text": text + f"近 {days} 天没有可评估的催付记录。", "status": None,
                "advice": "；".join(advice) or "保留 10% 对照组，积累催付效果数据"}
    row = test.summary().loc["treatment"]
    status = response_status(row)
    text += (f"近 {days} 天催付 {int(row['customers']):,} 人，24 小时内付款率 **{fmt_pct(row['rate'])}**，"
             f"对照组 {fmt_pct(row['control_rate'])}（{int(row['control_customers']):,} 人），差 {fmt_pp(row['difference'])}"
             f"（95% 区间 {fmt_pp(row['difference_low'])} ~ {fmt_pp(row['difference_high'])}，{fmt_p(row['p_value'])}）。")
    if status == "显著":
        advice.append("催付有效，继续按当前时点发送")
    elif status == "样本不足":
        advice.append(f"对照组太小，继续保留对照，累计到两组各 {MIN_AUDIENCE // 2:,} 人再下结论")
    elif status == "负向显著":
        advice.append("催付后付款反而更少：暂停并检查文案与时点")
    else:
        advice.append("催付没有显示出效果：试试更早的时点或换用带优惠的文案")
    return {"text": text, "status": status, "advice": "；".join(advice)}


def pivot_decision(table: pd.DataFrame, value: str, row_labels: list[str], period: str, complete_last: bool = True) -> Decision:
    """自定义透视 top box: the total and the largest row of ``value``; with months as columns, the last
    two complete months compared (增长 / 下滑) and the row that moved most.

    ``table`` is :func:`crm_lab.summary.pivot`'s result; ``row_labels`` the readers' names of its rows.
    """
    from crm_lab.report.labels import PIVOT_VALUE_ZH

    name = PIVOT_VALUE_ZH[value]
    money = value in ("net_amount", "gross_amount", "refund_amount", "aov")
    show = fmt_yuan if money else (fmt_pct if value == "refund_rate" else (lambda v: f"{v:,.0f}"))
    cells = table[value] if isinstance(table.columns, pd.MultiIndex) else table[[value]].rename(columns={value: "(total)"})
    totals = cells["(total)"]
    labels = pd.Series(row_labels, index=table.index)
    body = totals.drop("(total)", errors="ignore")
    total = totals.get("(total)", body.sum())
    text = f"{period}{name}合计 **{show(total)}**"
    if len(body) and value not in ("aov", "refund_rate"):
        top = body.idxmax()
        text += f"，最多的是「{labels[top]}」{show(body[top])}（占合计的 {fmt_pct(body[top] / total)}）"
    text += "。"
    months = [c for c in cells.columns if c != "(total)" and isinstance(c, pd.Timestamp)]
    if table.attrs.get("columns") != ["month"] or len(months) < 2 + (not complete_last):
        return {"text": text, "status": None, "advice": "需要其他维度时，改参数文件的 rows / columns / values 再运行"}
    last, before = (months[-1], months[-2]) if complete_last else (months[-2], months[-3])
    now, then = cells.loc["(total)", last], cells.loc["(total)", before]
    change = (now - then) / then if then else np.nan
    moved = (cells[last] - cells[before]).drop("(total)", errors="ignore")
    mover = moved.abs().idxmax() if len(moved) else None
    text += f"{last:%Y-%m} 较 {before:%Y-%m} {'增长' if change >= 0 else '下降'} {fmt_pct(abs(change))}"
    if mover is not None:
        text += f"，变化最大的是「{labels[mover]}」（{'+' if moved[mover] >= 0 else '−'}{show(abs(moved[mover]))}）"
    return {"text": text + "。", "status": "增长" if change >= 0 else "下滑",
            "advice": f"先看「{labels[mover]}」的变化原因" if mover is not None else "需要其他维度时，改参数文件的 rows / columns"}
