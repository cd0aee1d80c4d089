"""CLV: a purchase model (BG/NBD or Pareto/NBD) and the Gamma-Gamma spend model, fitted together."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_lab.clv.beta_geo import BetaGeo
from crm_lab.clv.gamma_gamma import GammaGamma
from crm_lab.clv.inputs import TIME_UNITS, check_rfm, collapse
from crm_lab.clv.pareto_nbd import ParetoNBD
from crm_lab.data import window_length
from crm_lab.results import Result

__all__ = ["CLVModel", "fit", "purchase_model", "PURCHASE_MODELS"]

log = logging.getLogger(__name__)

#: The purchase models ``fit(model=...)`` accepts.
PURCHASE_MODELS = {"bgnbd": BetaGeo, "pareto_nbd": ParetoNBD}


@dataclass(frozen=True)
class CLVModel(Result):
    """A purchase model and Gamma-Gamma fitted on a customer summary (:func:`fit`).

    Attributes
    ----------
    purchases : BetaGeo or ParetoNBD
    order_value : GammaGamma
    customers : pandas.DataFrame
        The ``frequency, recency, T, monetary_value`` the models were fitted and predict on.
    time_unit : str
    sample_size : int or None
        Customers fitted on when fitting on a sample, else None (all).
    notes : list of str
        What the fit left out or chose, in words.
    choice : pandas.DataFrame or None
        With ``model="auto"``: each purchase model's log-likelihood, holdout error when known,
        whether it can be trusted, and which was chosen.
    """

    purchases: BetaGeo | ParetoNBD
    order_value: GammaGamma
    customers: pd.DataFrame
    time_unit: str = "days"
    sample_size: int | None = None
    notes: list[str] = field(default_factory=list)
    choice: pd.DataFrame | None = None

    @property
    def params_(self) -> pd.Series:
        """The purchase model's and Gamma-Gamma's estimates in one Series."""
        return pd.concat([self.purchases.params_, self.order_value.params_]).rename("estimate")

    @property
    def diagnostics(self) -> list[str]:
        """Every reason not to trust the numbers, each naming its model; empty when there are none."""
        return [f"{m.label}: {d}" for m in (self.purchases, self.order_value) for d in m.diagnostics_]

    @property
    def trustworthy(self) -> bool:
        """Both fits reached a maximum with every estimate identified (no :attr:`diagnostics`)."""
        return not self.diagnostics

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Both models' estimates, standard errors and confidence intervals, with fit statistics."""
        parts = []
        for m in (self.purchases, self.order_value):
            part = m.summary(level)
            part.insert(0, "model", m.label)
            parts.append(part.assign(log_likelihood=m.log_likelihood_, converged=m.converged_, customers=m.n_customers_))
        return pd.concat(parts)

    def _units(self, days: float) -> float:
        return float(days) / TIME_UNITS[self.time_unit]

    def predict(self, *, horizon: Any = "90D", annual_discount_rate: float = 0.0, step_days: float = 30,
                customers: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per-customer predictions over the next ``horizon`` ('90D', '365D', a number of days or a Timedelta).

        CLV is defined as the expected net amount of the purchases in the horizon, discounted
        per step: ``Σ_k value · (E[X(t_k)] − E[X(t_{k−1})]) / (1 + annual_discount_rate)^(t_k / 365)``
        with ``t_k = min(k · step_days, horizon)`` in days, ``E[X(t)]`` the purchase model's expected
        purchases and ``value`` the Gamma-Gamma expected order value (lifetimes'
        ``customer_lifetime_value`` with 30-day steps and a monthly rate ``(1 + annual)^(30/365) − 1``).

        Returns
        -------
        pandas.DataFrame indexed like the customers: ``p_alive, expected_purchases,
        expected_order_value, clv``. Under BG/NBD a customer with no repeat purchase has
        ``p_alive`` 1 by the model's definition (dropout happens only after a purchase).
        """
        c = self.customers if customers is None else customers
        x, tx, t = c["frequency"].to_numpy(float), c["recency"].to_numpy(float), c["T"].to_numpy(float)
        value = self.order_value.expected_order_value(x, c["monetary_value"].to_numpy(float))
        # Purchases depend on (frequency, recency, T) only: evaluate each distinct row once.
        (ux, utx, ut), _, rows = collapse(x, tx, t)
        horizon_days = window_length(horizon) / pd.Timedelta(days=1)
        ends = np.minimum(np.arange(1, int(np.ceil(horizon_days / step_days)) + 1) * step_days, horizon_days)
        clv = np.zeros(len(c))
        previous = np.zeros(len(c))
        for end in ends:
            cumulative = self.purchases.expected_purchases(self._units(end), ux, utx, ut)[rows]
            clv += value * (cumulative - previous) / (1 + annual_discount_rate) ** (end / 365.0)
            previous = cumulative
        return pd.DataFrame(
            {"p_alive": self.purchases.probability_alive(ux, utx, ut)[rows], "expected_purchases": previous,
             "expected_order_value": value, "clv": clv},
            index=c.index,
        )

    def tiers(self, predictions: pd.DataFrame | None = None, bins: tuple[float, ...] = (0.5, 0.8, 0.95),
              labels: tuple[str, ...] = ("low", "medium", "high", "top")) -> pd.Series:
        """CLV tier per customer by quantile of predicted CLV (default: below median, to 80%, to 95%, top 5%)."""
        pred = self.predict() if predictions is None else predictions
        edges = np.quantile(pred["clv"], bins)
        return pd.Series(pd.Categorical.from_codes(np.searchsorted(edges, pred["clv"], side="right"), categories=list(labels), ordered=True),
                         index=pred.index, name="clv_tier")

    def tier_summary(self, predictions: pd.DataFrame | None = None) -> pd.DataFrame:
        """Customers, share, one-time buyers' share, mean P(alive) and predicted CLV per tier (:meth:`tiers`).

        ``one_time_share`` explains a low tier's high P(alive) under BG/NBD: customers who never
        bought again are alive by the model's definition, yet expected to buy little.
        """
        pred = self.predict() if predictions is None else predictions
        tiers = self.tiers(pred)
        one_time = (self.customers["frequency"].reindex(pred.index) == 0).astype(float).rename("one_time")
        table = pred.assign(one_time=one_time).groupby(tiers, observed=False).agg(
            customers=("clv", "size"), one_time_share=("one_time", "mean"), p_alive=("p_alive", "mean"),
            expected_purchases=("expected_purchases", "mean"), mean_clv=("clv", "mean"), total_clv=("clv", "sum"),
        )
        table.insert(1, "share", table["customers"] / table["customers"].sum())
        table["clv_share"] = table["total_clv"] / table["total_clv"].sum()
        return table.iloc[::-1]


def purchase_model(name: str, penalizer: float, time_unit: str, fit_on: pd.DataFrame) -> BetaGeo | ParetoNBD:
    """The purchase model ``name`` (a key of :data:`PURCHASE_MODELS`) fitted on ``fit_on``'s frequency, recency and T."""
    return PURCHASE_MODELS[name](penalizer, time_unit).fit(fit_on["frequency"], fit_on["recency"], fit_on["T"])


def _choose(fit_on: pd.DataFrame, penalizer: float, time_unit: str, holdout: Any) -> tuple[BetaGeo | ParetoNBD, pd.DataFrame, str]:
    """The purchase model with the smaller holdout error (trusted models first) when a holdout is
    given, else the trusted one with the higher likelihood (both have four parameters)."""
    if holdout is not None:
        errors = getattr(holdout, "comparison", None)
        if errors is None or not set(PURCHASE_MODELS) <= set(errors.index):
            raise ValueError("holdout: give the report of evaluate(..., model='auto'), which compares both purchase models")
        table = errors.loc[list(PURCHASE_MODELS), ["model", "mae", "trustworthy"]].rename(columns={"mae": "holdout_mae"})
        chosen = table.sort_values(["trustworthy", "holdout_mae"], ascending=[False, True]).index[0]
        purchases = purchase_model(chosen, penalizer, time_unit, fit_on)
        why = (f"smaller holdout error (MAE per customer {table.loc[chosen, 'holdout_mae']:.3f} against "
               f"{table.drop(index=chosen)['holdout_mae'].iloc[0]:.3f}, {holdout.calibration_end:%Y-%m-%d} to {holdout.holdout_end:%Y-%m-%d})")
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            fitted = {name: purchase_model(name, penalizer, time_unit, fit_on) for name in PURCHASE_MODELS}
        table = pd.DataFrame({"model": [m.label for m in fitted.values()],
                              "log_likelihood": [m.log_likelihood_ for m in fitted.values()],
                              "trustworthy": [m.converged_ for m in fitted.values()]}, index=list(fitted))
        chosen = table.sort_values(["trustworthy", "log_likelihood"], ascending=[False, False]).index[0]
        purchases = fitted[chosen]
        why = "higher log-likelihood on the fitted data (no holdout given; evaluate(model='auto') compares on a holdout)"
        for w in caught:  # the chosen model's doubts are the user's; the other's are in the table
            if purchases.label in str(w.message):
                warnings.warn(w.message, UserWarning, stacklevel=3)
    table["chosen"] = table.index == chosen
    if not purchases.converged_:
        why += "; it cannot be trusted on these data either"
    return purchases, table, f"purchase model {purchases.label} chosen: {why}"


def fit(summary: pd.DataFrame, *, model: str = "bgnbd", time_unit: str = "days", penalizer: float = 0.0,
        sample: int | None = None, seed: int = 0, holdout: Any = None) -> CLVModel:
    """Fit a purchase model and Gamma-Gamma on a customer summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``frequency, recency, T`` and ``monetary_value`` per customer (as
        :func:`crm_lab.summary.customer_summary` gives, in days; fully refunded purchase days are
        not purchases there).
    model : {"bgnbd", "pareto_nbd", "auto"}
        The purchase model. ``"auto"`` fits both and keeps the one with the smaller holdout error
        when ``holdout`` is given, else the one with the higher likelihood; a model that cannot be
        trusted loses to one that can. The choice and its reason are in ``notes`` and ``choice``.
    time_unit : {"days", "weeks", "months"}
        Unit of recency and T.
    penalizer : float
        L2 penalty for both models, as lifetimes' ``penalizer_coef`` (0: plain maximum likelihood).
    sample : int, optional
        Fit on this many randomly drawn customers (predictions still cover everyone).
    seed : int
        Seed of the sample.
    holdout : HoldoutReport, optional
        The report of :func:`crm_lab.clv.evaluate` with ``model="auto"``, for ``model="auto"``.

    Returns
    -------
    CLVModel
        A fit that cannot be trusted warns (UserWarning) and says why in ``diagnostics``.

    Examples
    --------
    >>> import crm_lab as cl
    >>> m = cl.clv.fit(cl.summary.customer_summary(cl.datasets.make_shop(2_000, seed=3)))
    >>> m.params_.index.tolist()
    ['r', 'alpha', 'a', 'b', 'p', 'q', 'gamma']
    """
    if model not in (*PURCHASE_MODELS, "auto"):
        raise ValueError(f"model must be one of {[*PURCHASE_MODELS, 'auto']}, got {model!r}")
    missing = {"frequency", "recency", "T", "monetary_value"} - set(summary.columns)
    if missing:
        raise ValueError(f"summary: missing column(s) {sorted(missing)}. Fix: use crm_lab.summary.customer_summary(...)")
    check_rfm(summary["frequency"], summary["recency"], summary["T"], time_unit=time_unit)
    customers = summary[["frequency", "recency", "T", "monetary_value"]].astype("float64")
    fit_on, notes, choice = customers, [], None
    if sample is not None and sample < len(customers):
        fit_on = customers.sample(n=int(sample), random_state=seed)
        notes.append(f"fitted on a random sample of {int(sample):,} of {len(customers):,} customers (seed {seed})")
    if model == "auto":
        purchases, choice, reason = _choose(fit_on, penalizer, time_unit, holdout)
        notes.append(reason)
    else:
        purchases = purchase_model(model, penalizer, time_unit, fit_on)
    # Net amounts: a customer whose repeat value is not positive has nothing to learn from (a
    # summary made by hand may have them). Left out of the spend fit (counted here), still predicted.
    refunded = (fit_on["frequency"] > 0) & (fit_on["monetary_value"] <= 0)
    if refunded.any():
        notes.append(f"{int(refunded.sum()):,} customers with repeat purchases but net repeat value <= 0 "
                     "(refunded) were left out of the Gamma-Gamma fit")
        log.info(notes[-1])
    spend = fit_on[~refunded]
    gg = GammaGamma(penalizer).fit(spend["frequency"], spend["monetary_value"])
    sampled = len(fit_on) if fit_on is not customers else None
    return CLVModel(purchases, gg, customers, time_unit, sampled, notes, choice)
