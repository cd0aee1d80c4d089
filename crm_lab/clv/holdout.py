"""Does the purchase model forecast? Fit up to a calibration date, compare with what happened after."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import engine, summary
from crm_lab.clv.inputs import TIME_UNITS
from crm_lab.clv.model import PURCHASE_MODELS, CLVModel, fit, purchase_model
from crm_lab.data import observation_end, orders_of
from crm_lab.results import Result

__all__ = ["HoldoutReport", "evaluate"]


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
    comparison : pandas.DataFrame
        Per forecast (the purchase model or models, and ``naive``): predicted total, MAE per
        customer and whether it is the best; :attr:`beats_naive` reads it.
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
    comparison: pd.DataFrame | None = None

    @property
    def beats_naive(self) -> bool:
        """The model's holdout error (MAE per customer) is below the naive run-rate's."""
        c = self.customers
        return bool((c["predicted"] - c["actual"]).abs().mean() < (c["naive"] - c["actual"]).abs().mean())

    def summary(self) -> pd.DataFrame:
        """Totals and per-customer errors of the model against the naive forecast."""
        c = self.customers
        rows = {
            "customers": len(c),
            "actual repeat purchases": c["actual"].sum(),
            "predicted (model)": c["predicted"].sum(),
            "predicted (naive run-rate)": c["naive"].sum(),
            "MAE per customer (model)": (c["predicted"] - c["actual"]).abs().mean(),
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
        long["series"] = long["series"].map({"actual": "实际", "expected": f"模型 {self.model.purchases.label}"})
        ax = plots.line(long, x="week", y="cumulative", hue="series", ax=ax, marker="", title="累计复购次数（实际 vs 模型）", xlabel="", ylabel="")
        ax.axvline(self.calibration_end, color="#7f8c8d", linestyle="--")
        return ax

    def plot_by_frequency(self, ax: Any = None) -> Any:
        """Mean holdout purchases by calibration frequency: actual, BG/NBD and naive."""
        from crm_lab import plots

        long = self.by_frequency.reset_index().melt(id_vars="calibration_frequency", value_vars=["actual", "predicted", "naive"],
                                                    var_name="series", value_name="mean_purchases")
        long["series"] = long["series"].map({"actual": "实际", "predicted": f"模型 {self.model.purchases.label}", "naive": "朴素预测"})
        return plots.bar(long, x="calibration_frequency", y="mean_purchases", hue="series", ax=ax,
                         title="验证期人均复购（按拟合期复购次数）", xlabel="拟合期复购次数", ylabel="")


def evaluate(source: Any, calibration_end: Any, holdout_end: Any, *, model: str = "bgnbd", penalizer: float = 0.0) -> HoldoutReport:
    """Fit on orders up to ``calibration_end``; compare predictions with ``(calibration_end, holdout_end]``.

    Holdout purchases count distinct purchase days with a positive net amount, as the model's
    frequency does. The naive forecast repeats each customer's calibration rate (``frequency /
    T``; 0 for T = 0); :attr:`HoldoutReport.beats_naive` says which forecast was closer.

    Parameters
    ----------
    model : {"bgnbd", "pareto_nbd", "auto"}
        The purchase model; ``"auto"`` fits both, keeps the one with the smaller holdout error and
        lists both in ``comparison`` (pass the report to ``fit(model="auto", holdout=...)``).

    Examples
    --------
    >>> import crm_lab as cl
    >>> rep = cl.clv.evaluate(cl.datasets.make_shop(3_000, seed=1), "2025-03-31", "2025-11-30")
    >>> bool(rep.summary().loc["customers", "value"] > 0)
    True
    """
    if model not in (*PURCHASE_MODELS, "auto"):
        raise ValueError(f"model must be one of {[*PURCHASE_MODELS, 'auto']}, got {model!r}")
    orders, shop_as_of = orders_of(source)
    cal_end, hold_end = pd.Timestamp(calibration_end), pd.Timestamp(holdout_end)
    if hold_end <= cal_end:
        raise ValueError(f"holdout_end ({hold_end.date()}) must be after calibration_end ({cal_end.date()})")
    _check_observed(orders, shop_as_of, hold_end)
    cal = summary.customer_summary(orders, as_of=cal_end)
    actual = _holdout_purchase_days(orders, cal_end, hold_end)
    days = float((hold_end.normalize() - cal_end.normalize()) / pd.Timedelta(days=1))
    c = cal[["frequency", "recency", "T"]].copy()
    c["actual"] = actual.reindex(c.index, fill_value=0).astype("float64")
    c["naive"] = np.where(c["T"] > 0, c["frequency"] / c["T"].where(c["T"] > 0, 1.0), 0.0) * days
    names = list(PURCHASE_MODELS) if model == "auto" else [model]
    first = fit(cal, model=names[0], penalizer=penalizer)
    fits = {names[0]: first}
    for name in names[1:]:  # the same customers and Gamma-Gamma fit: only the purchase model is new
        fits[name] = dataclasses.replace(first, purchases=purchase_model(name, penalizer, first.time_unit, first.customers))
    predicted = {name: m.purchases.expected_purchases(days, c["frequency"], c["recency"], c["T"]) for name, m in fits.items()}
    comparison = _comparison(c, predicted, fits)
    chosen = comparison.drop(index="naive")["mae"].idxmin()
    c["predicted"] = predicted[chosen]
    bucket = c["frequency"].clip(upper=7).astype(int).astype(str).replace("7", "7+")
    by_freq = c.groupby(bucket)[["actual", "predicted", "naive"]].mean()
    by_freq["customers"] = c.groupby(bucket).size()
    by_freq.index.name = "calibration_frequency"
    tracking = _tracking(orders, cal, fits[chosen], cal_end, hold_end)
    return HoldoutReport(fits[chosen], c, by_freq, tracking, cal_end, hold_end, comparison)


def _check_observed(orders: Any, shop_as_of: Any, hold_end: pd.Timestamp) -> None:
    """The holdout must be observed: up to the shop's as_of, or (orders alone) within a week of the
    last order, since a quiet last day or two says nothing."""
    if shop_as_of is not None:
        data_end, slack = pd.Timestamp(shop_as_of), pd.Timedelta(0)
    else:
        lf = engine.lazy(orders)
        data_end, slack = pd.Timestamp(engine.collect(lf.select(nw.col("paid_at").max()))["paid_at"].iloc[0]), pd.Timedelta(days=7)
    if hold_end.normalize() > data_end.normalize() + slack:
        raise ValueError(f"the data end {data_end.date()}, before holdout_end {hold_end.date()}: the holdout is not observed")


def _holdout_purchase_days(orders: Any, cal_end: pd.Timestamp, hold_end: pd.Timestamp) -> pd.Series:
    """Per customer: purchase days in the holdout whose net amount is positive (a fully refunded day is no purchase)."""
    lines, _ = summary.order_lines(orders, as_of=hold_end)
    per_day = (lines.filter(nw.col("paid_at") >= engine.timestamp(observation_end(cal_end), lines))
               .group_by("customer_id", "day").agg(nw.col("net").sum())
               .filter(nw.col("net") > 0))
    counted = engine.collect(per_day.group_by("customer_id").agg(nw.len().alias("actual")))
    return counted.assign(customer_id=counted["customer_id"].astype("str")).set_index("customer_id")["actual"]


def _comparison(c: pd.DataFrame, predicted: dict[str, np.ndarray], fits: dict[str, CLVModel]) -> pd.DataFrame:
    """Each forecast's total and MAE per customer, best first marked."""
    rows = {name: {"model": fits[name].purchases.label, "predicted": float(np.sum(p)),
                   "mae": float(np.abs(p - c["actual"]).mean()), "trustworthy": fits[name].trustworthy}
            for name, p in predicted.items()}
    rows["naive"] = {"model": "naive run-rate", "predicted": float(c["naive"].sum()),
                     "mae": float((c["naive"] - c["actual"]).abs().mean()), "trustworthy": True}
    table = pd.DataFrame(rows).T.astype({"predicted": float, "mae": float, "trustworthy": bool})
    table["best"] = table["mae"] == table["mae"].min()
    return table


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
