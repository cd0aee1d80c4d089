"""Two response rates compared honestly at any size: intervals that never collapse, an exact test
for small counts, and the exact power of that procedure.

What :func:`crm_lab.uplift.test` runs on a 0/1 outcome, and what :func:`crm_lab.uplift.power`
verifies its sample sizes against:

* each rate: Wilson score interval (``statsmodels`` ``proportion_confint(method="wilson")``);
* the difference: Newcombe's hybrid score interval (``confint_proportions_2indep(method="newcomb")``),
  which stays wide for 3 of 3 against 0 of 3 ([0.21, 1.00]) and for all-zero arms;
* the ratio: log interval with 0.5 added to zero cells (``method="log-adjusted"``);
* the test: the pooled two-proportion z-test (``test_proportions_2indep(method="score")``), or
  Fisher's exact test when any cell of the 2x2 table (responders or non-responders of an arm) is
  below :data:`EXACT_BELOW`: 3 of 3 against 0 of 3 is p = 0.10, not the z-test's 0.014.

Examples
--------
>>> from crm_lab.proportions import compare_rates
>>> r = compare_rates(3, 3, 0, 3)
>>> r["test"], round(r["p_value"], 3), round(r["difference_low"], 2)
('Fisher exact', 0.1, 0.21)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

__all__ = ["EXACT_BELOW", "compare_rates", "rejects", "exact_power"]

#: Fisher's exact test replaces the z-test when a 2x2 cell is smaller than this.
EXACT_BELOW = 30


def compare_rates(k1: float, n1: float, k0: float, n0: float, level: float = 0.95) -> dict[str, Any]:
    """Rates, their difference and ratio with intervals, and the test, for ``k1/n1`` against ``k0/n0``."""
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    alpha = 1 - level
    p1, p0 = k1 / n1, k0 / n0
    low, high = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff", alpha=alpha)
    ratio_low, ratio_high = confint_proportions_2indep(k1, n1, k0, n0, method="log-adjusted", compare="ratio", alpha=alpha)
    small = min(k1, n1 - k1, k0, n0 - k0) < EXACT_BELOW
    if small:
        test, z = "Fisher exact", np.nan
        p_value = float(stats.fisher_exact([[k1, n1 - k1], [k0, n0 - k0]]).pvalue)
    elif k1 + k0 in (0, n1 + n0):
        test, z, p_value = "z-test (pooled)", np.nan, 1.0
    else:
        res = test_proportions_2indep(k1, n1, k0, n0, method="score", compare="diff", correction=False)
        test, z, p_value = "z-test (pooled)", float(res.statistic), float(res.pvalue)
    return {"rate": p1, "control_rate": p0, "difference": p1 - p0, "difference_low": float(low), "difference_high": float(high),
            "relative_lift": p1 / p0 - 1 if p0 > 0 else np.nan,
            "relative_lift_low": float(ratio_low) - 1, "relative_lift_high": float(ratio_high) - 1,
            "test": test, "z": z, "p_value": p_value}


def _fisher_pvalues(k1: np.ndarray, k0: np.ndarray, n1: int, n0: int) -> np.ndarray:
    """Two-sided Fisher p-values of many 2x2 tables (scipy's definition), vectorised per margin."""
    m = k1 + k0
    out = np.empty(k1.size)
    for total in np.unique(m):
        lo, hi = max(0, total - n0), min(n1, total)
        support = np.arange(lo, hi + 1)
        pmf = stats.hypergeom.pmf(support, n1 + n0, total, n1)
        order = np.argsort(pmf, kind="stable")
        cumulative = np.cumsum(pmf[order])
        # p(k) = the mass of tables no more likely than k (relative tolerance as scipy's 1 + 1e-7).
        at = np.searchsorted(pmf[order], pmf * (1 + 1e-7), side="right") - 1
        pvals = np.minimum(cumulative[at], 1.0)
        rows = m == total
        out[rows] = pvals[k1[rows] - lo]
    return out


def rejects(k1: np.ndarray, k0: np.ndarray, n1: int, n0: int, alpha: float) -> np.ndarray:
    """Does :func:`compare_rates`' test reject at ``alpha``, for each table ``(k1, k0)``? (Vectorised.)"""
    k1, k0 = np.asarray(k1, dtype=np.int64), np.asarray(k0, dtype=np.int64)
    small = np.minimum.reduce([k1, n1 - k1, k0, n0 - k0]) < EXACT_BELOW
    pooled = (k1 + k0) / (n1 + n0)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (k1 / n1 - k0 / n0) / se
    reject = np.where(se > 0, 2 * special.ndtr(-np.abs(z)) < alpha, False)
    if small.any():
        reject[small] = _fisher_pvalues(k1[small], k0[small], n1, n0) < alpha
    return reject


def exact_power(rate: float, control_rate: float, n1: int, n0: int, alpha: float = 0.05) -> float:
    """Exact power of :func:`compare_rates`' test: the probability, over both arms' binomial
    outcomes, that it rejects at ``alpha`` (outcomes beyond 9 standard deviations are left out,
    mass < 1e-15).

    Examples
    --------
    >>> from crm_lab.proportions import exact_power
    >>> round(exact_power(0.12, 0.10, 4_000, 4_000), 3)
    0.816
    """
    n1, n0 = int(n1), int(n0)
    k1 = _support(rate, n1)
    k0 = _support(control_rate, n0)
    w1, w0 = stats.binom.pmf(k1, n1, rate), stats.binom.pmf(k0, n0, control_rate)
    grid1, grid0 = np.meshgrid(k1, k0, indexing="ij")
    hit = rejects(grid1.ravel(), grid0.ravel(), n1, n0, alpha).reshape(grid1.shape)
    return float(w1 @ hit @ w0)


def _support(p: float, n: int) -> np.ndarray:
    sd = np.sqrt(n * p * (1 - p))
    return np.arange(max(0, int(np.floor(n * p - 9 * sd - 1))), min(n, int(np.ceil(n * p + 9 * sd + 1))) + 1)
