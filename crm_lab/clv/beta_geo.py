"""BG/NBD: the beta-geometric / negative binomial model of repeat purchases (Fader, Hardie and Lee 2005)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from crm_lab.clv.fitting import PurchaseFitter

__all__ = ["BetaGeo"]


class BetaGeo(PurchaseFitter):
    """BG/NBD model of repeat purchases (Fader, Hardie and Lee 2005).

    Purchases follow a Poisson process with rate λ ~ Gamma(r, α); after each repeat purchase a
    customer drops out with probability p ~ Beta(a, b).

    Parameters
    ----------
    penalizer : float
        L2 penalty on the parameters added to the mean negative log-likelihood, with time scaled
        so that the oldest customer's T is 1: exactly lifetimes' ``penalizer_coef``, and the same
        whatever the time unit. 0 is plain maximum likelihood.
    time_unit : {"days", "weeks", "months"}
        Unit of recency and T; recorded for predictions given in days.

    Attributes
    ----------
    params_ : pandas.Series ``r, alpha, a, b``
    standard_errors_ : pandas.Series
    covariance_ : pandas.DataFrame
    log_likelihood_ : float
        Total log-likelihood at the estimate (without the penalty).
    converged_ : bool
        The fit can be trusted: a maximum was reached and no estimate sits at a boundary, has a
        zero or infinite standard error or an interval spanning orders of magnitude.
    diagnostics_ : list of str
        What is wrong when ``converged_`` is False (:func:`crm_lab.clv.fitting.diagnose`).
    iterations_, n_customers_ : int

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
    time_params = ("alpha",)

    @staticmethod
    def _objective(x: np.ndarray, tx: np.ndarray, t: np.ndarray, weights: np.ndarray, penalizer: float) -> Any:
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
            value = float(-(weights * ll).sum() / n + penalizer * np.sum(params**2))
            return value, -g * params + 2 * penalizer * params**2

        return value_and_grad

    def _start(self, rate: float) -> np.ndarray:
        return np.array([1.0, 1.0 / rate, 1.0, 1.0])

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
