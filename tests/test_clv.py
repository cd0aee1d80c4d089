"""CLV: published CDNOW estimates, agreement with lifetimes, simulated truth, strict inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab.clv import BetaGeo, GammaGamma

lifetimes_only = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def cdnow():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.datasets import load_cdnow_summary, load_cdnow_summary_data_with_monetary_value

        return load_cdnow_summary(index_col=[0]), load_cdnow_summary_data_with_monetary_value()


@pytest.fixture(scope="module")
def cdnow_fits(cdnow):
    d, dm = cdnow
    bg = BetaGeo(time_unit="weeks").fit(d["frequency"], d["recency"], d["T"])
    repeat = dm[dm["frequency"] > 0]
    gg = GammaGamma().fit(repeat["frequency"], repeat["monetary_value"])
    return bg, gg


def test_cdnow_published_estimates(cdnow_fits):
    # Fader, Hardie and Lee (2005): BG/NBD on the CDNOW 1/10 sample (weeks), Gamma-Gamma spend.
    bg, gg = cdnow_fits
    published = {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258}
    for name, value in published.items():
        assert bg.params_[name] == pytest.approx(value, rel=1e-3), name
    assert bg.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)
    for name, value in {"p": 6.2488, "q": 3.7446, "gamma": 15.4477}.items():
        assert gg.params_[name] == pytest.approx(value, rel=1e-3), name
    assert bg.converged_ and gg.converged_ and bg.n_customers_ == 2_357
    table = bg.summary()
    assert list(table.columns) == ["coef", "se", "lower 95%", "upper 95%"]
    assert ((table["lower 95%"] < table["coef"]) & (table["coef"] < table["upper 95%"])).all()


@lifetimes_only
def test_equal_to_lifetimes_estimates_and_predictions(cdnow, cdnow_fits):
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    d, dm = cdnow
    bg, gg = cdnow_fits
    repeat = dm[dm["frequency"] > 0]
    lbg = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    lgg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    np.testing.assert_allclose(bg.params_.to_numpy(), lbg.params_[["r", "alpha", "a", "b"]].to_numpy(), rtol=1e-4)
    np.testing.assert_allclose(gg.params_.to_numpy(), lgg.params_[["p", "q", "v"]].to_numpy(), rtol=1e-4)
    # Same parameters, same predictions.
    lbg.params_ = pd.Series(bg.params_.to_numpy(), index=["r", "alpha", "a", "b"])
    lgg.params_ = pd.Series(gg.params_.to_numpy(), index=["p", "q", "v"])
    x, tx, t = d["frequency"], d["recency"], d["T"]
    for horizon in (1.0, 10.0, 39.0):
        np.testing.assert_allclose(bg.expected_purchases(horizon, x, tx, t),
                                   lbg.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, t), rtol=1e-10)
    np.testing.assert_allclose(bg.probability_alive(x, tx, t), lbg.conditional_probability_alive(x, tx, t), rtol=1e-10)
    np.testing.assert_allclose(bg.expected_purchases_new([1.0, 20.0, 78.0]), lbg.expected_number_of_purchases_up_to_time(np.array([1.0, 20.0, 78.0])), rtol=1e-10)
    np.testing.assert_allclose(gg.expected_order_value(dm["frequency"], dm["monetary_value"]),
                               lgg.conditional_expected_average_profit(dm["frequency"], dm["monetary_value"]), rtol=1e-10)


@lifetimes_only
def test_clv_equals_lifetimes_definition(small_shop):
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    s = cl.summary.customer_summary(small_shop)
    model = cl.clv.fit(s)
    lbg, lgg = BetaGeoFitter(), GammaGammaFitter()
    lbg.params_ = pd.Series(model.purchases.params_.to_numpy(), index=["r", "alpha", "a", "b"])
    lgg.params_ = pd.Series(model.order_value.params_.to_numpy(), index=["p", "q", "v"])
    lbg.predict = lbg.conditional_expected_number_of_purchases_up_to_time  # lifetimes sets this alias in fit()
    monthly = 0.01
    ours = model.predict(horizon="90D", annual_discount_rate=(1 + monthly) ** (365 / 30) - 1)
    value = lgg.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
    theirs = lgg.customer_lifetime_value(lbg, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                         time=3, discount_rate=monthly, freq="D")
    np.testing.assert_allclose(ours["expected_order_value"], value, rtol=1e-10)
    np.testing.assert_allclose(ours["clv"], theirs, rtol=1e-9)
    assert (ours["p_alive"].between(0, 1)).all() and (ours["expected_purchases"] >= 0).all()


def test_simulated_parameters_recovered_within_standard_errors():
    shop = cl.datasets.make_shop(8_000, seed=21, promotions=False, campaigns=False)
    s = cl.summary.customer_summary(shop)
    bg = BetaGeo().fit(s["frequency"], s["recency"], s["T"])
    for name, true in shop.truth["bgnbd"].items():
        assert abs(bg.params_[name] - true) < 3 * bg.standard_errors_[name], (name, bg.params_[name], true)
    gross = shop.orders[~shop.orders["product_id"].str.startswith("S")].assign(refund_amount=0.0)
    g = cl.summary.customer_summary(gross, as_of=shop.as_of)
    gg = GammaGamma().fit(g["frequency"], g["monetary_value"])
    for name, true in shop.truth["gamma_gamma"].items():
        assert abs(gg.params_[name] - true) < 3 * gg.standard_errors_[name], (name, gg.params_[name], true)


def _frame(**cols):
    base = {"frequency": [0.0, 2.0, 1.0], "recency": [0.0, 30.0, 10.0], "T": [40.0, 50.0, 20.0], "monetary_value": [0.0, 80.0, 40.0]}
    base.update(cols)
    return pd.DataFrame(base, index=["c1", "c2", "c3"])


@pytest.mark.parametrize(
    "frame,message",
    [
        (_frame(frequency=[0.0, 2.5, 1.0]), r"frequency is negative or not a whole number .*c2"),
        (_frame(frequency=[0.0, -1.0, 1.0]), r"frequency is negative .*c2"),
        (_frame(recency=[0.0, 60.0, 10.0]), r"recency > T .*c2"),
        (_frame(T=[40.0, -5.0, 20.0], recency=[0.0, 0.0, 10.0], frequency=[0.0, 0.0, 1.0]), r"T is negative .*c2"),
        (_frame(T=[np.nan, 50.0, 20.0]), r"T: NaN or infinite .*c1"),
        (_frame(recency=[0.0, np.inf, 10.0]), r"recency: NaN or infinite .*c2"),
        (_frame(frequency=[0.0, 0.0, 0.0], recency=[0.0, 0.0, 0.0]), "no customer has a repeat purchase"),
        (_frame().iloc[:1], "single customer"),
        (_frame().iloc[:0], "empty"),
        (_frame(recency=[5.0, 30.0, 10.0]), r"recency is not 0 where frequency is 0 .*c1"),
        (_frame().drop(columns="monetary_value"), "monetary_value"),
    ],
)
def test_bad_input_is_a_clear_error(frame, message):
    with pytest.raises(ValueError, match=message):
        cl.clv.fit(frame)


def test_gamma_gamma_needs_positive_values():
    with pytest.raises(ValueError, match=r"monetary_value is not > 0 .*1"):
        GammaGamma().fit([1, 2, 0], [10.0, -3.0, 0.0])


def test_refunded_repeat_value_is_left_out_of_the_spend_fit_and_said(small_shop):
    s = cl.summary.customer_summary(small_shop)
    odd = s.index[s["frequency"] > 0][:3]
    s.loc[odd, "monetary_value"] = 0.0
    model = cl.clv.fit(s)
    assert any("net repeat value <= 0" in n for n in model.notes)
    pred = model.predict()
    assert np.isfinite(pred.loc[odd, "clv"]).all()


def test_fitting_changes_no_warning_filter(small_shop):
    before = list(warnings.filters)
    model = cl.clv.fit(cl.summary.customer_summary(small_shop))
    model.predict(horizon="180D")
    assert warnings.filters == before


def test_sample_fit_tiers_and_units(small_shop):
    s = cl.summary.customer_summary(small_shop)
    model = cl.clv.fit(s, sample=600, seed=4)
    assert model.sample_size == 600 and "600" in model.notes[0]
    pred = model.predict(horizon="365D")
    assert len(pred) == len(s)
    tiers = model.tiers(pred)
    assert list(tiers.cat.categories) == ["low", "medium", "high", "top"]
    # Top is the customers at or above the 95th percentile of predicted CLV, counted independently.
    cut = np.quantile(pred["clv"], 0.95)
    assert set(tiers.index[tiers == "top"]) == set(pred.index[pred["clv"] >= cut])
    weeks = s.assign(recency=s["recency"] / 7, T=s["T"] / 7)
    in_weeks = cl.clv.fit(weeks, time_unit="weeks", sample=600, seed=4)
    # The same customers in weeks predict the same purchases for a horizon given in days.
    np.testing.assert_allclose(in_weeks.predict(horizon="90D")["expected_purchases"], model.predict(horizon="90D")["expected_purchases"], rtol=1e-3)


def test_holdout_evaluation_on_a_bgnbd_shop():
    shop = cl.datasets.make_shop(6_000, seed=5, promotions=False, campaigns=False)
    rep = cl.clv.evaluate(shop, "2025-03-31", "2025-11-30")
    table = rep.summary()["value"]
    assert table["predicted (model)"] == pytest.approx(table["actual repeat purchases"], rel=0.1)
    assert table["MAE per customer (model)"] < table["MAE per customer (naive)"]
    assert set(rep.by_frequency.index) >= {"0", "1", "7+"}
    last_cal = rep.tracking[rep.tracking["period"] == "calibration"].iloc[-1]
    assert last_cal["expected"] == pytest.approx(last_cal["actual"], rel=0.1)
    with pytest.raises(ValueError, match="after calibration_end"):
        cl.clv.evaluate(shop, "2025-03-31", "2025-01-01")
    with pytest.raises(ValueError, match="not observed"):
        cl.clv.evaluate(shop, "2025-03-31", "2026-06-30")


def test_penalty_shrinks_and_holdout_plots_draw(small_shop):
    import matplotlib.pyplot as plt

    s = cl.summary.customer_summary(small_shop)
    plain = BetaGeo().fit(s["frequency"], s["recency"], s["T"])
    shrunk = BetaGeo(penalizer=0.1).fit(s["frequency"], s["recency"], s["T"])
    assert (shrunk.params_ ** 2).sum() < (plain.params_ ** 2).sum()
    rep = cl.clv.evaluate(small_shop, "2025-03-31", "2025-11-30")
    assert len(rep.plot_tracking().lines) >= 2
    assert len(rep.plot_by_frequency().patches) >= 3 * len(rep.by_frequency)
    plt.close("all")


# --------------------------------------------------------------------------------------------
# Issue 13: honest at the edges


@lifetimes_only
@pytest.mark.parametrize("penalizer", [0.01, 0.1])
def test_penalizer_is_lifetimes_penalizer_coef(cdnow, penalizer):
    # lifetimes 0.11 scales time to max T = 1 before penalising; at 0.1 it gives .2309, 4.2193, .1287, .2671.
    from lifetimes import BetaGeoFitter

    d, _ = cdnow
    ours = BetaGeo(penalizer, time_unit="weeks").fit(d["frequency"], d["recency"], d["T"])
    theirs = BetaGeoFitter(penalizer_coef=penalizer).fit(d["frequency"], d["recency"], d["T"])
    np.testing.assert_allclose(ours.params_.to_numpy(), theirs.params_[["r", "alpha", "a", "b"]].to_numpy(), rtol=1e-3)
    # The same customers in days: the same estimates (alpha in days), the penalty is unit-free.
    days = BetaGeo(penalizer).fit(d["frequency"], d["recency"] * 7, d["T"] * 7)
    np.testing.assert_allclose(days.params_.to_numpy() / [1, 7, 1, 1], ours.params_.to_numpy(), rtol=1e-4)


@lifetimes_only
def test_pareto_nbd_equals_lifetimes_on_cdnow(cdnow):
    from lifetimes import ParetoNBDFitter

    d, _ = cdnow
    x, tx, t = d["frequency"], d["recency"], d["T"]
    ours = cl.clv.ParetoNBD(time_unit="weeks").fit(x, tx, t)
    # lifetimes' test suite: [0.553, 10.578, 0.606, 11.669]; Fader and Hardie's log-likelihood -9595.0.
    np.testing.assert_allclose(ours.params_.to_numpy(), [0.553, 10.578, 0.606, 11.669], rtol=2e-3)
    assert ours.log_likelihood_ == pytest.approx(-9595.0, abs=0.1)
    assert ours.converged_ and not ours.diagnostics_
    theirs = ParetoNBDFitter()
    theirs.params_ = pd.Series(ours.params_.to_numpy(), index=["r", "alpha", "s", "beta"])
    for horizon in (1.0, 39.0):
        np.testing.assert_allclose(ours.expected_purchases(horizon, x, tx, t),
                                   theirs.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, t), rtol=1e-8)
    np.testing.assert_allclose(ours.probability_alive(x, tx, t), theirs.conditional_probability_alive(x, tx, t), rtol=1e-8)
    np.testing.assert_allclose(ours.expected_purchases_new([1.0, 78.0]), theirs.expected_number_of_purchases_up_to_time(np.array([1.0, 78.0])), rtol=1e-10)
    # One-time buyers are not all alive under Pareto/NBD.
    assert ours.probability_alive(np.zeros(1), np.zeros(1), np.array([70.0]))[0] < 0.9


@pytest.mark.parametrize("params", [(0.55, 10.6, 0.61, 11.7), (0.8, 30.0, 1.4, 5.0)])  # alpha < beta and alpha > beta
def test_pareto_a0_on_distinct_pairs_equals_every_row(params):
    from crm_lab.clv.pareto_nbd import _log_a0, _log_hyp2f1

    r, alpha, s, beta = params
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, 500).astype(float)
    t = rng.choice([20.0, 40.0, 78.0], 500)
    tx = np.where(x > 0, np.floor(rng.random(500) * t), 0.0)
    low, high, shape = (alpha, beta, r + x) if alpha < beta else (beta, alpha, np.full(500, s + 1.0))
    rsx, q1, q2 = r + s + x, high + tx, high + t
    first = _log_hyp2f1(rsx, shape, (high - low) / q1) + rsx * np.log(q2)  # every row, as before the pairs
    second = _log_hyp2f1(rsx, shape, (high - low) / q2) + rsx * np.log(q1)
    gap = np.maximum(first - second, 0.0)
    with np.errstate(divide="ignore"):
        expected = second + np.log(-np.expm1(-gap)) + gap - rsx * np.log(q1 * q2)
        got = _log_a0(r, alpha, s, beta, x, tx, t)
        np.testing.assert_allclose(got, expected, rtol=1e-13)
        # a scalar and a grid keep their shapes
        assert np.shape(_log_a0(r, alpha, s, beta, 2.0, 10.0, 40.0)) == ()
        grid = _log_a0(r, alpha, s, beta, x[:6].reshape(2, 3), tx[:6].reshape(2, 3), t[:6].reshape(2, 3))
        np.testing.assert_allclose(grid, expected[:6].reshape(2, 3), rtol=1e-13)


@pytest.fixture(scope="module")
def online_retail_orders():
    if not cl.datasets.shared_data_path("online_retail_clean.parquet").exists():
        pytest.skip("../shared/data is not beside this checkout")
    df = cl.datasets.load_online_retail()
    orders = pd.DataFrame({"customer_id": df["CustomerID"].astype(int).astype("str"), "order_id": df["InvoiceNo"].astype("str"),
                           "paid_at": pd.to_datetime(df["InvoiceDate"]), "paid_amount": df["Quantity"] * df["UnitPrice"]})
    return orders[orders["paid_amount"] > 0]


def test_boundary_fit_on_online_retail_is_not_trusted_and_the_report_says_so(online_retail_orders):
    s = cl.summary.customer_summary(online_retail_orders, as_of="2011-09-01")
    with pytest.warns(UserWarning, match="cannot be trusted"):
        model = cl.clv.fit(s)
    bg = model.purchases
    assert not bg.converged_ and not model.trustworthy
    assert bg.params_["a"] < 1e-5 and any("edge of the parameter space" in d for d in bg.diagnostics_)
    assert model.diagnostics[0].startswith("BG/NBD: ")
    with pytest.warns(UserWarning, match="cannot be trusted"):
        check = cl.clv.evaluate(online_retail_orders, "2011-09-01", "2011-12-09")
    hs = check.summary()["value"]
    # The model is worse than the naive run-rate on the holdout (MAE 0.988 vs 0.964) and says it.
    assert hs["MAE per customer (model)"] == pytest.approx(0.988, abs=0.005)
    assert hs["MAE per customer (naive)"] == pytest.approx(0.964, abs=0.005)
    assert not check.beats_naive and check.comparison.loc["naive", "best"]
    pred = model.predict()
    verdict = cl.report.clv_verdict(model, pred, check, 90)
    assert verdict.startswith("**模型不可信**") and "不如朴素预测" in verdict
    cards = dict((label, value) for label, value, _ in cl.report.clv_cards(model, pred, check, 90))
    assert cards["平均活跃概率"] == "–" and cards["预测价值合计"] == "–"


def test_online_retail_full_period_alive_for_everyone_is_not_trusted(online_retail_orders):
    # P(alive) is ~0.999 for everyone, including customers silent for a year: a and b are not identified.
    s = cl.summary.customer_summary(online_retail_orders)
    with pytest.warns(UserWarning, match="orders of magnitude"):
        model = cl.clv.fit(s)
    assert model.predict()["p_alive"].mean() > 0.99 and not model.trustworthy
    spans = [d for d in model.purchases.diagnostics_ if "orders of magnitude" in d]
    assert [d.split(" of ")[1].split(" ")[0] for d in spans] == ["a", "b"]  # 5.1 and 5.7 orders of magnitude


def test_a_trusted_fit_gets_a_plain_verdict(small_shop):
    model = cl.clv.fit(cl.summary.customer_summary(small_shop))
    check = cl.clv.evaluate(small_shop, "2025-03-31", "2025-11-30")
    assert model.trustworthy and model.diagnostics == []
    verdict = cl.report.clv_verdict(model, model.predict(), check, 90)
    assert verdict.startswith("未来90天预测有效金额合计") and "模型不可信" not in verdict


def test_identical_customers_and_impossible_frequencies_are_refused():
    same = pd.DataFrame({"frequency": [3.0] * 200, "recency": [50.0] * 200, "T": [100.0] * 200, "monetary_value": [20.0] * 200})
    with pytest.raises(ValueError, match="same frequency, recency and T"):
        cl.clv.fit(same)
    odd = _frame(frequency=[0.0, 500.0, 1.0], recency=[0.0, 99.0, 10.0], T=[40.0, 120.0, 20.0])
    with pytest.raises(ValueError, match=r"frequency exceeds the days between first and last purchase .*c2"):
        cl.clv.fit(odd)
    with pytest.raises(ValueError, match="same frequency and order value"):
        GammaGamma().fit([2, 2, 2], [10.0, 10.0, 10.0])


@lifetimes_only
def test_gamma_gamma_keeps_q_above_one_and_says_when_it_is_at_the_limit(cdnow):
    from lifetimes import GammaGammaFitter

    _, dm = cdnow
    repeat = dm[dm["frequency"] > 0]
    # lifetimes ends at q = 0.968 with penalizer 0.01, where the mean order value is infinite.
    assert GammaGammaFitter(penalizer_coef=0.01).fit(repeat["frequency"], repeat["monetary_value"]).params_["q"] < 1
    with pytest.warns(UserWarning, match="q = 1 is at its lower limit"):
        gg = GammaGamma(penalizer=0.01).fit(repeat["frequency"], repeat["monetary_value"])
    assert gg.params_["q"] > 1 and not gg.converged_
    assert np.isfinite(gg.expected_order_value(repeat["frequency"], repeat["monetary_value"])).all()


def test_fully_refunded_days_are_not_purchases():
    day = pd.Timestamp("2025-01-01")
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b"], "order_id": ["o1", "o2", "o3", "o4", "o5"],
        "paid_at": [day, day + pd.Timedelta(days=10), day + pd.Timedelta(days=20), day + pd.Timedelta(days=5), day + pd.Timedelta(days=8)],
        "paid_amount": [100.0, 50.0, 80.0, 60.0, 0.0], "refund_amount": [0.0, 50.0, 30.0, 60.0, 0.0],
    })
    s = cl.summary.customer_summary(orders, as_of="2025-01-31")
    # a: day 10 refunded in full is no purchase; day 20 (net 50) is the one repeat.
    assert s.loc["a", ["purchase_days", "frequency", "recency", "T", "monetary_value"]].tolist() == [3, 1.0, 20.0, 30.0, 50.0]
    # b: the first order refunded in full; the 0-amount order without refund is the first purchase.
    assert s.loc["b", ["frequency", "recency", "T"]].tolist() == [0.0, 0.0, 22.0]


def test_auto_picks_the_smaller_holdout_error_and_says_why(shop_4k):
    check = cl.clv.evaluate(shop_4k, "2025-03-31", "2025-11-30", model="auto")
    assert set(check.comparison.index) == {"bgnbd", "pareto_nbd", "naive"}
    best = check.comparison.drop(index="naive")["mae"].idxmin()
    assert check.model.purchases.label == check.comparison.loc[best, "model"]
    s = cl.summary.customer_summary(shop_4k)
    model = cl.clv.fit(s, model="auto", holdout=check)
    assert model.purchases.label == check.comparison.loc[best, "model"]
    assert "smaller holdout error" in model.notes[-1] and model.choice["chosen"].sum() == 1
    assert cl.report.clv_notes(model)[0].startswith(f"购买模型选用 {model.purchases.label}：验证期人均误差")
    by_likelihood = cl.clv.fit(s, model="auto")
    assert "higher log-likelihood" in by_likelihood.notes[-1]
    lls = by_likelihood.choice["log_likelihood"]
    assert by_likelihood.choice.loc[lls.idxmax(), "chosen"]
    with pytest.raises(ValueError, match="model='auto'"):
        cl.clv.fit(s, model="auto", holdout=cl.clv.evaluate(shop_4k, "2025-03-31", "2025-11-30"))
    with pytest.raises(ValueError, match="model must be one of"):
        cl.clv.fit(s, model="pareto")
    tiers = model.tier_summary()
    assert "one_time_share" in tiers and tiers["one_time_share"].between(0, 1).all()


def test_collapse_numbers_distinct_rows_exactly_whole_or_fractional():
    from crm_lab.clv.inputs import collapse

    rng = np.random.default_rng(4)
    for scale in (1.0, 0.25):  # whole days (packed key) and quarter days (hash group-by)
        base = np.round(rng.uniform(0, 40, (300, 3)) / scale) * scale
        rows = base[rng.integers(0, 300, 5_000)]
        unique, counts, inverse = collapse(rows[:, 0], rows[:, 1], rows[:, 2])
        rebuilt = np.column_stack([u[inverse] for u in unique])
        np.testing.assert_array_equal(rebuilt, rows)
        assert counts.sum() == len(rows) and len(counts) == len(np.unique(rows, axis=0))
