"""Credit lines: returns written as negative-quantity lines (UCI Online Retail's ``C`` invoices,
many ERP exports) become refunds of the sale lines they give back.

A credit is matched to the latest earlier sale of the same customer and product (``merge_asof``):
its amount is added to that line's ``refund_amount`` (at most the line's paid amount) and its time
is the line's ``refunded_at``. A credit that matches no sale in the file, and the part of a credit
beyond what its line paid, are counted in a warning: they are never silently dropped or invented.

Examples
--------
>>> import pandas as pd
>>> from crm_lab.data.credits import apply_credits
>>> lines = pd.DataFrame({"line_id": ["a-1", "Ca-1"], "customer_id": ["c1", "c1"], "product_id": ["p", "p"],
...                       "paid_at": pd.to_datetime(["2011-01-01", "2011-01-05"]), "quantity": [2, -1],
...                       "paid_amount": [10.0, -5.0], "refund_amount": [0.0, 0.0],
...                       "refunded_at": pd.to_datetime([None, None])})
>>> import warnings
>>> with warnings.catch_warnings(record=True):  # it says: 1 credit line became a refund of 1 earlier line
...     apply_credits(lines)[["line_id", "refund_amount"]].values.tolist()
[['a-1', 5.0]]
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd


def apply_credits(lines: pd.DataFrame, source: Any = None) -> pd.DataFrame:
    """Order lines with credit lines (quantity < 0) turned into refunds of earlier sales.

    Parameters
    ----------
    lines : pandas.DataFrame
        Typed order lines (``quantity`` Int64, ``paid_amount`` float, ``paid_at`` datetime).
    source : path, optional
        Named in the warning.

    Returns
    -------
    pandas.DataFrame: the sale lines, with ``refund_amount`` / ``refunded_at`` updated; credit
    lines removed. Input is not modified.
    """
    credit = lines["quantity"].lt(0).fillna(False).astype(bool)
    if not credit.any():
        return lines
    sales = lines[~credit].copy()
    credits = lines.loc[credit, ["customer_id", "product_id", "paid_at", "paid_amount"]].assign(
        credit=lambda d: d["paid_amount"].abs())
    usable = credits.dropna(subset=["customer_id", "product_id", "paid_at", "credit"]).sort_values("paid_at")
    candidates = sales.dropna(subset=["customer_id", "product_id", "paid_at"])[["line_id", "customer_id", "product_id", "paid_at"]]
    matched = pd.merge_asof(usable.drop(columns="paid_amount"), candidates.sort_values("paid_at"), on="paid_at",
                            by=["customer_id", "product_id"], direction="backward")
    found = matched.dropna(subset=["line_id"])
    per_line = found.groupby("line_id").agg(credit=("credit", "sum"), refunded_at=("paid_at", "max"))
    index = sales["line_id"]
    paid = sales["paid_amount"]
    before = sales["refund_amount"].fillna(0.0)
    wanted = before + index.map(per_line["credit"]).fillna(0.0).to_numpy()
    sales["refund_amount"] = wanted.clip(upper=paid.where(paid.notna(), wanted))
    had = index.isin(per_line.index)
    sales.loc[had, "refunded_at"] = index[had].map(per_line["refunded_at"]).astype(sales["refunded_at"].dtype)
    _warn(int(credit.sum()), len(found), int(had.sum()), float((wanted - sales["refund_amount"]).sum()),
          int(credit.sum()) - len(found), float(credits["credit"].sum() - found["credit"].sum()), source)
    return sales


def _warn(n_credits: int, n_matched: int, n_lines: int, excess: float, n_unmatched: int, unmatched_amount: float,
          source: Any) -> None:
    name = Path(source).name if isinstance(source, (str, os.PathLike)) else "orders"
    message = (f"{name}: {n_credits} credit line(s) (negative quantity: returns) are not sales; {n_matched} became "
               f"refunds of {n_lines} earlier line(s) of the same customer and product")
    if n_unmatched:
        message += (f"; {n_unmatched} match no earlier sale in the file (amount {unmatched_amount:,.2f}) and are left out "
                    "(their sale is before the file starts, or the customer is missing)")
    if excess > 0.005:
        message += f"; {excess:,.2f} credited beyond what the lines paid is left out"
    warnings.warn(message, UserWarning, stacklevel=4)
