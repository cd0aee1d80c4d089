"""The scenario recipes (人群圈选场景): each composes the audience builder and the analyses.

A recipe returns a :class:`Recipe`: its named audiences and a table explaining how they were
built (related products, thresholds, what to offer). The six scenarios:

* :func:`new_product_launch` — 新品上新 via related products;
* :func:`promotion_waves` — 大促两波 (618 / 双11);
* :func:`sample_to_full_size` — 派样→正装;
* :func:`influencer_new_customers` — 达人新客→复购;
* :func:`new_member_first_purchase` — 新会员首购 (daily);
* :func:`high_potential` — 高潜: live viewers and cart adders who did not buy.

To add a scenario: a function here returning a :class:`Recipe`, registered in :data:`RECIPES`
(which ``crm-lab audience`` lists).

Examples
--------
>>> import crm_lab as cl
>>> recipe = cl.recipes.new_member_first_purchase(cl.datasets.make_shop(500, seed=1), joined_within="30D")
>>> list(recipe.audiences)
['new_members']
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import assoc, engine, rfm, summary
from crm_lab._docs import share_docs
from crm_lab.audience import Audience
from crm_lab.conversion import at_first_payment
from crm_lab.data import Shop, net_amount, observation_end, products, window_length
from crm_lab.files import file_token, inside
from crm_lab.results import Result
from crm_lab.rules import _ids_where, _span, as_list, orders_in

__all__ = [
    "Recipe",
    "recipe_sizes",
    "new_product_launch",
    "promotion_waves",
    "rf_core",
    "sample_to_full_size",
    "influencer_new_customers",
    "new_member_first_purchase",
    "high_potential",
    "RECIPES",
]


@dataclass(frozen=True)
class Recipe(Result):
    """Audiences of a scenario recipe and the table explaining how they were built."""

    audiences: dict[str, Audience]
    explanation: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Per audience: ``audience, customers, rules`` (in Chinese)."""
        return pd.DataFrame([{"audience": name, "customers": aud.size(), "rules": "；".join(aud.describe()["中文"])}
                             for name, aud in self.audiences.items()])

    def sizes(self) -> pd.Series:
        """Customers per audience."""
        return pd.Series({name: aud.size() for name, aud in self.audiences.items()}, name="customers")

    def export(self, folder: str | os.PathLike[str], prefix: str, control_share: float | None = 0.1, seed: int = 0,
               run: dict[str, Any] | None = None) -> pd.DataFrame:
        """Write each audience as ``<folder>/<prefix>_<name>.csv`` (ids and groups) with its manifest.

        Every audience is written, an empty one as a header-only file, so that no earlier list
        is left standing under today's name. ``prefix`` is a plain file-name token.
        """
        file_token(prefix, "prefix")
        rows = []
        for name, aud in self.audiences.items():
            path = inside(folder, f"{prefix}_{file_token(name, 'audience name')}.csv")
            aud.export(path, control_share=control_share, seed=seed, run=run)
            rows.append({"audience": name, "file": str(path), "customers": int(len(pd.read_csv(path, usecols=[0])))})
        return pd.DataFrame(rows)


def recipe_sizes(recipes: dict[str, Recipe]) -> pd.DataFrame:
    """One row per scenario and audience: customers and the rules in Chinese."""
    rows = []
    for scenario, recipe in recipes.items():
        for name, aud in recipe.audiences.items():
            rows.append({"scenario": scenario, "audience": name, "customers": aud.size(), "rules": "；".join(aud.describe()["中文"])})
    return pd.DataFrame(rows)


@share_docs
def new_product_launch(shop: Shop, new_product: str, *, related: Any = None, within: Any = "90D",
                       high_value_min: float | None = None, top: int = 3, as_of: Any = None) -> Recipe:
    """新品上新: buyers of B's top related products within the window who never bought B.

    ``related`` defaults to the top partners from :func:`crm_lab.assoc.related_products`. The
    audience splits into high-value (net amount in the window >= ``high_value_min``, default the
    audience's 80th percentile) and the rest, touched with different channels (rich SMS vs SMS).
    """
    if related is None:
        partners = assoc.related_products(shop, new_product, top=top, min_count=5)
        related = partners["partner"].tolist()
        explanation = partners
    else:
        related = as_list(related)
        explanation = pd.DataFrame({"product": new_product, "partner": related, "basis": "given"})
    if not related:
        raise ValueError(f"no related products for {new_product}: pass related=[...]")
    base = Audience(shop, as_of, f"new_product_{new_product}").bought(product=related, within=within).not_bought(product=new_product)
    if high_value_min is None:
        ids = base.customer_ids()
        s = summary.customer_summary(shop, as_of=base.as_of)
        high_value_min = float(np.floor(s.loc[s.index.intersection(ids), "net_amount"].quantile(0.8))) if len(ids) else 0.0
    high = base.min_net_amount(high_value_min)
    high = replace(high, name=f"{base.name}_high_value")
    rest = replace(base.minus(high), name=f"{base.name}_rest")
    return Recipe({"high_value": high, "rest": rest}, explanation.assign(high_value_min=high_value_min))


@share_docs
def sample_to_full_size(shop: Shop, sample_product: str, full_size_product: str | None = None, *,
                        rm_min_net_amount: float | None = None, as_of: Any = None) -> Recipe:
    """派样→正装: bought the sample, never the full-size product (from ``products.sample_of``).

    Parameters
    ----------
    {shop}
    sample_product, full_size_product : str
        The sample's product id; its full-size product (default: the sample's ``sample_of``).
    rm_min_net_amount : float, optional
        Keep only customers with at least this net amount.
    {as_of}
    """
    if full_size_product is None:
        match = products(shop)["sample_of"].reindex([sample_product]).dropna()
        if match.empty:
            raise ValueError(f"{sample_product} is not a sample (products.sample_of is empty): pass full_size_product=")
        full_size_product = str(match.iloc[0])
    aud = Audience(shop, as_of, f"sample_{sample_product}").bought(product=sample_product).not_bought(product=full_size_product)
    if rm_min_net_amount is not None:
        aud = aud.min_net_amount(rm_min_net_amount)
    return Recipe({"sample_not_full_size": aud}, pd.DataFrame({"sample": [sample_product], "full_size": [full_size_product]}))


@share_docs
def influencer_new_customers(shop: Shop, influencer_ids: Any, *, within: Any = "90D", as_of: Any = None,
                             top_products: int = 3, top_partners: int = 3) -> Recipe:
    """达人新客→复购: customers whose first order ever came through these influencers in the window.

    The explanation table lists what to offer them: the related products (:mod:`crm_lab.assoc`)
    of the ``top_products`` products they bought most.

    Parameters
    ----------
    {shop}
    influencer_ids : str or list of str
        Influencer ids or names (达人).
    {within}
    {as_of}
    """
    infl = as_list(influencer_ids)
    base = Audience(shop, as_of, "influencer_new_customers")

    def first_via(a: Audience) -> nw.LazyFrame:
        orders = orders_in(a)
        via = (at_first_payment(orders)
               .filter(nw.col("influencer_id").is_in(infl) | nw.col("influencer_name").is_in(infl))
               .filter(nw.col("paid_at") >= engine.timestamp(a._window_start(within), orders)))
        return via.select("customer_id").unique()

    span_zh, span_en = _span(within)
    aud = base._add(True, f"{span_zh}经达人 {', '.join(infl)} 首购的新客", f"first order ever via {', '.join(infl)} {span_en}", first_via)
    return Recipe({"new_via_influencer": aud}, _recommendations(shop, aud, top_products, top_partners))


def _recommendations(shop: Shop, aud: Audience, top_products: int, top_partners: int) -> pd.DataFrame:
    """What to offer an audience next: related products (crm_lab.assoc) of what it bought most."""
    lines = engine.lazy(shop.orders).join(_ids_where(shop, aud.customer_ids()), on="customer_id", how="semi")
    counts = engine.collect(lines.group_by("product_id").agg(nw.len().alias("lines")))
    bought = (counts.sort_values(["lines", "product_id"], ascending=[False, True], kind="stable")
              .set_index("product_id")["lines"].head(top_products))
    prebuilt = assoc.baskets(shop) if len(bought) else None  # one scan of the orders for every product
    frames = []
    for product, buyers in bought.items():
        partners = assoc.related_products(shop, product, top=top_partners, min_count=5, prebuilt=prebuilt)
        frames.append(partners.assign(audience_buyers=int(buyers)))
    columns = ["product", "partner", "count", "lift", "lift_shrunk", "audience_buyers"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


@share_docs
def new_member_first_purchase(shop: Shop, *, joined_within: Any = "1D", as_of: Any = None) -> Recipe:
    """新客首购: members who joined in the window and never bought (meant to run daily).

    Parameters
    ----------
    {shop}
    joined_within : window
        Joined within this window before ``as_of`` ('1D': today's new members).
    {as_of}
    """
    aud = Audience(shop, as_of, "new_member_first_purchase").member(joined_within=joined_within).not_bought()
    return Recipe({"new_members": aud}, pd.DataFrame({"joined_within": [str(window_length(joined_within))]}))


@share_docs
def high_potential(shop: Shop, *, live_view_within: Any = "30D", add_to_cart_within: Any = "30D",
                   not_bought_within: Any = "30D", as_of: Any = None) -> Recipe:
    """高潜人群: watched a live stream or added to cart recently, and did not buy in the window.

    The explanation counts the audience by signal: live view only, add to cart only, both.
    """
    live = Audience(shop, as_of, "live_viewers").event("live_view", within=live_view_within)
    cart = Audience(shop, as_of, "cart").event("add_to_cart", within=add_to_cart_within)
    aud = replace(live.union(cart).not_bought(within=not_bought_within), name="high_potential")
    ids = set(aud.customer_ids())
    watched = ids & set(live.customer_ids())
    carted = ids & set(cart.customer_ids())
    explanation = pd.DataFrame({
        "signal": ["live_view_only", "add_to_cart_only", "both"],
        "信号": ["只看直播", "只加购", "看直播且加购"],
        "customers": [len(watched - carted), len(carted - watched), len(watched & carted)],
    })
    explanation = explanation.assign(live_view_within=str(live_view_within), add_to_cart_within=str(add_to_cart_within),
                                     not_bought_within=str(not_bought_within))
    return Recipe({"high_potential": aud}, explanation)


@share_docs
def rf_core(shop: Shop, as_of: Any, r_min: int = 3, f_min: int = 2, m_min: int | None = None, exclude_new: bool = True) -> Audience:
    """RF 核心格: customers scored as of ``as_of`` with r_score >= ``r_min`` and f_score >= ``f_min``
    (and m_score >= ``m_min``); ``exclude_new`` leaves out one-time buyers.

    Examples
    --------
    >>> import crm_lab as cl
    >>> core = cl.recipes.rf_core(cl.datasets.make_shop(2_000, seed=1), "2025-10-19")
    >>> core.size() > 0
    True
    """
    scored = rfm.score(summary.customer_summary(shop, as_of=as_of))
    keep = (scored["r_score"] >= r_min) & (scored["f_score"] >= f_min)
    if m_min is not None:
        keep &= scored["m_score"] >= m_min
    core = scored.index[keep]
    if exclude_new:
        core = core[scored.loc[core, "frequency"] >= 1]
    return Audience.from_ids(shop, core, pd.Timestamp(as_of), "wave1", f"RF 核心格 (R>={r_min}, F>={f_min})",
                             f"RF core cells (R>={r_min}, F>={f_min})")


def promotion_waves(shop: Shop, event_start: Any, wave2_at: Any = None, r_min: int = 3, f_min: int = 2,
                    m_min: int | None = None, exclude_new: bool = True, exclude_recent_buyers: Any = "14D",
                    wave1: Audience | None = None) -> Recipe:
    """大促两波: wave 1 from the RF core cells before the event; wave 2 = wave-1 non-buyers and refunders.

    Wave 1 is scored as of the day before ``event_start``: RFM r_score >= ``r_min`` and f_score >=
    ``f_min`` (the RF core cells; add ``m_min`` for RM cells, scored on net amounts), without
    customers who bought in the ``exclude_recent_buyers`` window. Pass ``wave1`` to use another
    first wave instead (e.g. :attr:`crm_lab.campaign.GapResult.wave1`, the cells that must close a gap).
    Wave 2, as of ``wave2_at``: wave-1 customers with no order since ``event_start`` that kept its
    value (a fully refunded order does not count as buying), plus wave-1 customers who refunded.
    Without ``wave2_at`` (before the event) the recipe holds wave 1 only.

    Raises
    ------
    ValueError
        If ``wave2_at`` is after the data end: wave 2 needs the orders up to its day.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.datasets.make_shop(2_000, seed=1)
    >>> r = cl.audience.promotion_waves(shop, "2025-10-20", "2025-11-08")
    >>> set(r.audiences["wave2"].customer_ids()) <= set(r.audiences["wave1"].customer_ids())
    True
    """
    start = pd.Timestamp(event_start)
    before = start - pd.Timedelta(days=1)
    if wave2_at is not None and shop.as_of is not None and pd.Timestamp(wave2_at).normalize() > pd.Timestamp(shop.as_of).normalize():
        raise ValueError(f"wave 2 is selected as of {pd.Timestamp(wave2_at):%Y-%m-%d} but the data ends {pd.Timestamp(shop.as_of):%Y-%m-%d}. "
                         "Fix: run wave 2 once the orders up to that day are loaded; before that, "
                         "crm_lab.campaign.GapResult.touch_plan forecasts its size.")
    if wave1 is None:
        wave1 = rf_core(shop, before, r_min=r_min, f_min=f_min, m_min=m_min, exclude_new=exclude_new)
        if exclude_recent_buyers is not None:
            wave1 = wave1.not_bought(within=exclude_recent_buyers)
    wave1_ids = wave1.customer_ids()
    if wave2_at is None:
        return Recipe({"wave1": wave1}, pd.DataFrame({"wave": ["wave1"], "as_of": [wave1.as_of], "customers": [len(wave1_ids)],
                                                      "bought_since_start": [np.nan], "refunded": [np.nan]}))
    bought, refunded = _bought_since(shop, wave1_ids, start, wave2_at)
    wave2_ids = sorted((set(wave1_ids) - bought) | refunded)
    wave2 = Audience.from_ids(shop, wave2_ids, pd.Timestamp(wave2_at), "wave2", "第一波未购买（含退款）",
                              "wave-1 customers who did not buy since the event started, or refunded")
    explanation = pd.DataFrame({"wave": ["wave1", "wave2"], "as_of": [wave1.as_of, pd.Timestamp(wave2_at)],
                                "customers": [len(wave1_ids), len(wave2_ids)],
                                "bought_since_start": [np.nan, len(bought)], "refunded": [np.nan, len(refunded)]})
    return Recipe({"wave1": wave1, "wave2": wave2}, explanation)


def _bought_since(shop: Shop, ids: pd.Series, start: pd.Timestamp, until: Any) -> tuple[set[str], set[str]]:
    """Of ``ids``: who bought something kept, and who had a refund, from ``start`` to ``until``'s day end."""
    orders = engine.lazy(shop.orders)
    end = observation_end(pd.Timestamp(until))
    since = engine.between(orders, "paid_at", start, end)
    since = since.join(_ids_where(shop, ids), on="customer_id", how="semi")
    since = since.with_columns(kept=net_amount())
    lines = engine.collect(since.select("customer_id", "kept", "refund_amount"))
    return set(lines.loc[lines["kept"] > 0, "customer_id"]), set(lines.loc[lines["refund_amount"].fillna(0) > 0, "customer_id"])


#: The scenario recipes by name (``crm-lab audience <name>``).
RECIPES: dict[str, Callable[..., Recipe]] = {
    "new_product_launch": new_product_launch,
    "promotion_waves": promotion_waves,
    "sample_to_full_size": sample_to_full_size,
    "influencer_new_customers": influencer_new_customers,
    "new_member_first_purchase": new_member_first_purchase,
    "high_potential": high_potential,
}
