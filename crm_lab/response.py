"""Campaign response: who ordered within 24 hours and 7 days of a touch (24小时召回 / 7天响应).

:func:`response` joins a campaign's touches to the orders paid after each touch, where the data
lives, and returns one row per touched customer (treatment and control alike: a control row's
``sent_at`` is the moment it would have been sent). Feed it to :func:`crm_lab.uplift.test`.

Attribution, stated: an order counts for a touch when it is paid in ``(sent_at, sent_at + window]``;
amounts are net of refunds. A customer touched by several campaigns has each campaign count the
orders in its own windows (overlaps are counted per touch in ``other_touches``), unless
``exclusive=True``, where an order counts only for the latest touch of any campaign before it.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(3_000, seed=1)
>>> r = cl.campaign.response(shop, "d11_2025_wave1")
>>> {"responded_24h", "responded_7d", "net_7d"} <= set(r.columns)
True
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import pandas as pd

from crm_lab import engine, summary
from crm_lab.data import OWN_SALES, Shop, net_amount, window_length

__all__ = ["response", "window_label", "payment_reminder_response", "influencer_genre", "responder_products", "touch_features"]


def window_label(window: str) -> str:
    """'24h' -> '24h', '7D' -> '7d' (column suffixes)."""
    return str(window).strip().lower()


def response(shop: Shop, campaign_id: str, windows: tuple[str, ...] = ("24h", "7D"), exclusive: bool = False,
             partial: bool = False) -> pd.DataFrame:
    """Per touched customer: responded, orders and net amount within each window after the touch.

    Parameters
    ----------
    partial : bool
        For a report that runs while the windows are still open (a daily report): count what the
        data hold so far instead of refusing. ``attrs["final"]`` is then False and
        ``attrs["observed_until"]`` the data's end; pass ``final=`` on to
        :func:`crm_lab.uplift.test` for intervals valid at every look.

    Returns
    -------
    pandas.DataFrame, one row per touch: ``customer_id, group, sent_at, cost``, segment-free, and
    for each window ``responded_<w>`` (0/1), ``orders_<w>``, ``net_<w>``; ``other_touches``, the
    customer's touches by other campaigns within the longest window before or after this one
    (their orders may count for both).

    Raises
    ------
    ValueError
        Unknown campaign, or (unless ``partial``) a window that reaches past the data's end.
    """
    if shop.touches is None:
        raise ValueError("response: the shop has no touches table")
    touches_lf = engine.lazy(shop.touches)
    touches = engine.collect(touches_lf.filter(nw.col("campaign_id") == campaign_id))
    if touches.empty:
        known = sorted(engine.collect(touches_lf.select("campaign_id").unique())["campaign_id"])
        raise ValueError(f"no touches for campaign {campaign_id!r}; campaigns: {known}")
    longest = max(window_length(w) for w in windows)
    open_window = shop.as_of is not None and touches["sent_at"].max() + longest > pd.Timestamp(shop.as_of) + pd.Timedelta(days=1)
    if open_window and not partial:
        raise ValueError(f"campaign {campaign_id}: the {longest} window after the last touch ({touches['sent_at'].max()}) "
                         f"reaches past the data's end ({pd.Timestamp(shop.as_of).date()}); responses would be undercounted. "
                         "Fix: response(..., partial=True) for an interim look")
    sent = engine.like(shop.orders, touches[["touch_id", "customer_id", "sent_at"]])
    # The lines observed as of the shop's as_of (nothing after it, also when the orders go on).
    lines = summary.order_lines(shop)[0].select("customer_id", "order_id", "paid_at", "net")
    joined = lines.join(sent, on="customer_id").filter(
        (nw.col("paid_at") > nw.col("sent_at")) & (nw.col("paid_at") <= nw.col("sent_at") + longest.to_pytimedelta())
    )
    hits = engine.collect(joined.select("touch_id", "customer_id", "order_id", "paid_at", "net"))
    if exclusive:
        touched = engine.like(shop.touches, touches[["customer_id"]].drop_duplicates())
        all_touches = engine.collect(touches_lf.filter(nw.col("group") == "treatment").join(touched, on="customer_id", how="semi")
                                     .select("customer_id", "sent_at", "campaign_id"))
        latest = pd.merge_asof(hits.sort_values("paid_at"), all_touches.sort_values("sent_at").rename(columns={"sent_at": "latest_sent"}),
                               left_on="paid_at", right_on="latest_sent", by="customer_id", direction="backward", allow_exact_matches=False)
        hits = hits[(latest["campaign_id"].isna() | (latest["campaign_id"] == campaign_id)).to_numpy()]
    out = touches[["touch_id", "customer_id", "group", "sent_at", "cost"]].copy()
    hits = hits.merge(touches[["touch_id", "sent_at"]], on="touch_id")
    for w in windows:
        inside = hits[hits["paid_at"] <= hits["sent_at"] + window_length(w)]
        label = window_label(w)
        per = inside.groupby("touch_id").agg(orders=("order_id", "nunique"), net=("net", "sum"))
        out[f"orders_{label}"] = out["touch_id"].map(per["orders"]).fillna(0).astype("int64")
        out[f"net_{label}"] = out["touch_id"].map(per["net"]).fillna(0.0)
        out[f"responded_{label}"] = (out[f"orders_{label}"] > 0).astype("int64")
    out["other_touches"] = out["touch_id"].map(_other_touches(shop, touches, campaign_id, longest)).fillna(0).astype("int64")
    out = out.sort_values("customer_id", ignore_index=True)
    out.attrs["final"] = not open_window
    out.attrs["observed_until"] = None if shop.as_of is None else pd.Timestamp(shop.as_of)
    return out


def _other_touches(shop: Shop, touches: pd.DataFrame, campaign_id: str, longest: pd.Timedelta) -> pd.Series:
    """Per touch, the other campaigns' touches of the same customer within the longest window either side."""
    lf = engine.lazy(shop.touches)
    mine = engine.like(shop.touches, touches[["touch_id", "customer_id", "sent_at"]].rename(columns={"sent_at": "mine_at"}))
    span = longest.to_pytimedelta()
    near = engine.collect(
        lf.filter(nw.col("campaign_id") != campaign_id).select("customer_id", nw.col("sent_at").alias("other_at"))
        .join(mine, on="customer_id")
        .filter((nw.col("other_at") >= nw.col("mine_at") - span) & (nw.col("other_at") <= nw.col("mine_at") + span))
        .group_by("touch_id").agg(nw.len().alias("other_touches"))
    )
    return near.set_index("touch_id")["other_touches"]


def payment_reminder_response(shop: Shop, campaign_id: str, windows: tuple[str, ...] = ("24h",),
                              created_within: str = "3D") -> pd.DataFrame:
    """催付: did customers pay their unpaid orders within the window after the reminder?

    The population is each touched customer's unpaid orders created in the ``created_within``
    before the touch; an order responds when the same order id is paid in
    ``(sent_at, sent_at + window]``. Control rows (would-be send time) measure payment without
    a reminder.

    Returns
    -------
    pandas.DataFrame, one row per touch: ``customer_id, group, sent_at, cost, unpaid_orders`` and,
    per window, ``responded_<w>`` (any unpaid order paid) and ``paid_amount_<w>``.
    """
    if shop.unpaid_orders is None:
        raise ValueError("payment_reminder_response: the shop has no unpaid_orders table")
    touches = engine.collect(engine.lazy(shop.touches).filter(nw.col("campaign_id") == campaign_id))
    if touches.empty:
        raise ValueError(f"no touches for campaign {campaign_id!r}")
    sent = engine.like(shop.unpaid_orders, touches[["touch_id", "customer_id", "sent_at"]])
    pending = engine.collect(
        engine.lazy(shop.unpaid_orders).select("order_id", "customer_id", "created_at").join(sent, on="customer_id")
        .filter((nw.col("created_at") <= nw.col("sent_at"))
                & (nw.col("created_at") > nw.col("sent_at") - window_length(created_within).to_pytimedelta()))
    )
    orders = engine.lazy(shop.orders)
    ids = engine.like(shop.orders, pending[["order_id"]].drop_duplicates())
    paid = engine.collect(orders.join(ids, on="order_id").select("order_id", "paid_at", "paid_amount"))
    paid = paid.groupby("order_id", as_index=False).agg(paid_at=("paid_at", "min"), paid_amount=("paid_amount", "sum"))
    pending = pending.merge(paid, on="order_id", how="left")
    out = touches[["touch_id", "customer_id", "group", "sent_at", "cost"]].copy()
    out["unpaid_orders"] = out["touch_id"].map(pending.groupby("touch_id")["order_id"].nunique()).fillna(0).astype("int64")
    for w in windows:
        ok = pending["paid_at"].notna() & (pending["paid_at"] > pending["sent_at"]) & (pending["paid_at"] <= pending["sent_at"] + window_length(w))
        per = pending[ok].groupby("touch_id")["paid_amount"].sum()
        label = window_label(w)
        out[f"paid_amount_{label}"] = out["touch_id"].map(per).fillna(0.0)
        out[f"responded_{label}"] = out["touch_id"].isin(per.index).astype("int64")
    return out[out["unpaid_orders"] > 0].sort_values("customer_id", ignore_index=True)


def influencer_genre(shop: Shop, *, since: Any = None, as_of: Any = None, freq: str = "1mo") -> tuple[pd.DataFrame, pd.DataFrame]:
    """达人 × 流量体裁: orders, buyers, net amount and refund rate per cell, and its trend per period.

    Returns
    -------
    (table, trend): ``table`` per influencer (``自营`` for the shop's own sales) and genre;
    ``trend`` the same per period (``freq``) for the influencer x genre cells.
    """
    keys = ["influencer_name", "traffic_genre"]
    table = summary.breakdown(shop, keys, as_of=as_of, since=since)
    table["influencer_name"] = table["influencer_name"].fillna(OWN_SALES)
    lines, _ = summary.order_lines(shop, as_of=as_of, keep=keys)  # the table's lines: as_of and since alike
    period = engine.collect(
        summary.after(lines, since).with_columns(period=nw.col("paid_at").dt.truncate(freq))
        .group_by("period", *keys, drop_null_keys=False)
        .agg(nw.col("net").sum().alias("net_amount"), nw.col("gross").sum().alias("gross_amount"),
             nw.col("refund").sum().alias("refund_amount"), nw.col("order_id").n_unique().alias("orders"))
    )
    period["influencer_name"] = period["influencer_name"].fillna(OWN_SALES)
    period["refund_rate"] = period["refund_amount"] / period["gross_amount"]
    return table, period.sort_values(["period", "net_amount"], ascending=[True, False], ignore_index=True)


def responder_products(shop: Shop, responses: pd.DataFrame, *, within: Any = "7D", top: int = 10) -> pd.DataFrame:
    """What responders bought in the window: buyers and net amount per product, treatment vs control.

    ``responses`` is :func:`response`'s output. The ``share`` columns are buyers over the arm's
    customers, so the arms compare despite their sizes.
    """
    orders = engine.lazy(shop.orders)
    sent = engine.like(shop.orders, responses[["customer_id", "group", "sent_at"]])
    lines = engine.collect(
        orders.join(sent, on="customer_id")
        .filter((nw.col("paid_at") > nw.col("sent_at")) & (nw.col("paid_at") <= nw.col("sent_at") + window_length(within).to_pytimedelta()))
        .select("customer_id", "group", "product_id", net_amount().alias("net"))
    )
    sizes = responses["group"].value_counts()
    per = lines.groupby(["product_id", "group"]).agg(buyers=("customer_id", "nunique"), net_amount=("net", "sum")).unstack("group", fill_value=0)
    per.columns = [f"{a}_{b}" for a, b in per.columns]
    for arm in sizes.index:
        if f"buyers_{arm}" in per:
            per[f"share_{arm}"] = per[f"buyers_{arm}"] / sizes[arm]
    key = "buyers_treatment" if "buyers_treatment" in per else per.columns[0]
    return per.sort_values(key, ascending=False).head(top).reset_index()


def touch_features(shop: Shop, responses: pd.DataFrame, lookback: str = "30D") -> pd.DataFrame:
    """Features of each touched customer as of the day before the send, for uplift models.

    Columns: ``recency_days, orders, purchase_days, net_amount, refund_orders`` (customer summary
    as of the day before the first send; zeros for customers who never bought), ``live_views`` and
    ``add_to_cart`` in the ``lookback`` before their send, and ``member``. Indexed like ``responses``.
    """
    as_of = (responses["sent_at"].min() - pd.Timedelta(days=1)).normalize()
    s = summary.customer_summary(shop, as_of=as_of)
    cols = ["recency_days", "orders", "purchase_days", "net_amount", "refund_orders"]
    feats = s.reindex(responses["customer_id"])[cols].fillna({"recency_days": 9_999}).fillna(0.0)
    feats.index = responses.index
    if shop.events is not None:
        events = engine.lazy(shop.events)
        sent = engine.like(shop.events, responses[["customer_id", "sent_at"]])
        recent = engine.collect(
            events.join(sent, on="customer_id")
            .filter((nw.col("at") < nw.col("sent_at")) & (nw.col("at") >= nw.col("sent_at") - window_length(lookback).to_pytimedelta()))
            .group_by("customer_id", "event").agg(nw.len().alias("n"))
        )
        wide = recent.pivot_table(index="customer_id", columns="event", values="n", aggfunc="sum", fill_value=0)
        for kind, name in (("live_view", "live_views"), ("add_to_cart", "add_to_cart")):
            counts = wide[kind] if kind in wide else pd.Series(dtype=float)
            feats[name] = responses["customer_id"].map(counts).fillna(0).to_numpy()
    if shop.members is not None:
        members = set(engine.collect(engine.lazy(shop.members).select("customer_id"))["customer_id"])
        feats["member"] = responses["customer_id"].isin(members).astype(int).to_numpy()
    return feats.astype("float64")
