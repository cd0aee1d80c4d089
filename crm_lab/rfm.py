"""RFM: recency, frequency and monetary scores, the eight standard segments, RF/RM grids.

Scores run from 1 (worst) to 5 (best) and are computed from a customer summary
(:func:`crm_lab.summary.customer_summary`): recency is days since the last order (fewer is
better), frequency the number of orders, monetary the **net** (refund-adjusted) amount by default.

Three ways to score:

* ``quantile``: cut points at the population's quintiles; equal values always get equal scores
  (ties never split), so a score is a monotone function of its input;
* ``thresholds``: fixed business cut points (e.g. bought within 30 / 90 / 180 / 365 days);
* ``mean``: above or below the population mean (scores 2 / 1): the classic eight-segment model.

Every method also assigns the eight segments (重要价值 ... 一般挽留) by comparing each score with
the population's mean score.

Examples
--------
>>> import crm_lab as cl
>>> s = cl.summary.customer_summary(cl.datasets.make_shop(2_000, seed=1))
>>> r = cl.rfm.score(s)
>>> bool(r[["r_score", "f_score", "m_score"]].isin([1, 2, 3, 4, 5]).all().all())
True
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["score", "segment_summary", "grid", "compare", "SEGMENTS", "DEFAULT_THRESHOLDS", "plot_grid", "plot_segments"]

#: (R high, F high, M high) -> (Chinese name, English name). "R high" means recent.
SEGMENTS: dict[tuple[bool, bool, bool], tuple[str, str]] = {
    (True, True, True): ("重要价值客户", "important value"),
    (True, False, True): ("重要发展客户", "important development"),
    (False, True, True): ("重要保持客户", "important retention"),
    (False, False, True): ("重要挽留客户", "important win-back"),
    (True, True, False): ("一般价值客户", "general value"),
    (True, False, False): ("一般发展客户", "general development"),
    (False, True, False): ("一般保持客户", "general retention"),
    (False, False, False): ("一般挽留客户", "general win-back"),
}
SEGMENT_ORDER = [v[0] for v in SEGMENTS.values()]

#: Chinese axis and metric labels for the figures.
LABELS_ZH = {"r_score": "R（最近购买）", "f_score": "F（订单数）", "m_score": "M（有效金额）", "customers": "客户数",
             "share": "客户占比", "net_amount": "有效金额", "value_share": "金额占比", "per_customer": "人均有效金额"}

#: Business cut points for ``method="thresholds"`` (scores 5 .. 1 for recency, 1 .. 5 otherwise).
DEFAULT_THRESHOLDS = {
    "recency": (30, 90, 180, 365),  # days: <= 30 -> 5, <= 90 -> 4, <= 180 -> 3, <= 365 -> 2, else 1
    "frequency": (2, 3, 5, 10),  # orders: 1 -> 1, 2 -> 2, 3-4 -> 3, 5-9 -> 4, 10+ -> 5
    "monetary": (200, 500, 1000, 3000),  # yuan, net: < 200 -> 1 ... >= 3000 -> 5
}


def _quantile_score(values: np.ndarray, bins: int, higher_is_better: bool) -> np.ndarray:
    """1..bins by rank: ``ceil(bins * share of customers at or below the value)``.

    Ties get the better score, the one of the top of their run of ranks: when most customers
    share the best recency, they score ``bins``, not 1; distinct values get their quantile bin.
    """
    v = values if higher_is_better else -values
    order = np.argsort(v, kind="stable")
    ranked = v[order]
    at_or_below = np.empty(v.size, dtype="int64")
    # Queries in sorted order walk the array once; unsorted ones jump around it (4x slower at 1M).
    at_or_below[order] = np.searchsorted(ranked, ranked, side="right")
    return np.clip(np.ceil(bins * at_or_below / v.size - 1e-9), 1, bins).astype("int64")


def _threshold_score(values: np.ndarray, cuts: tuple[float, ...], higher_is_better: bool) -> np.ndarray:
    cuts_arr = np.asarray(sorted(cuts), dtype="float64")
    if higher_is_better:
        return 1 + np.searchsorted(cuts_arr, values, side="right")
    return len(cuts_arr) + 1 - np.searchsorted(cuts_arr, values, side="left")


def _high(scores: np.ndarray, method: str, name: str) -> np.ndarray:
    """Above-average scores are "high" (2 of 1/2 for ``mean``). When every customer has the same
    score the dimension separates no one: all count as high (ties get the better side) and a
    UserWarning says so."""
    if np.ptp(scores) == 0:
        warnings.warn(f"rfm: every customer has the same {name} score ({scores[0]}); {name} does not separate "
                      "customers and counts as high for all", UserWarning, stacklevel=4)  # _high <- comprehension <- score
        return np.ones(scores.size, dtype=bool)
    if method == "mean":
        return scores == 2
    return scores > scores.mean()


def score(
    summary: pd.DataFrame,
    method: Literal["quantile", "thresholds", "mean"] = "quantile",
    bins: int = 5,
    thresholds: dict[str, tuple[float, ...]] | None = None,
    monetary: str = "net_amount",
    frequency: str = "orders",
    recency: str = "recency_days",
) -> pd.DataFrame:
    """Score customers on recency, frequency and monetary value, and assign the eight segments.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per customer with the columns named below (customer_summary gives them).
    method : {"quantile", "thresholds", "mean"}
    bins : int
        Number of scores for ``quantile`` (5: scores 1-5), at least 2. A score is the bin of the
        customer's rank; tied customers share the better score (the top of their ranks).
    thresholds : dict, optional
        Cut points per dimension for ``thresholds`` (default :data:`DEFAULT_THRESHOLDS`).
    monetary, frequency, recency : str
        Columns used; e.g. ``monetary="gross_amount"`` to score GMV instead of net amount.

    Returns
    -------
    pandas.DataFrame, same index: ``recency, frequency, monetary, r_score, f_score, m_score,
    rfm_score`` (e.g. ``"545"``), ``rfm_segment`` (Chinese), ``rfm_segment_en``, and the extra
    dimensions ``refund_orders, purchase_days, items_per_order`` when present.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.rfm import score
    >>> s = pd.DataFrame({"recency_days": [5, 200], "orders": [4, 1], "net_amount": [900.0, 50.0]})
    >>> score(s, method="mean")["rfm_segment"].tolist()
    ['重要价值客户', '一般挽留客户']
    """
    missing = [c for c in (recency, frequency, monetary) if c not in summary]
    if missing:
        raise ValueError(f"summary: missing column(s) {missing}; columns: {list(summary.columns)}. "
                         "Fix: compute it with crm_lab.summary.customer_summary")
    if summary.empty:
        raise ValueError("summary: no customers to score")
    if method == "quantile" and (isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2):
        raise ValueError(f"bins must be a whole number >= 2 (5: scores 1-5), got {bins!r}")
    values = {}
    for name, col in (("recency", recency), ("frequency", frequency), ("monetary", monetary)):
        v = pd.to_numeric(summary[col], errors="coerce").to_numpy(dtype="float64")
        bad = ~np.isfinite(v)
        if bad.any():
            rows = ", ".join(map(str, summary.index[bad][:5]))
            raise ValueError(f"summary.{col}: {int(bad.sum())} missing or non-numeric value(s) (rows {rows})")
        values[name] = v
    out = pd.DataFrame(values, index=summary.index)
    better = {"recency": False, "frequency": True, "monetary": True}
    for name, short in (("recency", "r"), ("frequency", "f"), ("monetary", "m")):
        v = values[name]
        if method == "quantile":
            s = _quantile_score(v, bins, better[name])
        elif method == "thresholds":
            cuts = {**DEFAULT_THRESHOLDS, **(thresholds or {})}[name]
            s = _threshold_score(v, tuple(cuts), better[name])
        elif method == "mean":
            s = np.where(v >= v.mean(), 2, 1) if better[name] else np.where(v <= v.mean(), 2, 1)
        else:
            raise ValueError("method must be 'quantile', 'thresholds' or 'mean'")
        out[f"{short}_score"] = s.astype("int64")
    out["rfm_score"] = out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    high = {k: _high(out[f"{k}_score"].to_numpy(), method, name) for k, name in (("r", "recency"), ("f", "frequency"), ("m", "monetary"))}
    # Each customer's (R, F, M) highs as a 3-bit code, looked up in 8-entry tables: no Python per customer.
    code = high["r"].astype("int64") * 4 + high["f"].astype("int64") * 2 + high["m"].astype("int64")
    keys = [(bool(c & 4), bool(c & 2), bool(c & 1)) for c in range(8)]
    zh_index = np.array([SEGMENT_ORDER.index(SEGMENTS[k][0]) for k in keys])
    out["rfm_segment"] = pd.Categorical.from_codes(zh_index[code], categories=SEGMENT_ORDER)
    out["rfm_segment_en"] = np.array([SEGMENTS[k][1] for k in keys], dtype=object)[code]
    for extra in ("refund_orders", "purchase_days", "items_per_order", "net_amount", "gross_amount"):
        if extra in summary and extra not in out:
            out[extra] = summary[extra]
    if "net_amount" not in out:
        out["net_amount"] = values["monetary"]
    return out


def segment_summary(scored: pd.DataFrame) -> pd.DataFrame:
    """Customers, net amount and averages per segment (all eight, empty ones included).

    Returns
    -------
    pandas.DataFrame: ``rfm_segment, rfm_segment_en, customers, share, net_amount, net_share,
    recency, frequency`` (the last two are means).

    Examples
    --------
    >>> import crm_lab as cl
    >>> r = cl.rfm.score(cl.summary.customer_summary(cl.datasets.make_shop(1_000, seed=1)))
    >>> len(cl.rfm.segment_summary(r))
    8
    """
    seg = scored.groupby("rfm_segment", observed=False).agg(
        customers=("r_score", "size"), net_amount=("net_amount", "sum"), recency=("recency", "mean"), frequency=("frequency", "mean")
    ).reset_index()
    english = {zh: en for zh, en in SEGMENTS.values()}
    seg.insert(1, "rfm_segment_en", seg["rfm_segment"].map(english).astype("str"))
    seg.insert(3, "share", seg["customers"] / seg["customers"].sum())
    total = seg["net_amount"].sum()
    seg.insert(5, "net_share", seg["net_amount"] / total if total else 0.0)
    return seg


def grid(scored: pd.DataFrame, rows: str = "r_score", cols: str = "f_score", value: str = "net_amount") -> pd.DataFrame:
    """Customers, share and amount per cell of an RF (or RM ...) grid, long form.

    Returns
    -------
    pandas.DataFrame: ``rows, cols, customers, share, <value>, value_share, per_customer``; every
    cell of the score ranges present, empty cells included (0).

    Examples
    --------
    >>> import crm_lab as cl
    >>> r = cl.rfm.score(cl.summary.customer_summary(cl.datasets.make_shop(1_000, seed=1)))
    >>> int(cl.rfm.grid(r)["customers"].sum()) == len(r)
    True
    """
    for c in (rows, cols, value):
        if c not in scored:
            raise ValueError(f"grid: no column {c!r}; columns: {list(scored.columns)}")
    full = pd.MultiIndex.from_product([sorted(scored[rows].unique()), sorted(scored[cols].unique())], names=[rows, cols])
    g = scored.groupby([rows, cols]).agg(customers=(value, "size"), amount=(value, "sum")).reindex(full, fill_value=0)
    g["share"] = g["customers"] / g["customers"].sum()
    total = g["amount"].sum()
    g["value_share"] = g["amount"] / total if total else 0.0
    g["per_customer"] = (g["amount"] / g["customers"].where(g["customers"] > 0)).fillna(0.0)
    return g.rename(columns={"amount": value}).reset_index()[[rows, cols, "customers", "share", value, "value_share", "per_customer"]]


def compare(structure_a: pd.DataFrame, structure_b: pd.DataFrame, labels: tuple[str, str] = ("a", "b")) -> pd.DataFrame:
    """Shift per cell between two grids (e.g. this 双11 vs last 双11): customers and amount.

    Parameters
    ----------
    structure_a, structure_b : pandas.DataFrame
        Outputs of :func:`grid` with the same rows/cols/value columns.
    labels : (str, str)
        Suffixes for the two periods.

    Returns
    -------
    pandas.DataFrame per cell: counts, shares and amounts of both periods, and their changes.
    """
    keys = list(structure_a.columns[:2])
    value = structure_a.columns[4]
    if list(structure_b.columns[:2]) != keys or structure_b.columns[4] != value:
        raise ValueError("compare: the two grids must have the same rows, columns and value")
    a, b = labels
    m = structure_a.merge(structure_b, on=keys, how="outer", suffixes=(f"_{a}", f"_{b}")).fillna(0)
    m["customers_change"] = m[f"customers_{b}"] - m[f"customers_{a}"]
    m["share_change"] = m[f"share_{b}"] - m[f"share_{a}"]
    m[f"{value}_change"] = m[f"{value}_{b}"] - m[f"{value}_{a}"]
    return m


def plot_grid(structure: pd.DataFrame, metric: str = "customers", ax: Any = None) -> Any:
    """Heatmap of a grid (:func:`grid`), recency rows from best to worst; returns the Axes."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from crm_lab.plots import ensure_cjk

    ensure_cjk()
    rows, cols = structure.columns[:2]
    table = structure.pivot(index=rows, columns=cols, values=metric).sort_index(ascending=False)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.2))
    fmt = ".0%" if "share" in metric else ",.0f"
    label = LABELS_ZH.get(metric, metric)
    sns.heatmap(table, ax=ax, annot=True, fmt=fmt, cmap="rocket_r", cbar_kws={"label": label})
    ax.set_xlabel(LABELS_ZH.get(cols, cols))
    ax.set_ylabel(LABELS_ZH.get(rows, rows))
    ax.set_title(f"{LABELS_ZH.get(rows, rows)} × {LABELS_ZH.get(cols, cols)}：{label}")
    return ax


def plot_segments(scored: pd.DataFrame, ax: Any = None) -> Any:
    """Customers and net amount share per segment, bars; returns the Axes."""
    from crm_lab import plots

    seg = segment_summary(scored).rename(columns={"net_share": "金额占比"})
    return plots.bar(seg, x="金额占比", y="rfm_segment", ax=ax, title="RFM 分层：有效金额占比", xlabel="", ylabel="")
