"""Decisions above one campaign: what the whole CRM programme earned, and where the next yuan goes.

* :func:`program_report` compares the shop's global holdout (a stable share of customers every
  audience leaves out, :attr:`crm_lab.data.Shop.holdout`) with everyone else over a period: the
  whole programme's incremental net amount with an interval, per customer and in total.
* :func:`allocate` chooses, for a touch budget, who gets which channel (SMS, rich SMS, ...) to
  maximise the expected incremental net amount after touch costs, from per-customer uplift
  estimates; :func:`segment_uplift` and :func:`candidates` build those estimates from past tests.

Examples
--------
>>> import pandas as pd
>>> from crm_lab.program import allocate
>>> cand = pd.DataFrame({"customer_id": ["A", "B", "C"], "value": [100.0, 300.0, 50.0],
...                      "uplift_sms": [0.02, 0.02, 0.02], "uplift_rich_sms": [0.03, 0.06, 0.03]})
>>> plan = allocate(cand, budget=0.4, costs={"sms": 0.05, "rich_sms": 0.3})
>>> plan.choices.set_index("customer_id")["channel"].to_dict()
{'A': 'sms', 'B': 'rich_sms', 'C': 'sms'}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from scipy import special

from crm_lab import engine, uplift
from crm_lab.data import Shop, kept_orders, net_amount
from crm_lab.periods import window
from crm_lab.results import Result
from crm_lab.splits import in_holdout

__all__ = ["program_report", "ProgramReport", "allocate", "Allocation", "segment_uplift", "candidates"]


# ---- the global holdout ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramReport(Result):
    """The whole CRM programme against the global holdout (:func:`program_report`).

    Attributes
    ----------
    start, end : pandas.Timestamp
        The period ``[start, end)``.
    share : float
        The holdout's share of customers.
    test : UpliftResult
        Programme (everyone else) vs holdout: buying rate and net amount per customer, with intervals
        (CUPED on the net amount of the period before).
    touch_cost : float
        What the programme's touches cost in the period.
    leaks : int
        Holdout customers touched by a campaign in the period (should be 0).
    customers : pandas.DataFrame
        Per customer: ``customer_id, group, bought, net, pre_net``.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    share: float
    test: uplift.UpliftResult
    touch_cost: float
    leaks: int
    customers: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Customers, buying rates, net amount per customer, the differences with intervals and the programme's increment."""
        row = self.test.summary().loc["program"]
        keep = ["customers", "control_customers", "rate", "control_rate", "difference", "difference_low", "difference_high", "p_value",
                "value_per_customer", "control_value_per_customer", "value_difference", "value_difference_low", "value_difference_high",
                "incremental_value", "incremental_value_low", "incremental_value_high"]
        out = row[keep].to_frame().T
        out["touch_cost"] = self.touch_cost
        out["roi"] = (out["incremental_value"] - self.touch_cost) / self.touch_cost if self.touch_cost > 0 else np.nan
        return out.rename(index={"program": "programme"})

    @property
    def incremental_net(self) -> float:
        """The programme's incremental net amount over the period (per-customer difference × programme customers)."""
        return float(self.test.summary().loc["program", "incremental_value"])


def _known_customers(shop: Shop, start: pd.Timestamp) -> pd.Series:
    lf = engine.lazy(shop.orders)
    kept = kept_orders(lf.filter(nw.col("paid_at") < engine.timestamp(start, lf))).select("customer_id").unique()
    return engine.collect(kept)["customer_id"].astype(str).sort_values(ignore_index=True)


def _net_between(shop: Shop, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    lf = engine.between(engine.lazy(shop.orders), "paid_at", start, end).with_columns(net=net_amount())
    per_order = lf.group_by("customer_id", "order_id").agg(nw.col("net").sum()).with_columns(kept=(nw.col("net") > 0).cast(nw.Int64()))
    out = engine.collect(per_order.group_by("customer_id").agg(nw.col("net").sum(), nw.col("kept").sum()))
    return out.assign(customer_id=out["customer_id"].astype(str)).set_index("customer_id")


def program_report(shop: Shop, *, within: Any = "90D", as_of: Any = None, level: float = 0.95) -> ProgramReport:
    """The whole CRM programme's incremental net amount: everyone else against the global holdout.

    The customers compared are those with a kept order before the period; within the period each
    one's net amount and whether they bought. Because the holdout is a keyed hash of the id, the
    two groups are random halves of the same population, and their difference is what the
    programme's touches (all campaigns together) added.

    Parameters
    ----------
    shop : Shop
        With a global holdout (:attr:`crm_lab.data.Shop.holdout`) that was respected in the period.
    within : window
        The period, counted back from ``as_of``.
    as_of : date-like, optional
    level : float

    Raises
    ------
    ValueError
        Without a global holdout.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.datasets.make_shop(3_000, seed=5, global_holdout_share=0.2)
    >>> r = cl.program.program_report(shop, within=("2025-06-01", "2025-11-29"))
    >>> r.share
    0.2
    """
    if shop.holdout is None:
        raise ValueError("program_report needs the shop's global holdout (Shop.holdout): start one with "
                         "`crm-lab import --holdout-share 0.05`; it measures what happens after it was set, once audiences leave it out")
    as_of = as_of if as_of is not None else shop.as_of
    start, end = window(within, as_of=as_of)
    ids = _known_customers(shop, start)
    share, key = shop.holdout["share"], shop.holdout["key"]
    held = in_holdout(ids, share, key)
    during, before = _net_between(shop, start, end), _net_between(shop, start - (end - start), start)
    df = pd.DataFrame({"customer_id": ids, "group": np.where(held, "holdout", "program")})
    df["net"] = df["customer_id"].map(during["net"]).fillna(0.0).clip(lower=0.0)
    df["bought"] = (df["customer_id"].map(during["kept"]).fillna(0) > 0).astype("int64")
    df["pre_net"] = df["customer_id"].map(before["net"]).fillna(0.0).clip(lower=0.0)
    test = uplift.test(df, outcome="bought", value="net", control="holdout", covariate="pre_net", level=level, bootstrap=0,
                       planned={"program": 1 - share, "holdout": share})
    cost, leaks = _touches_in(shop, df, start, end)
    return ProgramReport(start, end, share, test, cost, leaks, df)


def _touches_in(shop: Shop, customers: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> tuple[float, int]:
    """The treatment touches' cost in the period, and how many holdout customers were touched."""
    if shop.touches is None:
        return 0.0, 0
    lf = engine.between(engine.lazy(shop.touches), "sent_at", start, end).filter(nw.col("group") == "treatment")
    touched = engine.collect(lf.select("customer_id", "cost", "campaign_id"))
    touched["customer_id"] = touched["customer_id"].astype(str)
    holdout = set(customers.loc[customers["group"] == "holdout", "customer_id"])
    leaks = int(touched.loc[touched["customer_id"].isin(holdout), "customer_id"].nunique())
    if leaks:
        import warnings

        warnings.warn(f"program_report: {leaks:,} holdout customer(s) were touched in the period (campaigns that did not leave "
                      "the global holdout out, e.g. Audience(global_holdout=False)); the increment understates the programme", stacklevel=3)
    return float(touched["cost"].fillna(0.0).sum()), leaks


# ---- budget allocation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Allocation(Result):
    """Who gets which touch under a budget (:func:`allocate`).

    Attributes
    ----------
    choices : pandas.DataFrame
        Every candidate: ``customer_id, channel`` (None: no touch), ``cost``, ``expected_value``
        (uplift × value of the chosen channel) and ``expected_net`` (that minus the cost).
    budget : float
    costs : dict
    expected_value, expected_value_low, expected_value_high : float
        The chosen touches' expected incremental net amount and its interval (from the uplift
        estimates' standard errors; estimates shared by a segment move together).
    """

    choices: pd.DataFrame
    budget: float
    costs: dict[str, float]
    expected_value: float
    expected_value_low: float
    expected_value_high: float

    @property
    def spent(self) -> float:
        return float(self.choices["cost"].sum())

    def summary(self) -> pd.DataFrame:
        """Customers, cost and expected value per channel, and the total."""
        chosen = self.choices[self.choices["channel"].notna()]
        per = chosen.groupby("channel").agg(customers=("customer_id", "size"), cost=("cost", "sum"),
                                            expected_value=("expected_value", "sum"), expected_net=("expected_net", "sum"))
        per.loc["total"] = per.sum()
        per["customers"] = per["customers"].astype("int64")
        return per


def _option_matrices(cands: pd.DataFrame, costs: dict[str, float]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    channels = list(costs)
    missing = [f"uplift_{c}" for c in channels if f"uplift_{c}" not in cands]
    if missing or "value" not in cands or "customer_id" not in cands:
        raise ValueError(f"candidates: need customer_id, value and uplift_<channel> for every channel in costs; missing "
                         f"{missing + [c for c in ('customer_id', 'value') if c not in cands]}")
    gain = np.column_stack([cands[f"uplift_{c}"].to_numpy(float) * cands["value"].to_numpy(float) for c in channels])
    cost = np.tile(np.array([float(costs[c]) for c in channels]), (len(cands), 1))
    return gain, cost, channels


def _choose(gain: np.ndarray, cost: np.ndarray, price: float) -> np.ndarray:
    """Per customer, the option with the largest ``gain − (1 + price) · cost`` if positive, else -1 (no touch)."""
    score = gain - (1.0 + price) * cost
    best = score.argmax(axis=1)
    return np.where(score[np.arange(len(score)), best] > 0, best, -1)


def _spend(choice: np.ndarray, cost: np.ndarray) -> float:
    picked = choice >= 0
    return float(cost[np.flatnonzero(picked), choice[picked]].sum())


def allocate(candidates: pd.DataFrame, *, budget: float, costs: dict[str, float], level: float = 0.95) -> Allocation:
    """Choose who gets which touch to maximise the expected incremental net amount after costs, within ``budget``.

    A multiple-choice knapsack solved by its Lagrangian: each customer takes the channel with the
    largest ``uplift × value − (1 + λ) × cost`` (none when no channel earns more than it costs), and
    λ ≥ 0, the price of a yuan of budget, is the smallest that keeps the spend within the budget
    (bisection). With a budget that does not bind, λ is 0 and every touch that pays for itself is
    made. The remainder left by the last λ goes to the next-best single touches that fit.

    Parameters
    ----------
    candidates : pandas.DataFrame
        ``customer_id``, ``value`` (the net amount of an incremental order, e.g. the predicted order
        value) and, per channel, ``uplift_<channel>`` (the extra probability of an order if touched)
        with optional ``uplift_<channel>_se`` and a ``segment`` column when the estimates are
        shared by segments (as from :func:`segment_uplift`).
    budget : float
        Touch budget in the shop's money.
    costs : dict
        Cost of one touch per channel, e.g. ``{"sms": 0.05, "rich_sms": 0.3}``.

    Returns
    -------
    Allocation
    """
    if budget < 0:
        raise ValueError("budget must be >= 0")
    gain, cost, channels = _option_matrices(candidates, costs)
    low, high = 0.0, 1.0
    if _spend(_choose(gain, cost, 0.0), cost) > budget:
        while _spend(_choose(gain, cost, high), cost) > budget:
            high *= 2.0
        for _ in range(60):
            mid = (low + high) / 2
            low, high = (mid, high) if _spend(_choose(gain, cost, mid), cost) > budget else (low, mid)
        choice = _fill(_choose(gain, cost, high), gain, cost, budget)
    else:
        choice = _choose(gain, cost, 0.0)
    return _allocation(candidates, choice, gain, cost, channels, budget, costs, level)


def _fill(choice: np.ndarray, gain: np.ndarray, cost: np.ndarray, budget: float) -> np.ndarray:
    """Spend what the Lagrangian left on untouched customers' best paying single touches, best ratio first."""
    left = budget - _spend(choice, cost)
    free = np.flatnonzero(choice < 0)
    if left <= 0 or free.size == 0:
        return choice
    cheapest = cost[free].argmin(axis=1)
    g, c = gain[free, cheapest], cost[free, cheapest]
    pays = g > c
    order = np.argsort(-(g / c)[pays], kind="stable")
    idx, g_c = free[pays][order], c[pays][order]
    take = np.cumsum(g_c) <= left
    out = choice.copy()
    out[idx[take]] = cheapest[pays][order][take]
    return out


def _allocation(cands: pd.DataFrame, choice: np.ndarray, gain: np.ndarray, cost: np.ndarray, channels: list[str], budget: float,
                costs: dict[str, float], level: float) -> Allocation:
    rows = np.arange(len(cands))
    picked = choice >= 0
    out = pd.DataFrame({"customer_id": cands["customer_id"].to_numpy()})
    out["channel"] = np.where(picked, np.array(channels, dtype=object)[np.maximum(choice, 0)], None)
    out["cost"] = np.where(picked, cost[rows, np.maximum(choice, 0)], 0.0)
    out["expected_value"] = np.where(picked, gain[rows, np.maximum(choice, 0)], 0.0)
    out["expected_net"] = out["expected_value"] - out["cost"]
    z = special.ndtri(0.5 + level / 2)
    sd = _value_sd(cands, out, channels)
    total = float(out["expected_value"].sum())
    return Allocation(out, float(budget), dict(costs), total, total - z * sd, total + z * sd)


def _value_sd(cands: pd.DataFrame, out: pd.DataFrame, channels: list[str]) -> float:
    """Standard deviation of the expected value: each (segment, channel) estimate's error times the value it carries."""
    parts = []
    for c in channels:
        se = f"uplift_{c}_se"
        if se not in cands:
            continue
        mine = (out["channel"] == c).to_numpy()
        carried = cands.loc[mine, se].to_numpy(float) * cands.loc[mine, "value"].to_numpy(float)
        groups = cands.loc[mine, "segment"].to_numpy() if "segment" in cands else np.arange(mine.sum())
        parts.append(pd.Series(carried).groupby(groups).sum().pow(2).sum())
    return float(np.sqrt(sum(parts))) if parts else 0.0


def _segment_of(ids: pd.Series, segments: pd.Series) -> pd.Series:
    """Each id's segment label; ``"other"`` for the ids ``segments`` does not name."""
    return ids.map(segments.astype("str")).astype("str").fillna("other")


def segment_uplift(shop: Shop, campaign_id: str, segments: pd.Series, *, window: str = "7D") -> pd.DataFrame:
    """A past test's uplift per segment: the difference in response rate, treatment vs control, with its standard error.

    Parameters
    ----------
    shop : Shop
    campaign_id : str
        A campaign with a control group in ``touches``.
    segments : pandas.Series
        Segment label per customer id (index), as the customers stood when the campaign was sent.
    window : str
        Response window (:func:`crm_lab.campaign.response`).

    Returns
    -------
    pandas.DataFrame indexed by segment: ``customers, control_customers, uplift, uplift_se``.

    Examples
    --------
    >>> import pandas as pd, crm_lab as cl
    >>> shop = cl.datasets.make_shop(3_000, seed=5)
    >>> seg = cl.program.segment_uplift(shop, "d11_2025_wave1", pd.Series(dtype=str))  # one segment: everyone
    >>> seg.index.tolist()
    ['other']
    """
    from crm_lab.response import response, window_label

    resp = response(shop, campaign_id, windows=(window,))
    resp["segment"] = _segment_of(resp["customer_id"], segments)
    col = f"responded_{window_label(window)}"
    rates = resp.groupby(["segment", "group"])[col].agg(["mean", "size"]).unstack("group")
    p1, n1, p0, n0 = rates[("mean", "treatment")], rates[("size", "treatment")], rates[("mean", "control")], rates[("size", "control")]
    return pd.DataFrame({"customers": n1, "control_customers": n0, "uplift": p1 - p0,
                         "uplift_se": np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)}).rename_axis("segment")


def candidates(shop: Shop, tests: dict[str, str], segments_at_send: dict[str, pd.Series], segments_now: pd.Series, *,
               as_of: Any = None, window: str = "7D") -> pd.DataFrame:
    """Allocation candidates: every customer with a kept order, its segment's uplift per channel (from
    the channel's past test) and the value of an incremental order (the CLV model's expected order value).

    Parameters
    ----------
    tests : dict
        Channel -> the campaign id of its past test, e.g. ``{"sms": "618_2025_sms", "rich_sms": "d11_2025_wave1"}``.
    segments_at_send : dict
        Campaign id -> segment per customer when that campaign was sent.
    segments_now : pandas.Series
        Segment per customer today (same labels).
    """
    from crm_lab import clv
    from crm_lab.summary import customer_summary

    s = customer_summary(shop, as_of=as_of)
    value = clv.fit(s).predict(horizon="90D")["expected_order_value"]
    out = pd.DataFrame({"customer_id": s.index.astype(str), "value": value.to_numpy()})
    out["segment"] = _segment_of(out["customer_id"], segments_now).to_numpy()
    for channel, campaign_id in tests.items():
        est = segment_uplift(shop, campaign_id, segments_at_send[campaign_id], window=window)
        out[f"uplift_{channel}"] = out["segment"].map(est["uplift"]).fillna(0.0).clip(lower=0.0)
        out[f"uplift_{channel}_se"] = out["segment"].map(est["uplift_se"]).fillna(0.0)
    return out
