"""Campaign response: who ordered within 24 hours and 7 days of a touch (24小时召回 / 7天响应).

:func:`response` joins a campaign's touches to the orders paid after each touch, where the data
lives, and returns one row per touched customer (treatment and control alike: a control row's
``sent_at`` is the moment it would have been sent). Feed it to :func:`crm_lab.uplift.test`.

Attribution, stated: an order counts for a touch when it is paid in ``(sent_at, sent_at + window]``;
amounts are net of refunds. A customer touched by several campaigns has each campaign count the
orders in its own windows (overlaps are reported in ``attrs["overlapping_touches"]``), unless
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

from crm_lab import engine
from crm_lab.data import Shop

__all__ = ["response", "window_label"]


def window_label(window: str) -> str:
    """'24h' -> '24h', '7D' -> '7d' (column suffixes)."""
    return str(window).strip().lower()


def _delta(window: str) -> pd.Timedelta:
    text = str(window).strip()
    if text[-1:] in ("D", "d"):
        return pd.Timedelta(days=float(text[:-1]))
    return pd.Timedelta(text)


def response(shop: Shop, campaign_id: str, windows: tuple[str, ...] = ("24h", "7D"), exclusive: bool = False) -> pd.DataFrame:
    """Per touched customer: responded, orders and net amount within each window after the touch.

    Returns
    -------
    pandas.DataFrame, one row per touch: ``customer_id, group, sent_at, cost``, segment-free, and
    for each window ``responded_<w>`` (0/1), ``orders_<w>``, ``net_<w>``.

    Raises
    ------
    ValueError
        Unknown campaign, or a window that reaches past the data's end.
    """
    if shop.touches is None:
        raise ValueError("response: the shop has no touches table")
    touches_lf = engine.lazy(shop.touches)
    touches = engine.collect(touches_lf.filter(nw.col("campaign_id") == campaign_id))
    if touches.empty:
        known = sorted(engine.collect(touches_lf.select("campaign_id").unique())["campaign_id"])
        raise ValueError(f"no touches for campaign {campaign_id!r}; campaigns: {known}")
    longest = max(_delta(w) for w in windows)
    if shop.as_of is not None and touches["sent_at"].max() + longest > pd.Timestamp(shop.as_of) + pd.Timedelta(days=1):
        raise ValueError(f"campaign {campaign_id}: the {longest} window after the last touch ({touches['sent_at'].max()}) "
                         f"reaches past the data's end ({pd.Timestamp(shop.as_of).date()}); responses would be undercounted")
    orders = engine.lazy(shop.orders)
    sent = engine.like(shop.orders, touches[["touch_id", "customer_id", "sent_at"]])
    lines = orders.select("customer_id", "order_id", "paid_at", (nw.col("paid_amount") - nw.col("refund_amount").fill_null(0.0)).alias("net"))
    joined = lines.join(sent, on="customer_id").filter(
        (nw.col("paid_at") > nw.col("sent_at")) & (nw.col("paid_at") <= nw.col("sent_at") + longest.to_pytimedelta())
    )
    hits = engine.collect(joined.select("touch_id", "customer_id", "order_id", "paid_at", "net"))
    if exclusive:
        all_touches = engine.collect(touches_lf.filter(nw.col("group") == "treatment").select("customer_id", "sent_at", "campaign_id"))
        latest = pd.merge_asof(hits.sort_values("paid_at"), all_touches.sort_values("sent_at").rename(columns={"sent_at": "latest_sent"}),
                               left_on="paid_at", right_on="latest_sent", by="customer_id", direction="backward", allow_exact_matches=False)
        hits = hits[(latest["campaign_id"].isna() | (latest["campaign_id"] == campaign_id)).to_numpy()]
    out = touches[["touch_id", "customer_id", "group", "sent_at", "cost"]].copy()
    hits = hits.merge(touches[["touch_id", "sent_at"]], on="touch_id")
    for w in windows:
        inside = hits[hits["paid_at"] <= hits["sent_at"] + _delta(w)]
        label = window_label(w)
        per = inside.groupby("touch_id").agg(orders=("order_id", "nunique"), net=("net", "sum"))
        out[f"orders_{label}"] = out["touch_id"].map(per["orders"]).fillna(0).astype("int64")
        out[f"net_{label}"] = out["touch_id"].map(per["net"]).fillna(0.0)
        out[f"responded_{label}"] = (out[f"orders_{label}"] > 0).astype("int64")
    other = engine.collect(touches_lf.filter(nw.col("campaign_id") != campaign_id).select("customer_id", "sent_at"))
    near = other.merge(touches[["customer_id", "sent_at"]], on="customer_id", suffixes=("_other", ""))
    overlapping = int(((near["sent_at_other"] - near["sent_at"]).abs() <= longest).sum())
    out.attrs.update({"campaign_id": campaign_id, "windows": list(windows), "overlapping_touches": overlapping,
                      "attribution": "latest touch only" if exclusive else "every touch counts the orders in its own window"})
    return out.sort_values("customer_id", ignore_index=True)
