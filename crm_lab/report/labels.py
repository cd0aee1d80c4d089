"""The words readers see for the codes analyses use: one registry for every report.

Examples
--------
>>> import pandas as pd
>>> from crm_lab.report.labels import genre_names
>>> genre_names(pd.Series(["live", None])).tolist()
['直播', '未知']
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["GENRE_ZH", "WAVE_ZH", "BASIS_ZH", "TIER_ZH", "WAVE_AUDIENCE_ZH", "AUDIENCE_ZH", "REPORT_NAMES", "META_ZH", "DEFINITIONS", "REPORT_DEFINITIONS",
           "genre_names", "definitions_line", "MEMBERSHIP_RULE_ZH", "SEVERITY_ZH", "FEATURE_ZH",
           "feature_name", "window_name", "CARE_EXCLUDED_ZH", "PIVOT_DIMENSION_ZH", "PIVOT_VALUE_ZH", "pivot_labels"]

#: 流量体裁: Chinese labels of the canonical traffic genres.
GENRE_ZH = {"live": "直播", "short_video": "短视频", "product_card": "商品卡", "other": "其他"}
#: The two waves of a promotion.
WAVE_ZH = {"wave1": "第一波", "wave2": "第二波"}
#: Where a wave's size comes from: counted on the data, or forecast from past events.
BASIS_ZH = {"actual": "已圈选（实际）", "forecast": "预测"}
#: A campaign wave's audience rules (:data:`crm_lab.campaign_plan.WAVE_AUDIENCES`).
WAVE_AUDIENCE_ZH = {
    "rf_core": "RF 核心格老客（R、F 分数达到门槛）",
    "active": "近期购买过的老客",
    "gap": "需补足 Gap 的 RF 格老客（大促 Gap 分析的计划）",
    "wave1_not_bought": "第一波中到圈选日仍未购买或发生退款的客户",
}
#: The audiences of the scenario recipes (:mod:`crm_lab.recipes`).
AUDIENCE_ZH = {"high_value": "高价值", "rest": "其余", "sample_not_full_size": "买过小样未买正装", "new_via_influencer": "达人新客",
               "new_members": "新会员未购", "high_potential": "高潜", "wave1": "第一波", "wave2": "第二波"}
#: CLV value tiers.
TIER_ZH = {"top": "头部", "high": "高价值", "medium": "中价值", "low": "低价值"}

#: Template -> the report's name as readers see it (the first part of every title).
REPORT_NAMES = {
    "shop_overview": "店铺概览", "campaign_overview": "活动总览", "campaign_gap": "大促 Gap 分析",
    "promotion_waves": "大促两波触达", "response_report": "活动响应报告", "clv": "客户价值预测",
    "audience_builder": "人群圈选", "new_product_launch": "新品上市人群", "sample_to_full_size": "派样转正装",
    "influencer_repurchase": "达人新客复购", "new_member_first_purchase": "新会员首购", "high_potential": "高潜人群",
    "member_lifecycle": "会员生命周期", "event_care": "事件关怀日报", "pivot": "自定义透视",
}
#: Why an unpaid order gets no reminder today (:func:`crm_lab.care.payment_reminders`).
CARE_EXCLUDED_ZH = {"too_new": "创建未满设定分钟数", "closed": "订单已关闭或取消", "paid_since": "已付款",
                    "reminded_before": "此前已催付过", "global_holdout": "属于全局对照组（不做任何触达）"}
#: The platform's member-system rules (:func:`crm_lab.lifecycle.membership_check`) and how bad a finding is.
MEMBERSHIP_RULE_ZH = {"benefit_gap": "会员权益空窗", "member_coupon_not_better": "会员券不优于同期店铺券"}
SEVERITY_ZH = {"warning": "预警", "breach": "违规"}
#: Provenance labels of :func:`crm_lab.report.header`.
META_ZH = {"event": "活动期", "baselines": "对比往期", "data": "数据", "campaign": "活动", "sent": "发送", "horizon": "预测期",
           "acquired": "获客期", "joined": "入会期", "product": "新品", "sample": "小样", "full_size": "正装", "window": "窗口",
           "moment": "运行时点", "pivot": "透视"}

#: 口径说明: the definitions a footer states in one line.
DEFINITIONS = {
    "net": "有效金额 = 实付 - 退款，全额退款的订单不算购买",
    "repeat": "复购率 = 有两个及以上购买日的客户占比",
    "response": "响应 = 发送后窗口内有一笔有效订单，窗口从发送时刻起算",
    "incremental": "增量 = 实验组 - 对照组（按实验组人数折算）",
    "clv": "预测价值 = 未来期间的预期有效金额，按年 8% 折现到今天",
    "gap": "Gap = 目标 - 老客基线预测 - 新客预计",
    "days": "日期按店铺所在时区，数据截至当日 0 点",
    "first_purchase": "首购 = 入会后窗口内第一笔有效订单（入会前已购买的会员单列）",
    "repurchase_day": "复购 = 首购之后另一天的有效订单；窗口未满的会员不计入比率",
    "benefit": "会员权益 = 会员专享权益或会员券；超过 90 天没有，平台关闭会员体系",
    "care": "包裹卡 = 已付款未发货订单按规则顺序取第一条命中的备注；催付 = 创建超过设定分钟数、仍未付款、未催过的订单",
    "buyers_total": "合计行列的订单数和购买人数按去重计算（同一人买两个品类只算一人）",
    "reminder_paid": "催付响应 = 发送后 24 小时内付款了同一订单（对照组按应发时间计）",
}
#: Template -> the definitions its footer states.
REPORT_DEFINITIONS = {
    "shop_overview": ("net", "repeat", "days"), "campaign_overview": ("net", "response", "incremental", "gap"),
    "campaign_gap": ("net", "gap", "days"), "promotion_waves": ("net", "days"), "response_report": ("net", "response", "incremental"),
    "clv": ("clv", "net"), "audience_builder": ("net", "days"), "new_product_launch": ("net", "days"),
    "sample_to_full_size": ("net", "days"), "influencer_repurchase": ("net", "repeat"), "new_member_first_purchase": ("net", "days"),
    "high_potential": ("net", "days"), "member_lifecycle": ("first_purchase", "repurchase_day", "benefit"),
    "event_care": ("care", "reminder_paid"), "pivot": ("net", "buyers_total"),
}


def genre_names(genres: pd.Series) -> pd.Series:
    """Chinese names of traffic genres (unknown or missing: 未知)."""
    return genres.map(GENRE_ZH).fillna("未知")


def definitions_line(template: str) -> str:
    """The one-line 口径说明 of a template's footer.

    Examples
    --------
    >>> from crm_lab.report.labels import definitions_line
    >>> definitions_line("campaign_gap").startswith("口径：有效金额 = 实付 - 退款")
    True
    """
    keys = REPORT_DEFINITIONS.get(template, ("net",))
    return "口径：" + "；".join(DEFINITIONS[k] for k in keys) + "。"


#: Touch features (:func:`crm_lab.response.touch_features`) as segments: "has it" vs the rest.
FEATURE_ZH = {"live_views": "近30天看过直播", "add_to_cart": "近30天加购过", "member": "会员", "orders": "买过的老客",
              "refund_orders": "退过款"}


def feature_name(feature: str) -> str:
    """The segment name of a touch feature (:data:`FEATURE_ZH`), or the feature itself."""
    return FEATURE_ZH.get(feature, feature)


def window_name(window: str) -> str:
    """'7D' -> '7天', '24h' -> '24小时'.

    Examples
    --------
    >>> from crm_lab.report.labels import window_name
    >>> window_name("7D"), window_name("24h")
    ('7天', '24小时')
    """
    text = str(window).strip()
    unit = {"d": "天", "h": "小时"}.get(text[-1:].lower())
    return f"{text[:-1]}{unit}" if unit and text[:-1].isdigit() else text


#: The dimensions and cell values of :func:`crm_lab.summary.pivot`.
PIVOT_DIMENSION_ZH = {"order_source": "订单来源", "traffic_source": "流量来源", "genre": "流量体裁", "influencer": "达人", "product": "商品",
                      "category": "品类", "member_tier": "会员等级", "month": "月份"}
PIVOT_VALUE_ZH = {"net_amount": "有效金额", "gross_amount": "实付金额", "refund_amount": "退款金额", "orders": "订单数",
                  "buyers": "购买人数", "items": "件数", "aov": "客单价", "refund_rate": "退款率"}


def pivot_labels(dimension: str, values: pd.Index, product_names: Any = None) -> list[str]:
    """Readers' words for a pivot dimension's values: genres in Chinese, months as 2025-09, tiers as
    「3 级」 or 「非会员」, the shop's own sales as 「店铺自营」, products by name, the margin as 「合计」.

    Examples
    --------
    >>> import pandas as pd
    >>> pivot_labels("member_tier", pd.Index([None, 2.0, "(total)"], dtype=object))
    ['非会员', '2 级', '合计']
    """
    empty = {"member_tier": "非会员", "influencer": "店铺自营"}.get(dimension, "未知")

    def one(v: Any) -> str:
        if isinstance(v, str) and v == "(total)":
            return "合计"
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return empty
        if dimension == "genre":
            return GENRE_ZH.get(v, str(v))
        if dimension == "month":
            return f"{pd.Timestamp(v):%Y-%m}"
        if dimension == "member_tier":
            return f"{int(v)} 级"
        if dimension == "product" and product_names is not None and v in product_names:
            return f"{product_names[v]}（{v}）"
        return str(v)

    return [one(v) for v in values]
