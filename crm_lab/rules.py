"""The rules an audience is built from (人群圈选规则), each a small object that selects customers.

A :class:`Rule` keeps (``include``) or drops the customers its ``select`` returns, where the
shop's tables live, and says in Chinese and English what it does. :class:`crm_lab.audience.Audience`
chains them; this module makes them. Rules that fit a model (RFM segments, CLV tiers) compute it
once per audience and reuse it, however often the audience is counted or listed.

To add a rule: a function here returning a :class:`Rule`, and a method on
:class:`~crm_lab.audience.Audience` that adds it.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(500, seed=1)
>>> rule = cl.rules.purchase(shop, True, product="P001", within="90D")
>>> rule.zh
'90天内购买过 P001'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import clv, engine, rfm, summary
from crm_lab.data import EVENTS, Shop, net_amount, products, window_length
from crm_lab.periods import window

if TYPE_CHECKING:  # the audience imports this module
    from crm_lab.audience import Audience

__all__ = ["Rule", "as_list", "table", "orders_in", "purchase", "aggregate", "member", "not_bought_since_joining",
           "event", "rfm_segment", "clv_tier", "predicted", "exclude_touched", "ids", "other_audience", "union"]

Select = Callable[["Audience"], nw.LazyFrame]


@dataclass(frozen=True)
class Rule:
    """One step of an audience.

    Attributes
    ----------
    include : bool
        Keep the customers ``select`` returns (True) or drop them (False).
    zh, en : str
        What the rule does, for readers and manifests.
    select : callable
        ``select(audience)`` -> the customers (a ``customer_id`` frame where the data lives).
    within_candidates : callable, optional
        The same selection computed only over customers already kept (much less work for
        per-customer aggregates; the result is the same once intersected).
    """

    include: bool
    zh: str
    en: str
    select: Select
    within_candidates: Callable[[Audience, nw.LazyFrame], nw.LazyFrame] | None = field(default=None)


def as_list(value: Any) -> list[str] | None:
    """One value or many as a list of text (None stays None): the one list helper.

    Examples
    --------
    >>> from crm_lab.rules import as_list
    >>> as_list("P001"), as_list(["P001", 2]), as_list(None)
    (['P001'], ['P001', '2'], None)
    """
    if value is None:
        return None
    if isinstance(value, (str, int)):
        return [str(value)]
    return [str(v) for v in value]


def table(a: Audience, name: str) -> nw.LazyFrame:
    """A table of the audience's shop, where it lives; a missing one is an error naming it."""
    frame = getattr(a.shop, name)
    if frame is None:
        raise ValueError(f"this rule needs the shop's {name} table, which is missing")
    return engine.lazy(frame)


def orders_in(a: Audience, product: Any = None, sku: Any = None, category: Any = None, within: Any = None,
              influencer: Any = None, genre: Any = None, source: Any = None) -> nw.LazyFrame:
    """Order lines paid before the audience's ``as_of`` end (and within the window), filtered."""
    lf = table(a, "orders")
    if within is None:
        lf = lf.filter(nw.col("paid_at") < engine.timestamp(a._end(), lf))
    else:
        lf = engine.between(lf, "paid_at", *_bounds(a, within))
    for value, col in ((product, "product_id"), (sku, "sku_id"), (genre, "traffic_genre"), (source, "traffic_source")):
        values = as_list(value)
        if values is not None:
            lf = lf.filter(nw.col(col).is_in(values))
    infl = as_list(influencer)
    if infl is not None:
        lf = lf.filter(nw.col("influencer_id").is_in(infl) | nw.col("influencer_name").is_in(infl))
    cats = as_list(category)
    if cats is not None:
        if a.shop.products is None:
            raise ValueError("this rule needs the shop's products table, which is missing")
        catalogue = products(a.shop)
        members = catalogue.index[catalogue["category"].isin(cats)].tolist()
        if not members:
            raise ValueError(f"no product in category {cats}; categories: {sorted(catalogue['category'].dropna().unique())}")
        lf = lf.filter(nw.col("product_id").is_in(members))
    return lf


def _check_known(shop: Shop, column: str, values: Any) -> None:
    """Unknown products or SKUs are errors, not silently empty rules.

    Checked against the (small) products table when the shop has one; otherwise only the
    requested values are looked up in the orders (a filtered scan, no catalogue listing).
    """
    wanted = as_list(values)
    if wanted is None:
        return
    source = shop.products if shop.products is not None else shop.orders
    lf = engine.lazy(source)
    found = set(engine.collect(lf.filter(nw.col(column).is_in(wanted)).select(column).unique())[column].astype(str))
    unknown = [v for v in wanted if v not in found]
    if unknown:
        sample = engine.collect(lf.select(column).unique().head(5))[column].astype(str).tolist()
        raise ValueError(f"{column}: unknown value(s) {unknown[:5]}; check the spelling (known e.g. {sample})")


def _check_window(within: Any) -> None:
    if within is None:
        return
    start, end = window(within, as_of="2000-01-01")  # any day: only the window's shape is checked
    if end <= start:
        raise ValueError(f"window {within!r} must be positive")


def _span(within: Any) -> tuple[str, str]:
    """A window in words, Chinese and English: '90天内' / 'within 90 days', '3个月内', '2025-10-20至2025-11-11'."""
    if isinstance(within, (tuple, list)):
        start, end = (pd.Timestamp(d) for d in within)
        return f"{start:%Y-%m-%d}至{end:%Y-%m-%d}", f"between {start:%Y-%m-%d} and {end:%Y-%m-%d}"
    calendar = re.fullmatch(r"(\d+)\s*(mo|y)", str(within).strip())
    if calendar:
        n, unit = int(calendar[1]), calendar[2]
        return (f"{n}个月内", f"within {n} months") if unit == "mo" else (f"{n}年内", f"within {n} years")
    days = window_length(within).days
    return f"{days}天内", f"within {days} days"


def _bounds(a: Audience, within: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window's ``[start, end)``, never past the audience's ``as_of``."""
    start, end = window(within, as_of=a.as_of)
    return start, min(end, a._end())


def _what(product: Any, sku: Any, category: Any, influencer: Any, genre: Any, source: Any = None) -> tuple[str, str]:
    # (values, Chinese before, Chinese after, English before) per filter, in the order described.
    filters = [(product, "", "", "product "), (sku, "SKU ", "", "SKU "), (category, "品类 ", "", "category "),
               (influencer, "达人 ", " 带货", "via influencer "), (genre, "流量体裁 ", "", "traffic genre "),
               (source, "流量来源 ", "", "traffic source ")]
    zh, en = [], []
    for values, zh_before, zh_after, en_before in filters:
        if values is not None:
            names = ", ".join(as_list(values))
            zh.append(f"{zh_before}{names}{zh_after}")
            en.append(f"{en_before}{names}")
    return (" ".join(zh) or "任意商品"), (", ".join(en) or "anything")


def purchase(shop: Shop, include: bool, product: Any = None, sku: Any = None, category: Any = None, within: Any = None,
             influencer: Any = None, genre: Any = None, source: Any = None) -> Rule:
    """Bought (any of) these within the window before ``as_of`` (default: ever)."""
    _check_known(shop, "product_id", product)
    _check_known(shop, "sku_id", sku)
    _check_window(within)
    what_zh, what_en = _what(product, sku, category, influencer, genre, source)
    span_zh, span_en = _span(within) if within is not None else (None, None)
    if include:
        zh = f"{span_zh}购买过 {what_zh}" if span_zh else f"曾经购买过 {what_zh}"
        en = f"bought {what_en} " + (span_en if span_en else "ever")
    else:
        zh = f"排除{span_zh}购买过 {what_zh}" if span_zh else f"排除购买过 {what_zh}"
        en = f"exclude those who bought {what_en}" + (f" {span_en}" if span_en else " (ever)")
    return Rule(include, zh, en,
                lambda a: orders_in(a, product, sku, category, within, influencer, genre, source).select("customer_id").unique())


def _measure(lines: nw.LazyFrame, measure: str) -> tuple[nw.LazyFrame, nw.Expr]:
    # Only the measure this rule needs: a distinct count or a sum over every customer costs.
    if measure == "orders":
        return lines, nw.col("order_id").n_unique().alias(measure)
    if measure == "net_amount":
        return lines.with_columns(net_amount=net_amount()), nw.col("net_amount").sum()
    if measure == "paid_amount":
        return lines, nw.col("paid_amount").sum()
    refunds = lines.with_columns(refund_lines=(nw.col("refund_amount").fill_null(0.0) > 0).cast(nw.Int64()))
    return refunds, nw.col("refund_lines").sum()


def aggregate(measure: str, low: float | None, high: float | None, within: Any, zh: str, en: str) -> Rule:
    """A per-customer measure (``orders``, ``net_amount``, ``paid_amount``, ``refund_lines``) in [low, high]."""
    _check_window(within)
    if low is not None and high is not None and low > high:
        raise ValueError(f"{measure}: min {low} > max {high}")

    def select(a: Audience, candidates: nw.LazyFrame | None = None) -> nw.LazyFrame:
        lines = orders_in(a, within=within)
        if candidates is not None:
            lines = lines.join(candidates, on="customer_id", how="semi")
        lines, agg = _measure(lines, measure)
        per = lines.group_by("customer_id").agg(agg)
        expr = nw.lit(True)
        if low is not None:
            expr = expr & (nw.col(measure) >= low)
        if high is not None:
            expr = expr & (nw.col(measure) <= high)
        return per.filter(expr).select("customer_id")

    window_zh = _span(within)[0] if within is not None else "累计"
    window_en = f" {_span(within)[1]}" if within is not None else ""
    bounds = [f">= {low:g}" if low is not None else "", f"<= {high:g}" if high is not None else ""]
    text = " 且 ".join(b for b in bounds if b)
    return Rule(True, f"{window_zh}{zh} {text}", f"{en}{window_en} {' and '.join(b for b in bounds if b)}", select,
                within_candidates=select)


def member(joined_within: Any = None, tier: Any = None, min_points: float | None = None) -> Rule:
    """Members (joined in the window, of these tiers, with at least these points)."""
    _check_window(joined_within)

    def select(a: Audience) -> nw.LazyFrame:
        lf = table(a, "members")
        if joined_within is None:
            lf = lf.filter(nw.col("joined_at") < engine.timestamp(a._end(), lf))
        else:
            lf = engine.between(lf, "joined_at", *_bounds(a, joined_within))
        if tier is not None:
            lf = lf.filter(nw.col("tier").is_in([int(t) for t in np.atleast_1d(tier)]))
        if min_points is not None:
            lf = lf.filter(nw.col("points") >= min_points)
        return lf.select("customer_id").unique()

    parts_zh = ["会员"] + ([f"{_span(joined_within)[0]}入会"] if joined_within is not None else []) \
        + ([f"等级 {tier}"] if tier is not None else []) + ([f"积分 >= {min_points:g}"] if min_points is not None else [])
    parts_en = ["members"] + ([f"joined {_span(joined_within)[1]}"] if joined_within is not None else []) \
        + ([f"tier {tier}"] if tier is not None else []) + ([f"points >= {min_points:g}"] if min_points is not None else [])
    return Rule(True, "，".join(parts_zh), ", ".join(parts_en), select)


def not_bought_since_joining() -> Rule:
    """Members who paid an order at or after joining (to drop: 入会后未购买)."""

    def select(a: Audience) -> nw.LazyFrame:
        members = table(a, "members").select("customer_id", "joined_at")
        orders = orders_in(a).select("customer_id", "paid_at")
        return orders.join(members, on="customer_id").filter(nw.col("paid_at") >= nw.col("joined_at")).select("customer_id").unique()

    return Rule(False, "排除入会后已购买", "exclude members who bought since joining", select)


_EVENT_ZH = {"live_view": "观看直播", "add_to_cart": "加购", "product_view": "浏览商品", "follow": "关注店铺"}


def event(kind: str = "live_view", within: Any = "30D", ref: Any = None) -> Rule:
    """A behaviour event (live_view, add_to_cart, product_view, follow) in the window."""
    _check_window(within)
    if kind not in EVENTS:
        raise ValueError(f"event kind {kind!r}: use one of {EVENTS}")

    def select(a: Audience) -> nw.LazyFrame:
        lf = table(a, "events")
        lf = engine.between(lf, "at", *_bounds(a, within)).filter(nw.col("event") == kind)
        if ref is not None:
            lf = lf.filter(nw.col("ref").is_in(as_list(ref)))
        return lf.select("customer_id").unique()

    span_zh, span_en = _span(within)
    return Rule(True, f"{span_zh}{_EVENT_ZH[kind]}", f"{kind} {span_en}", select)


def _cached(compute: Callable[[Audience], pd.Index]) -> Select:
    """A model-based selection computed once per shop and ``as_of``, then put where the data lives."""
    cache: dict[tuple[int, pd.Timestamp], pd.Index] = {}

    def select(a: Audience) -> nw.LazyFrame:
        key = (id(a.shop), a.as_of)
        if key not in cache:
            cache[key] = compute(a)
        return _ids_where(a.shop, cache[key])

    return select


def rfm_segment(segments: Any, method: str = "quantile") -> Rule:
    """Customers in these RFM segments (Chinese or English names), scored as of ``as_of``."""
    wanted = set(as_list(segments))
    valid = {n for pair in rfm.SEGMENTS.values() for n in pair}
    if not wanted <= valid:
        raise ValueError(f"unknown RFM segment(s) {sorted(wanted - valid)}; use {rfm.SEGMENT_ORDER}")

    def compute(a: Audience) -> pd.Index:
        scored = rfm.score(summary.customer_summary(a.shop, as_of=a.as_of), method=method)
        return scored.index[scored["rfm_segment"].isin(wanted) | scored["rfm_segment_en"].isin(wanted)]

    return Rule(True, f"RFM 分层属于 {', '.join(sorted(wanted))}", f"RFM segment in {sorted(wanted)}", _cached(compute))


def clv_tier(tiers: Any, *, horizon: Any = "90D") -> Rule:
    """Customers whose predicted CLV tier (top / high / medium / low) is one of these."""
    wanted = set(as_list(tiers))

    def compute(a: Audience) -> pd.Index:
        model = clv.fit(summary.customer_summary(a.shop, as_of=a.as_of))
        tier = model.tiers(model.predict(horizon=horizon))
        return tier.index[tier.astype(str).isin(wanted)]

    return Rule(True, f"预测价值层级属于 {', '.join(sorted(wanted))}", f"CLV tier in {sorted(wanted)}", _cached(compute))


_CHURN_ZH = {"low": "低", "medium": "中", "high": "高"}


def predicted(churn: Any = None, next_order_within: Any = None, min_value: float | None = None) -> Rule:
    """Customers by their predictions (:func:`crm_lab.predict.customers` as of ``as_of``): churn-risk
    band(s), a next order expected within a window, a predicted 365-day value of at least ``min_value``."""
    from crm_lab import predict

    bands = as_list(churn)
    if bands is not None and not set(bands) <= set(predict.CHURN_BANDS):
        raise ValueError(f"churn: unknown band(s) {sorted(set(bands) - set(predict.CHURN_BANDS))}; use {list(predict.CHURN_BANDS)}")
    if bands is None and next_order_within is None and min_value is None:
        raise ValueError("predicted: give churn=, next_order_within= or min_value=")
    if next_order_within is not None:
        _check_window(next_order_within)
    days = None if next_order_within is None else window_length(next_order_within) / pd.Timedelta(days=1)

    def compute(a: Audience) -> pd.Index:
        p = predict.customers(a.shop, as_of=a.as_of)
        keep = pd.Series(True, index=p.index)
        if bands is not None:
            keep &= p["churn_band"].astype(str).isin(bands)
        if days is not None:
            keep &= p["next_order_days"] <= days
        if min_value is not None:
            keep &= p["value_365d"] >= min_value
        return p.index[keep.to_numpy()]

    zh, en = [], []
    if bands is not None:
        zh.append(f"流失风险为{'、'.join(_CHURN_ZH[b] for b in bands)}")
        en.append(f"churn risk {'/'.join(bands)}")
    if days is not None:
        span_zh, span_en = _span(next_order_within)
        zh.append(f"预计{span_zh.replace('内', '')}内再次下单")
        en.append(f"next order expected {span_en}")
    if min_value is not None:
        zh.append(f"预测未来365天价值不低于 {min_value:,.0f}")
        en.append(f"predicted 365-day value >= {min_value:,.0f}")
    return Rule(True, "，".join(zh), ", ".join(en), _cached(compute))


def exclude_touched(within: Any = "7D", campaign: Any = None) -> Rule:
    """Customers touched (treatment group) in the window, or by these campaigns (to drop: 排重)."""
    _check_window(within)

    def select(a: Audience) -> nw.LazyFrame:
        lf = table(a, "touches")
        lf = engine.between(lf, "sent_at", *_bounds(a, within)).filter(nw.col("group") == "treatment")
        if campaign is not None:
            lf = lf.filter(nw.col("campaign_id").is_in(as_list(campaign)))
        return lf.select("customer_id").unique()

    span_zh, span_en = _span(within)
    return Rule(False, f"排除{span_zh}已触达", f"exclude customers touched {span_en}", select)


def _ids_where(shop: Shop, chosen: Any) -> nw.LazyFrame:
    """Customer ids chosen in pandas, put where the shop's orders live (for joins there)."""
    return engine.like(shop.orders, pd.DataFrame({"customer_id": pd.Series(chosen, dtype="str")}))


def ids(chosen: Any, zh: str = "给定的客户名单", en: str = "a given list of customers") -> Rule:
    """A given list of customer ids (an uploaded list, a model's pick)."""
    frozen = pd.Series(chosen, dtype="str")  # later changes to the caller's list do not move the audience
    return Rule(True, zh, en, lambda a: _ids_where(a.shop, frozen))


def other_audience(other: Audience, include: bool) -> Rule:
    """Keep only (``include``) or drop the customers of another audience."""
    if include:
        return Rule(True, f"同时属于人群「{other.name}」", f"also in audience '{other.name}'", lambda a: other._frame())
    return Rule(False, f"排除人群「{other.name}」", f"exclude audience '{other.name}'", lambda a: other._frame())


def union(first: Audience, second: Audience) -> Rule:
    """Customers of either audience."""
    return Rule(True, f"人群「{first.name}」或「{second.name}」", f"audience '{first.name}' or '{second.name}'",
                lambda a: nw.concat([first._frame(), second._frame()]).unique())
