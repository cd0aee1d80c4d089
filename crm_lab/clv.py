"""Customer lifetime value: BG/NBD purchases and Gamma-Gamma order values, fitted by maximum likelihood.

The models are those of Fader, Hardie and Lee: "Counting your customers the easy way" (BG/NBD,
Marketing Science 2005) and "RFM and CLV" (Gamma-Gamma, Journal of Marketing Research 2005).
``lifetimes`` is their usual implementation and our test oracle; here the likelihoods are written
in log space with analytic gradients, identical customers are fitted once with a weight, inputs
are checked strictly, and no warning filter is touched.

Conventions follow scikit-learn: ``fit`` returns the estimator, fitted attributes end in ``_``,
``summary()`` returns a DataFrame with confidence intervals as columns.

Examples
--------
>>> import crm_lab as cl
>>> s = cl.summary.customer_summary(cl.datasets.make_shop(3_000, seed=1))
>>> model = cl.clv.fit(s)
>>> sorted(model.params_.index)
['a', 'alpha', 'b', 'gamma', 'p', 'q', 'r']
>>> pred = model.predict(horizon="90D")
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from scipy import optimize, special

from crm_lab import engine, summary
from crm_lab.data import observation_end, orders_of, window_length
from crm_lab.results import Result

__all__ = ["BetaGeo", "GammaGamma", "NotFittedError", "CLVModel", "fit", "evaluate", "HoldoutReport", "check_rfm", "TIME_UNITS"]

log = logging.getLogger(__name__)

#: Days per model time unit.
TIME_UNITS = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12}


# --------------------------------------------------------------------------------------------
# Input checks


def _rows(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    bad = index[mask]
    shown = ", ".join(str(v) for v in bad[:limit])
    return f"{int(mask.sum())} row(s): {shown}{' ...' if len(bad) > limit else ''}"


def check_rfm(
    frequency: Any, recency: Any, T: Any, monetary_value: Any = None, *, name: str = "summary"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, pd.Index]:
    """Validate BG/NBD (and Gamma-Gamma) inputs; raise ValueError naming the bad rows.

    Rules: finite numbers; frequency a whole number >= 0; 0 <= recency <= T; recency 0 when
    frequency is 0; monetary value > 0 where frequency > 0; at least two customers; at least
    one repeat purchase.

    Examples
    --------
    >>> from crm_lab.clv import check_rfm
    >>> check_rfm([0, 2], [0, 5], [3, 4])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: summary: recency > T in 1 row(s): 1
    """
    series = [pd.Series(v) if not isinstance(v, pd.Series) else v for v in (frequency, recency, T)]
    index = series[0].index
    cols = {"frequency": series[0], "recency": series[1], "T": series[2]}
    if monetary_value is not None:
        cols["monetary_value"] = monetary_value if isinstance(monetary_value, pd.Series) else pd.Series(monetary_value, index=index)
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{name}: columns differ in length {lengths}")
    if lengths["frequency"] == 0:
        raise ValueError(f"{name}: no customers (empty frame)")
    arrays = {}
    for key, values in cols.items():
        try:
            arr = np.asarray(pd.to_numeric(values, errors="raise"), dtype="float64")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}.{key}: not numeric ({exc})") from None
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(f"{name}.{key}: NaN or infinite in {_rows(index, bad)}. Fix: drop or fill them before fitting.")
        arrays[key] = arr
    x, tx, t = arrays["frequency"], arrays["recency"], arrays["T"]
    checks = [
        ("frequency", (x < 0) | (x != np.round(x)), "is negative or not a whole number (repeat purchase days)"),
        ("T", t < 0, "is negative"),
        ("recency", tx < 0, "is negative"),
        ("recency", tx > t, "> T (the last purchase cannot be after the end of observation)"),
        ("recency", (x == 0) & (tx != 0), "is not 0 where frequency is 0"),
    ]
    if "monetary_value" in arrays:
        checks.append(("monetary_value", (x > 0) & (arrays["monetary_value"] <= 0), "is not > 0 where frequency > 0"))
    for col, mask, problem in checks:
        if mask.any():
            raise ValueError(f"{name}.{col} {problem} in {_rows(index, mask)}. Fix: compute the inputs with crm_lab.summary.customer_summary.")
    if x.size < 2:
        raise ValueError(f"{name}: a single customer; the models need a population to fit")
    if not (x > 0).any():
        raise ValueError(f"{name}: no customer has a repeat purchase (all frequency 0); nothing to fit")
    return x, tx, t, arrays.get("monetary_value"), index


def _collapse(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unique rows of the given columns, how often each occurs, and each input row's unique row.

    Customers alike are fitted and predicted once. (Sums below avoid BLAS dot products, whose idle
    threads spin and cost CPU on small machines.) Whole numbers (frequency, and recency and T in
    days) are packed into one integer key: a 1-D unique is several times faster than a row-wise one.
    """
    cols = [np.asarray(c, dtype="float64") for c in columns]
    if all(c.size and c.min() >= 0 and np.array_equal(c, np.round(c)) for c in cols):
        ints = [c.astype(np.int64) for c in cols]
        spans = [int(c.max()) + 1 for c in ints]
        if np.prod(np.array(spans, dtype="float64")) < 2.0**62:
            key = ints[0]
            for c, span in zip(ints[1:], spans[1:]):
                key = key * span + c
            _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
            return [c[first] for c in cols], counts.astype("float64"), inverse.ravel()
    unique, inverse, counts = np.unique(np.column_stack(cols), axis=0, return_inverse=True, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype("float64"), inverse.ravel()


def _hessian(grad: Any, theta: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Central differences of an analytic gradient."""
    n = theta.size
    h = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = step * max(1.0, abs(theta[i]))
        h[i] = (grad(theta + e) - grad(theta - e)) / (2 * e[i])
    return (h + h.T) / 2


@dataclass
class _Fit:
    params: np.ndarray
    cov: np.ndarray
    loglik: float
    converged: bool
    iterations: int
    message: str


def _maximise(value_and_grad: Any, theta0: np.ndarray, n: float, names: list[str]) -> _Fit:
    """Minimise the mean negative log-likelihood over log-parameters; covariance from the Hessian."""

    def grad(theta: np.ndarray) -> np.ndarray:
        return value_and_grad(theta)[1]

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        res = optimize.minimize(value_and_grad, theta0, jac=True, method="L-BFGS-B",
                                options={"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-15})
        if not res.success or np.max(np.abs(grad(res.x))) > 1e-5:
            res2 = optimize.minimize(value_and_grad, res.x, jac=True, method="BFGS", options={"maxiter": 2000, "gtol": 1e-9})
            if res2.fun <= res.fun:
                res = res2
        params = np.exp(res.x)
        hess = _hessian(grad, res.x) * n  # of the total negative log-likelihood, in log-parameters
        final_grad = grad(res.x)
    try:
        cov_log = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        cov_log = np.full((len(names), len(names)), np.nan)
    jac = np.diag(params)
    converged = bool(np.max(np.abs(final_grad)) < 1e-4 and np.isfinite(res.fun))
    return _Fit(params, jac @ cov_log @ jac, float(-res.fun * n), converged, int(getattr(res, "nit", 0) or 0), str(res.message))


def _summary_table(params: pd.Series, cov: np.ndarray, level: float = 0.95) -> pd.DataFrame:
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    z = special.ndtri(0.5 + level / 2)
    # Intervals on the log scale keep the parameters positive.
    lower = params.to_numpy() * np.exp(-z * se / params.to_numpy())
    upper = params.to_numpy() * np.exp(z * se / params.to_numpy())
    pct = f"{level:.0%}"
    return pd.DataFrame(
        {"coef": params.to_numpy(), "se": se, f"lower {pct}": lower, f"upper {pct}": upper}, index=params.index
    )


class NotFittedError(ValueError, AttributeError):
    """A model used before ``fit`` (as scikit-learn's, without importing scikit-learn)."""


class _Fitter:
    """What the CLV fitters share (lifetimes' small focused fitters, scikit-learn's conventions):
    ``fit`` returns self, fitted attributes end in ``_``, :meth:`summary` is a table of estimates.

    Subclasses set :attr:`names` and call :meth:`_store` at the end of ``fit``.
    """

    names: list[str] = []
    label = ""

    def _store(self, fitted: _Fit, weights: np.ndarray) -> None:
        """The fitted attributes: estimates, covariance, standard errors, log-likelihood, convergence."""
        self.params_ = pd.Series(fitted.params, index=self.names, name=self.label)
        self.covariance_ = pd.DataFrame(fitted.cov, index=self.names, columns=self.names)
        self.standard_errors_ = pd.Series(np.sqrt(np.clip(np.diag(fitted.cov), 0, None)), index=self.names)
        self.log_likelihood_ = fitted.loglik + self.penalizer * np.sum(fitted.params**2) * weights.sum()
        self.converged_, self.iterations_, self.n_customers_ = fitted.converged, fitted.iterations, int(weights.sum())
        self.message_ = fitted.message

    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` (a ValueError, as scikit-learn's ``check_is_fitted``) unless ``fit`` has run."""
        if not hasattr(self, "params_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit() first")

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Estimates with standard errors and confidence intervals (log-scale Wald)."""
        self.check_is_fitted()
        return _summary_table(self.params_, self.covariance_.to_numpy(), level)


# --------------------------------------------------------------------------------------------
# BG/NBD


class BetaGeo(_Fitter):
    """BG/NBD model of repeat purchases (Fader, Hardie and Lee 2005).

    Purchases follow a Poisson process with rate λ ~ Gamma(r, α); after each repeat purchase a
    customer drops out with probability p ~ Beta(a, b).

    Parameters
    ----------
    penalizer : float
        L2 penalty on the parameters added to the mean negative log-likelihood (as lifetimes'
        ``penalizer_coef``); 0 is plain maximum likelihood.
    time_unit : {"days", "weeks", "months"}
        Unit of recency and T; recorded for predictions given in days.

    Attributes
    ----------
    params_ : pandas.Series ``r, alpha, a, b``
    standard_errors_ : pandas.Series
    covariance_ : pandas.DataFrame
    log_likelihood_ : float
        Total log-likelihood at the estimate (without the penalty).
    converged_, iterations_, n_customers_ : bool, int, int

    Examples
    --------
    >>> from crm_lab.clv import BetaGeo
    >>> import crm_lab as cl
    >>> s = cl.summary.customer_summary(cl.datasets.make_shop(2_000, seed=2))
    >>> bg = BetaGeo().fit(s["frequency"], s["recency"], s["T"])
    >>> bg.converged_
    True
    """

    names = ["r", "alpha", "a", "b"]
    label = "BG/NBD"

    def __init__(self, penalizer: float = 0.0, time_unit: str = "days"):
        if time_unit not in TIME_UNITS:
            raise ValueError(f"time_unit must be one of {sorted(TIME_UNITS)}")
        self.penalizer = float(penalizer)
        self.time_unit = time_unit

    def _objective(self, x: np.ndarray, tx: np.ndarray, t: np.ndarray, weights: np.ndarray) -> Any:
        """Mean negative log-likelihood and its gradient in log-parameters, from one pass.

        Frequency, recency and T take few distinct values: the special functions are evaluated
        on those and gathered, not once per customer.
        """
        n = weights.sum()
        ux, ix = np.unique(x, return_inverse=True)
        ut, it = np.unique(t, return_inverse=True)
        utx, itx = np.unique(tx, return_inverse=True)
        rep = x > 0
        log_b_term_x = np.maximum(ux, 1) - 1  # b + max(x, 1) - 1, without b

        def value_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            r, alpha, a, b = params = np.exp(theta)
            log_at, log_atx = np.log(alpha + ut)[it], np.log(alpha + utx)[itx]
            lg = (special.gammaln(r + ux) + special.gammaln(b + ux) - special.gammaln(a + b + ux))[ix]
            b_x = (b + log_b_term_x)[ix]
            const = -special.gammaln(r) + r * np.log(alpha) + special.gammaln(a + b) - special.gammaln(b)
            a3 = -(r + x) * log_at
            a4 = np.where(rep, np.log(a) - np.log(b_x) - (r + x) * log_atx, -np.inf)
            top = np.logaddexp(a3, a4)
            ll = lg + const + top
            w = np.exp(a4 - top)  # weight of "dropped out after the last purchase"
            dr = (special.digamma(r + ux))[ix] - special.digamma(r) + np.log(alpha) - (1 - w) * log_at - w * log_atx
            dalpha = r / alpha - (r + x) * ((1 - w) / (alpha + ut)[it] + w / (alpha + utx)[itx])
            dab = special.digamma(a + b) - special.digamma(a + b + ux)[ix]
            da = dab + w / a
            db = dab + (special.digamma(b + ux))[ix] - special.digamma(b) - w / b_x
            g = np.array([(weights * d).sum() for d in (dr, dalpha, da, db)]) / n
            value = float(-(weights * ll).sum() / n + self.penalizer * np.sum(params**2))
            return value, -g * params + 2 * self.penalizer * params**2

        return value_and_grad

    def fit(self, frequency: Any, recency: Any, T: Any) -> BetaGeo:
        """Fit by maximum likelihood; returns self."""
        x, tx, t, _, _ = check_rfm(frequency, recency, T)
        (x, tx, t), weights, _ = _collapse(x, tx, t)
        rate = (weights * x).sum() / (weights * t).sum()
        theta0 = np.log([1.0, 1.0 / max(rate, 1e-9), 1.0, 1.0])
        self._store(_maximise(self._objective(x, tx, t, weights), theta0, weights.sum(), self.names), weights)
        return self

    def _p(self) -> tuple[float, float, float, float]:
        self.check_is_fitted()
        r, alpha, a, b = (float(v) for v in self.params_[self.names])
        return r, alpha, a, b

    def expected_purchases(self, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """E[purchases in (T, T + t] | frequency, recency, T]; ``t`` in the model's time unit."""
        r, alpha, a, b = self._p()
        x, tx, tt = (np.asarray(v, dtype="float64") for v in (frequency, recency, T))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + tt + t))
            first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + tt) / (alpha + tt + t)) ** (r + x) * hyp)
            second = 1 + (x > 0) * (a / (b + np.maximum(x, 1) - 1)) * ((alpha + tt) / (alpha + tx)) ** (r + x)
        return first / second

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(the customer has not dropped out at T | frequency, recency, T)."""
        r, alpha, a, b = self._p()
        x, tx, tt = (np.asarray(v, dtype="float64") for v in (frequency, recency, T))
        log_odds = (r + x) * np.log((alpha + tt) / (alpha + tx)) + np.log(a / (b + np.maximum(x, 1) - 1))
        return np.where(x == 0, 1.0, special.expit(-log_odds))

    def expected_purchases_new(self, t: Any) -> np.ndarray:
        """E[repeat purchases in (0, t]] for a customer just acquired (unconditional)."""
        r, alpha, a, b = self._p()
        t = np.asarray(t, dtype="float64")
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma


class GammaGamma(_Fitter):
    """Gamma-Gamma model of order value (Fader, Hardie and Lee 2005, "RFM and CLV").

    A customer's order values are Gamma(p, ν) with ν ~ Gamma(q, γ); fitted on customers with at
    least one repeat purchase, from their number of repeat purchases and mean repeat order value.

    Attributes
    ----------
    params_ : pandas.Series ``p, q, gamma`` (lifetimes calls γ ``v``)
    standard_errors_, covariance_, log_likelihood_, converged_, n_customers_

    Examples
    --------
    >>> from crm_lab.clv import GammaGamma
    >>> gg = GammaGamma().fit([1, 2, 3, 1], [50.0, 80.0, 65.0, 40.0])
    """

    names = ["p", "q", "gamma"]
    label = "Gamma-Gamma"

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = float(penalizer)

    def _objective(self, x: np.ndarray, m: np.ndarray, weights: np.ndarray) -> Any:
        """Mean negative log-likelihood and gradient in log-parameters; special functions per distinct x."""
        n = weights.sum()
        ux, ix = np.unique(x, return_inverse=True)
        log_m, log_x, xm = np.log(m), np.log(x), x * m

        def value_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            p, q, g = params = np.exp(theta)
            log_gxm = np.log(g + xm)
            lg = (special.gammaln(p * ux + q) - special.gammaln(p * ux))[ix]
            ll = lg - special.gammaln(q) + q * np.log(g) + (p * x - 1) * log_m + p * x * log_x - (p * x + q) * log_gxm
            psi = special.digamma(p * ux + q)[ix]
            dp = x * (psi - special.digamma(p * ux)[ix] + log_m + log_x - log_gxm)
            dq = psi - special.digamma(q) + np.log(g) - log_gxm
            dg = q / g - (p * x + q) / (g + xm)
            grad = -np.array([(weights * d).sum() for d in (dp, dq, dg)]) / n * params + 2 * self.penalizer * params**2
            return float(-(weights * ll).sum() / n + self.penalizer * np.sum(params**2)), grad

        return value_and_grad

    def fit(self, frequency: Any, monetary_value: Any) -> GammaGamma:
        """Fit on customers with frequency > 0 (the others carry no repeat order value)."""
        freq = pd.Series(frequency) if not isinstance(frequency, pd.Series) else frequency
        mon = pd.Series(monetary_value, index=freq.index) if not isinstance(monetary_value, pd.Series) else monetary_value
        zeros = pd.Series(0.0, index=freq.index)  # recency and T play no part here
        x, _, _, m, _ = check_rfm(freq, zeros, zeros, mon, name="gamma-gamma input")
        keep = x > 0
        # Mean order values are continuous: nothing to collapse.
        x, m = x[keep], m[keep]
        weights = np.ones_like(x)
        self._store(_maximise(self._objective(x, m, weights), np.log([1.0, 2.0, np.mean(m)]), weights.sum(), self.names), weights)
        return self

    def expected_order_value(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """E[order value | frequency, mean repeat order value]: shrunk towards the population mean."""
        self.check_is_fitted()
        p, q, g = (float(v) for v in self.params_[self.names])
        if q <= 1:
            raise ValueError(f"Gamma-Gamma q = {q:.3f} <= 1: the population mean order value is undefined")
        x = np.asarray(frequency, dtype="float64")
        m = np.asarray(monetary_value, dtype="float64")
        weight = p * x / (p * x + q - 1)
        return (1 - weight) * (g * p / (q - 1)) + weight * m


# --------------------------------------------------------------------------------------------
# Together: CLV


@dataclass(frozen=True)
class CLVModel(Result):
    """BG/NBD + Gamma-Gamma fitted on a customer summary (:func:`fit`).

    Attributes
    ----------
    purchases : BetaGeo
    order_value : GammaGamma
    customers : pandas.DataFrame
        The ``frequency, recency, T, monetary_value`` the models were fitted and predict on.
    time_unit : str
    sample_size : int or None
        Customers fitted on when fitting on a sample, else None (all).
    """

    purchases: BetaGeo
    order_value: GammaGamma
    customers: pd.DataFrame
    time_unit: str = "days"
    sample_size: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def params_(self) -> pd.Series:
        """``r, alpha, a, b, p, q, gamma`` in one Series."""
        return pd.concat([self.purchases.params_, self.order_value.params_]).rename("estimate")

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Both models' estimates, standard errors and confidence intervals, with fit statistics."""
        table = pd.concat([self.purchases.summary(level), self.order_value.summary(level)])
        table.insert(0, "model", ["BG/NBD"] * 4 + ["Gamma-Gamma"] * 3)
        table["log_likelihood"] = [self.purchases.log_likelihood_] * 4 + [self.order_value.log_likelihood_] * 3
        table["converged"] = [self.purchases.converged_] * 4 + [self.order_value.converged_] * 3
        table["customers"] = [self.purchases.n_customers_] * 4 + [self.order_value.n_customers_] * 3
        return table

    def _units(self, days: float) -> float:
        return float(days) / TIME_UNITS[self.time_unit]

    def predict(self, *, horizon: Any = "90D", annual_discount_rate: float = 0.0, step_days: float = 30,
                customers: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per-customer predictions over the next ``horizon`` ('90D', '365D', a number of days or a Timedelta).

        CLV is defined as the expected net amount of the purchases in the horizon, discounted
        per step: ``Σ_k value · (E[X(t_k)] − E[X(t_{k−1})]) / (1 + annual_discount_rate)^(t_k / 365)``
        with ``t_k = min(k · step_days, horizon)`` in days, ``E[X(t)]`` the BG/NBD expected purchases
        and ``value`` the Gamma-Gamma expected order value (lifetimes' ``customer_lifetime_value``
        with 30-day steps and a monthly rate ``(1 + annual)^(30/365) − 1``).

        Returns
        -------
        pandas.DataFrame indexed like the customers: ``p_alive, expected_purchases,
        expected_order_value, clv``.
        """
        c = self.customers if customers is None else customers
        x, tx, t = c["frequency"].to_numpy(float), c["recency"].to_numpy(float), c["T"].to_numpy(float)
        value = self.order_value.expected_order_value(x, c["monetary_value"].to_numpy(float))
        # Purchases depend on (frequency, recency, T) only: evaluate each distinct row once.
        (ux, utx, ut), _, rows = _collapse(x, tx, t)
        horizon_days = window_length(horizon) / pd.Timedelta(days=1)
        ends = np.minimum(np.arange(1, int(np.ceil(horizon_days / step_days)) + 1) * step_days, horizon_days)
        clv = np.zeros(len(c))
        previous = np.zeros(len(c))
        for end in ends:
            cumulative = self.purchases.expected_purchases(self._units(end), ux, utx, ut)[rows]
            clv += value * (cumulative - previous) / (1 + annual_discount_rate) ** (end / 365.0)
            previous = cumulative
        return pd.DataFrame(
            {
                "p_alive": self.purchases.probability_alive(ux, utx, ut)[rows],
                "expected_purchases": previous,
                "expected_order_value": value,
                "clv": clv,
            },
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
        """Customers, share, mean P(alive) and predicted CLV per tier (:meth:`tiers`)."""
        pred = self.predict() if predictions is None else predictions
        tiers = self.tiers(pred)
        table = pred.groupby(tiers, observed=False).agg(
            customers=("clv", "size"), p_alive=("p_alive", "mean"), expected_purchases=("expected_purchases", "mean"),
            mean_clv=("clv", "mean"), total_clv=("clv", "sum"),
        )
        table.insert(1, "share", table["customers"] / table["customers"].sum())
        table["clv_share"] = table["total_clv"] / table["total_clv"].sum()
        return table.iloc[::-1]


def fit(summary: pd.DataFrame, *, time_unit: str = "days", penalizer: float = 0.0, sample: int | None = None,
        seed: int = 0) -> CLVModel:
    """Fit BG/NBD and Gamma-Gamma on a customer summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``frequency, recency, T`` and ``monetary_value`` per customer (as
        :func:`crm_lab.summary.customer_summary` gives, in days).
    time_unit : {"days", "weeks", "months"}
        Unit of recency and T.
    penalizer : float
        L2 penalty for both models (0: plain maximum likelihood).
    sample : int, optional
        Fit on this many randomly drawn customers (predictions still cover everyone).
    seed : int
        Seed of the sample.

    Returns
    -------
    CLVModel

    Examples
    --------
    >>> import crm_lab as cl
    >>> m = cl.clv.fit(cl.summary.customer_summary(cl.datasets.make_shop(2_000, seed=3)))
    >>> m.params_.index.tolist()
    ['r', 'alpha', 'a', 'b', 'p', 'q', 'gamma']
    """
    missing = {"frequency", "recency", "T", "monetary_value"} - set(summary.columns)
    if missing:
        raise ValueError(f"summary: missing column(s) {sorted(missing)}. Fix: use crm_lab.summary.customer_summary(...)")
    check_rfm(summary["frequency"], summary["recency"], summary["T"])
    customers = summary[["frequency", "recency", "T", "monetary_value"]].astype("float64")
    fit_on, notes = customers, []
    if sample is not None and sample < len(customers):
        fit_on = customers.sample(n=int(sample), random_state=seed)
        notes.append(f"fitted on a random sample of {int(sample):,} of {len(customers):,} customers (seed {seed})")
    bg = BetaGeo(penalizer, time_unit).fit(fit_on["frequency"], fit_on["recency"], fit_on["T"])
    # Net amounts: a customer whose repeat orders were all refunded has no positive order value to
    # learn from. Left out of the spend fit (counted here), still predicted (shrunk to the mean).
    refunded = (fit_on["frequency"] > 0) & (fit_on["monetary_value"] <= 0)
    if refunded.any():
        notes.append(f"{int(refunded.sum()):,} customers with repeat purchases but net repeat value <= 0 "
                     "(refunded) were left out of the Gamma-Gamma fit")
        log.info(notes[-1])
    spend = fit_on[~refunded]
    gg = GammaGamma(penalizer).fit(spend["frequency"], spend["monetary_value"])
    sampled = len(fit_on) if fit_on is not customers else None
    return CLVModel(bg, gg, customers, time_unit, sampled, notes)


# --------------------------------------------------------------------------------------------
# Holdout evaluation


@dataclass(frozen=True)
class HoldoutReport(Result):
    """Calibration / holdout check of the purchase model (:func:`evaluate`).

    Attributes
    ----------
    model : CLVModel
    customers : pandas.DataFrame
        Per customer: calibration ``frequency, recency, T``, ``actual`` and ``predicted`` holdout
        repeat purchases (purchase days) and the ``naive`` run-rate forecast.
    by_frequency : pandas.DataFrame
        Mean actual / predicted / naive holdout purchases by calibration frequency (0 .. 7+).
    tracking : pandas.DataFrame
        Weekly cumulative repeat purchases of the cohort: actual and expected.
    calibration_end, holdout_end : pandas.Timestamp
    """

    model: CLVModel
    customers: pd.DataFrame
    by_frequency: pd.DataFrame
    tracking: pd.DataFrame
    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp

    def summary(self) -> pd.DataFrame:
        """Totals and per-customer errors of the model against the naive forecast."""
        c = self.customers
        rows = {
            "customers": len(c),
            "actual repeat purchases": c["actual"].sum(),
            "predicted (BG/NBD)": c["predicted"].sum(),
            "predicted (naive run-rate)": c["naive"].sum(),
            "MAE per customer (BG/NBD)": (c["predicted"] - c["actual"]).abs().mean(),
            "MAE per customer (naive)": (c["naive"] - c["actual"]).abs().mean(),
            "correlation actual vs predicted": c["actual"].corr(c["predicted"]),
        }
        return pd.DataFrame({"value": pd.Series(rows, dtype="float64")})

    def to_frame(self) -> pd.DataFrame:
        """Per customer: calibration inputs, actual and predicted holdout purchases."""
        return self.customers

    def plot(self, ax: Any = None) -> Any:
        """Cumulative repeat purchases, actual against expected (:meth:`plot_tracking`); returns the Axes."""
        return self.plot_tracking(ax)

    def plot_tracking(self, ax: Any = None) -> Any:
        """Cumulative repeat purchases, actual vs expected, with the calibration end marked."""
        from crm_lab import plots

        long = self.tracking.melt(id_vars="week", value_vars=["actual", "expected"], var_name="series", value_name="cumulative")
        long["series"] = long["series"].map({"actual": "实际 actual", "expected": "模型 BG/NBD"})
        ax = plots.line(long, x="week", y="cumulative", hue="series", ax=ax, marker="", title="累计复购次数 Cumulative repeat purchases", xlabel="", ylabel="")
        ax.axvline(self.calibration_end, color="#7f8c8d", linestyle="--")
        return ax

    def plot_by_frequency(self, ax: Any = None) -> Any:
        """Mean holdout purchases by calibration frequency: actual, BG/NBD and naive."""
        from crm_lab import plots

        long = self.by_frequency.reset_index().melt(id_vars="calibration_frequency", value_vars=["actual", "predicted", "naive"],
                                                    var_name="series", value_name="mean_purchases")
        return plots.bar(long, x="calibration_frequency", y="mean_purchases", hue="series", ax=ax,
                         title="验证期平均复购 by calibration frequency", xlabel="calibration frequency", ylabel="")


def evaluate(source: Any, calibration_end: Any, holdout_end: Any, *, penalizer: float = 0.0) -> HoldoutReport:
    """Fit on orders up to ``calibration_end``; compare predictions with ``(calibration_end, holdout_end]``.

    Holdout purchases count distinct purchase days, as the model's frequency does. The naive
    forecast repeats each customer's calibration rate (``frequency / T``; 0 for T = 0).

    Examples
    --------
    >>> import crm_lab as cl
    >>> rep = cl.clv.evaluate(cl.datasets.make_shop(3_000, seed=1), "2025-03-31", "2025-11-30")
    >>> bool(rep.summary().loc["customers", "value"] > 0)
    True
    """
    orders, shop_as_of = orders_of(source)
    cal_end, hold_end = pd.Timestamp(calibration_end), pd.Timestamp(holdout_end)
    if hold_end <= cal_end:
        raise ValueError(f"holdout_end ({hold_end.date()}) must be after calibration_end ({cal_end.date()})")
    cal = summary.customer_summary(orders, as_of=cal_end)
    lf = engine.lazy(orders)
    start, stop = observation_end(cal_end), observation_end(hold_end)
    # The holdout must be observed: up to the shop's as_of, or (orders alone) within a week of
    # the last order, since a quiet last day or two says nothing.
    if shop_as_of is not None:
        data_end, slack = pd.Timestamp(shop_as_of), pd.Timedelta(0)
    else:
        data_end, slack = pd.Timestamp(engine.collect(lf.select(nw.col("paid_at").max()))["paid_at"].iloc[0]), pd.Timedelta(days=7)
    if hold_end.normalize() > data_end.normalize() + slack:
        raise ValueError(f"the data end {data_end.date()}, before holdout_end {hold_end.date()}: the holdout is not observed")
    holdout = engine.collect(
        engine.between(lf, "paid_at", start, stop)
        .with_columns(day=nw.col("paid_at").dt.truncate("1d"))
        .group_by("customer_id")
        .agg(nw.col("day").n_unique().alias("actual"))
    ).set_index("customer_id")["actual"]
    model = fit(cal, penalizer=penalizer)
    days = float((hold_end.normalize() - cal_end.normalize()) / pd.Timedelta(days=1))
    c = cal[["frequency", "recency", "T"]].copy()
    c["actual"] = holdout.reindex(c.index, fill_value=0).astype("float64")
    c["predicted"] = model.purchases.expected_purchases(days, c["frequency"], c["recency"], c["T"])
    c["naive"] = np.where(c["T"] > 0, c["frequency"] / c["T"].where(c["T"] > 0, 1.0), 0.0) * days
    bucket = c["frequency"].clip(upper=7).astype(int).astype(str).replace("7", "7+")
    by_freq = c.groupby(bucket)[["actual", "predicted", "naive"]].mean()
    by_freq["customers"] = c.groupby(bucket).size()
    by_freq.index.name = "calibration_frequency"
    tracking = _tracking(orders, cal, model, cal_end, hold_end)
    return HoldoutReport(model, c, by_freq, tracking, cal_end, hold_end)


def _tracking(orders: Any, cal: pd.DataFrame, model: CLVModel, cal_end: pd.Timestamp, hold_end: pd.Timestamp) -> pd.DataFrame:
    """Weekly cumulative repeat purchase days of the calibration cohort: actual and expected."""
    lf = engine.lazy(orders)
    first = cal["first_order_at"].dt.normalize()
    cohort = engine.like(orders, pd.DataFrame({"customer_id": cal.index.astype("str"), "first_day": first.to_numpy()}))
    # Repeat purchase days of the cohort, counted per calendar day where the orders live.
    per_day = engine.collect(
        lf.filter(nw.col("paid_at") < engine.timestamp(observation_end(hold_end), lf))
        .with_columns(day=nw.col("paid_at").dt.truncate("1d"))
        .select("customer_id", "day").unique()
        .join(cohort, on="customer_id")
        .filter(nw.col("day") > nw.col("first_day"))
        .group_by("day").agg(nw.len().alias("repeat_days"))
    ).sort_values("day")
    start = cal["first_order_at"].min().normalize()
    weeks = pd.date_range(start + pd.Timedelta(days=7), hold_end.normalize() + pd.Timedelta(days=7), freq="7D")
    before = np.searchsorted(per_day["day"].to_numpy(dtype="datetime64[us]"), weeks.to_numpy(dtype="datetime64[us]"), side="left")
    actual = np.r_[0, np.cumsum(per_day["repeat_days"].to_numpy())][before]
    births = first.value_counts()
    ages = (weeks.to_numpy()[:, None] - births.index.to_numpy()[None, :]) / np.timedelta64(1, "D")
    unit_ages = np.clip(ages, 0, None) / TIME_UNITS[model.time_unit]
    expected = (model.purchases.expected_purchases_new(unit_ages) * births.to_numpy()[None, :]).sum(axis=1)
    return pd.DataFrame({"week": weeks, "actual": actual.astype("float64"), "expected": expected,
                         "period": np.where(weeks <= cal_end + pd.Timedelta(days=1), "calibration", "holdout")})
