"""Per-customer predictions: the closed forms against Monte Carlo, and the ranking against the simulator's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import crm_lab as cl

AS_OF = pd.Timestamp("2025-08-31")


@pytest.fixture(scope="module")
def predictions(sample_shop):
    return cl.predict.customers(sample_shop, as_of=AS_OF)


def _kept_buyers(shop, start, stop):
    o = shop.orders[(shop.orders["paid_at"] >= start) & (shop.orders["paid_at"] < stop)]
    net = (o["paid_amount"] - o["refund_amount"]).groupby([o["customer_id"], o["order_id"]]).sum()
    return set(net[net > 0].index.get_level_values(0))


def test_churn_risk_and_next_order_equal_a_monte_carlo_of_the_posterior(small_shop):
    s = cl.summary.customer_summary(small_shop)
    model = cl.clv.fit(s)
    r, alpha, a, b = model.purchases._p()
    rows = s[s["frequency"] > 0].head(5)
    risk = cl.predict.churn_risk(model, rows, "90D")
    median = cl.predict.next_order_in(model, rows, horizon="100000D")
    alive = model.purchases.probability_alive(rows["frequency"], rows["recency"], rows["T"])
    rng = np.random.default_rng(0)
    for (cid, row), p in zip(rows.iterrows(), alive, strict=True):
        lam = rng.gamma(r + row["frequency"], 1 / (alpha + row["T"]), 400_000)
        is_alive = rng.random(lam.size) < p
        wait = np.where(is_alive, rng.exponential(1 / lam), np.inf)  # first purchase after T
        assert risk[cid] == pytest.approx(np.mean(wait > 90), abs=0.004)
        if p > 0.5:
            assert median[cid] == pytest.approx(np.quantile(wait, 0.5), rel=0.02)
        else:
            assert np.isnan(median[cid])


def test_one_time_buyers_are_alive_by_definition_and_their_risk_is_the_gamma_mixture(small_shop):
    s = cl.summary.customer_summary(small_shop)
    model = cl.clv.fit(s)
    r, alpha, _, _ = model.purchases._p()
    once = s[s["frequency"] == 0].head(20)
    expected = (alpha + once["T"]) ** r / (alpha + once["T"] + 30) ** r
    np.testing.assert_allclose(cl.predict.churn_risk(model, once, "30D"), expected, rtol=1e-12)


def test_predictions_columns_bands_and_value_agree_with_the_clv_model(sample_shop, predictions):
    p = predictions
    assert list(p.columns) == list(cl.predict.PREDICTION_COLUMNS)
    s = cl.summary.customer_summary(sample_shop, as_of=AS_OF)
    assert p.index.equals(s.index)
    clv = cl.clv.fit(s).predict(horizon="365D", annual_discount_rate=0.08)
    np.testing.assert_allclose(p["value_365d"], clv["clv"], rtol=1e-9)
    for band, (low, high) in cl.predict.CHURN_BANDS.items():
        inside = p.loc[p["churn_band"] == band, "churn_risk"]
        assert inside.between(low, high, inclusive="left").all()
    gaps = (s["recency"] / s["frequency"]).where(s["frequency"] > 0)
    pd.testing.assert_series_equal(p["avg_days_between_orders"], gaps, check_names=False)
    assert (p["next_order_at"].dropna() > AS_OF).all() and (p["next_order_days"].dropna() <= 365).all()
    assert p.attrs["diagnostics"] == [] and p.attrs["bands"] == cl.predict.CHURN_BANDS


def test_churn_risk_ranks_the_customers_who_really_lapse(sample_shop, predictions):
    """Lapse = no kept order in the 90 days after as_of (observed in the simulated data); dead =
    the simulator's own dropout before as_of. Bands are calibrated within 10 points on this shop
    (the next 90 days hold Double 11, which the stationary model does not know)."""
    p = predictions
    bought = _kept_buyers(sample_shop, AS_OF + pd.Timedelta(days=1), AS_OF + pd.Timedelta(days=91))
    lapsed = ~p.index.isin(list(bought))
    assert roc_auc_score(lapsed, p["churn_risk"]) > 0.74
    truth = sample_shop.truth["customers"].set_index("customer_id").reindex(p.index)
    dead = truth["dropped_out_at"].notna() & (truth["dropped_out_at"] <= AS_OF)
    assert roc_auc_score(dead, 1 - p["p_alive"]) > 0.9
    by_band = pd.DataFrame({"risk": p["churn_risk"], "lapsed": lapsed}).groupby(p["churn_band"], observed=True).mean()
    assert (by_band["risk"] - by_band["lapsed"]).abs().max() < 0.10
    assert by_band["lapsed"].is_monotonic_increasing


def test_next_order_median_is_reached_by_about_half(sample_shop, predictions):
    """Among customers whose median next order falls within the observed 90 days, about half order by it."""
    p = predictions
    near = p[p["next_order_days"] <= 90]
    later = sample_shop.orders[sample_shop.orders["paid_at"] >= AS_OF + pd.Timedelta(days=1)]
    first_next = later.groupby("customer_id")["paid_at"].min().reindex(near.index)
    share = float((first_next <= near["next_order_at"]).mean())
    assert len(near) > 300 and 0.4 < share < 0.6


def test_audience_predicted_rules(small_shop):
    aud = cl.audience.Audience(small_shop)
    p = cl.predict.customers(small_shop)
    high = aud.predicted("high")
    assert set(high.customer_ids()) == set(p.index[p["churn_band"] == "high"])
    assert high.describe()["中文"].iloc[0] == "流失风险为高"
    soon = aud.predicted(next_order_within="30D", min_value=100)
    assert set(soon.customer_ids()) == set(p.index[(p["next_order_days"] <= 30) & (p["value_365d"] >= 100)])
    with pytest.raises(ValueError, match="unknown band"):
        aud.predicted("very high")
    with pytest.raises(ValueError, match="give churn"):
        aud.predicted()


def test_predictions_refuse_a_pareto_model(small_shop):
    s = cl.summary.customer_summary(small_shop)
    with pytest.raises(ValueError, match="BG/NBD"):
        cl.predict.churn_risk(cl.clv.fit(s, model="pareto_nbd"), s)
