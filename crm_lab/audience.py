"""Audience selection (人群圈选): readable rules, a randomised control group, and export.

An :class:`Audience` is a list of rules read left to right. Each rule selects customers where the
shop's tables live (DuckDB, pandas, Polars or Spark); rules are combined with semi- and
anti-joins there, and only the final customer ids come back. Every method returns a new
audience, so partial audiences can be kept and reused.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(2_000, seed=1)
>>> aud = (cl.audience.Audience(shop)
...        .bought(product=["P001", "P002"], within="90D")
...        .not_bought(product="N01")
...        .min_net_amount(200))
>>> aud.describe()["中文"].tolist()[0]
'90天内购买过 P001, P002'
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import clv, engine, rfm, summary
from crm_lab.data import (
    EVENTS,
    Shop,
    atomic_write,
    net_amount,
    observation_end,
    window_length,
)
from crm_lab.files import atomic_text

__all__ = [
    "Audience",
]

#: Recipes and their helpers live in :mod:`crm_lab.recipes`; these names stay reachable here
#: (``cl.audience.new_product_launch``) for notebooks written before the move.
_RECIPE_NAMES = ("Recipe", "recipe_sizes", "new_product_launch", "promotion_waves", "sample_to_full_size",
                 "influencer_new_customers", "new_member_first_purchase", "high_potential", "RECIPES")


def __getattr__(name: str) -> Any:
    if name in _RECIPE_NAMES:
        from crm_lab import recipes

        return getattr(recipes, name)
    raise AttributeError(f"module 'crm_lab.audience' has no attribute {name!r}")


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, int)):
        return [str(value)]
    return [str(v) for v in value]


@dataclass(frozen=True)
class _Rule:
    include: bool
    zh: str
    en: str
    select: Callable[[Audience], nw.LazyFrame]
    # Optional: the same selection computed only over customers already kept (much less work
    # for per-customer aggregates; the result is the same once intersected).
    within_candidates: Callable[[Audience, nw.LazyFrame], nw.LazyFrame] | None = None


@dataclass(frozen=True)
class Audience:
    """Customers selected by rules on a shop, as of a moment.

    Parameters
    ----------
    shop : Shop
    as_of : date-like, optional
        Reference moment of every window (a date includes its whole day); default the shop's.
    name : str
        Used in descriptions and exports.
    """

    shop: Shop
    as_of: pd.Timestamp | None = None
    name: str = "audience"
    rules: tuple[_Rule, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        as_of = self.as_of if self.as_of is not None else self.shop.as_of
        if as_of is None:
            raise ValueError("Audience needs as_of (the shop has none)")
        as_of = pd.Timestamp(as_of)
        if self.shop.as_of is not None and as_of.normalize() > pd.Timestamp(self.shop.as_of).normalize():
            raise ValueError(f"as_of {as_of.date()} is after the shop's data end {pd.Timestamp(self.shop.as_of).date()}: "
                             "windows would reach into days with no data. Fix: use an as_of on or before the data end")
        object.__setattr__(self, "as_of", as_of)

    @classmethod
    def from_ids(cls, shop: Shop, ids: Any, as_of: Any = None, name: str = "audience",
                 zh: str = "给定的客户名单", en: str = "a given list of customers") -> Audience:
        """An audience of given customer ids (an uploaded list, a model's pick), to refine with more rules.

        ``zh`` / ``en`` describe where the list came from in :meth:`describe`.

        Examples
        --------
        >>> import crm_lab as cl
        >>> shop = cl.datasets.make_shop(500, seed=1)
        >>> aud = cl.audience.Audience.from_ids(shop, ["C0000001", "C0000002"]).not_bought(within="7D")
        >>> aud.size() <= 2
        True
        """
        frozen = pd.Series(ids, dtype="str")  # later changes to the caller's list do not move the audience
        return cls(shop, as_of, name)._add(True, zh, en, lambda a: _ids_where(a.shop, frozen))

    # ---- building blocks ---------------------------------------------------------------------

    def _add(self, include: bool, zh: str, en: str, select: Callable[[Audience], nw.LazyFrame],
             within_candidates: Callable[[Audience, nw.LazyFrame], nw.LazyFrame] | None = None) -> Audience:
        return replace(self, rules=(*self.rules, _Rule(include, zh, en, select, within_candidates)))

    def _end(self) -> pd.Timestamp:
        return observation_end(self.as_of)

    def _window_start(self, within: Any) -> pd.Timestamp:
        start = self._end() - window_length(within)
        return start

    def _table(self, name: str) -> nw.LazyFrame:
        frame = getattr(self.shop, name)
        if frame is None:
            raise ValueError(f"this rule needs the shop's {name} table, which is missing")
        return engine.lazy(frame)

    def _orders(self, product: Any = None, sku: Any = None, category: Any = None, within: Any = None,
                influencer: Any = None, genre: Any = None, source: Any = None) -> nw.LazyFrame:
        lf = self._table("orders")
        lf = lf.filter(nw.col("paid_at") < engine.timestamp(self._end(), lf))
        if within is not None:
            lf = lf.filter(nw.col("paid_at") >= engine.timestamp(self._window_start(within), lf))
        for value, col in ((product, "product_id"), (sku, "sku_id"), (genre, "traffic_genre"), (source, "traffic_source")):
            values = _as_list(value)
            if values is not None:
                lf = lf.filter(nw.col(col).is_in(values))
        infl = _as_list(influencer)
        if infl is not None:
            lf = lf.filter(nw.col("influencer_id").is_in(infl) | nw.col("influencer_name").is_in(infl))
        cats = _as_list(category)
        if cats is not None:
            products = engine.collect(self._table("products").select("product_id", "category").unique())
            members = products.loc[products["category"].isin(cats), "product_id"].unique().tolist()
            if not members:
                raise ValueError(f"no product in category {cats}; categories: {sorted(products['category'].dropna().unique())}")
            lf = lf.filter(nw.col("product_id").is_in(members))
        return lf

    def _check_known(self, column: str, values: Any) -> None:
        """Unknown products or SKUs are errors, not silently empty rules.

        Checked against the (small) products table when the shop has one; otherwise only the
        requested values are looked up in the orders (a filtered scan, no catalogue listing).
        """
        wanted = _as_list(values)
        if wanted is None:
            return
        source = self.shop.products if self.shop.products is not None else self.shop.orders
        lf = engine.lazy(source)
        found = set(engine.collect(lf.filter(nw.col(column).is_in(wanted)).select(column).unique())[column].astype(str))
        unknown = [v for v in wanted if v not in found]
        if unknown:
            sample = engine.collect(lf.select(column).unique().head(5))[column].astype(str).tolist()
            raise ValueError(f"{column}: unknown value(s) {unknown[:5]}; check the spelling (known e.g. {sample})")

    def _check_window(self, within: Any) -> None:
        if within is not None and window_length(within) <= pd.Timedelta(0):
            raise ValueError(f"window {within!r} must be positive")

    @staticmethod
    def _what(product: Any, sku: Any, category: Any, influencer: Any, genre: Any, source: Any = None) -> tuple[str, str]:
        # (values, Chinese before, Chinese after, English before) per filter, in the order described.
        filters = [(product, "", "", "product "), (sku, "SKU ", "", "SKU "), (category, "品类 ", "", "category "),
                   (influencer, "达人 ", " 带货", "via influencer "), (genre, "流量体裁 ", "", "traffic genre "),
                   (source, "流量来源 ", "", "traffic source ")]
        zh, en = [], []
        for values, zh_before, zh_after, en_before in filters:
            if values is not None:
                names = ", ".join(_as_list(values))
                zh.append(f"{zh_before}{names}{zh_after}")
                en.append(f"{en_before}{names}")
        return (" ".join(zh) or "任意商品"), (", ".join(en) or "anything")

    # ---- order rules ---------------------------------------------------------------------

    def _purchase(self, include: bool, product: Any, sku: Any, category: Any, within: Any, influencer: Any,
                  genre: Any, source: Any) -> Audience:
        self._check_known("product_id", product)
        self._check_known("sku_id", sku)
        self._check_window(within)
        what_zh, what_en = self._what(product, sku, category, influencer, genre, source)
        days = window_length(within).days if within is not None else None
        if include:
            zh = f"{days}天内购买过 {what_zh}" if days is not None else f"曾经购买过 {what_zh}"
            en = f"bought {what_en} " + (f"within {days} days" if days is not None else "ever")
        else:
            zh = f"排除{days}天内购买过 {what_zh}" if days is not None else f"排除购买过 {what_zh}"
            en = f"exclude those who bought {what_en}" + (f" within {days} days" if days is not None else " (ever)")
        return self._add(include, zh, en,
                         lambda a: a._orders(product, sku, category, within, influencer, genre, source).select("customer_id").unique())

    def bought(self, product: Any = None, sku: Any = None, category: Any = None, within: Any = None,
               influencer: Any = None, genre: Any = None, source: Any = None) -> Audience:
        """Keep customers who bought (any of) these, within the window before as_of (default: ever).

        Filters combine: products / SKUs / categories, influencer ids or names (达人), traffic
        genre (live, short_video, product_card, other) and traffic source (流量来源, e.g. 精选联盟).
        """
        return self._purchase(True, product, sku, category, within, influencer, genre, source)

    def not_bought(self, product: Any = None, sku: Any = None, category: Any = None, within: Any = None,
                   influencer: Any = None, genre: Any = None, source: Any = None) -> Audience:
        """Drop customers who bought (any of) these within the window (default: ever)."""
        return self._purchase(False, product, sku, category, within, influencer, genre, source)

    def _aggregate(self, measure: str, low: float | None, high: float | None, within: Any, zh: str, en: str) -> Audience:
        self._check_window(within)
        if low is not None and high is not None and low > high:
            raise ValueError(f"{measure}: min {low} > max {high}")

        def select(a: Audience, candidates: nw.LazyFrame | None = None) -> nw.LazyFrame:
            lines = a._orders(within=within)
            if candidates is not None:
                lines = lines.join(candidates, on="customer_id", how="semi")
            # Only the measure this rule needs: a distinct count or a sum over every customer costs.
            if measure == "orders":
                agg = nw.col("order_id").n_unique().alias(measure)
            elif measure == "net_amount":
                lines = lines.with_columns(net_amount=net_amount())
                agg = nw.col("net_amount").sum()
            elif measure == "paid_amount":
                agg = nw.col("paid_amount").sum()
            else:  # refunded lines
                lines = lines.with_columns(refund_lines=(nw.col("refund_amount").fill_null(0.0) > 0).cast(nw.Int64()))
                agg = nw.col("refund_lines").sum()
            per = lines.group_by("customer_id").agg(agg)
            expr = nw.lit(True)
            if low is not None:
                expr = expr & (nw.col(measure) >= low)
            if high is not None:
                expr = expr & (nw.col(measure) <= high)
            return per.filter(expr).select("customer_id")

        window_zh = f"{window_length(within).days}天内" if within is not None else "累计"
        window_en = f" within {window_length(within).days} days" if within is not None else ""
        bounds = [f">= {low:g}" if low is not None else "", f"<= {high:g}" if high is not None else ""]
        text = " 且 ".join(b for b in bounds if b)
        return self._add(True, f"{window_zh}{zh} {text}", f"{en}{window_en} {' and '.join(b for b in bounds if b)}", select,
                         within_candidates=select)

    def orders_between(self, min: int | None = None, max: int | None = None, within: Any = None) -> Audience:  # noqa: A002
        """Keep customers whose number of orders lies in [min, max]."""
        return self._aggregate("orders", min, max, within, "订单数", "orders")

    def net_amount_between(self, min: float | None = None, max: float | None = None, within: Any = None) -> Audience:  # noqa: A002
        """Keep customers whose net (refund-adjusted) amount lies in [min, max]."""
        return self._aggregate("net_amount", min, max, within, "有效金额", "net amount")

    def min_net_amount(self, amount: float, within: Any = None) -> Audience:
        """Keep customers with at least this net amount."""
        return self.net_amount_between(min=amount, within=within)

    def paid_amount_between(self, min: float | None = None, max: float | None = None, within: Any = None) -> Audience:  # noqa: A002
        """Keep customers whose paid amount (before refunds) lies in [min, max]."""
        return self._aggregate("paid_amount", min, max, within, "实付金额", "paid amount")

    def refunds_between(self, min: int | None = None, max: int | None = None, within: Any = None) -> Audience:  # noqa: A002
        """Keep customers whose number of refunded order lines lies in [min, max]."""
        return self._aggregate("refund_lines", min, max, within, "退款次数", "refunded lines")

    # ---- member and behaviour rules ------------------------------------------------------

    def member(self, joined_within: Any = None, tier: Any = None, min_points: float | None = None) -> Audience:
        """Keep members (joined in the window, of these tiers, with at least these points)."""
        self._check_window(joined_within)

        def select(a: Audience) -> nw.LazyFrame:
            lf = a._table("members")
            lf = lf.filter(nw.col("joined_at") < engine.timestamp(a._end(), lf))
            if joined_within is not None:
                lf = lf.filter(nw.col("joined_at") >= engine.timestamp(a._window_start(joined_within), lf))
            if tier is not None:
                lf = lf.filter(nw.col("tier").is_in([int(t) for t in np.atleast_1d(tier)]))
            if min_points is not None:
                lf = lf.filter(nw.col("points") >= min_points)
            return lf.select("customer_id").unique()

        parts_zh = ["会员"] + ([f"{window_length(joined_within).days}天内入会"] if joined_within is not None else []) \
            + ([f"等级 {tier}"] if tier is not None else []) + ([f"积分 >= {min_points:g}"] if min_points is not None else [])
        parts_en = ["members"] + ([f"joined within {window_length(joined_within).days} days"] if joined_within is not None else []) \
            + ([f"tier {tier}"] if tier is not None else []) + ([f"points >= {min_points:g}"] if min_points is not None else [])
        return self._add(True, "，".join(parts_zh), ", ".join(parts_en), select)

    def not_bought_since_joining(self) -> Audience:
        """Drop members who paid an order at or after joining (入会后未购买)."""

        def select(a: Audience) -> nw.LazyFrame:
            members = a._table("members").select("customer_id", "joined_at")
            orders = a._orders().select("customer_id", "paid_at")
            return orders.join(members, on="customer_id").filter(nw.col("paid_at") >= nw.col("joined_at")).select("customer_id").unique()

        return self._add(False, "排除入会后已购买", "exclude members who bought since joining", select)

    def event(self, kind: str = "live_view", within: Any = "30D", ref: Any = None) -> Audience:
        """Keep customers with this behaviour event (live_view, add_to_cart, product_view, follow) in the window."""
        self._check_window(within)
        if kind not in EVENTS:
            raise ValueError(f"event kind {kind!r}: use one of {EVENTS}")

        def select(a: Audience) -> nw.LazyFrame:
            lf = a._table("events")
            lf = engine.between(lf, "at", a._window_start(within), a._end()).filter(nw.col("event") == kind)
            if ref is not None:
                lf = lf.filter(nw.col("ref").is_in(_as_list(ref)))
            return lf.select("customer_id").unique()

        names = {"live_view": "观看直播", "add_to_cart": "加购", "product_view": "浏览商品", "follow": "关注店铺"}
        return self._add(True, f"{window_length(within).days}天内{names[kind]}", f"{kind} within {window_length(within).days} days", select)

    def cart_without_order(self, within: Any = "30D") -> Audience:
        """Keep customers who added to cart in the window and paid no order since."""
        return self.event("add_to_cart", within).not_bought(within=within)

    def rfm_segment(self, segments: Any, method: str = "quantile") -> Audience:
        """Keep customers in these RFM segments (Chinese or English names), scored as of as_of."""
        wanted = set(_as_list(segments))
        valid = {n for pair in rfm.SEGMENTS.values() for n in pair}
        if not wanted <= valid:
            raise ValueError(f"unknown RFM segment(s) {sorted(wanted - valid)}; use {rfm.SEGMENT_ORDER}")

        def select(a: Audience) -> nw.LazyFrame:
            scored = rfm.score(summary.customer_summary(a.shop, as_of=a.as_of), method=method)
            return _ids_where(a.shop, scored.index[scored["rfm_segment"].isin(wanted) | scored["rfm_segment_en"].isin(wanted)])

        return self._add(True, f"RFM 分层属于 {', '.join(sorted(wanted))}", f"RFM segment in {sorted(wanted)}", select)

    def clv_tier(self, tiers: Any, horizon_days: int = 90) -> Audience:
        """Keep customers whose predicted CLV tier (top / high / medium / low) is one of these."""
        wanted = set(_as_list(tiers))

        def select(a: Audience) -> nw.LazyFrame:
            model = clv.fit(summary.customer_summary(a.shop, as_of=a.as_of))
            tier = model.tiers(model.predict(horizon_days=horizon_days))
            return _ids_where(a.shop, tier.index[tier.astype(str).isin(wanted)])

        return self._add(True, f"预测价值层级属于 {', '.join(sorted(wanted))}", f"CLV tier in {sorted(wanted)}", select)

    def exclude_touched(self, within: Any = "7D", campaign: Any = None) -> Audience:
        """Drop customers touched (treatment group) in the window, or by these campaigns (排重)."""
        self._check_window(within)

        def select(a: Audience) -> nw.LazyFrame:
            lf = a._table("touches")
            lf = engine.between(lf, "sent_at", a._window_start(within), a._end()).filter(nw.col("group") == "treatment")
            if campaign is not None:
                lf = lf.filter(nw.col("campaign_id").is_in(_as_list(campaign)))
            return lf.select("customer_id").unique()

        return self._add(False, f"排除{window_length(within).days}天内已触达", f"exclude customers touched within {window_length(within).days} days", select)

    # ---- set operations ------------------------------------------------------------------

    def minus(self, other: Audience) -> Audience:
        """Drop the customers of another audience."""
        return self._add(False, f"排除人群「{other.name}」", f"exclude audience '{other.name}'", lambda a: other._frame())

    def intersect(self, other: Audience) -> Audience:
        """Keep only customers also in another audience."""
        return self._add(True, f"同时属于人群「{other.name}」", f"also in audience '{other.name}'", lambda a: other._frame())

    def union(self, other: Audience) -> Audience:
        """Customers in this audience or the other (rules of both kept for the description)."""
        mine = self

        def select(a: Audience) -> nw.LazyFrame:
            return nw.concat([mine._frame(), other._frame()]).unique()

        base = Audience(self.shop, self.as_of, f"{self.name} ∪ {other.name}")
        return base._add(True, f"人群「{self.name}」或「{other.name}」", f"audience '{self.name}' or '{other.name}'", select)

    # ---- results -------------------------------------------------------------------------

    def _universe(self) -> nw.LazyFrame:
        ids = self._orders().select("customer_id").unique()
        if self.shop.members is not None:
            members = self._table("members")
            members = members.filter(nw.col("joined_at") < engine.timestamp(self._end(), members)).select("customer_id")
            ids = nw.concat([ids, members]).unique()
        return ids

    def _frame(self) -> nw.LazyFrame:
        # Start from the first keeping rule (or everyone), then keep (semi-join) or drop (anti-join).
        first = next((r for r in self.rules if r.include), None)
        current = first.select(self) if first is not None else self._universe()
        for rule in self.rules:
            if rule is first:
                continue
            if rule.include and rule.within_candidates is not None:
                current = rule.within_candidates(self, current)
            else:
                current = current.join(rule.select(self), on="customer_id", how="semi" if rule.include else "anti")
        return current

    def customer_ids(self) -> pd.Series:
        """The audience's customer ids, sorted (an empty audience warns)."""
        import warnings

        ids = engine.collect(self._frame())["customer_id"].astype("str").sort_values(ignore_index=True)
        if ids.empty:
            warnings.warn(f"audience '{self.name}' is empty: {' / '.join(r.en for r in self.rules)}", stacklevel=2)
        return ids.rename("customer_id")

    def size(self) -> int:
        """Number of customers."""
        return int(engine.collect(self._frame().select(nw.len().alias("n")))["n"].iloc[0])

    def outcome(self, horizon: Any = "30D", product: Any = None) -> pd.DataFrame:
        """What the audience did after its ``as_of``: per customer, kept orders and net amount within ``horizon``.

        Built for backtests: select an audience as of a past day, untouched, and read how many
        bought anyway in the following days (the response a touch must beat). An order counts when
        paid in ``(as_of's end, + horizon]`` and kept (net of refunds above 0).

        Parameters
        ----------
        horizon : window, e.g. "7D", "30D"
        product : str or list of str, optional
            Only orders of these products count.

        Returns
        -------
        pandas.DataFrame: ``customer_id, bought`` (0/1), ``orders, net_amount``; ``attrs["rate"]``
        holds the share who bought.

        Raises
        ------
        ValueError
            If the horizon reaches past the shop's data end.

        Examples
        --------
        >>> import crm_lab as cl
        >>> shop = cl.datasets.make_shop(2_000, seed=1)
        >>> past = cl.audience.Audience(shop, as_of="2025-09-30").event("live_view", within="30D").not_bought(within="30D")
        >>> out = past.outcome("30D")
        >>> 0 <= out.attrs["rate"] <= 1
        True
        """
        start = self._end()
        stop = start + window_length(horizon)
        data_end = observation_end(self.shop.as_of) if self.shop.as_of is not None else None
        if data_end is not None and stop > data_end:
            raise ValueError(f"outcome: {horizon} after {self.as_of:%Y-%m-%d} reaches {stop:%Y-%m-%d}, past the data end "
                             f"{pd.Timestamp(self.shop.as_of):%Y-%m-%d}. Fix: select the audience as of an earlier day or use a shorter horizon.")
        ids = self.customer_ids()
        lf = self._table("orders")
        lf = engine.between(lf, "paid_at", start, stop)
        if product is not None:
            lf = lf.filter(nw.col("product_id").is_in(_as_list(product)))
        net = net_amount()
        kept = engine.collect(
            lf.join(_ids_where(self.shop, ids), on="customer_id", how="semi")
            .with_columns(net=net).group_by("customer_id", "order_id").agg(nw.col("net").sum())
            .filter(nw.col("net") > 0).group_by("customer_id").agg(nw.len().alias("orders"), nw.col("net").sum().alias("net_amount"))
        ).set_index("customer_id")
        out = pd.DataFrame({"customer_id": ids})
        out["orders"] = out["customer_id"].map(kept["orders"]).fillna(0).astype("int64")
        out["net_amount"] = out["customer_id"].map(kept["net_amount"]).fillna(0.0)
        out.insert(1, "bought", (out["orders"] > 0).astype("int64"))
        out.attrs.update(rate=float(out["bought"].mean()) if len(out) else float("nan"), horizon=str(horizon), start=start)
        return out

    def describe(self) -> pd.DataFrame:
        """The rules in order, in Chinese and English."""
        return pd.DataFrame(
            {"step": range(1, len(self.rules) + 1), "include": [r.include for r in self.rules],
             "中文": [r.zh for r in self.rules], "English": [r.en for r in self.rules]}
        )

    def split_control(self, share: float = 0.1, seed: int = 0) -> pd.DataFrame:
        """Random, reproducible treatment / control split, stable when the audience grows.

        Each customer's group depends only on its id and ``seed`` (a keyed hash), never on who
        else is in the audience.

        Returns
        -------
        pandas.DataFrame: ``customer_id, group`` (``treatment`` / ``control``).
        """
        if not 0 < share < 1:
            raise ValueError("share must be between 0 and 1")
        ids = self.customer_ids()
        return pd.DataFrame({"customer_id": ids, "group": _assign(ids, share, seed)})

    def export(self, path: str | os.PathLike[str], control_share: float | None = None, seed: int = 0,
               ids: str = "customer_id", run: dict[str, Any] | None = None) -> Path:
        """Write the audience's ids (and groups) as CSV plus ``<path>.manifest.json``; atomic.

        An empty audience writes a file with the header only and its manifest, so that a pickup
        job never finds yesterday's list where today's should be.

        Parameters
        ----------
        ids : {"customer_id", "phone_hash"}
            Which id to write: the unified customer id or the member's salted phone hash (for
            platforms that match on it). Never a phone number, name or address.
        run : dict, optional
            The run that made the export (id, command), recorded in the manifest.

        Notes
        -----
        The manifest records the audience's ``as_of``, the data snapshot it came from
        (``Shop.source``: folder, extraction time, fingerprint of its files), the rules, the
        groups and ``run``.
        """
        out = self.split_control(control_share, seed) if control_share else pd.DataFrame({"customer_id": self.customer_ids()})
        if ids == "phone_hash":
            members = engine.collect(self._table("members").select("customer_id", "phone_hash"))
            out = out.merge(members, on="customer_id", how="left")
            missing = int(out["phone_hash"].isna().sum())
            out = out.drop(columns="customer_id").rename(columns={"phone_hash": "id"})
        elif ids == "customer_id":
            missing = 0
            out = out.rename(columns={"customer_id": "id"})
        else:
            raise ValueError("ids must be 'customer_id' or 'phone_hash'")
        target = atomic_write(out, path)
        manifest = {
            "name": self.name, "as_of": str(self.as_of), "created_at": dt.datetime.now().isoformat(timespec="seconds"),
            "ids": ids, "customers": int(len(out)), "without_id": missing,
            "control_share": control_share, "seed": seed if control_share else None,
            "groups": out["group"].value_counts().to_dict() if "group" in out else None,
            "rules": self.describe().to_dict(orient="records"),
            "data": self.shop.source or None, "run": run,
        }
        atomic_text(f"{target}.manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1, default=str))
        return target


def _ids_where(shop: Shop, ids: Any) -> nw.LazyFrame:
    """Customer ids chosen in pandas, put where the shop's orders live (for joins there)."""
    return engine.like(shop.orders, pd.DataFrame({"customer_id": pd.Series(ids, dtype="str")}))


def _assign(ids: pd.Series, share: float, seed: int) -> np.ndarray:
    key = f"crm_lab{int(seed):09d}"[:16].ljust(16, "0")
    hashed = pd.util.hash_pandas_object(ids.astype("str"), index=False, hash_key=key).to_numpy()
    uniform = hashed / float(2**64)
    return np.where(uniform < share, "control", "treatment")
