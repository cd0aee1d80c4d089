"""Always-valid intervals for reports that look at a campaign every day before it ends.

A daily response report re-tests the same campaign each morning. With fixed-horizon intervals
that is peeking: a campaign with no effect, looked at 14 times, is called significant on some day
far more often than 5% of the time. A *confidence sequence* covers the true difference at every
look at once, so a result may be read on any day.

The boundary is the two-sided normal mixture of Robbins (1970) in the form of Howard, Ramdas,
McAuliffe and Sekhon ("Time-uniform, nonparametric, nonasymptotic confidence sequences", Annals
of Statistics 2021, eq. 14) and of the mixture SPRT of Johari, Koomen, Pekelis and Walsh ("Always
valid inference", Operations Research 2022): an estimate with variance ``V`` has the always-valid
half-width ``sqrt((V + ρ) (log((V + ρ) / ρ) + 2 log(1 / α)))``. It is exact for a Gaussian
process in its variance time and asymptotically valid for the difference of two arms' means,
whose responders accumulate day by day. ``ρ`` is fixed before the first look (here from the arm
sizes and a planned response rate), which makes the sequence tightest near the planned end.

Examples
--------
>>> from crm_lab.sequential import half_width
>>> round(float(half_width(0.0001, tuning_variance=0.0001)), 4)  # vs 1.96 * 0.01 = 0.0196 fixed-horizon
0.0304
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize

__all__ = ["half_width", "always_valid_p_value", "rate_tuning_variance", "value_tuning_variance", "PLANNED_RATE"]

#: Response rate the rate sequences are tuned for when none is planned: a typical 7-day response
#: to an SMS touch of past buyers (tuning moves the width, never the validity).
PLANNED_RATE = 0.05


@lru_cache(maxsize=16)
def _best_ratio(alpha: float) -> float:
    """ρ / V that minimises the half-width at variance V (scale-free)."""
    res = optimize.minimize_scalar(lambda c: (1 + c) * (np.log((1 + c) / c) + 2 * np.log(1 / alpha)),
                                   bounds=(1e-4, 1e3), method="bounded")
    return float(res.x)


def half_width(variance: float | np.ndarray, *, tuning_variance: float, level: float = 0.95) -> float | np.ndarray:
    """Always-valid half-width for an estimate of ``variance``, tuned to be tightest at ``tuning_variance``."""
    alpha = 1 - level
    rho = _best_ratio(alpha) * tuning_variance
    v = np.asarray(variance, dtype=float)
    return np.sqrt((v + rho) * (np.log((v + rho) / rho) + 2 * np.log(1 / alpha)))


def always_valid_p_value(estimate: float, variance: float, *, tuning_variance: float, level: float = 0.95) -> float:
    """The mixture SPRT's p-value at this look, ``min(1, 1 / Λ)``: below ``1 - level`` exactly when
    the always-valid interval at that level excludes 0."""
    rho = _best_ratio(1 - level) * tuning_variance
    if variance <= 0:
        return 1.0
    log_lr = 0.5 * np.log(rho / (variance + rho)) + estimate**2 / (2 * (variance + rho))
    return float(min(1.0, np.exp(-log_lr)))


def rate_tuning_variance(n1: float, n0: float, planned_rate: float = PLANNED_RATE) -> float:
    """Variance of the difference of two rates at ``planned_rate`` with the arms' sizes: known
    before the first look, so the tuning does not follow the data."""
    return planned_rate * (1 - planned_rate) * (1 / n1 + 1 / n0)


def value_tuning_variance(variance: float, pooled_rate: float, planned_rate: float = PLANNED_RATE) -> float:
    """Tuning for the value per customer: its variance now, scaled to the responders planned.

    A value's scale is not known before the first look, so its spread per responder is taken
    from the data; the variance then grows with the responders (``planned_rate / pooled_rate``).
    The tuning moves slowly with the data, so validity is asymptotic here; the simulation in
    ``tests/test_uplift.py`` checks it over 14 looks.
    """
    if variance <= 0:
        return 1e-300
    return variance * (planned_rate / pooled_rate if pooled_rate > 0 else 1.0)
