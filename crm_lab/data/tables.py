"""Small shared lookups over canonical tables: a line's net amount, a shop's orders, product names.

Examples
--------
>>> import crm_lab as cl
>>> cl.data.OWN_SALES
'自营'
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import pandas as pd

from crm_lab import engine

from crm_lab.data.schema import SCHEMA, Shop


#: The influencer label of orders that came through no influencer (the shop's own sales).
OWN_SALES = "自营"


def net_amount() -> nw.Expr:
    """有效金额 of an order line: the paid amount less its refund (no refund: 0), as a narwhals expression.

    The one definition every analysis uses, wherever the orders live.

    Examples
    --------
    >>> import narwhals as nw, pandas as pd
    >>> from crm_lab.data import net_amount
    >>> lines = nw.from_native(pd.DataFrame({"paid_amount": [100.0, 50.0], "refund_amount": [30.0, None]}))
    >>> lines.select(net_amount()).to_native()["paid_amount"].tolist()
    [70.0, 50.0]
    """
    return nw.col("paid_amount") - nw.col("refund_amount").fill_null(0.0)


def kept_orders(lines: nw.LazyFrame, *extra: nw.Expr) -> nw.LazyFrame:
    """The kept orders (net of refunds above 0) among order lines, lazily where they live:
    ``customer_id, order_id, net, paid_at`` (the order's first payment) and any ``extra`` aggregates.

    The one meaning of "bought" when refunds count: a fully refunded order is no purchase.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab import engine
    >>> lines = engine.lazy(pd.DataFrame({"customer_id": ["a", "a", "b"], "order_id": ["1", "1", "2"], "paid_amount": [50.0, 30.0, 20.0],
    ...                                   "refund_amount": [0.0, 0.0, 20.0], "paid_at": pd.to_datetime(["2025-01-01"] * 3)}))
    >>> engine.collect(kept_orders(lines))[["customer_id", "net"]].values.tolist()
    [['a', 80.0]]
    """
    if "net" not in lines.collect_schema().names():
        lines = lines.with_columns(net=net_amount())
    return lines.group_by("customer_id", "order_id").agg(nw.col("net").sum(), nw.col("paid_at").min(), *extra).filter(nw.col("net") > 0)


def required_table(shop: Shop, name: str, what: str, instead: str = "") -> Any:
    """The shop's table ``name``, or a ValueError saying that ``what`` needs it, how to add it and
    (``instead``) what else to do.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.data.Shop(orders=cl.datasets.make_shop(200, seed=1).orders)
    >>> required_table(shop, "coupons", "coupon reminders")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: coupon reminders needs the coupons table: the shop has none. Fix: add coupons.parquet to the shop folder (columns: ...
    """
    frame = getattr(shop, name, None) if isinstance(shop, Shop) else None
    if frame is None:
        raise ValueError(f"{what} needs the {name} table: the shop has none. Fix: add {name}.parquet to the shop folder "
                         f"(columns: {', '.join(SCHEMA[name])}){instead}")
    return frame


def orders_of(source: Any) -> tuple[Any, pd.Timestamp | None]:
    """The orders of a Shop (and its ``as_of``), or ``source`` itself if it is already orders.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.datasets.make_shop(300, seed=1)
    >>> orders, as_of = cl.data.orders_of(shop)
    >>> as_of == shop.as_of
    True
    """
    if isinstance(source, Shop):
        return source.orders, source.as_of
    return source, None


#: Columns of the products lookup, filled with nulls when the table lacks them.
PRODUCT_COLUMNS = ("name", "category", "sample_of", "listed_at", "status")


def products(shop: Shop) -> pd.DataFrame:
    """The shop's products, one row per product id (its first SKU), indexed by ``product_id``.

    The one lookup every analysis uses: columns :data:`PRODUCT_COLUMNS`, absent ones filled
    with nulls; an empty frame when the shop has no products table.

    Examples
    --------
    >>> import crm_lab as cl
    >>> p = cl.data.products(cl.datasets.make_shop(300, seed=1))
    >>> p.loc["S01", "sample_of"]
    'P014'
    """
    if shop.products is None:
        return pd.DataFrame(columns=list(PRODUCT_COLUMNS), index=pd.Index([], name="product_id", dtype="object"))
    frame = engine.lazy(shop.products)
    present = [c for c in PRODUCT_COLUMNS if c in frame.columns]
    table = engine.collect(frame.select("product_id", *present)).drop_duplicates("product_id").set_index("product_id")
    return table.reindex(columns=list(PRODUCT_COLUMNS))


def product_names(shop: Shop) -> pd.Series:
    """Product id -> name from the shop's products table, else from the orders' ``product_name`` (empty without either).

    Examples
    --------
    >>> import crm_lab as cl
    >>> cl.data.product_names(cl.datasets.make_shop(300, seed=1)).get("N01")
    '焕颜精华·2.0 标准装'
    """
    named = products(shop)["name"].dropna() if shop.products is not None else pd.Series(dtype="object", name="name")
    return named if len(named) else _names_on_orders(shop)


def _names_on_orders(shop: Shop) -> pd.Series:
    """Product id -> name from the orders' own ``product_name`` (an export without a products table)."""
    lazy = engine.lazy(shop.orders)
    if "product_name" not in lazy.collect_schema().names():
        return pd.Series(dtype="object", name="name")
    named = engine.collect(lazy.filter(~nw.col("product_name").is_null()).group_by("product_id").agg(nw.col("product_name").max()))
    return named.set_index("product_id")["product_name"].rename("name")
