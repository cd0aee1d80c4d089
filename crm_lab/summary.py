"""The per-customer summary every analysis starts from.

One row per customer with what was bought, refunded and when, on net (refund-adjusted) amounts,
plus the inputs of BG/NBD and Gamma-Gamma exactly as ``lifetimes`` defines them.

The relational part (three group-bys over the order lines; on pandas and Polars one join more) runs where the orders
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

from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import engine
from crm_lab._docs import share_docs
from crm_lab.data import observation_end, orders_of, required_table
from crm_lab.results import Result

__all__ = ["customer_summary", "order_lines", "period_summary", "breakdown", "pivot", "PIVOT_DIMENSIONS", "PIVOT_VALUES", "shop_kpis",
           "shop_overview", "ShopOverview", "SUMMARY_COLUMNS"]

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
    "frequency": "BG/NBD: repeat purchase days (kept purchase days - 1; a day whose orders were all refunded to 0 is no purchase)",
    "recency": "BG/NBD: days from the first to the last kept purchase day",
    "T": "BG/NBD: days from the first kept purchase day (else the first order day) to as_of's day",
    "monetary_value": "Gamma-Gamma: mean net amount of the repeat kept purchase days (0 without repeats)",
}


def order_lines(source: Any, *, as_of: Any = None, keep: list[str] | None = None) -> tuple[nw.LazyFrame, pd.Timestamp]:
    """Order lines observed as of ``as_of``, lazily where they live, with ``day, gross, refund, net, items``.

    The first step of every per-customer analysis: lines paid before ``as_of``'s end (see
    :func:`crm_lab.data.observation_end`; default the shop's ``as_of``, else the last payment),
    refunds filled with 0. Only ``customer_id, order_id, paid_at, paid_amount, refund_amount,
    quantity`` and the columns in ``keep`` are carried along.

    Returns
    -------
    (narwhals.LazyFrame, pandas.Timestamp): the lines and the ``as_of`` used.

    Examples
    --------
    >>> import crm_lab as cl
    >>> lines, as_of = cl.summary.order_lines(cl.datasets.make_shop(300, seed=1), keep=["product_id"])
    >>> {"net", "product_id"} <= set(lines.collect_schema().names())
    True
    """
    orders, shop_as_of = orders_of(source)
    lf = engine.lazy(orders)
    names = set(lf.collect_schema().names())
    missing = {"order_id", "customer_id", "paid_at", "paid_amount"} - names
    if missing:
        raise ValueError(
            f"orders: column(s) {sorted(missing)} missing. "
            "Fix: read the data with crm_lab.data.read_orders (which maps exports to canonical columns)."
        )
    if as_of is None:
        as_of = shop_as_of
    if as_of is None:
        as_of = engine.collect(lf.select(nw.col("paid_at").max()))["paid_at"].iloc[0]
    as_of = pd.Timestamp(as_of)
    refund = nw.col("refund_amount").fill_null(0.0) if "refund_amount" in names else nw.lit(0.0)
    quantity = nw.col("quantity") if "quantity" in names else nw.lit(1)
    # Select the columns used before anything else: not every engine prunes them through the
    # generated query, and a scan of unused text columns (line ids, SKUs) dominates the cost.
    used = ["customer_id", "order_id", "paid_at", "paid_amount", "refund_amount", "quantity", *(keep or ())]
    lf = lf.select(*dict.fromkeys(c for c in used if c in names))
    lines = lf.filter(nw.col("paid_at") < engine.timestamp(observation_end(as_of), lf)).with_columns(
        nw.col("paid_at").dt.truncate("1d").alias("day"),
        nw.col("paid_amount").cast(nw.Float64()).alias("gross"),
        refund.cast(nw.Float64()).alias("refund"),
        quantity.cast(nw.Int64()).alias("items"),
    ).with_columns(net=nw.col("gross") - nw.col("refund"))
    return lines, as_of


def after(lines: nw.LazyFrame, since: Any) -> nw.LazyFrame:
    """Lines paid after ``since``'s day (the day excluded: ``since = as_of - 365 days`` keeps exactly
    365 days); all of them when ``since`` is None. The one meaning of ``since`` in crm_lab."""
    if since is None:
        return lines
    return lines.filter(nw.col("paid_at") >= engine.timestamp(observation_end(since), lines))


@share_docs
def customer_summary(source: Any, *, as_of: Any = None) -> pd.DataFrame:
    """One row per customer: orders, amounts (net of refunds), recency and BG/NBD inputs.

    Parameters
    ----------
    source : Shop, path, or frame of canonical orders
        Orders may be a pandas, Polars, DuckDB or PySpark frame, or a Parquet/CSV path (read
        lazily by DuckDB).
    as_of : date-like, optional
        The moment of observation. A date includes its whole day (as lifetimes'
        ``observation_period_end``); a timestamp with a time of day includes orders paid up to
        that moment. Defaults to the shop's ``as_of``, else to the last payment time. ``T`` and
        ``recency_days`` count whole days to as_of's day, and orders of one day merge into one
        purchase, as ``lifetimes.utils.summary_data_from_transaction_data`` does.

    Returns
    -------
    pandas.DataFrame indexed by ``customer_id`` (sorted) with :data:`SUMMARY_COLUMNS`.

    Notes
    -----
    Refunds count at their line whenever they happened (the export's current state); amounts are
    in the orders' currency. ``monetary_value`` uses net amounts, so refunds lower a customer's
    expected spend. For the purchase models a day whose orders were all refunded is no purchase:
    ``frequency``, ``recency`` and ``T`` count kept days (not refunded to nothing) only, so a refunded order
    is neither a repeat purchase in BG/NBD nor a value in Gamma-Gamma.

    Examples
    --------
    >>> import crm_lab as cl
    >>> orders = cl.datasets.load_cdnow()
    >>> s = cl.summary.customer_summary(orders, as_of="1998-06-30")
    >>> len(s), int(s["frequency"].sum())  # the 1/10 sample's 2,357 customers
    (2357, 4339)
    """
    lines, as_of = order_lines(source, as_of=as_of)
    per_day = _purchase_days(lines.select("customer_id", "order_id", "paid_at", "gross", "refund", "items"))
    if per_day.implementation.is_duckdb():
        return _finish(engine.collect(_customers_duckdb(per_day)), as_of, sorted_ids=True)
    if per_day.implementation.is_pyspark():
        return _finish(engine.collect(_customers_spark(per_day)), as_of)
    with engine.checkpoints() as keep:
        df = engine.collect(_customers(keep(per_day)))
    return _finish(df, as_of)


def _purchase_days(lines: nw.LazyFrame) -> nw.LazyFrame:
    """Lines -> orders -> one row per customer and day, with ``kept``: the day is a purchase for
    the purchase models (not refunded down to nothing; a 0-amount order without refund still counts,
    as in lifetimes' CDNOW), ``kept_day`` and ``kept_net`` (0 on a day that is not kept)."""
    # Aggregations stay simple (one column, one function): pandas runs them natively.
    # The order's day from its first payment after grouping (the same as the first line's day,
    # truncation being monotonic): one column less in the largest hash table.
    per_order = (
        lines.group_by("customer_id", "order_id")
        .agg(
            nw.col("paid_at").min(),
            nw.col("gross").sum(),
            nw.col("refund").sum(),
            nw.col("items").sum(),
        )
        .with_columns(
            day=nw.col("paid_at").dt.truncate("1d"),
            net=nw.col("gross") - nw.col("refund"),
            refunded=(nw.col("refund") > 0).cast(nw.Int64()),
        )
    )
    per_day = per_order.group_by("customer_id", "day").agg(
        nw.col("net").sum().alias("day_net"),
        nw.len().alias("orders"),
        nw.col("gross").sum(),
        nw.col("refund").sum(),
        nw.col("items").sum(),
        nw.col("refunded").sum(),
        nw.col("paid_at").min().alias("first_order_at"),
        nw.col("paid_at").max().alias("last_order_at"),
    )
    kept = (nw.col("day_net") > 0) | (nw.col("refund") <= 0)
    return per_day.with_columns(
        kept=kept.cast(nw.Int64()),
        kept_day=nw.when(kept).then(nw.col("day")),
        kept_net=nw.when(kept).then(nw.col("day_net")).otherwise(0.0),
    )


#: The customer aggregate: (output column, aggregate function, purchase-day column).
_CUSTOMER_AGGREGATES = (
    ("first_order_at", "min", "first_order_at"),
    ("last_order_at", "max", "last_order_at"),
    ("orders", "sum", "orders"),
    ("purchase_days", "count", "day"),
    ("items", "sum", "items"),
    ("gross_amount", "sum", "gross"),
    ("refund_amount", "sum", "refund"),
    ("refund_orders", "sum", "refunded"),
    ("first_day", "min", "day"),
    ("last_day", "max", "day"),
    ("kept_days", "sum", "kept"),
    ("first_kept_day", "min", "kept_day"),
    ("last_kept_day", "max", "kept_day"),
    ("kept_net", "sum", "kept_net"),
)


def _customers(per_day: nw.LazyFrame) -> nw.LazyFrame:
    """Purchase days (kept: used twice) -> customers, on any engine: the first kept day's net
    amount through a join with each customer's first kept day."""
    first_days = per_day.group_by("customer_id").agg(nw.col("kept_day").min().alias("first_kept_day"))
    per_day = per_day.join(first_days, on="customer_id", how="left").with_columns(
        first_kept_net=nw.when(nw.col("day") == nw.col("first_kept_day")).then(nw.col("day_net")).otherwise(0.0),
    )
    aggregate = {"min": nw.Expr.min, "max": nw.Expr.max, "sum": nw.Expr.sum, "count": nw.Expr.count}
    return per_day.group_by("customer_id").agg(
        *(aggregate[how](nw.col(col)).alias(name) for name, how, col in _CUSTOMER_AGGREGATES),
        nw.col("first_kept_net").sum(),
    )


def _customers_duckdb(per_day: nw.LazyFrame) -> nw.LazyFrame:
    """Purchase days -> customers on DuckDB in one aggregate, the first kept day's net by
    ``arg_min`` (no kept table, no join: 10M lines 8.2 -> 6.7 s, bench/RESULTS.md), sorted by
    DuckDB's parallel sort rather than pandas' one-core sort of text ids after collecting."""
    # Integer sums as BIGINT: DuckDB's default HUGEINT would arrive as float64 to be converted back.
    integers = {"orders", "items", "refunded", "kept"}
    aggregates = ['"customer_id"', *(f'{how}("{col}"){"::BIGINT" if how == "sum" and col in integers else ""} AS "{name}"'
                                     for name, how, col in _CUSTOMER_AGGREGATES)]
    # arg_min skips the days that are not kept (kept_day NULL); days are unique per customer.
    aggregates.append('coalesce(arg_min("day_net", "kept_day"), 0.0) AS "first_kept_net"')
    relation = per_day.to_native().aggregate(", ".join(aggregates), '"customer_id"')
    return nw.from_native(relation.order('"customer_id"::VARCHAR'))  # the order of the ids as text


def _customers_spark(per_day: nw.LazyFrame) -> nw.LazyFrame:
    """Purchase days -> customers on Spark in one aggregate (one shuffle less than the join, no
    cached day table), the first kept day's net by ``min_by`` (which skips null orderings)."""
    from pyspark.sql import functions as F

    aggregate = {"min": F.min, "max": F.max, "sum": F.sum, "count": F.count}
    columns = [aggregate[how](col).alias(name) for name, how, col in _CUSTOMER_AGGREGATES]
    columns.append(F.coalesce(F.min_by("day_net", "kept_day"), F.lit(0.0)).alias("first_kept_net"))
    return nw.from_native(per_day.to_native().groupBy("customer_id").agg(*columns))


def _finish(df: pd.DataFrame, as_of: pd.Timestamp, *, sorted_ids: bool = False) -> pd.DataFrame:
    """Date arithmetic and derived columns on the collected one-row-per-customer table (its
    customer ids already in order when ``sorted_ids``)."""
    df["customer_id"] = df["customer_id"].astype("str")
    if not sorted_ids and not df["customer_id"].is_monotonic_increasing:
        df = df.sort_values("customer_id")
    df = df.set_index("customer_id")
    for col in ("first_order_at", "last_order_at", "first_day", "last_day", "first_kept_day", "last_kept_day"):
        if df[col].dtype != "datetime64[us]":
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
    # Purchase-model inputs from kept days; a customer who refunded everything is a one-time
    # buyer from the first order day.
    out["frequency"] = (df["kept_days"].astype("int64") - 1).clip(lower=0).astype("float64")
    out["recency"] = ((df["last_kept_day"] - df["first_kept_day"]) / one_day).fillna(0.0).astype("float64")
    out["T"] = ((end_day - df["first_kept_day"].fillna(df["first_day"])) / one_day).astype("float64")
    repeat_net = df["kept_net"].astype("float64") - df["first_kept_net"].astype("float64")
    out["monetary_value"] = (repeat_net / out["frequency"].where(out["frequency"] > 0)).fillna(0.0)
    out.index.name = "customer_id"
    out.attrs["as_of"] = as_of  # for the reader; crm_lab itself never relies on it
    return out


@share_docs
def period_summary(source: Any, freq: str = "1mo", *, as_of: Any = None, since: Any = None) -> pd.DataFrame:
    """Sales per period with new and returning buyers (新客 / 老客).

    Parameters
    ----------
    {source}
    {freq}
    {as_of}
    {since}
        A buyer is new in the period of their first order ever (also before ``since``); the
        first period may be cut by ``since``.

    Returns
    -------
    pandas.DataFrame, one row per period: ``period, orders, buyers, new_buyers,
    returning_buyers, gross_amount, refund_amount, net_amount, refund_rate, aov``.

    Examples
    --------
    >>> import crm_lab as cl
    >>> m = cl.summary.period_summary(cl.datasets.make_shop(500, seed=1))
    >>> bool((m["new_buyers"] + m["returning_buyers"] == m["buyers"]).all())
    True
    """
    lines, as_of = order_lines(source, as_of=as_of)
    lines = lines.with_columns(period=nw.col("paid_at").dt.truncate(freq))
    # New in the period of the first order ever, also when that is before ``since``.
    first = lines.group_by("customer_id").agg(nw.col("period").min().alias("first_period"))
    per_cust = after(lines, since).group_by("customer_id", "period").agg(
        nw.col("gross").sum(), nw.col("refund").sum(), nw.col("net").sum(), nw.col("order_id").n_unique().alias("orders")
    )
    tagged = per_cust.join(first, on="customer_id").with_columns(
        is_new=(nw.col("period") == nw.col("first_period")).cast(nw.Int64())
    )
    out = engine.collect(
        tagged.group_by("period").agg(
            nw.col("orders").sum(),
            nw.len().alias("buyers"),
            nw.col("is_new").sum().alias("new_buyers"),
            nw.col("gross").sum().alias("gross_amount"),
            nw.col("refund").sum().alias("refund_amount"),
            nw.col("net").sum().alias("net_amount"),
        )
    )
    out = out.sort_values("period", ignore_index=True)
    out["returning_buyers"] = out["buyers"] - out["new_buyers"]
    out["refund_rate"] = out["refund_amount"] / out["gross_amount"]
    out["aov"] = out["net_amount"] / out["orders"]
    cols = ["period", "orders", "buyers", "new_buyers", "returning_buyers", "gross_amount", "refund_amount",
            "net_amount", "refund_rate", "aov"]
    return out[cols]


@share_docs
def breakdown(source: Any, by: str | list[str], *, as_of: Any = None, since: Any = None) -> pd.DataFrame:
    """Orders, buyers and amounts per value of a column (traffic_genre, influencer_name, product_id ...).

    Parameters
    ----------
    {source}
    by : str or list of str
        Canonical order columns to group by; nulls form their own group.
    {as_of}
    {since}

    Returns
    -------
    pandas.DataFrame: ``by..., orders, buyers, gross_amount, refund_amount, net_amount,
    refund_rate, net_share``, largest net amount first.

    Examples
    --------
    >>> import crm_lab as cl
    >>> g = cl.summary.breakdown(cl.datasets.make_shop(500, seed=1), "traffic_genre")
    >>> round(float(g["net_share"].sum()), 6)
    1.0
    """
    keys = [by] if isinstance(by, str) else list(by)
    available = engine.columns(orders_of(source)[0])
    unknown = [k for k in keys if k not in available]
    if unknown:
        raise ValueError(f"orders has no column {unknown}; columns: {available}")
    lines, as_of = order_lines(source, as_of=as_of, keep=keys)
    lines = after(lines, since)
    out = engine.collect(
        lines.group_by(*keys, drop_null_keys=False).agg(
            nw.col("order_id").n_unique().alias("orders"),
            nw.col("customer_id").n_unique().alias("buyers"),
            nw.col("gross").sum().alias("gross_amount"),
            nw.col("refund").sum().alias("refund_amount"),
            nw.col("net").sum().alias("net_amount"),
        )
    )
    out["refund_rate"] = out["refund_amount"] / out["gross_amount"]
    total = out["net_amount"].sum()
    out["net_share"] = out["net_amount"] / total if total else 0.0
    return out.sort_values(["net_amount", *keys], ascending=[False, *[True] * len(keys)], ignore_index=True)


#: What a pivot's rows and columns can be: name -> (column of the lines, where it comes from).
PIVOT_DIMENSIONS = {
    "order_source": ("channel", "orders.channel (douyin, tmall ...)"),
    "traffic_source": ("traffic_source", "orders.traffic_source (流量来源)"),
    "genre": ("traffic_genre", "orders.traffic_genre (流量体裁)"),
    "influencer": ("influencer_name", "orders.influencer_name (达人; empty: the shop's own sales)"),
    "product": ("product_id", "orders.product_id"),
    "category": ("category", "products.category, by the line's product"),
    "member_tier": ("tier", "members.tier of the buyer (empty: not a member)"),
    "month": ("month", "the month of payment"),
}

#: What a pivot's cells can hold.
PIVOT_VALUES = ("net_amount", "gross_amount", "refund_amount", "orders", "buyers", "items", "aov", "refund_rate")

#: The label of a pivot's margins.
PIVOT_TOTAL = "(total)"


def _pivot_lines(source: Any, dims: list[str], as_of: Any, since: Any) -> nw.LazyFrame:
    """The order lines with every asked dimension as a column, joined where it lives."""
    orders = orders_of(source)[0]
    direct = [PIVOT_DIMENSIONS[d][0] for d in dims if d not in ("category", "member_tier", "month")]
    missing = [c for c in direct if c not in engine.columns(orders)]
    if missing:
        raise ValueError(f"pivot: orders has no column {missing}; the dimensions need {[PIVOT_DIMENSIONS[d][1] for d in dims]}")
    keep = list(dict.fromkeys([*direct, *(["product_id"] if "category" in dims else [])]))
    lines, _ = order_lines(source, as_of=as_of, keep=keep)
    lines = after(lines, since)
    for dim, table, column in (("category", "products", "category"), ("member_tier", "members", "tier")):
        if dim not in dims:
            continue
        frame = required_table(source, table, f"pivot by {dim} ({PIVOT_DIMENSIONS[dim][1]})", ", or pivot by other dimensions")
        key = "product_id" if table == "products" else "customer_id"
        other = engine.lazy(frame).select(key, column).unique(subset=[key]) if table == "products" else engine.lazy(frame).select(key, column)
        lines = lines.join(other, on=key, how="left")
    if "month" in dims:
        lines = lines.with_columns(month=nw.col("paid_at").dt.truncate("1mo"))
    return lines


def _pivot_cells(lines: nw.LazyFrame, keys: list[str]) -> pd.DataFrame:
    aggs = [nw.col("order_id").n_unique().alias("orders"), nw.col("customer_id").n_unique().alias("buyers"),
            nw.col("gross").sum().alias("gross_amount"), nw.col("refund").sum().alias("refund_amount"),
            nw.col("net").sum().alias("net_amount"), nw.col("items").sum()]
    out = engine.collect(lines.group_by(*keys, drop_null_keys=False).agg(*aggs) if keys else lines.select(*aggs))
    for key in keys:
        column = out[key]
        if pd.api.types.is_float_dtype(column) and (column.dropna() % 1 == 0).all():
            column = column.astype("Int64")  # a tier read through a left join (NULLs) comes back as float on some engines
        out[key] = column.astype(object).where(column.notna(), None)
    return out


@share_docs
def pivot(source: Any, rows: list[str], columns: list[str] | None = None, values: list[str] | None = None, *,
          as_of: Any = None, since: Any = None) -> pd.DataFrame:
    """A custom pivot of sales (赢家BI-style): rows and columns chosen from :data:`PIVOT_DIMENSIONS`.

    Every cell, row total, column total and the grand total is counted on the lines themselves, so
    distinct counts (orders, buyers) are right in the margins too (a buyer of two categories is one
    buyer in the total, not two).

    Parameters
    ----------
    {source}
    rows, columns : list of str
        Dimensions: order_source, traffic_source, genre, influencer, product, category,
        member_tier, month.
    values : list of str
        Cell values from :data:`PIVOT_VALUES` (default: net_amount, orders, buyers).
    {as_of}
    {since}

    Returns
    -------
    pandas.DataFrame indexed by the row dimensions, with columns ``(value, column dimensions...)``;
    margins labelled ``"(total)"``; empty dimension values (no influencer, not a member) are missing.

    Examples
    --------
    >>> import crm_lab as cl
    >>> t = cl.summary.pivot(cl.datasets.make_shop(800, seed=1), rows=["genre"], columns=["month"], values=["buyers"],
    ...                      since="2025-08-31")
    >>> t.shape[1]  # three months and the total
    4
    """
    columns, values = list(columns or []), list(values or ["net_amount", "orders", "buyers"])
    unknown = [d for d in [*rows, *columns] if d not in PIVOT_DIMENSIONS] + [v for v in values if v not in PIVOT_VALUES]
    if unknown or not rows or set(rows) & set(columns):
        raise ValueError(f"pivot: rows and columns are distinct names of {list(PIVOT_DIMENSIONS)} (rows at least one), "
                         f"values of {list(PIVOT_VALUES)}; got {unknown or rows + columns}")
    row_keys = [PIVOT_DIMENSIONS[d][0] for d in rows]
    col_keys = [PIVOT_DIMENSIONS[d][0] for d in columns]
    lines = _pivot_lines(source, [*rows, *columns], as_of, since)
    parts = []
    with engine.checkpoints() as keep:
        # The lines the cells and every margin count, read and filtered once (not once per margin).
        lines = keep(lines.select(*row_keys, *col_keys, "order_id", "customer_id", "gross", "refund", "net", "items"))
        for with_rows, with_cols in ((True, True), (True, False), (False, True), (False, False)):
            if not col_keys and with_cols:
                continue
            keys = [*(row_keys if with_rows else []), *(col_keys if with_cols else [])]
            part = _pivot_cells(lines, keys)
            for key in (row_keys if not with_rows else []) + (col_keys if not with_cols else []):
                part[key] = PIVOT_TOTAL
            parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    long["aov"] = long["net_amount"] / long["orders"]
    long["refund_rate"] = (long["refund_amount"] / long["gross_amount"]).where(long["gross_amount"] > 0)
    long = long.rename(columns=dict(zip([*row_keys, *col_keys], [*rows, *columns])))
    table = long.set_index([*rows, *columns])[values]
    if columns:
        table = table.unstack(columns)
    def margins_last(ix: pd.Index) -> pd.Index:
        return ix.map(lambda v: (isinstance(v, str) and v == PIVOT_TOTAL, "" if v is None or v != v else str(v)))

    table = table.sort_index(key=margins_last)
    if columns:  # the values in the order asked, each with its margin last
        table = table.sort_index(axis=1, level=list(range(1, table.columns.nlevels)), key=margins_last, sort_remaining=False)
        table = table.reindex(columns=values, level=0)
    table.attrs.update(as_of=as_of, since=since, rows=rows, columns=columns, values=values)
    return table


def shop_kpis(summary: pd.DataFrame, active_days: int = 365) -> pd.Series:
    """Headline numbers from a customer summary.

    Returns
    -------
    pandas.Series: ``customers, active_customers`` (ordered within ``active_days``),
    ``net_amount, gross_amount, refund_rate, repeat_rate`` (share with two or more purchase
    days), ``aov, orders_per_customer``.

    Examples
    --------
    >>> import crm_lab as cl
    >>> s = cl.summary.customer_summary(cl.datasets.make_shop(500, seed=1))
    >>> int(cl.summary.shop_kpis(s)["customers"]) == len(s)
    True
    """
    gross = float(summary["gross_amount"].sum())
    return pd.Series(
        {
            "customers": int(len(summary)),
            "active_customers": int((summary["recency_days"] <= active_days).sum()),
            "net_amount": float(summary["net_amount"].sum()),
            "gross_amount": gross,
            "refund_rate": float(summary["refund_amount"].sum()) / gross if gross else float("nan"),
            "repeat_rate": float((summary["purchase_days"] >= 2).mean()) if len(summary) else float("nan"),
            "aov": float(summary["net_amount"].sum() / summary["orders"].sum()) if len(summary) else float("nan"),
            "orders_per_customer": float(summary["orders"].mean()) if len(summary) else float("nan"),
        }
    )


@dataclass(frozen=True)
class ShopOverview(Result):
    """The shop overview report's numbers (:func:`shop_overview`).

    Attributes
    ----------
    as_of : pandas.Timestamp
    customers : pandas.DataFrame
        :func:`customer_summary` as of ``as_of``.
    kpis : pandas.Series
        :func:`shop_kpis` over all customers.
    months : pandas.DataFrame
        :func:`period_summary` by month.
    genres, influencers : pandas.DataFrame
        :func:`breakdown` by traffic genre and influencer over the last 365 days.
    last_12m, prior_12m : float
        Net amount of the last 365 days and of the 365 days before (NaN if the data does not
        cover them).
    """

    as_of: pd.Timestamp
    customers: pd.DataFrame
    kpis: pd.Series
    months: pd.DataFrame
    genres: pd.DataFrame
    influencers: pd.DataFrame
    last_12m: float
    prior_12m: float

    @property
    def growth(self) -> float:
        """Net amount of the last 12 months over the prior 12, minus one."""
        return self.last_12m / self.prior_12m - 1 if self.prior_12m and not np.isnan(self.prior_12m) else float("nan")

    def summary(self) -> pd.DataFrame:
        """The KPIs as a one-column table."""
        return self.kpis.to_frame("value")

    def to_frame(self) -> pd.DataFrame:
        """The monthly table (:func:`period_summary`)."""
        return self.months

    def plot(self, ax: Any = None) -> Any:
        """Monthly net amount (:meth:`plot_months`); returns the Axes."""
        return self.plot_months(ax)

    def plot_months(self, ax: Any = None) -> Any:
        """Monthly net amount, bars; returns the Axes."""
        from crm_lab import plots

        m = self.months.assign(月份=self.months["period"].dt.strftime("%y-%m"), 有效金额=self.months["net_amount"])
        return plots.bar(m, x="月份", y="有效金额", ax=ax, title="月度有效金额", xlabel="", ylabel="有效金额", kind="yuan", rotate=60)

    def plot_buyers(self, ax: Any = None) -> Any:
        """Monthly new and returning buyers (新客 / 老客), lines; returns the Axes."""
        from crm_lab import plots

        long = self.months.melt(id_vars="period", value_vars=["new_buyers", "returning_buyers"], var_name="客户类型", value_name="购买人数")
        long["客户类型"] = long["客户类型"].map({"new_buyers": "新客", "returning_buyers": "老客"})
        return plots.line(long, x="period", y="购买人数", hue="客户类型", ax=ax, title="月度新客 / 老客购买人数", xlabel="")


@share_docs
def shop_overview(source: Any, *, as_of: Any = None) -> ShopOverview:
    """Numbers for the shop overview report: KPIs, monthly trend, genres and influencers.

    Parameters
    ----------
    {source}
    {as_of}

    Examples
    --------
    >>> import crm_lab as cl
    >>> ov = cl.summary.shop_overview(cl.datasets.make_shop(500, seed=1))
    >>> bool(ov.kpis["customers"] == len(ov.customers))
    True
    """
    customers = customer_summary(source, as_of=as_of)
    as_of = order_lines(source, as_of=as_of)[1]  # the moment the summary was taken at
    year = pd.Timedelta(days=365)
    months = period_summary(source, "1mo", as_of=as_of)
    genres = breakdown(source, "traffic_genre", as_of=as_of, since=as_of - year)
    influencers = breakdown(source, ["influencer_id", "influencer_name"], as_of=as_of, since=as_of - year)
    influencers = influencers[influencers["influencer_id"].notna()].reset_index(drop=True)
    last = float(genres["net_amount"].sum())
    first_paid = customers["first_order_at"].min()
    prior = float("nan")
    if pd.notna(first_paid) and first_paid <= as_of - 2 * year + pd.Timedelta(days=31):
        prior = float(breakdown(source, "channel", as_of=as_of - year, since=as_of - 2 * year)["net_amount"].sum())
    return ShopOverview(as_of, customers, shop_kpis(customers), months, genres, influencers, last, prior)
