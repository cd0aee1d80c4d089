"""Conversion (转化): from a start (a sample bought, a first order, joining as member) to a purchase.

Three scenarios of member operations ask the same question, "of the customers who started, how
many bought, and how soon": sample to full size (派样→正装), influencer new customers to
repurchase (达人新客→复购) and new member first purchase (新会员首购). :func:`conversion` answers it
for any table of starts; :func:`curve` turns the answer into conversion rates by day with Wilson
intervals, counting each customer only at the days the data has observed them for (a customer who
started 5 days ago is not a 30-day non-converter: right-censoring is respected).

An order converts when it is kept (paid amount above the refunded amount on the line) and paid at
or after the start, and is not the start order itself.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(2_000, seed=3)
>>> starts = cl.conversion.first_orders(shop, product="S01")
>>> conv = cl.conversion.conversion(shop, starts, product="P011")
>>> c = cl.conversion.curve(conv, days=(30,))
>>> bool(c["rate"].between(0, 1).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import engine
from crm_lab._docs import share_docs
from crm_lab.data import (
    OWN_SALES,
    Shop,
    observation_end,
    orders_of,
    products,
    window_length,
)
from crm_lab.summary import order_lines
from crm_lab.uplift import rate_with_interval

__all__ = ["first_orders", "at_first_payment", "conversion", "curve", "plot_curve", "samples", "influencer_repurchase", "member_cohorts", "member_first_purchase",
           "pooled_rate", "plot_repurchase", "plot_cohorts", "OWN_SALES"]



def _products(product: Any) -> list[str] | None:
    if product is None:
        return None
    return [product] if isinstance(product, str) else [str(p) for p in product]


@share_docs
def first_orders(source: Any, product: Any = None, *, as_of: Any = None) -> pd.DataFrame:
    """Each customer's first paid order (of ``product``, or of anything), with its traffic.

    Parameters
    ----------
    source : Shop, path or frame of canonical orders
    product : str or list of str, optional
        Only lines of these products count (e.g. a sample: the first time it was bought).
    {as_of}

    Returns
    -------
    pandas.DataFrame, one row per customer: ``customer_id, start_at, order_id, influencer_id,
    influencer_name, traffic_genre, net_amount`` (net of refunds, over the start order's lines, of
    ``product`` only when given) and ``refunded`` (any of those lines refunded). Influencer columns are null for the shop's own sales.

    Examples
    --------
    >>> import crm_lab as cl
    >>> f = cl.conversion.first_orders(cl.datasets.make_shop(500, seed=1))
    >>> bool(f["customer_id"].is_unique)
    True
    """
    orders = orders_of(source)[0]
    names = set(engine.columns(orders))
    extra = [c for c in ("product_id", "influencer_id", "influencer_name", "traffic_genre") if c in names]
    lines, _ = order_lines(source, as_of=as_of, keep=extra)
    wanted = _products(product)
    if wanted is not None:
        lines = lines.filter(nw.col("product_id").is_in(wanted))
    at_first = at_first_payment(lines)
    traffic = [nw.col(c).min() for c in ("influencer_id", "influencer_name", "traffic_genre") if c in names]
    out = engine.collect(
        at_first.group_by("customer_id").agg(
            nw.col("start_at").min(), nw.col("order_id").min(), *traffic,
            nw.col("net").sum().alias("net_amount"), nw.col("refund").max().alias("max_refund"),
        )
    )
    for c in ("influencer_id", "influencer_name", "traffic_genre"):
        if c not in out:
            out[c] = None
    out["refunded"] = out.pop("max_refund").fillna(0.0) > 0
    cols = ["customer_id", "start_at", "order_id", "influencer_id", "influencer_name", "traffic_genre", "net_amount", "refunded"]
    return out[cols].sort_values("customer_id", ignore_index=True)


def at_first_payment(lines: nw.LazyFrame) -> nw.LazyFrame:
    """The lines of each customer's first payment, with that moment as ``start_at``; lazily, where they live.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab import engine
    >>> from crm_lab.conversion import at_first_payment
    >>> lines = engine.lazy(pd.DataFrame({"customer_id": ["a", "a"], "paid_at": pd.to_datetime(["2025-01-02", "2025-01-01"])}))
    >>> str(engine.collect(at_first_payment(lines))["start_at"].iloc[0].date())
    '2025-01-01'
    """
    first = lines.group_by("customer_id").agg(nw.col("paid_at").min().alias("start_at"))
    return lines.join(first, on="customer_id").filter(nw.col("paid_at") == nw.col("start_at"))


@share_docs
def conversion(source: Any, starts: pd.DataFrame, product: Any = None, *, as_of: Any = None) -> pd.DataFrame:
    """When (if ever) each started customer bought: the first kept order at or after the start.

    Parameters
    ----------
    source : Shop, path or frame of canonical orders
    starts : pandas.DataFrame
        ``customer_id`` (one row each) and ``start_at``; an ``order_id`` column names the start
        order, which never counts as its own conversion. Other columns are kept.
    product : str or list of str, optional
        Only orders of these products convert (the full-size product); default any product.
    {as_of}

    Returns
    -------
    pandas.DataFrame: ``starts`` plus ``converted_at`` (NaT if not yet), ``days_to_convert`` and
    ``observed_days`` (from the start to the end of observation), both in days (float).

    Raises
    ------
    ValueError
        Missing columns, repeated customers, or starts after the end of observation.

    Examples
    --------
    >>> import pandas as pd, crm_lab as cl
    >>> shop = cl.datasets.make_shop(500, seed=1)
    >>> starts = cl.conversion.first_orders(shop)
    >>> conv = cl.conversion.conversion(shop, starts)  # repurchase after the first order
    >>> bool((conv["days_to_convert"].dropna() >= 0).all())
    True
    """
    missing = {"customer_id", "start_at"} - set(starts.columns)
    if missing:
        raise ValueError(f"conversion: starts needs columns {sorted(missing)}; it has {list(starts.columns)}. "
                         "Fix: build starts with first_orders() or from members (customer_id, start_at=joined_at).")
    repeated = starts["customer_id"][starts["customer_id"].duplicated()]
    if len(repeated):
        raise ValueError(f"conversion: starts has {repeated.nunique()} customer(s) more than once, e.g. {list(repeated.unique()[:5])}. "
                         "Fix: keep one start per customer (e.g. the earliest).")
    lines, as_of = order_lines(source, as_of=as_of, keep=["product_id"] if product is not None else None)
    end = observation_end(as_of)
    late = starts["start_at"] >= end
    if late.any():
        raise ValueError(f"conversion: {int(late.sum())} start(s) at or after the end of observation {end:%Y-%m-%d %H:%M}, "
                         f"rows {list(starts.index[late][:5])}. Fix: pass a later as_of or drop those starts.")
    wanted = _products(product)
    if wanted is not None:
        lines = lines.filter(nw.col("product_id").is_in(wanted))
    keys = ["customer_id", "start_at"] + (["order_id"] if "order_id" in starts else [])
    small = starts[keys].rename(columns={"order_id": "start_order"}).astype({"customer_id": "str"})
    joined = lines.filter(nw.col("net") > 0).join(engine.like(orders_of(source)[0], small), on="customer_id")
    after = joined.filter(nw.col("paid_at") >= nw.col("start_at"))
    if "start_order" in small:
        after = after.filter(nw.col("order_id") != nw.col("start_order"))
    first = engine.collect(after.group_by("customer_id").agg(nw.col("paid_at").min().alias("converted_at")))
    out = starts.copy()
    converted = pd.Series(pd.to_datetime(first["converted_at"]).to_numpy(), index=first["customer_id"].astype("str"), dtype="datetime64[ns]")
    out["converted_at"] = converted.reindex(out["customer_id"].astype("str")).to_numpy()
    day = pd.Timedelta(days=1)
    out["days_to_convert"] = (out["converted_at"] - out["start_at"]) / day
    out["observed_days"] = (end - out["start_at"]) / day
    return out


@share_docs
def curve(conv: pd.DataFrame, *, days: Sequence[float] = (1, 7, 14, 30, 60, 90), by: str | None = None,
          level: float = 0.95) -> pd.DataFrame:
    """Share converted within each number of days, among customers observed at least that long.

    Parameters
    ----------
    conv : pandas.DataFrame
        :func:`conversion`'s output.
    {days}
    by : str, optional
        A column of ``conv`` to split by (influencer, cohort ...).

    Returns
    -------
    pandas.DataFrame: ``[by], days, eligible, converted, rate, ci_low, ci_high`` (Wilson interval
    at ``level``); ``rate`` is NaN where no customer has been observed that long.

    Examples
    --------
    >>> import pandas as pd, crm_lab as cl
    >>> conv = pd.DataFrame({"days_to_convert": [2.0, None, 40.0], "observed_days": [100.0, 100.0, 10.0]})
    >>> cl.conversion.curve(conv, days=(7, 30))[["days", "eligible", "converted"]].values.tolist()
    [[7, 3, 1], [30, 2, 1]]
    """
    groups = conv.groupby(by, sort=True, dropna=False) if by else [(None, conv)]
    rows = []
    for key, part in groups:
        for d in days:
            eligible = part["observed_days"] >= d
            converted = eligible & (part["days_to_convert"] <= d)
            rows.append({**({by: key} if by else {}), "days": d, "eligible": int(eligible.sum()), "converted": int(converted.sum())})
    out = pd.DataFrame(rows)
    out["rate"], out["ci_low"], out["ci_high"] = rate_with_interval(out["converted"], out["eligible"], level)
    return out


def plot_curve(curve_table: pd.DataFrame, by: str | None = None, ax: Any = None, title: str | None = None) -> Any:
    """Conversion rate by days since the start (one line per ``by`` value), with its intervals; returns the Axes.

    Examples
    --------
    >>> import pandas as pd, crm_lab as cl
    >>> conv = pd.DataFrame({"days_to_convert": [2.0, None], "observed_days": [100.0, 100.0]})
    >>> ax = cl.conversion.plot_curve(cl.conversion.curve(conv, days=(7, 30)))
    """
    from crm_lab import plots

    data = curve_table.dropna(subset=["rate"])
    ax = plots.line(data, x="days", y="rate", hue=by, ax=ax, kind="percent", title=title, xlabel="开始后天数 (days)", ylabel="转化率")
    if by is None:
        ax.fill_between(data["days"], data["ci_low"], data["ci_high"], alpha=0.2, color=plots.ACCENT, linewidth=0)
    return ax


@share_docs
def influencer_repurchase(shop: Shop, *, since: Any = None, days: float = 30, as_of: Any = None, within: Any = None) -> pd.DataFrame:
    """达人新客→复购: per influencer, its new customers and their repurchase within ``days``.

    New customers are those whose first order ever was paid after ``since`` (a date excludes its
    whole day), or within the window ``within`` (e.g. "180D") before ``as_of``; each counts for the influencer of that first order (:data:`OWN_SALES` for the
    shop's own sales). Repurchase is a kept order after the first one (:func:`conversion`), counted
    among customers observed for at least ``days``.

    Parameters
    ----------
    {shop}
    {since}
    {days}
    {as_of}
    {within}

    Returns
    -------
    pandas.DataFrame per influencer: ``influencer_name, influencer_id, new_customers,
    first_order_net`` (mean net amount of the first order), ``first_order_refund_rate`` (share of
    first orders with a refund), ``eligible, repurchased, repurchase_rate, ci_low, ci_high``;
    most new customers first.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.datasets.make_shop(2_000, seed=3)
    >>> t = cl.conversion.influencer_repurchase(shop, since="2025-01-01")
    >>> int(t["new_customers"].sum()) == int((cl.conversion.first_orders(shop)["start_at"] >= "2025-01-02").sum())
    True
    """
    starts = first_orders(shop, as_of=as_of)
    if within is not None:
        if since is not None:
            raise ValueError("influencer_repurchase: give since or within, not both")
        end = observation_end(as_of if as_of is not None else shop.as_of)
        starts = starts[starts["start_at"] >= end - window_length(within)]
    if since is not None:
        starts = starts[starts["start_at"] >= observation_end(since)]
    starts = starts.assign(influencer_name=starts["influencer_name"].fillna(OWN_SALES)).reset_index(drop=True)
    conv = conversion(shop, starts, as_of=as_of)
    rates = curve(conv, days=(days,), by="influencer_name").set_index("influencer_name")
    per = conv.groupby("influencer_name").agg(
        influencer_id=("influencer_id", "first"), new_customers=("customer_id", "size"),
        first_order_net=("net_amount", "mean"), first_order_refund_rate=("refunded", "mean"))
    out = per.join(rates[["eligible", "converted", "rate", "ci_low", "ci_high"]]).rename(
        columns={"converted": "repurchased", "rate": "repurchase_rate"})
    return out.reset_index().sort_values(["new_customers", "influencer_name"], ascending=[False, True], ignore_index=True)


@share_docs
def samples(shop: Shop, *, days: float = 30, as_of: Any = None) -> pd.DataFrame:
    """派样→正装 for every sample (``products.sample_of``): buyers, converted, and the ``days`` conversion rate.

    Returns
    -------
    pandas.DataFrame per sample: ``sample, sample_name, full_size, full_size_name, buyers,
    converted`` (ever, kept orders), ``median_days`` (to convert), ``eligible, converted_within,
    rate, ci_low, ci_high`` (within ``days``, among buyers observed that long); most buyers first.

    Examples
    --------
    >>> import crm_lab as cl
    >>> t = cl.conversion.samples(cl.datasets.make_shop(2_000, seed=3))
    >>> bool((t["converted"] <= t["buyers"]).all())
    True
    """
    if shop.products is None:
        raise ValueError("samples: the shop has no products table (sample_of names each sample's full-size product)")
    catalogue = products(shop).reset_index()
    names = catalogue.set_index("product_id")["name"]
    pairs = catalogue.dropna(subset=["sample_of"])
    rows = []
    for sample, full in zip(pairs["product_id"], pairs["sample_of"], strict=True):  # one query per sample: a handful
        starts = first_orders(shop, product=sample, as_of=as_of)
        conv = conversion(shop, starts, product=full, as_of=as_of)
        rate = curve(conv, days=(days,)).iloc[0]
        rows.append({"sample": sample, "sample_name": names.get(sample), "full_size": full, "full_size_name": names.get(full),
                     "buyers": len(conv), "converted": int(conv["converted_at"].notna().sum()),
                     "median_days": float(conv["days_to_convert"].median()), "eligible": int(rate["eligible"]),
                     "converted_within": int(rate["converted"]), **rate[["rate", "ci_low", "ci_high"]].to_dict()})
    out = pd.DataFrame(rows)
    return out.sort_values(["buyers", "sample"], ascending=[False, True], ignore_index=True) if len(out) else out


@share_docs
def member_cohorts(shop: Shop, *, freq: str = "1mo", as_of: Any = None, what: str = "this analysis") -> pd.DataFrame:
    """Members who joined before the end of observation: ``customer_id, joined_at`` (the earliest),
    ``cohort`` (``joined_at`` truncated to ``freq``) and ``before`` (a paid order before joining:
    not new to buying), the start of every member funnel.

    Raises
    ------
    ValueError
        Without a members table, naming ``what`` needs it and how to add it.

    Examples
    --------
    >>> import crm_lab as cl
    >>> m = cl.conversion.member_cohorts(cl.datasets.make_shop(500, seed=1))
    >>> list(m.columns)
    ['customer_id', 'joined_at', 'before', 'cohort']
    """
    if shop.members is None:
        raise ValueError(f"{what} needs the members table (customer_id, joined_at): the shop has none. "
                         "Fix: import it with crm-lab import --members (or add members.parquet to the shop folder)")
    end = observation_end(as_of if as_of is not None else shop.as_of)
    lf = engine.lazy(shop.members)
    members = engine.collect(lf.filter(nw.col("joined_at") < engine.timestamp(end, lf))
                             .group_by("customer_id").agg(nw.col("joined_at").min())).astype({"customer_id": "str"})
    first_paid = first_orders(shop, as_of=as_of).astype({"customer_id": "str"}).set_index("customer_id")["start_at"]
    members["before"] = members["customer_id"].map(first_paid) < members["joined_at"]
    members["cohort"] = members["joined_at"].dt.to_period(_pandas_freq(freq)).dt.start_time
    return members


def member_first_purchase(shop: Shop, *, freq: str = "1mo", days: Sequence[float] = (1, 7, 30), as_of: Any = None) -> pd.DataFrame:
    """新会员首购: per joining cohort, members who had not bought before joining and their first purchase.

    Parameters
    ----------
    {shop}
    {freq}
    {days}
    {as_of}

    Returns
    -------
    pandas.DataFrame per cohort (``joined_at`` truncated to ``freq``): ``joined``,
    ``bought_before_joining``, ``new_to_buy`` and for each horizon ``d``: ``eligible_<d>d``,
    ``first_purchasers_<d>d`` and ``first_purchase_<d>d`` (share who bought within ``d`` days of
    joining, among those observed that long; NaN when none is).

    Examples
    --------
    >>> import crm_lab as cl
    >>> t = cl.conversion.member_first_purchase(cl.datasets.make_shop(1_000, seed=2))
    >>> bool((t["joined"] == t["bought_before_joining"] + t["new_to_buy"]).all())
    True
    """
    members = member_cohorts(shop, freq=freq, as_of=as_of, what="member_first_purchase")
    starts = members.loc[~members["before"], ["customer_id", "joined_at", "cohort"]].rename(columns={"joined_at": "start_at"})
    conv = conversion(shop, starts.reset_index(drop=True), as_of=as_of)
    table = members.groupby("cohort").agg(joined=("customer_id", "size"), bought_before_joining=("before", "sum"))
    table["new_to_buy"] = table["joined"] - table["bought_before_joining"]
    rates = curve(conv, days=days, by="cohort")
    for d in days:
        at = rates[rates["days"] == d].set_index("cohort")
        table[f"eligible_{d:g}d"] = at["eligible"].reindex(table.index).fillna(0).astype("int64")
        table[f"first_purchasers_{d:g}d"] = at["converted"].reindex(table.index).fillna(0).astype("int64")
        table[f"first_purchase_{d:g}d"] = at["rate"].reindex(table.index)
    return table.reset_index()


def pooled_rate(table: pd.DataFrame, converted: str = "repurchased", eligible: str = "eligible", level: float = 0.95) -> pd.Series:
    """One rate over the rows of a table of counts (influencers, cohorts), with its Wilson interval.

    Examples
    --------
    >>> import pandas as pd, crm_lab as cl
    >>> r = cl.conversion.pooled_rate(pd.DataFrame({"repurchased": [1, 3], "eligible": [10, 30]}))
    >>> float(r["rate"]), int(r["eligible"])
    (0.1, 40)
    """
    n, k = int(table[eligible].sum()), int(table[converted].sum())
    rate, lo, hi = rate_with_interval([k], [n], level)
    return pd.Series({"eligible": n, "converted": k, "rate": float(rate[0]), "ci_low": float(lo[0]), "ci_high": float(hi[0])})


def plot_repurchase(table: pd.DataFrame, *, top: int = 12, ax: Any = None, days: float | None = None) -> Any:
    """Repurchase rate per influencer (:func:`influencer_repurchase`) with 95% intervals, bars; returns the Axes.

    ``days`` is the repurchase horizon the table was computed with (shown in the title).
    """
    import matplotlib.pyplot as plt

    from crm_lab import plots

    plots.ensure_cjk()
    data = table.dropna(subset=["repurchase_rate"]).head(top).iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, max(3, 0.4 * len(data) + 1)))
    colors = [plots.GROUP_COLORS["control"] if name == OWN_SALES else plots.ACCENT for name in data["influencer_name"]]
    err = np.vstack([data["repurchase_rate"] - data["ci_low"], data["ci_high"] - data["repurchase_rate"]]).clip(min=0)
    ax.barh(data["influencer_name"].astype(str), data["repurchase_rate"], xerr=err, color=colors, ecolor="#555", capsize=3)
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    horizon = f"{days:g} " if days is not None else ""
    ax.set_title(f"各达人新客 {horizon}天复购率（灰色：自营）")
    ax.set_xlabel("复购率")
    return ax


def plot_cohorts(table: pd.DataFrame, days: Sequence[float], ax: Any = None) -> Any:
    """First-purchase rate of each joining cohort (:func:`member_first_purchase`), one line per horizon; returns the Axes."""
    from crm_lab import plots

    long = table.melt(id_vars="cohort", value_vars=[f"first_purchase_{d:g}d" for d in days], var_name="horizon", value_name="rate")
    long["horizon"] = long["horizon"].str.replace("first_purchase_", "", regex=False).str.replace("d", "天内", regex=False)
    ax = plots.line(long.dropna(subset=["rate"]), x="cohort", y="rate", hue="horizon", ax=ax, kind="percent",
                    title="各期新会员首购率", xlabel="入会期", ylabel="首购率")
    if ax.get_legend() is not None:
        ax.get_legend().set_title("入会后")
    return ax


def _pandas_freq(freq: str) -> str:
    """narwhals-style '1mo' / '1w' / '1d' -> pandas period aliases."""
    return {"1mo": "M", "1w": "W", "1d": "D", "1q": "Q", "1y": "Y"}.get(freq, freq)
