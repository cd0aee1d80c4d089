"""Maximum likelihood for the CLV fitters, and the checks that decide whether a fit can be trusted.

A fit "converges" when the optimiser stops at a stationary point. That is not enough: on real
data (UCI Online Retail to 2011-09-01) BG/NBD stops at a = 9e-7, b = 6,200 with standard errors 0,
an estimate at the edge of the parameter space that the data cannot identify. :func:`diagnose`
names such problems in words; a fitter with any problem has ``converged_ = False``, lists them in
``diagnostics_`` and warns once (UserWarning) when it is fitted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy import optimize, special

from crm_lab.clv.inputs import TIME_UNITS, check_rfm, collapse, time_scale

__all__ = ["NotFittedError", "diagnose", "Fitter", "PurchaseFitter"]

#: A parameter beyond these (in the fit's time scale, oldest customer at T = 1) sits at a boundary.
BOUNDARY = (1e-6, 1e6)
#: A confidence interval wider than this ratio (upper / lower) spans orders of magnitude.
MAX_INTERVAL_RATIO = 1e3
#: Largest |gradient| of the mean log-likelihood at a stationary point.
GRADIENT_TOLERANCE = 1e-4


def hessian(grad: Any, theta: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Central differences of an analytic gradient."""
    n = theta.size
    h = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = step * max(1.0, abs(theta[i]))
        h[i] = (grad(theta + e) - grad(theta - e)) / (2 * e[i])
    return (h + h.T) / 2


def numerical_gradient(value: Any) -> Any:
    """``value_and_grad`` from a value alone, by central differences (for likelihoods without an analytic gradient)."""

    def value_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        g = np.empty(theta.size)
        for i in range(theta.size):
            e = np.zeros(theta.size)
            e[i] = 1e-6 * max(1.0, abs(theta[i]))
            g[i] = (value(theta + e) - value(theta - e)) / (2 * e[i])
        return value(theta), g

    return value_and_grad


@dataclass
class Fit:
    """What the optimiser found, in the fit's parameterisation (log-parameters, scaled time)."""

    params: np.ndarray
    cov: np.ndarray
    max_gradient: float
    hessian_ok: bool
    iterations: int
    message: str


def maximise(value_and_grad: Any, theta0: np.ndarray, n: float, bounds: list[tuple[float | None, float | None]] | None = None) -> Fit:
    """Minimise the mean negative log-likelihood over log-parameters; covariance from the Hessian.

    L-BFGS-B first; if it stops short of a stationary point, BFGS from there (a second L-BFGS-B
    when there are bounds), keeping the better of the two.
    """

    def grad(theta: np.ndarray) -> np.ndarray:
        return value_and_grad(theta)[1]

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        res = optimize.minimize(value_and_grad, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                                options={"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-15})
        if not res.success or np.max(np.abs(_free(grad(res.x), res.x, bounds))) > 1e-5:
            method = "L-BFGS-B" if bounds else "BFGS"
            res2 = optimize.minimize(value_and_grad, res.x, jac=True, method=method, bounds=bounds,
                                     options={"maxiter": 2000, "gtol": 1e-9})
            if res2.fun <= res.fun:
                res = res2
        hess = hessian(grad, res.x) * n  # of the total negative log-likelihood, in log-parameters
        final_grad = _free(grad(res.x), res.x, bounds)
    params = np.exp(res.x)
    ok = bool(np.isfinite(hess).all())
    try:
        cov_log = np.linalg.inv(hess) if ok else None
    except np.linalg.LinAlgError:
        cov_log = None
    if cov_log is None or not np.isfinite(cov_log).all() or (np.diag(cov_log) < 0).any():
        ok, cov_log = False, np.full(hess.shape, np.nan)
    jac = np.diag(params)
    max_gradient = float(np.max(np.abs(final_grad))) if np.isfinite(res.fun) else float("inf")
    return Fit(params, jac @ cov_log @ jac, max_gradient, ok, int(getattr(res, "nit", 0) or 0), str(res.message))


def _free(gradient: np.ndarray, theta: np.ndarray, bounds: list[tuple[float | None, float | None]] | None) -> np.ndarray:
    """The gradient with components pushing into an active bound set to 0 (a bounded optimum is stationary there)."""
    if not bounds:
        return gradient
    g = gradient.copy()
    for i, (lo, hi) in enumerate(bounds):
        if (lo is not None and theta[i] <= lo + 1e-12 and g[i] > 0) or (hi is not None and theta[i] >= hi - 1e-12 and g[i] < 0):
            g[i] = 0.0
    return g


def diagnose(fit: Fit, names: list[str], level: float = 0.95, lower_limits: dict[str, float] | None = None,
             scale: np.ndarray | None = None) -> list[str]:
    """The reasons, in words, not to trust a fit; empty when there are none.

    Checks a stationary point, finite and invertible Hessian, parameters inside
    (:data:`BOUNDARY`) and away from their lower limits, non-zero finite standard errors and
    intervals narrower than :data:`MAX_INTERVAL_RATIO`. ``fit`` is in the fit's time scale, so the
    checks do not depend on the time unit; ``scale`` divides the parameters before the boundary
    check (Gamma-Gamma's gamma is money, checked per mean order value).

    Examples
    --------
    >>> import numpy as np
    >>> from crm_lab.clv.fitting import Fit, diagnose
    >>> diagnose(Fit(np.array([2.0, 3e-7]), np.diag([0.01, 0.0]), 0.0, True, 10, ""), ["r", "a"])[0]
    'a = 3e-07 is at the edge of the parameter space (below 1e-06): the data cannot identify it'
    """
    problems = []
    if not np.isfinite(fit.max_gradient) or fit.max_gradient > GRADIENT_TOLERANCE:
        problems.append(f"the optimiser stopped before a maximum of the likelihood (largest gradient {fit.max_gradient:.2g})")
    for name, value in zip(names, fit.params / (1.0 if scale is None else scale)):
        if value < BOUNDARY[0] or value > BOUNDARY[1]:
            side = f"below {BOUNDARY[0]:g}" if value < BOUNDARY[0] else f"beyond {BOUNDARY[1]:g}"
            problems.append(f"{name} = {value:.3g} is at the edge of the parameter space ({side}): the data cannot identify it")
    for name, limit in (lower_limits or {}).items():
        value = fit.params[names.index(name)]
        if value <= limit * (1 + 1e-4):
            problems.append(f"{name} = {value:.4g} is at its lower limit {limit:g}")
    if not fit.hessian_ok:
        problems.append("the likelihood is flat in some direction (singular or non-finite Hessian): no standard errors")
        return problems
    se = np.sqrt(np.diag(fit.cov))
    z = special.ndtri(0.5 + level / 2)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ratio = np.exp(2 * z * se / fit.params)  # upper / lower of the log-scale interval
    for name, s, r in zip(names, se, ratio):
        if not np.isfinite(s) or s <= 0:
            problems.append(f"the standard error of {name} is {s:.3g}: the likelihood does not pin it down")
        elif not np.isfinite(r) or r > MAX_INTERVAL_RATIO:
            problems.append(f"the {level:.0%} interval of {name} spans {np.log10(r) if np.isfinite(r) else np.inf:.1f} orders of magnitude")
    return problems


def summary_table(params: pd.Series, cov: np.ndarray, level: float = 0.95) -> pd.DataFrame:
    """Estimates, standard errors and log-scale Wald intervals (which keep the parameters positive)."""
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    z = special.ndtri(0.5 + level / 2)
    with np.errstate(over="ignore", invalid="ignore"):
        lower = params.to_numpy() * np.exp(-z * se / params.to_numpy())
        upper = params.to_numpy() * np.exp(z * se / params.to_numpy())
    pct = f"{level:.0%}"
    return pd.DataFrame({"coef": params.to_numpy(), "se": se, f"lower {pct}": lower, f"upper {pct}": upper}, index=params.index)


class NotFittedError(ValueError, AttributeError):
    """A model used before ``fit`` (as scikit-learn's, without importing scikit-learn)."""


class Fitter:
    """What the CLV fitters share (lifetimes' small focused fitters, scikit-learn's conventions):
    ``fit`` returns self, fitted attributes end in ``_``, :meth:`summary` is a table of estimates.

    Subclasses set :attr:`names`, :attr:`label` and call :meth:`_store` at the end of ``fit``.
    """

    names: list[str] = []
    label = ""
    penalizer = 0.0

    def _store(self, fitted: Fit, weights: np.ndarray, units: np.ndarray, log_likelihood: float,
               lower_limits: dict[str, float] | None = None, scale: np.ndarray | None = None) -> None:
        """The fitted attributes, with the estimates converted from the fit's time scale by ``units``
        (``lower_limits`` and ``scale`` go to :func:`diagnose`)."""
        self.diagnostics_ = diagnose(fitted, self.names, lower_limits=lower_limits, scale=scale)
        params = fitted.params * units
        cov = fitted.cov * np.outer(units, units)
        self.params_ = pd.Series(params, index=self.names, name=self.label)
        self.covariance_ = pd.DataFrame(cov, index=self.names, columns=self.names)
        self.standard_errors_ = pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=self.names)
        self.log_likelihood_ = float(log_likelihood)
        self.converged_ = not self.diagnostics_
        self.iterations_, self.n_customers_, self.message_ = fitted.iterations, int(weights.sum()), fitted.message
        if self.diagnostics_:
            warnings.warn(f"{self.label} fit on {self.n_customers_:,} customers cannot be trusted: "
                          + "; ".join(self.diagnostics_), UserWarning, stacklevel=3)

    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` (a ValueError, as scikit-learn's ``check_is_fitted``) unless ``fit`` has run."""
        if not hasattr(self, "params_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit() first")

    def _p(self) -> tuple[float, ...]:
        """The estimates in the order of :attr:`names` (:class:`NotFittedError` before ``fit``)."""
        self.check_is_fitted()
        return tuple(float(v) for v in self.params_[self.names])

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Estimates with standard errors and confidence intervals (log-scale Wald)."""
        self.check_is_fitted()
        return summary_table(self.params_, self.covariance_.to_numpy(), level)


class PurchaseFitter(Fitter):
    """What BG/NBD and Pareto/NBD share: the time unit, the penalty, and a fit in scaled time.

    ``fit`` checks and collapses the customers, scales time so the oldest customer's T is 1
    (lifetimes' ``_scale_time``: the penalty means the same whatever the unit), maximises the
    subclass's ``_objective`` from ``_start``, converts the rate parameters (``time_params``) back
    and stores the log-likelihood in the time unit.
    """

    #: Parameters that are times (scale with the time unit).
    time_params: tuple[str, ...] = ()
    #: Bounds of the log-parameters in the search, or None.
    bounds: list[tuple[float, float]] | None = None

    def __init__(self, penalizer: float = 0.0, time_unit: str = "days"):
        if time_unit not in TIME_UNITS:
            raise ValueError(f"time_unit must be one of {sorted(TIME_UNITS)}")
        self.penalizer = float(penalizer)
        self.time_unit = time_unit

    @staticmethod
    def _objective(x: np.ndarray, tx: np.ndarray, t: np.ndarray, weights: np.ndarray, penalizer: float) -> Any:
        raise NotImplementedError

    def _start(self, rate: float) -> np.ndarray:
        """Starting parameters given the repeat purchase rate per unit of scaled time."""
        raise NotImplementedError

    def fit(self, frequency: Any, recency: Any, T: Any) -> Self:
        """Fit by maximum likelihood; returns self."""
        x, tx, t, _, _ = check_rfm(frequency, recency, T, time_unit=self.time_unit)
        (x, tx, t), weights, _ = collapse(x, tx, t)
        scale = time_scale(t)
        rate = (weights * x).sum() / (weights * t * scale).sum()
        objective = self._objective(x, tx * scale, t * scale, weights, self.penalizer)
        fitted = maximise(objective, np.log(self._start(max(rate, 1e-9))), weights.sum(), self.bounds)
        units = np.array([1.0 / scale if name in self.time_params else 1.0 for name in self.names])
        value, _ = self._objective(x, tx * scale, t * scale, weights, 0.0)(np.log(fitted.params))
        # Back in the time unit, each purchase's density gains a factor scale (event times are densities in time).
        self._store(fitted, weights, units, -value * weights.sum() + (weights * x).sum() * np.log(scale))
        return self
