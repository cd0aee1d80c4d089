"""Per-customer predictions a member-operations team targets with: value, churn risk, next order.

:func:`customers` gives, for every customer who has bought, the historic net amount, the predicted
value of the next 365 days (the CLV model of :mod:`crm_lab.clv`), the churn risk (the probability of
no purchase in the next 90 days) in three bands with stated cut-offs, the expected date of the next
order and the average days between orders. The probabilities come from BG/NBD's closed forms, so
they are the same model the CLV report shows:

* P(no purchase in ``t`` | x, t_x, T) = 1 − P(alive) + P(alive) · ((α + T) / (α + T + t))^(r + x):
  an alive customer's purchase rate is Gamma(r + x, α + T) given the history, and a BG/NBD customer
  only drops out right after a purchase.
* The next order's median date: the ``t`` at which P(a purchase by t) = P(alive) · (1 − ((α + T) /
  (α + T + t))^(r + x)) reaches one half; none when a next order is less likely than not.

Examples
--------
>>> import crm_lab as cl
>>> p = cl.predict.customers(cl.datasets.make_shop(2_000, seed=3))
>>> sorted(p["churn_band"].cat.categories)
['high', 'low', 'medium']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crm_lab import clv
from crm_lab.clv.beta_geo import BetaGeo
from crm_lab.clv.inputs import TIME_UNITS
from crm_lab.data import Shop, window_length
from crm_lab.summary import customer_summary

__all__ = ["customers", "churn_risk", "next_order_in", "CHURN_BANDS", "PREDICTION_COLUMNS"]

#: Churn-risk bands: P(no purchase in the next 90 days) in [low, high). Fixed cut-offs, so a band
#: means the same in every shop and every month.
CHURN_BANDS: dict[str, tuple[float, float]] = {"low": (0.0, 0.5), "medium": (0.5, 0.8), "high": (0.8, 1.0 + 1e-12)}

#: Columns of :func:`customers`, with their meaning.
PREDICTION_COLUMNS = {
    "net_amount": "historic net amount (paid minus refunded)",
    "orders": "historic paid orders",
    "last_order_at": "time of the last paid order",
    "avg_days_between_orders": "days from the first to the last kept purchase day / repeat purchase days (NaN for one-time buyers)",
    "p_alive": "BG/NBD probability the customer is still active",
    "value_365d": "predicted net amount of the next 365 days (BG/NBD x Gamma-Gamma, discounted at annual_discount_rate)",
    "churn_risk": "probability of no purchase in the next churn_within (90 days by default)",
    "churn_band": "low / medium / high by CHURN_BANDS",
    "next_order_days": "median days from as_of to the next order (NaN when one within 365 days is less likely than not)",
    "next_order_at": "as_of's day + next_order_days",
}


def _posterior(model: clv.CLVModel, summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(alive) per customer, and the shape and rate of an alive customer's purchase rate given the
    history (Gamma(r + x, α + T)), in the model's time unit."""
    purchases = _bgnbd(model)
    r, alpha, _a, _b = purchases._p()
    x, T = summary["frequency"].to_numpy(float), summary["T"].to_numpy(float)
    return purchases.probability_alive(x, summary["recency"].to_numpy(float), T), r + x, alpha + T


def churn_risk(model: clv.CLVModel, summary: pd.DataFrame, within: Any = "90D") -> pd.Series:
    """P(no purchase in the next ``within``) per customer, under the model's BG/NBD.

    Parameters
    ----------
    model : CLVModel
        Fitted with ``model="bgnbd"`` (:func:`crm_lab.clv.fit`).
    summary : pandas.DataFrame
        ``frequency, recency, T`` per customer (:func:`crm_lab.summary.customer_summary`).
    within : window

    Examples
    --------
    >>> import crm_lab as cl
    >>> s = cl.summary.customer_summary(cl.datasets.make_shop(2_000, seed=3))
    >>> risk = churn_risk(cl.clv.fit(s), s)
    >>> bool(risk.between(0, 1).all())
    True
    """
    t = _days(within) / TIME_UNITS[model.time_unit]
    alive, shape, rate = _posterior(model, summary)
    quiet = (rate / (rate + t)) ** shape
    return pd.Series(1 - alive + alive * quiet, index=summary.index, name="churn_risk")


def next_order_in(model: clv.CLVModel, summary: pd.DataFrame, horizon: Any = "365D") -> pd.Series:
    """Median days to the next purchase per customer; NaN when a purchase within ``horizon`` is
    less likely than not (P(alive) <= 1/2 means it may never come)."""
    alive, shape, rate = _posterior(model, summary)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = rate * ((1 - 0.5 / alive) ** (-1 / shape) - 1)
    days = np.where(alive > 0.5, t, np.nan) * TIME_UNITS[model.time_unit]
    days = np.where(days <= _days(horizon), days, np.nan)
    return pd.Series(days, index=summary.index, name="next_order_days")


def _bgnbd(model: clv.CLVModel) -> BetaGeo:
    if not isinstance(model.purchases, BetaGeo):
        raise ValueError(f"predictions need a BG/NBD purchase model; this one is {model.purchases.label}. "
                         "Fix: crm_lab.clv.fit(summary, model='bgnbd')")
    return model.purchases


def _days(within: Any) -> float:
    return window_length(within) / pd.Timedelta(days=1)


def _bands(risk: pd.Series) -> pd.Categorical:
    edges = [low for low, _ in CHURN_BANDS.values()][1:]
    return pd.Categorical.from_codes(np.searchsorted(edges, risk.to_numpy(), side="right"), categories=list(CHURN_BANDS), ordered=True)


def customers(shop: Shop, *, as_of: Any = None, churn_within: Any = "90D", annual_discount_rate: float = 0.08,
              model: clv.CLVModel | None = None) -> pd.DataFrame:
    """Per-customer predictions: value, churn risk and band, next order.

    Parameters
    ----------
    shop : Shop or orders frame
    as_of : date-like, optional
        The moment of observation (default: the shop's); predictions look forward from its day.
    churn_within : window
        The churn horizon: churn risk is the probability of no purchase in it.
    annual_discount_rate : float
        Discount of the 365-day value, as the CLV report (8% a year).
    model : CLVModel, optional
        A BG/NBD + Gamma-Gamma fit on the same customers as of the same day; fitted here if not given.

    Returns
    -------
    pandas.DataFrame indexed by ``customer_id`` with :data:`PREDICTION_COLUMNS`; ``attrs`` holds
    ``as_of``, ``churn_within``, ``bands`` (:data:`CHURN_BANDS`) and the model's ``diagnostics``
    (empty when the fit can be trusted).

    Examples
    --------
    >>> import crm_lab as cl
    >>> p = customers(cl.datasets.make_shop(2_000, seed=3), as_of="2025-09-30")
    >>> bool((p["next_order_at"].dropna() > pd.Timestamp("2025-09-30")).all())
    True
    """
    s = customer_summary(shop, as_of=as_of)
    model = model if model is not None else clv.fit(s, model="bgnbd")
    value = model.predict(horizon="365D", annual_discount_rate=annual_discount_rate, customers=s)
    out = pd.DataFrame(index=s.index)
    out["net_amount"], out["orders"], out["last_order_at"] = s["net_amount"], s["orders"], s["last_order_at"]
    out["avg_days_between_orders"] = (s["recency"] / s["frequency"]).where(s["frequency"] > 0)
    out["p_alive"], out["value_365d"] = value["p_alive"], value["clv"]
    out["churn_risk"] = churn_risk(model, s, churn_within)
    out["churn_band"] = _bands(out["churn_risk"])
    out["next_order_days"] = next_order_in(model, s)
    day = pd.Timestamp(s.attrs["as_of"]).normalize()
    out["next_order_at"] = day + pd.to_timedelta(out["next_order_days"], unit="D")
    out.attrs.update(as_of=s.attrs["as_of"], churn_within=str(churn_within), bands=dict(CHURN_BANDS),
                     diagnostics=list(model.diagnostics))
    return out
