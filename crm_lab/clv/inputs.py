"""What the CLV models accept: checked frequency, recency, T and order value, and customers alike collapsed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TIME_UNITS", "check_rfm"]

#: Days per model time unit.
TIME_UNITS = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12}


def _rows(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    bad = index[mask]
    shown = ", ".join(str(v) for v in bad[:limit])
    return f"{int(mask.sum())} row(s): {shown}{' ...' if len(bad) > limit else ''}"


def _as_arrays(cols: dict[str, Any], name: str) -> tuple[dict[str, np.ndarray], pd.Index]:
    """Finite float arrays of one length, or a ValueError naming the column and rows."""
    series = {k: v if isinstance(v, pd.Series) else pd.Series(np.atleast_1d(v)) for k, v in cols.items()}
    index = series["frequency"].index
    lengths = {k: len(v) for k, v in series.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{name}: columns differ in length {lengths}")
    if lengths["frequency"] == 0:
        raise ValueError(f"{name}: no customers (empty frame)")
    arrays = {}
    for key, values in series.items():
        try:
            arr = np.asarray(pd.to_numeric(values, errors="raise"), dtype="float64")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}.{key}: not numeric ({exc})") from None
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(f"{name}.{key}: NaN or infinite in {_rows(index, bad)}. Fix: drop or fill them before fitting.")
        arrays[key] = arr
    return arrays, index


def check_rfm(
    frequency: Any, recency: Any, T: Any, monetary_value: Any = None, *, name: str = "summary", time_unit: str = "days"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, pd.Index]:
    """Validate BG/NBD / Pareto/NBD (and Gamma-Gamma) inputs; raise ValueError naming the bad rows.

    Rules: finite numbers; frequency a whole number >= 0; 0 <= recency <= T; recency 0 when
    frequency is 0; frequency at most one repeat purchase per day of recency (purchases are
    counted per day); monetary value > 0 where frequency > 0; at least two customers, not all
    alike; at least one repeat purchase.

    Examples
    --------
    >>> from crm_lab.clv import check_rfm
    >>> check_rfm([0, 2], [0, 5], [3, 4])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: summary: recency > T in 1 row(s): 1
    """
    cols = {"frequency": frequency, "recency": recency, "T": T}
    if monetary_value is not None:
        cols["monetary_value"] = monetary_value
    arrays, index = _as_arrays(cols, name)
    x, tx, t = arrays["frequency"], arrays["recency"], arrays["T"]
    days = TIME_UNITS[time_unit]
    checks = [
        ("frequency", (x < 0) | (x != np.round(x)), "is negative or not a whole number (repeat purchase days)"),
        ("T", t < 0, "is negative"),
        ("recency", tx < 0, "is negative"),
        ("recency", tx > t, "> T (the last purchase cannot be after the end of observation)"),
        ("recency", (x == 0) & (tx != 0), "is not 0 where frequency is 0"),
        # Repeat purchases are distinct days after the first: at most one per day of recency
        # (half a day of slack for recency rounded in weeks or months, as lifetimes' CDNOW files).
        ("frequency", x > tx * days + 0.5, f"exceeds the days between first and last purchase (recency in {time_unit}; "
                                            "frequency counts repeat purchase days)"),
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
    if np.ptp(x) == 0 and np.ptp(tx) == 0 and np.ptp(t) == 0:
        raise ValueError(f"{name}: all {x.size:,} customers have the same frequency, recency and T; "
                         "a population of identical customers cannot identify the model's heterogeneity")
    return x, tx, t, arrays.get("monetary_value"), index


def collapse(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unique rows of the given columns, how often each occurs, and each input row's unique row.

    Customers alike are fitted and predicted once. (Sums avoid BLAS dot products, whose idle
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
    # Fractional values (recency and T in hours): a hash group-by numbers the distinct rows exactly,
    # about 9x faster than numpy's row-wise unique (a sort of the rows as bytes) on 1M customers.
    frame = pd.DataFrame({f"c{i}": c for i, c in enumerate(cols)})
    inverse = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    _, first = np.unique(inverse, return_index=True)
    counts = np.bincount(inverse).astype("float64")
    return [c[first] for c in cols], counts, inverse


def time_scale(t: np.ndarray) -> float:
    """The factor that puts the oldest customer's T at 1 (lifetimes' ``_scale_time``).

    Fitting in these units makes ``penalizer`` mean the same whatever the time unit, and is what
    lifetimes' ``penalizer_coef`` does; the rate parameters are converted back after the fit.
    """
    return 1.0 / float(np.max(t)) if np.max(t) > 0 else 1.0


def check_spend(frequency: Any, monetary_value: Any, *, name: str = "gamma-gamma input") -> tuple[np.ndarray, np.ndarray]:
    """Validate Gamma-Gamma inputs: whole frequencies >= 0, order values > 0 where frequency > 0,
    at least two repeat customers whose values are not all equal; raise ValueError naming the rows."""
    arrays, index = _as_arrays({"frequency": frequency, "monetary_value": monetary_value}, name)
    x, m = arrays["frequency"], arrays["monetary_value"]
    for col, mask, problem in (("frequency", (x < 0) | (x != np.round(x)), "is negative or not a whole number"),
                               ("monetary_value", (x > 0) & (m <= 0), "is not > 0 where frequency > 0")):
        if mask.any():
            raise ValueError(f"{name}.{col} {problem} in {_rows(index, mask)}. Fix: compute the inputs with crm_lab.summary.customer_summary.")
    repeat = x > 0
    if repeat.sum() < 2:
        raise ValueError(f"{name}: {int(repeat.sum())} customer(s) with a repeat purchase; the spend model needs at least two")
    if np.ptp(m[repeat]) == 0 and np.ptp(x[repeat]) == 0:
        raise ValueError(f"{name}: all {int(repeat.sum()):,} repeat customers have the same frequency and order value; "
                         "their spread, which the model estimates, is not identified")
    return x, m
