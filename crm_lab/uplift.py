"""Did the touch work, and for whom: treatment vs control with honest intervals.

:func:`test` compares each treatment arm with the control arm on a 0/1 outcome (responded) and,
optionally, a value per customer (net amount): rates with Wilson intervals, the absolute
difference with its interval, the relative lift with a delta-method interval on the log ratio,
a two-proportion z-test, Welch's t-test and a bootstrap interval on the value, incremental value,
ROI and break-even cost per touch. A sample-ratio-mismatch check runs first; per-segment results
carry Holm or Benjamini-Hochberg corrected p-values. :func:`power` plans a test and gives the
minimum detectable lift of a finished one.

Examples
--------
>>> import numpy as np, pandas as pd
>>> import crm_lab as cl
>>> rng = np.random.default_rng(0)
>>> df = pd.DataFrame({"group": np.repeat(["control", "treatment"], 5_000),
...                    "responded": np.r_[rng.random(5_000) < 0.10, rng.random(5_000) < 0.12].astype(int)})
>>> res = cl.uplift.test(df, outcome="responded")
>>> bool(res.summary().loc["treatment", "relative_lift"] > 0)
True
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from crm_lab import proportions, sequential
from crm_lab.proportions import EXACT_BELOW, compare_rates
from crm_lab.results import Result

__all__ = ["test", "UpliftResult", "power", "wilson", "rate_with_interval", "qini_curve", "qini_coefficient", "uplift_at_k", "TwoModelUplift"]


def wilson(successes: np.ndarray, n: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion (statsmodels' ``proportion_confint(method="wilson")``).

    Examples
    --------
    >>> from crm_lab.uplift import wilson
    >>> lo, hi = wilson(10, 100)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0552, 0.1744)
    """
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(np.asarray(successes, dtype=float), np.asarray(n, dtype=float), alpha=1 - level, method="wilson")
    return np.asarray(lo), np.asarray(hi)


def rate_with_interval(successes: Any, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rates ``successes / n`` with their Wilson interval (:func:`wilson`), NaN where ``n`` is 0;
    the bounds are clipped to [0, 1] (at 0 or n successes they are 0 and 1 up to rounding).

    Examples
    --------
    >>> from crm_lab.uplift import rate_with_interval
    >>> rate, lo, hi = rate_with_interval([10, 0], [100, 0])
    >>> float(rate[0]), round(float(lo[0]), 4), bool(np.isnan(rate[1]))
    (0.1, 0.0552, True)
    """
    k, total = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    seen = total > 0
    lo, hi = wilson(k, np.where(seen, total, 1), level)
    rate = np.where(seen, k / np.where(seen, total, 1), np.nan)
    return rate, np.where(seen, np.clip(lo, 0.0, 1.0), np.nan), np.where(seen, np.clip(hi, 0.0, 1.0), np.nan)


def _bootstrap_mean_diff(t: np.ndarray, c: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap the difference of means, resampling only non-zero values.

    A resample of n values with k non-zeros among them has Binomial(n, k/n) non-zeros, each a
    uniform draw from the non-zero values: the same distribution as resampling all n, at the cost
    of the non-zeros only (most customers spend nothing).
    """

    def means(x: np.ndarray) -> np.ndarray:
        nz = x[x != 0]
        if nz.size == 0:
            return np.zeros(draws)
        counts = rng.binomial(x.size, nz.size / x.size, draws)
        picks = nz[rng.integers(0, nz.size, counts.sum())]
        sums = np.add.reduceat(np.r_[picks, 0.0], np.r_[0, np.cumsum(counts)[:-1]])[:draws]
        return np.where(counts > 0, sums, 0.0) / x.size

    return means(t) - means(c)


@dataclass(frozen=True)
class UpliftResult(Result):
    """Result of :func:`test`.

    Attributes
    ----------
    arms : pandas.DataFrame
        Per arm: customers, responders, rate with Wilson interval, value per customer.
    comparisons : pandas.DataFrame
        Per treatment arm vs control: differences (in rate points: 0.041 is 4.1 percentage
        points), lifts, intervals, p-values, ``roi`` = (incremental value - cost) / cost and
        ``return_on_spend`` = incremental value / cost.
    segments : pandas.DataFrame or None
        The comparisons per segment, with corrected p-values.
    interaction : pandas.DataFrame or None
        Does the effect differ between segments? Cochran's Q per arm on the additive scale
        (difference of rates) and on the multiplicative scale (log ratio): the two can disagree.
    cuped : dict or None
        The CUPED adjustment of the value: theta and the variance reduction achieved.
    srm : dict
        Sample-ratio check: chi2, p_value, planned shares, passed.
    final : bool
        False for an interim look (``test(final=False)``): read the ``*_always_*`` columns.
    notes : list of str
    """

    arms: pd.DataFrame
    comparisons: pd.DataFrame
    segments: pd.DataFrame | None
    srm: dict[str, Any]
    level: float
    notes: list[str] = field(default_factory=list)
    interaction: pd.DataFrame | None = None
    cuped: dict[str, Any] | None = None
    final: bool = True

    def summary(self) -> pd.DataFrame:
        """One row per treatment arm: the comparison with the control arm."""
        return self.comparisons

    def to_frame(self) -> pd.DataFrame:
        """Each treatment arm against control (``comparisons``)."""
        return self.comparisons

    def plot(self, ax: Any = None) -> Any:
        """Response rate per arm with Wilson intervals; returns the Axes."""
        from crm_lab import plots

        data = self.arms.rename_axis("arm").reset_index()
        data["arm"] = data["arm"].map({"control": "对照组", "treatment": "实验组"}).fillna(data["arm"])
        ax = plots.bar(data, x="arm", y="rate", hue="arm", ax=ax, kind="percent", title="响应率（实验组 vs 对照组）", xlabel="", ylabel="")
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.errorbar(np.arange(len(data)), data["rate"], yerr=[data["rate"] - data["rate_low"], data["rate_high"] - data["rate"]],
                    fmt="none", ecolor="#333333", capsize=4)
        return ax


def _compare(t: pd.DataFrame, c: pd.DataFrame, outcome: str, value: str | None, cost: str | None, orders: str | None,
             level: float, bootstrap: int, rng: np.random.Generator, planned_rate: float | None) -> dict[str, Any]:
    """One arm against control: the rates (:func:`crm_lab.proportions.compare_rates`), the value,
    its ratio metrics and, with ``planned_rate``, the always-valid intervals."""
    n1, n0 = len(t), len(c)
    k1, k0 = float(t[outcome].sum()), float(c[outcome].sum())
    out: dict[str, Any] = {"customers": n1, "control_customers": n0, **compare_rates(k1, n1, k0, n0, level)}
    p1, p0 = k1 / n1, k0 / n0
    variance = p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0
    out["difference_se"] = np.sqrt(variance)  # Wald, for pooling segments (Cochran's Q)
    out["log_ratio_se"] = np.sqrt((1 - p1) / k1 + (1 - p0) / k0) if k1 > 0 and k0 > 0 else np.nan
    if planned_rate is not None:
        tuning = sequential.rate_tuning_variance(n1, n0, planned_rate)
        half = sequential.half_width(variance, tuning_variance=tuning, level=level)
        out.update(difference_always_low=out["difference"] - half, difference_always_high=out["difference"] + half,
                   p_value_always_valid=sequential.always_valid_p_value(out["difference"], variance, tuning_variance=tuning, level=level))
    if value is not None:
        out.update(_value_comparison(t, c, value, outcome, orders, level, bootstrap, rng, planned_rate))
        if cost is not None:
            total_cost = float(t[cost].sum())
            # ROI is the return net of what the touches cost; return on spend is the gross ratio.
            out.update(cost=total_cost,
                       roi=(out["incremental_value"] - total_cost) / total_cost if total_cost > 0 else np.nan,
                       return_on_spend=out["incremental_value"] / total_cost if total_cost > 0 else np.nan)
    return out


def _value_comparison(t: pd.DataFrame, c: pd.DataFrame, value: str, outcome: str, orders: str | None, level: float,
                      bootstrap: int, rng: np.random.Generator, planned_rate: float | None) -> dict[str, float]:
    """Value per customer (Welch and bootstrap intervals), incremental value, and the ratio metrics."""
    n1, n0 = len(t), len(c)
    z = special.ndtri(0.5 + level / 2)
    v1, v0 = t[value].to_numpy(float), c[value].to_numpy(float)
    m1, m0 = v1.mean(), v0.mean()
    welch = stats.ttest_ind(v1, v0, equal_var=False)
    s1, s0 = v1.var(ddof=1) / n1, v0.var(ddof=1) / n0
    dof = (s1 + s0) ** 2 / (s1**2 / (n1 - 1) + s0**2 / (n0 - 1)) if (s1 + s0) > 0 else np.inf
    tq = stats.t.ppf(0.5 + level / 2, dof) if np.isfinite(dof) else z
    boot = _bootstrap_mean_diff(v1, v0, bootstrap, rng) if bootstrap else np.array([np.nan])
    lo_b, hi_b = np.quantile(boot, [(1 - level) / 2, 0.5 + level / 2])
    half = tq * np.sqrt(s1 + s0)
    out = dict(value_per_customer=m1, control_value_per_customer=m0, value_difference=m1 - m0,
               value_difference_low=m1 - m0 - half, value_difference_high=m1 - m0 + half,
               value_p_value=float(welch.pvalue) if np.isfinite(welch.pvalue) else 1.0,
               value_bootstrap_low=lo_b, value_bootstrap_high=hi_b,
               incremental_value=(m1 - m0) * n1, incremental_value_low=(m1 - m0 - half) * n1,
               incremental_value_high=(m1 - m0 + half) * n1, break_even_cost_per_touch=m1 - m0)
    if planned_rate is not None:
        pooled = (t[outcome].sum() + c[outcome].sum()) / (n1 + n0)
        tuning = sequential.value_tuning_variance(s1 + s0, pooled, planned_rate)
        always = sequential.half_width(s1 + s0, tuning_variance=tuning, level=level)
        out.update(value_difference_always_low=m1 - m0 - always, value_difference_always_high=m1 - m0 + always)
    out.update(_ratio_difference(t, c, value, outcome, z, "value_per_responder"))
    if orders is not None:
        out.update(_ratio_difference(t, c, value, orders, z, "aov"))
    return out


def _ratio(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """sum(x) / sum(y) and its delta-method variance (customers independent, x and y paired)."""
    n, my = x.size, y.mean()
    if y.sum() <= 0 or n < 2:
        return np.nan, np.nan
    r = x.sum() / y.sum()
    cov = np.cov(x, y, ddof=1)
    return r, float((cov[0, 0] - 2 * r * cov[0, 1] + r**2 * cov[1, 1]) / (n * my**2))


def _ratio_difference(t: pd.DataFrame, c: pd.DataFrame, value: str, per: str, z: float, name: str) -> dict[str, float]:
    """A ratio metric per arm (value per responder, AOV = value per order) and the difference with a delta-method interval."""
    r1, var1 = _ratio(t[value].to_numpy(float), t[per].to_numpy(float))
    r0, var0 = _ratio(c[value].to_numpy(float), c[per].to_numpy(float))
    half = z * np.sqrt(var1 + var0)
    return {name: r1, f"control_{name}": r0, f"{name}_difference": r1 - r0,
            f"{name}_difference_low": r1 - r0 - half, f"{name}_difference_high": r1 - r0 + half}


def _heterogeneity(seg: pd.DataFrame) -> pd.DataFrame:
    """Cochran's Q across segments, per arm, on the additive and multiplicative scales.

    Each segment's Wald standard error (``difference_se``, ``log_ratio_se``) weighs it, so Q does
    not depend on the confidence level asked for (statsmodels' ``combine_effects`` Q).
    """
    rows = []
    for arm, part in seg.groupby("arm"):
        if len(part) < 2:
            continue
        d = part["difference"].to_numpy(float)
        se_d = part["difference_se"].to_numpy(float)
        log_rr = np.log1p(part["relative_lift"].to_numpy(float))
        se_log = part["log_ratio_se"].to_numpy(float)
        for scale, est, se in (("additive (difference of rates)", d, se_d), ("multiplicative (ratio of rates)", log_rr, se_log)):
            ok = np.isfinite(est) & np.isfinite(se) & (se > 0)
            if ok.sum() < 2:
                continue
            w = 1 / se[ok] ** 2
            mean = (w * est[ok]).sum() / w.sum()
            q = float((w * (est[ok] - mean) ** 2).sum())
            rows.append({"arm": arm, "scale": scale, "segments": int(ok.sum()), "Q": q,
                         "p_value": float(stats.chi2.sf(q, ok.sum() - 1))})
    return pd.DataFrame(rows)


def test(
    df: pd.DataFrame,
    group: str = "group",
    outcome: str = "responded",
    value: str | None = None,
    cost: str | None = None,
    segments: str | None = None,
    control: str = "control",
    arms: list[str] | None = None,
    planned: dict[str, float] | None = None,
    correction: str = "holm",
    level: float = 0.95,
    bootstrap: int = 2_000,
    seed: int = 0,
    covariate: str | None = None,
    orders: str | None = None,
    final: bool = True,
    planned_rate: float = sequential.PLANNED_RATE,
) -> UpliftResult:
    """Compare every treatment arm with the control arm.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per customer in the test.
    group, outcome, value, cost, segments : str
        Columns: arm label; 0/1 response; value per customer (e.g. net amount, >= 0); cost per
        customer (touch cost); segment label for per-segment results.
    control : str
        The control arm's label.
    arms : list of str, optional
        The arms expected; other or missing arms are an error.
    planned : dict, optional
        Planned share per arm for the sample-ratio check (default: equal shares).
    correction : {"holm", "fdr_bh"}
        Multiple-testing correction of per-segment p-values.
    level : float
        Confidence level of every interval.
    bootstrap : int
        Bootstrap draws for the value difference (0: skip).
    covariate : str, optional
        CUPED: a pre-period measure of the value (e.g. net amount in the 90 days before). The
        value is replaced by ``value - theta (covariate - mean)`` with the pooled ``theta``; the
        variance reduction achieved is reported in ``result.cuped``.
    orders : str, optional
        Orders per customer: adds AOV (value per order) per arm and its difference.
    final : bool
        False while the campaign's response window is still open (a daily report before the
        planned end): always-valid intervals and p-values are added (``difference_always_low``,
        ``difference_always_high``, ``p_value_always_valid``, ``value_difference_always_*``;
        :mod:`crm_lab.sequential`), which stay valid however often the campaign is looked at.
    planned_rate : float
        The response rate the always-valid intervals are tuned for (their width, not their
        validity, depends on it).

    Returns
    -------
    UpliftResult
        Rates with Wilson intervals; differences with Newcombe intervals; ratios with a
        zero-cell-corrected log interval; the pooled z-test, or Fisher's exact test when a cell of
        the 2x2 table is below 30 (column ``test``); value per responder (and AOV) differences
        with delta-method intervals.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95), got {level}")
    if not final and not 0 < planned_rate < 1:
        raise ValueError(f"planned_rate must lie in (0, 1) (the response rate the interim intervals are tuned for), got {planned_rate}")
    data, present = _checked(df, group, outcome, value, cost, segments, covariate, control, arms, orders)
    cuped = None
    if covariate is not None:
        data, cuped = _cuped(data, value, covariate)
    counts = data[group].value_counts().reindex(present)
    srm = _sample_ratio(counts, planned, present)
    notes = []
    if not srm["passed"]:
        message = (f"SAMPLE RATIO MISMATCH: arms {srm['counts']} vs planned shares {srm['planned']} "
                   f"(chi2 {srm['chi2']:.1f}, p = {srm['p_value']:.2g}). The split is broken; treat every result below as suspect.")
        warnings.warn(message, stacklevel=2)
        notes.append(message)
    lo, hi = wilson(data.groupby(group)[outcome].sum().reindex(present), counts)
    arms_table = pd.DataFrame({"customers": counts, "responders": data.groupby(group)[outcome].sum().reindex(present),
                               "rate": data.groupby(group)[outcome].mean().reindex(present), "rate_low": lo, "rate_high": hi})
    if value is not None:
        arms_table["value_per_customer"] = data.groupby(group)[value].mean().reindex(present)
    rng = np.random.default_rng(seed)
    ctrl = data[data[group] == control]
    sequential_rate = None if final else planned_rate
    rows = {arm: _compare(data[data[group] == arm], ctrl, outcome, value, cost, orders, level, bootstrap, rng, sequential_rate)
            for arm in present if arm != control}
    comparisons = pd.DataFrame(rows).T.infer_objects()
    exact = comparisons.index[comparisons["test"] != "z-test (pooled)"]
    if len(exact):
        notes.append(f"arm(s) {', '.join(exact)}: fewer than {EXACT_BELOW} responders or non-responders in an arm; "
                     "Fisher's exact test is used instead of the z-test")
    if not final:
        notes.append("interim result: the response window is still open; the always-valid intervals hold at every look")
    seg_table = None
    if segments is not None:
        seg_table = _per_segment(data, group, segments, control, present, notes,
                                 lambda t, c: _compare(t, c, outcome, value, cost, orders, level, bootstrap, rng, sequential_rate),
                                 correction)
    interaction = _heterogeneity(seg_table) if seg_table is not None and len(seg_table) else None
    return UpliftResult(arms_table, comparisons, seg_table, srm, level, notes, interaction, cuped, final)


def _checked(df: pd.DataFrame, group: str, outcome: str, value: str | None, cost: str | None, segments: str | None,
             covariate: str | None, control: str, arms: list[str] | None, orders: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The test's rows with text arm labels and a 0/1 outcome, and the arms present; bad input is an error."""
    if covariate is not None and value is None:
        raise ValueError("covariate (CUPED) adjusts the value: give value= too")
    if orders is not None and value is None:
        raise ValueError("orders (for AOV) divides the value: give value= too")
    for col in (group, outcome, value, cost, segments, covariate, orders):
        if col is not None and col not in df:
            raise ValueError(f"test: no column {col!r}; columns: {list(df.columns)}")
    if df.empty:
        raise ValueError("test: no rows")
    labels = df[group].astype("str")
    present = sorted(labels.unique())
    if arms is not None and sorted(map(str, arms)) != present:
        raise ValueError(f"{group}: expected arms {sorted(map(str, arms))}, found {present}")
    if control not in present:
        raise ValueError(f"{group}: no control arm {control!r}; arms found: {present}")
    if len(present) < 2:
        raise ValueError(f"{group}: only one arm ({present}); a test needs a control and a treatment")
    y = pd.to_numeric(df[outcome], errors="coerce")
    bad = ~y.isin([0, 1])
    if bad.any():
        raise ValueError(f"{outcome}: {int(bad.sum())} value(s) not 0/1 (rows {', '.join(map(str, df.index[bad][:5]))})")
    for col in (value, cost, orders):
        if col is not None:
            v = pd.to_numeric(df[col], errors="coerce")
            wrong = v.isna() | (v < 0) | ~np.isfinite(v.astype(float))
            if wrong.any():
                raise ValueError(f"{col}: {int(wrong.sum())} missing, infinite or negative value(s) "
                                 f"(rows {', '.join(map(str, df.index[wrong][:5]))})")
    small = labels.value_counts().reindex(present)
    if (small < 2).any():
        raise ValueError(f"{group}: arms {small[small < 2].to_dict()} have fewer than 2 customers; "
                         "no difference can be estimated from one customer")
    return df.assign(**{group: labels, outcome: y.astype(int)}), present


def _cuped(data: pd.DataFrame, value: str, covariate: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """CUPED: the value less theta times the centred covariate (pooled theta), and what it achieved."""
    x = pd.to_numeric(data[covariate], errors="coerce")
    if x.isna().any():
        raise ValueError(f"{covariate}: {int(x.isna().sum())} missing value(s)")
    v = data[value].astype(float)
    theta = float(np.cov(v, x)[0, 1] / x.var()) if x.var() > 0 else 0.0
    adjusted = v - theta * (x - x.mean())
    # CUPED values may be negative: that is the adjustment, not bad data.
    cuped = {"covariate": covariate, "theta": theta,
             "variance_reduction": float(1 - adjusted.var() / v.var()) if v.var() > 0 else 0.0}
    return data.assign(**{value: adjusted}), cuped


def _sample_ratio(counts: pd.Series, planned: dict[str, float] | None, present: list[str]) -> dict[str, Any]:
    """Sample-ratio check: chi-square of the arms' sizes against the planned shares (fails below p = 0.001)."""
    shares = pd.Series(planned if planned is not None else {a: 1 / len(present) for a in present}, dtype=float)
    if set(shares.index) != set(present):
        raise ValueError(f"planned: shares for {sorted(shares.index)}, arms are {present}")
    if not ((shares > 0) & (shares < 1)).all() or not np.isclose(shares.sum(), 1.0):
        raise ValueError(f"planned: shares {shares.to_dict()} must each lie in (0, 1) and sum to 1")
    expected = shares.reindex(present) / shares.sum() * counts.sum()
    chi2, srm_p = stats.chisquare(counts.to_numpy(), expected.to_numpy())
    return {"chi2": float(chi2), "p_value": float(srm_p), "counts": counts.to_dict(), "planned": shares.to_dict(), "passed": bool(srm_p >= 0.001)}


def _per_segment(data: pd.DataFrame, group: str, segments: str, control: str, present: list[str], notes: list[str],
                 compare: Any, correction: str) -> pd.DataFrame:
    """Each treatment arm against control within each segment, p-values corrected for the number of tests."""
    from statsmodels.stats.multitest import multipletests

    seg_rows = []
    for seg, part in data.groupby(segments, observed=True):
        c = part[part[group] == control]
        for arm in present:
            if arm == control:
                continue
            t = part[part[group] == arm]
            if len(t) == 0 or len(c) == 0:
                notes.append(f"segment {seg!r}: arm {arm} or control is empty; skipped")
                continue
            seg_rows.append({"segment": seg, "arm": arm, **compare(t, c)})
    seg_table = pd.DataFrame(seg_rows).infer_objects()
    if len(seg_table):
        seg_table["p_value_adjusted"] = multipletests(seg_table["p_value"].fillna(1.0), method=correction)[1]
        seg_table["correction"] = correction
    return seg_table


#: Above this many customers per arm the normal approximation is used without the exact check.
EXACT_POWER_UP_TO = 200_000


def power(baseline_rate: float, relative_lift: float | None = None, customers_per_arm: float | None = None,
          alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0) -> dict[str, Any]:
    """Plan a test (customers needed), give a planned test's power, or a finished one's minimum detectable lift.

    * ``relative_lift`` alone: the treatment-arm size needed (control = size x ``ratio``). The
      normal approximation on the difference of rates (statsmodels'
      ``samplesize_proportions_2indep_onetail``) is the start; the size is then raised until the
      *exact* power of the test :func:`test` runs (pooled z-test, Fisher's exact for small cells;
      :func:`crm_lab.proportions.exact_power`) reaches ``power``.
    * ``relative_lift`` and ``customers_per_arm``: the power of that test, exact and approximate.
    * ``customers_per_arm`` alone: the smallest relative lift detectable with ``power``.

    Returns
    -------
    dict with ``customers_treatment, customers_control, power, power_normal`` (plans and
    powers), or ``minimum_detectable_rate, minimum_detectable_difference,
    minimum_detectable_lift`` (minimum detectable lift).

    Examples
    --------
    >>> from crm_lab.uplift import power
    >>> plan = power(0.10, relative_lift=0.10)
    >>> plan["customers_treatment"], plan["power"] >= 0.8
    (14751, True)
    """
    from statsmodels.stats.proportion import power_proportions_2indep, samplesize_proportions_2indep_onetail

    _check_plan(baseline_rate, relative_lift, alpha, power, ratio)
    if relative_lift is None:
        if customers_per_arm is None:
            raise ValueError("give relative_lift (to plan) or customers_per_arm (for the minimum detectable lift)")
        return _minimum_detectable(baseline_rate, float(customers_per_arm), alpha, power, ratio)
    rate = baseline_rate * (1 + relative_lift)

    def normal(n1: float) -> float:
        return float(power_proportions_2indep(rate - baseline_rate, baseline_rate, n1, ratio=ratio, alpha=alpha).power)

    def exact(n1: int) -> float:
        return proportions.exact_power(rate, baseline_rate, n1, int(np.ceil(n1 * ratio)), alpha)

    if customers_per_arm is not None:
        n1 = int(customers_per_arm)
        return {"customers_treatment": n1, "customers_control": int(np.ceil(n1 * ratio)),
                "power": exact(n1) if n1 <= EXACT_POWER_UP_TO else normal(n1), "power_normal": normal(n1)}
    n1 = int(np.ceil(samplesize_proportions_2indep_onetail(rate - baseline_rate, baseline_rate, power, ratio=ratio, alpha=alpha,
                                                           alternative="two-sided")))
    achieved = exact(n1) if n1 <= EXACT_POWER_UP_TO else normal(n1)
    step = max(1, n1 // 200)
    for _ in range(4_000):
        if achieved >= power or n1 > EXACT_POWER_UP_TO:
            break
        n1 += step
        achieved = exact(n1)
    return {"customers_treatment": n1, "customers_control": int(np.ceil(n1 * ratio)), "power": achieved,
            "power_normal": normal(n1), "relative_lift": relative_lift}


def _check_plan(baseline_rate: float, relative_lift: float | None, alpha: float, power: float, ratio: float) -> None:
    if not 0 < baseline_rate < 1:
        raise ValueError(f"baseline_rate must lie in (0, 1), got {baseline_rate}")
    if relative_lift is not None and (relative_lift == 0 or not 0 < baseline_rate * (1 + relative_lift) < 1):
        raise ValueError(f"relative_lift {relative_lift}: the treatment rate {baseline_rate * (1 + relative_lift):.4g} must differ from "
                         "the baseline and lie in (0, 1)")
    for name, v in (("alpha", alpha), ("power", power)):
        if not 0 < v < 1:
            raise ValueError(f"{name} must lie in (0, 1), got {v}")
    if not ratio > 0:
        raise ValueError(f"ratio (control / treatment size) must be > 0, got {ratio}")


def _minimum_detectable(baseline_rate: float, n1: float, alpha: float, power: float, ratio: float) -> dict[str, Any]:
    """The treatment rate above the baseline detected with ``power`` by the normal approximation."""
    from scipy.optimize import brentq
    from statsmodels.stats.proportion import power_proportions_2indep

    def gap(rate: float) -> float:
        return float(power_proportions_2indep(rate - baseline_rate, baseline_rate, n1, ratio=ratio, alpha=alpha).power) - power

    top = 1 - 1e-9
    if gap(top) < 0:
        raise ValueError(f"{n1:,.0f} customers per arm cannot detect any lift over {baseline_rate:.2%} with power {power}")
    rate = brentq(gap, baseline_rate + 1e-12, top, xtol=1e-12)
    return {"minimum_detectable_rate": float(rate), "minimum_detectable_difference": float(rate - baseline_rate),
            "minimum_detectable_lift": float(rate / baseline_rate - 1)}


# --------------------------------------------------------------------------------------------
# Targeting persuadables: a two-model uplift learner and its metrics (scikit-uplift's definitions)


def _metric_inputs(y_true: Any, uplift: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The uplift metrics' inputs as arrays, checked as scikit-uplift checks them.

    Raises
    ------
    ValueError
        Lengths differ; the outcome or the treatment is not binary with both 0 and 1 present (a
        treatment coded 1/2, a net amount as outcome, one arm or no responder); an uplift score is
        not finite.
    """
    y, u, t = (np.asarray(v) for v in (y_true, uplift, treatment))
    if not (y.ndim == u.ndim == t.ndim == 1) or not (y.size == u.size == t.size):
        raise ValueError(f"y_true, uplift and treatment must be 1-d of one length; got {y.shape}, {u.shape}, {t.shape}")
    for name, values in (("y_true", y), ("treatment", t)):
        found = np.unique(values)
        if not np.array_equal(found, [0, 1]):  # both values present, nothing else (as sklift's check_is_binary)
            raise ValueError(f"{name} must be binary with both 0 and 1 present; found values {found[:5].tolist()}")
    if not np.isfinite(u.astype(float)).all():
        raise ValueError(f"uplift: {int((~np.isfinite(u.astype(float))).sum())} score(s) NaN or infinite")
    return y.astype(float), u.astype(float), t.astype(int)


def qini_curve(y_true: Any, uplift: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: customers targeted (by decreasing predicted uplift) vs incremental responders.

    At each distinct score: treated responders minus control responders scaled by the ratio of
    treated to control customers so far; starts at (0, 0). As ``sklift.metrics.qini_curve``,
    including its input checks (binary outcome and treatment, both arms present).
    """
    y, u, t = _metric_inputs(y_true, uplift, treatment)
    order = np.argsort(u, kind="mergesort")[::-1]
    y, t, u = y[order], t[order], u[order]
    thresholds = np.r_[np.where(np.diff(u))[0], u.size - 1]
    num_trmnt = np.cumsum(t, dtype="float64")[thresholds]
    y_trmnt = np.cumsum(y * t, dtype="float64")[thresholds]
    y_ctrl = np.cumsum(y * (1 - t), dtype="float64")[thresholds]
    num_all = thresholds + 1
    num_ctrl = num_all - num_trmnt
    values = y_trmnt - y_ctrl * np.divide(num_trmnt, num_ctrl, out=np.zeros_like(num_trmnt), where=num_ctrl != 0)
    if values[0] != 0 or num_all[0] != 0:
        num_all, values = np.r_[0, num_all], np.r_[0, values]
    return num_all, values


def qini_coefficient(y_true: Any, uplift: Any, treatment: Any, negative_effect: bool = True) -> float:
    """Area between the Qini curve and the diagonal over that of the perfect curve (``qini_auc_score``).

    0 is random targeting, 1 perfect.
    """
    y, _, t = _metric_inputs(y_true, uplift, treatment)
    x_actual, y_actual = qini_curve(y, uplift, t)
    if negative_effect:
        x_perfect, y_perfect = qini_curve(y, y * t - y * (1 - t), t)
    else:
        gain = y[t == 1].sum() - (t == 1).sum() * y[t == 0].sum() / (t == 0).sum()
        x_perfect, y_perfect = np.array([0, gain, y.size]), np.array([0, gain, gain])
    baseline = np.trapezoid([0, y_perfect[-1]], [0, x_perfect[-1]])
    return float((np.trapezoid(y_actual, x_actual) - baseline) / (np.trapezoid(y_perfect, x_perfect) - baseline))


def uplift_at_k(y_true: Any, uplift: Any, treatment: Any, k: float | int = 0.3, strategy: str = "overall") -> float:
    """Response rate of treated minus control among the top ``k`` by predicted uplift.

    ``k`` is a share in (0, 1) or a number of customers (an int, fewer than all); ``overall``: the
    top k of everyone; ``by_group``: the top k of each arm. Inputs and k are checked as
    ``sklift.metrics.uplift_at_k`` checks them.
    """
    y, u, t = _metric_inputs(y_true, uplift, treatment)
    if strategy not in ("overall", "by_group"):
        raise ValueError("strategy must be 'overall' or 'by_group'")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, float, np.integer, np.floating)):
        raise ValueError(f"k must be a share in (0, 1] or a whole number of customers, got {k!r}")
    counting = isinstance(k, (int, np.integer))
    if counting and not 0 < k < y.size:
        raise ValueError(f"k = {k} customers: must be between 1 and {y.size - 1} (or give a share in (0, 1))")
    if not counting and not 0 < k < 1:
        raise ValueError(f"k = {k}: a share must lie in (0, 1) (or give a whole number of customers)")
    if counting and strategy == "by_group" and k > min((t == 1).sum(), (t == 0).sum()):
        raise ValueError(f"k = {k} customers per arm: the smaller arm has {int(min((t == 1).sum(), (t == 0).sum()))}")
    order = np.argsort(u, kind="mergesort")[::-1]
    y, t = y[order], t[order]
    if strategy == "overall":
        n = int(k) if counting else int(y.size * k)
        top_y, top_t = y[:n], t[:n]
        return float(top_y[top_t == 1].mean() - top_y[top_t == 0].mean())
    n1 = int(k) if counting else int((t == 1).sum() * k)
    n0 = int(k) if counting else int((t == 0).sum() * k)
    return float(y[t == 1][:n1].mean() - y[t == 0][:n0].mean())


class TwoModelUplift:
    """Two-model (T-learner) uplift: one response model per arm; uplift = P(respond | treated) - P(respond | control).

    Parameters
    ----------
    estimator : scikit-learn classifier, optional
        Cloned for each arm (default: ``HistGradientBoostingClassifier`` with a fixed seed).

    Attributes
    ----------
    model_treatment_, model_control_ : fitted classifiers
    feature_names_in_ : list of str

    Examples
    --------
    >>> import numpy as np
    >>> from crm_lab.uplift import TwoModelUplift
    >>> X = np.random.default_rng(0).random((400, 3)); t = np.arange(400) % 2; y = (X[:, 0] * t > 0.5).astype(int)
    >>> TwoModelUplift().fit(X, y, t).predict(X).shape
    (400,)
    """

    def __init__(self, estimator: Any = None):
        self.estimator = estimator

    def fit(self, X: Any, y: Any, treatment: Any) -> TwoModelUplift:
        """Fit one model on the treated rows and one on the control rows; returns self."""
        from sklearn.base import clone
        from sklearn.ensemble import HistGradientBoostingClassifier

        t = np.asarray(treatment)
        if not np.isin(t, [0, 1]).all() or t.min() == t.max():
            raise ValueError("treatment must be 0/1 with both arms present")
        base = self.estimator if self.estimator is not None else HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0)
        X_arr = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)
        y_arr = np.asarray(y)
        self.feature_names_in_ = list(X.columns) if isinstance(X, pd.DataFrame) else None
        self.model_treatment_ = clone(base).fit(X_arr[t == 1], y_arr[t == 1])
        self.model_control_ = clone(base).fit(X_arr[t == 0], y_arr[t == 0])
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted uplift per row."""
        X_arr = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)
        return self.model_treatment_.predict_proba(X_arr)[:, 1] - self.model_control_.predict_proba(X_arr)[:, 1]
