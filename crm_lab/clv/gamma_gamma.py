"""Gamma-Gamma: the spend model of Fader, Hardie and Lee ("RFM and CLV", 2005)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from crm_lab.clv.fitting import Fitter, maximise
from crm_lab.clv.inputs import check_spend

__all__ = ["GammaGamma"]

#: q is kept above 1 in the fit: at q <= 1 the population mean order value is infinite.
Q_LOWER_LIMIT = 1.0 + 1e-6


class GammaGamma(Fitter):
    """Gamma-Gamma model of order value (Fader, Hardie and Lee 2005, "RFM and CLV").

    A customer's order values are Gamma(p, ν) with ν ~ Gamma(q, γ); fitted on customers with at
    least one repeat purchase, from their number of repeat purchases and mean repeat order value.

    Attributes
    ----------
    params_ : pandas.Series ``p, q, gamma`` (lifetimes calls γ ``v``)
    standard_errors_, covariance_, log_likelihood_, converged_, diagnostics_, n_customers_
        As :class:`~crm_lab.clv.BetaGeo`. ``q`` is kept above 1 (the population mean order value
        is infinite below); a fit that ends at that limit is not ``converged_``.

    Examples
    --------
    >>> import crm_lab as cl
    >>> from crm_lab.clv import GammaGamma
    >>> s = cl.summary.customer_summary(cl.datasets.make_shop(2_000, seed=2))
    >>> gg = GammaGamma().fit(s["frequency"], s["monetary_value"])
    >>> gg.converged_
    True
    """

    names = ["p", "q", "gamma"]
    label = "Gamma-Gamma"

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = float(penalizer)

    @staticmethod
    def _objective(x: np.ndarray, m: np.ndarray, weights: np.ndarray, penalizer: float) -> Any:
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
            grad = -np.array([(weights * d).sum() for d in (dp, dq, dg)]) / n * params + 2 * penalizer * params**2
            return float(-(weights * ll).sum() / n + penalizer * np.sum(params**2)), grad

        return value_and_grad

    def fit(self, frequency: Any, monetary_value: Any) -> GammaGamma:
        """Fit on customers with frequency > 0 (the others carry no repeat order value)."""
        x, m = check_spend(frequency, monetary_value)
        keep = x > 0
        # Mean order values are continuous: nothing to collapse.
        x, m = x[keep], m[keep]
        weights = np.ones_like(x)
        bounds = [(None, None), (float(np.log(Q_LOWER_LIMIT)), None), (None, None)]
        fitted = maximise(self._objective(x, m, weights, self.penalizer), np.log([1.0, 2.0, np.mean(m)]), weights.sum(), bounds)
        value, _ = self._objective(x, m, weights, 0.0)(np.log(fitted.params))
        self._store(fitted, weights, np.ones(3), -value * weights.sum(), lower_limits={"q": 1.0}, scale=np.array([1.0, 1.0, np.mean(m)]))
        return self

    def expected_order_value(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """E[order value | frequency, mean repeat order value]: shrunk towards the population mean."""
        p, q, g = self._p()
        if q <= 1:
            raise ValueError(f"Gamma-Gamma q = {q:.3f} <= 1: the population mean order value is undefined")
        x = np.asarray(frequency, dtype="float64")
        m = np.asarray(monetary_value, dtype="float64")
        weight = p * x / (p * x + q - 1)
        return (1 - weight) * (g * p / (q - 1)) + weight * m
