"""The per-customer summary every analysis starts from.

One row per customer with what was bought, refunded and when, on net (refund-adjusted) amounts,
plus the inputs of BG/NBD and Gamma-Gamma exactly as ``lifetimes`` defines them.

The relational part (three group-bys and two joins over the order lines) runs where the orders
are (DuckDB by default, or the user's pandas / Polars / PySpark frame); only the one-row-per-
customer result comes back to pandas, where the date arithmetic is done.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(n_customers=1_000, seed=1)
>>> s = cl.summary.customer_summary(shop, as_of="2025-11-01")
>>> {"frequency", "recency", "T", "monetary_value", "net_amount"} <= set(s.columns)
True
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import engine
from crm_lab.data import Shop

__all__ = ["customer_summary", "SUMMARY_COLUMNS"]

#: Columns of :func:`customer_summary`, in order, with their meaning.
SUMMARY_COLUMNS = {
    "first_order_at": "time of the first paid order",
    "last_order_at": "time of the last paid order",
    "orders": "distinct paid orders (order_id)",
    "purchase_days": "distinct days with a paid order",
    "items": "units bought (sum of quantity)",
    "items_per_order": "items / orders",
    "gross_amount": "paid amount before refunds (GMV)",
    "refund_amount": "amount refunded",
    "refund_orders": "orders with at least one refunded line",
    "net_amount": "gross_amount - refund_amount (有效金额)",
    "aov": "net_amount / orders (客单价)",
    "recency_days": "whole days from the last order's day to as_of's day",
    "frequency": "BG/NBD: repeat purchase days (purchase_days - 1)",
    "recency": "BG/NBD: days from the first to the last purchase day",
    "T": "BG/NBD: days from the first purchase day to as_of's day",
    "monetary_value": "Gamma-Gamma: mean net amount of the repeat purchase days (0 without repeats)",
}


def _orders_of(source: Any) -> Any:
    if isinstance(source, Shop):
        return source.orders, source.as_of
    return source, None


def customer_summary(source: Any, as_of: Any = None) -> pd.DataFrame:
    """One row per customer: orders, amounts (net of refunds), recency and BG/NBD inputs.

    Parameters
    ----------
    source : Shop, path, or frame of canonical orders
        Orders may be a pandas, Polars, DuckDB or PySpark frame, or a Parquet/CSV path (read
        lazily by DuckDB).
    as_of : date-like, optional
        The moment of observation: orders paid at or before it count (a date means its 00:00).
        Defaults to the shop's ``as_of``, else to the last payment time. ``T`` and ``recency_days``
        count whole days to as_of's day, and orders of one day merge into one purchase, as
        ``lifetimes.utils.summary_data_from_transaction_data`` does.

    Returns
    -------
    pandas.DataFrame indexed by ``customer_id`` (sorted) with :data:`SUMMARY_COLUMNS`.

    Notes
    -----
    Refunds count at their line whenever they happened (the export's current state); amounts are
    in the orders' currency. ``monetary_value`` uses net amounts, so refunds lower a customer's
    expected spend.

    Examples
    --------
    >>> import crm_lab as cl
    >>> orders = cl.datasets.load_cdnow()
    >>> s = cl.summary.customer_summary(orders, as_of="1998-06-30")
    >>> int(s["frequency"].sum())
    1997
    """
    orders, shop_as_of = _orders_of(source)
    lf = engine.lazy(orders)
    missing = {"order_id", "customer_id", "paid_at", "paid_amount"} - set(lf.collect_schema().names())
    if missing:
        raise ValueError(
            f"orders: column(s) {sorted(missing)} missing for the customer summary. "
            "Fix: read the data with crm_lab.data.read_orders (which maps exports to canonical columns)."
        )
    names = set(lf.collect_schema().names())
    if as_of is None:
        as_of = shop_as_of
    if as_of is None:
        as_of = engine.collect(lf.select(nw.col("paid_at").max()))["paid_at"].iloc[0]
    as_of = pd.Timestamp(as_of)
    refund = nw.col("refund_amount").fill_null(0.0) if "refund_amount" in names else nw.lit(0.0)
    quantity = nw.col("quantity") if "quantity" in names else nw.lit(1)

    lines = lf.filter(nw.col("paid_at") <= nw.lit(as_of.to_pydatetime())).select(
        "customer_id",
        "order_id",
        "paid_at",
        nw.col("paid_at").dt.truncate("1d").alias("day"),
        nw.col("paid_amount").cast(nw.Float64()).alias("gross"),
        refund.cast(nw.Float64()).alias("refund"),
        quantity.cast(nw.Int64()).alias("items"),
    )
    # Aggregations stay simple (one column, one function): pandas then runs them natively
    # instead of falling back to a per-group Python apply.
    per_order = (
        lines.group_by("customer_id", "order_id")
        .agg(
            nw.col("paid_at").min(),
            nw.col("day").min(),
            nw.col("gross").sum(),
            nw.col("refund").sum(),
            nw.col("items").sum(),
        )
        .with_columns(
            net=nw.col("gross") - nw.col("refund"),
            refunded=(nw.col("refund") > 0).cast(nw.Int64()),
            first_order_at=nw.col("paid_at"),
            last_order_at=nw.col("paid_at"),
        )
    )
    per_day = per_order.group_by("customer_id", "day").agg(nw.col("net").sum().alias("day_net"))
    per_customer = per_order.group_by("customer_id").agg(
        nw.col("first_order_at").min(),
        nw.col("last_order_at").max(),
        nw.len().alias("orders"),
        nw.col("items").sum(),
        nw.col("gross").sum().alias("gross_amount"),
        nw.col("refund").sum().alias("refund_amount"),
        nw.col("refunded").sum().alias("refund_orders"),
    )
    days = (
        per_day.with_columns(first_day=nw.col("day"), last_day=nw.col("day"))
        .group_by("customer_id")
        .agg(nw.len().alias("purchase_days"), nw.col("first_day").min(), nw.col("last_day").max())
    )
    first_day_net = (
        per_day.join(days.select("customer_id", "first_day"), on="customer_id")
        .filter(nw.col("day") == nw.col("first_day"))
        .select("customer_id", nw.col("day_net").alias("first_day_net"))
    )
    result = per_customer.join(days, on="customer_id").join(first_day_net, on="customer_id")
    df = engine.collect(result)
    return _finish(df, as_of)


def _finish(df: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Date arithmetic and derived columns on the collected one-row-per-customer table."""
    df["customer_id"] = df["customer_id"].astype("str")
    df = df.sort_values("customer_id").set_index("customer_id")
    for col in ("first_order_at", "last_order_at", "first_day", "last_day"):
        df[col] = pd.to_datetime(df[col]).astype("datetime64[us]")
    end_day = as_of.normalize()
    one_day = np.timedelta64(1, "D")
    out = pd.DataFrame(index=df.index)
    out["first_order_at"] = df["first_order_at"]
    out["last_order_at"] = df["last_order_at"]
    out["orders"] = df["orders"].astype("int64")
    out["purchase_days"] = df["purchase_days"].astype("int64")
    out["items"] = df["items"].astype("int64")
    out["items_per_order"] = out["items"] / out["orders"]
    out["gross_amount"] = df["gross_amount"].astype("float64")
    out["refund_amount"] = df["refund_amount"].astype("float64")
    out["refund_orders"] = df["refund_orders"].astype("int64")
    out["net_amount"] = out["gross_amount"] - out["refund_amount"]
    out["aov"] = out["net_amount"] / out["orders"]
    out["recency_days"] = ((end_day - df["last_day"]) / one_day).astype("int64")
    out["frequency"] = (out["purchase_days"] - 1).astype("float64")
    out["recency"] = ((df["last_day"] - df["first_day"]) / one_day).astype("float64")
    out["T"] = ((end_day - df["first_day"]) / one_day).astype("float64")
    repeat_net = out["net_amount"] - df["first_day_net"].astype("float64")
    out["monetary_value"] = (repeat_net / out["frequency"].where(out["frequency"] > 0)).fillna(0.0)
    out.index.name = "customer_id"
    out.attrs["as_of"] = as_of
    return out
