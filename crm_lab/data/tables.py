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

from crm_lab.data.schema import Shop


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
