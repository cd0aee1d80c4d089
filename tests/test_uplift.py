"""Uplift tests and response windows: Hillstrom, interval coverage, the shop's true uplift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab import uplift


@pytest.fixture(scope="module")
def hillstrom():
    if not cl.datasets.shared_data_path("hillstrom.csv").exists():
        pytest.skip("../shared/data is not beside this checkout")
    return cl.datasets.load_hillstrom()


def test_hillstrom_published_figures(hillstrom):
    visit = uplift.test(hillstrom, group="segment", outcome="visit", value="spend", control="No E-Mail",
                        arms=["Mens E-Mail", "Womens E-Mail", "No E-Mail"])
    rates = visit.arms["rate"].round(4)
    assert rates.to_dict() == {"Mens E-Mail": 0.1828, "No E-Mail": 0.1062, "Womens E-Mail": 0.1514}
    spend = visit.arms["value_per_customer"].round(3).to_dict()
    assert spend == {"Mens E-Mail": 1.423, "No E-Mail": 0.653, "Womens E-Mail": 1.077}
    conversion = uplift.test(hillstrom, group="segment", outcome="conversion", control="No E-Mail")
    assert conversion.arms["rate"].round(5).to_dict() == {"Mens E-Mail": 0.01253, "No E-Mail": 0.00573, "Womens E-Mail": 0.00884}
    assert visit.srm["passed"] and visit.srm["p_value"] > 0.5
    mens = visit.summary().loc["Mens E-Mail"]
    assert round(mens["difference"] * 100, 2) == 7.66
    assert mens["difference_low"] < 0.0766 < mens["difference_high"] and mens["difference_high"] - mens["difference_low"] < 0.015
    assert mens["relative_lift_low"] < mens["relative_lift"] < mens["relative_lift_high"]
    # Welch and bootstrap intervals on spend agree in width to 25%.
    welch = mens["value_difference_high"] - mens["value_difference_low"]
    boot = mens["value_bootstrap_high"] - mens["value_bootstrap_low"]
    assert abs(boot / welch - 1) < 0.25 and mens["value_p_value"] < 1e-6


@pytest.mark.slow
def test_relative_lift_interval_covers_the_truth_93_to_97_percent():
    rng = np.random.default_rng(42)
    p0, lift, n, sims = 0.08, 0.25, 3_000, 800
    covered = 0
    for _ in range(sims):
        df = pd.DataFrame({"group": np.repeat(["control", "treatment"], n),
                           "responded": np.r_[rng.random(n) < p0, rng.random(n) < p0 * (1 + lift)].astype(int)})
        row = uplift.test(df, bootstrap=0).summary().loc["treatment"]
        covered += row["relative_lift_low"] <= lift <= row["relative_lift_high"]
    assert 0.93 <= covered / sims <= 0.97, covered / sims


@pytest.mark.parametrize("campaign_id", ["618_2025_sms", "d11_2025_wave1"])
def test_true_uplift_per_segment_lies_in_the_intervals(campaign_id, sample_shop):
    shop = sample_shop
    r = cl.campaign.response(shop, campaign_id)
    segments = shop.truth["touch_segments"].query("campaign_id == @campaign_id").set_index("customer_id")["segment"]
    r["segment"] = r["customer_id"].map(segments)
    share = shop.truth["campaigns"].set_index("campaign_id").loc[campaign_id, "control_share"]
    res = uplift.test(r, outcome="responded_7d", value="net_7d", cost="cost", segments="segment",
                      planned={"control": share, "treatment": 1 - share})
    truth = shop.truth["uplift"].query("campaign_id == @campaign_id").set_index("segment")["true_uplift_7d"]
    assert res.srm["passed"]
    overall = res.summary().loc["treatment"]
    assert overall["difference_low"] <= truth["all"] <= overall["difference_high"]
    for _, row in res.segments.iterrows():
        assert row["difference_low"] <= truth[row["segment"]] <= row["difference_high"], row["segment"]
    live = res.segments.set_index("segment").loc["live_viewer_30d", "difference"]
    assert live > res.segments.set_index("segment").loc["other", "difference"]  # the planted heterogeneity
    assert overall["roi"] > 0 and overall["cost"] > 0
    # ROI is net of the cost; return on spend is the gross ratio (the "7.7x" that was called ROI).
    assert overall["roi"] == pytest.approx((overall["incremental_value"] - overall["cost"]) / overall["cost"])
    assert overall["return_on_spend"] == pytest.approx(overall["incremental_value"] / overall["cost"])
    assert overall["return_on_spend"] - overall["roi"] == pytest.approx(1.0)


def test_response_windows_match_a_direct_computation(small_shop):
    r = cl.campaign.response(small_shop, "d11_2025_wave1")
    t = small_shop.touches.query("campaign_id == 'd11_2025_wave1'")
    assert len(r) == len(t) and set(r["group"]) == {"treatment", "control"}
    o = small_shop.orders.merge(t[["customer_id", "sent_at"]], on="customer_id")
    for label, days in (("24h", 1), ("7d", 7)):
        inside = o[(o["paid_at"] > o["sent_at"]) & (o["paid_at"] <= o["sent_at"] + pd.Timedelta(days=days))]
        expected = inside.groupby("customer_id")["order_id"].nunique()
        got = r.set_index("customer_id")[f"orders_{label}"]
        assert got[got > 0].sort_index().to_dict() == expected.sort_index().to_dict()
    assert (r["responded_24h"] <= r["responded_7d"]).all()


def test_sample_ratio_mismatch_is_loud():
    df = pd.DataFrame({"group": ["control"] * 100 + ["treatment"] * 900, "responded": [0, 1] * 500})
    with pytest.warns(UserWarning, match="SAMPLE RATIO MISMATCH"):
        res = uplift.test(df, planned={"control": 0.5, "treatment": 0.5}, bootstrap=0)
    assert not res.srm["passed"] and res.notes
    ok = uplift.test(df, planned={"control": 0.1, "treatment": 0.9}, bootstrap=0)
    assert ok.srm["passed"]


def test_power_and_minimum_detectable_lift():
    plan = uplift.power(0.10, relative_lift=0.10)
    assert 14_000 < plan["customers_treatment"] < 15_500
    mde = uplift.power(0.10, customers_per_arm=plan["customers_treatment"])
    assert mde["minimum_detectable_lift"] == pytest.approx(0.10, rel=0.02)
    with pytest.raises(ValueError, match="relative_lift"):
        uplift.power(0.1)


def test_bad_input_is_a_clear_error(small_shop):
    df = pd.DataFrame({"group": ["control", "treatment", "treatment"], "responded": [0, 1, 0], "net": [0.0, 5.0, 0.0]})
    with pytest.raises(ValueError, match="expected arms"):
        uplift.test(df, arms=["control", "treatment", "rich_sms"])
    with pytest.raises(ValueError, match="no control arm"):
        uplift.test(df, control="holdout")
    with pytest.raises(ValueError, match="only one arm|no control"):
        uplift.test(df[df["group"] == "control"])
    with pytest.raises(ValueError, match="not 0/1"):
        uplift.test(df.assign(responded=[0, 2, 1]))
    with pytest.raises(ValueError, match="negative"):
        uplift.test(df.assign(net=[0.0, -1.0, 0.0]), value="net")
    with pytest.raises(ValueError, match="no column"):
        uplift.test(df, outcome="converted")
    with pytest.raises(ValueError, match="no touches for campaign"):
        cl.campaign.response(small_shop, "no_such_campaign")
    late = small_shop.touches.assign(sent_at=small_shop.as_of - pd.Timedelta(days=2))
    with pytest.raises(ValueError, match="reaches past the data's end"):
        cl.campaign.response(cl.data.Shop(orders=small_shop.orders, touches=late, as_of=small_shop.as_of), "d11_2025_wave1")


def test_cuped_reduces_variance_and_keeps_the_estimate():
    rng = np.random.default_rng(1)
    n = 20_000
    pre = rng.gamma(1.0, 100, n)
    group = np.where(rng.random(n) < 0.5, "control", "treatment")
    spend = np.maximum(0.8 * pre + rng.normal(0, 30, n) + np.where(group == "treatment", 5, 0), 0)
    df = pd.DataFrame({"group": group, "responded": (spend > 60).astype(int), "net": spend, "pre": pre,
                       "segment": np.where(rng.random(n) < 0.5, "a", "b")})
    plain = uplift.test(df, value="net", bootstrap=0).summary().loc["treatment"]
    adjusted = uplift.test(df, value="net", covariate="pre", bootstrap=0, segments="segment")
    row = adjusted.summary().loc["treatment"]
    assert adjusted.cuped["variance_reduction"] > 0.8
    width = lambda r: r["value_difference_high"] - r["value_difference_low"]  # noqa: E731
    assert width(row) < 0.5 * width(plain) and row["value_difference_low"] < 5 < row["value_difference_high"]
    scales = set(adjusted.interaction["scale"])
    assert scales == {"additive (difference of rates)", "multiplicative (ratio of rates)"}
    assert (adjusted.interaction["p_value"] > 0.01).all()  # no planted interaction here
    with pytest.raises(ValueError, match="give value"):
        uplift.test(df, covariate="pre")


def test_interaction_detected_on_the_shop(sample_shop):
    shop = sample_shop
    r = cl.campaign.response(shop, "d11_2025_wave1")
    r["segment"] = r["customer_id"].map(shop.truth["touch_segments"].query("campaign_id == 'd11_2025_wave1'").set_index("customer_id")["segment"])
    res = uplift.test(r, outcome="responded_7d", segments="segment", planned={"control": 0.2, "treatment": 0.8}, bootstrap=0)
    additive = res.interaction.set_index("scale").loc["additive (difference of rates)", "p_value"]
    assert additive < 0.001  # the uplift is planted larger for recent live viewers
    # Cochran's Q is a property of the data, not of the confidence level of the intervals shown.
    at_80 = uplift.test(r, outcome="responded_7d", segments="segment", planned={"control": 0.2, "treatment": 0.8},
                        bootstrap=0, level=0.80)
    np.testing.assert_allclose(at_80.interaction["Q"], res.interaction["Q"], rtol=1e-9)
    # Against statsmodels' fixed-effect Q on the segments' differences and standard errors.
    from statsmodels.stats.meta_analysis import combine_effects

    seg = res.segments
    z = 1.959963984540054
    se = (seg["difference_high"] - seg["difference_low"]) / (2 * z)
    q_statsmodels = combine_effects(seg["difference"].to_numpy(), (se**2).to_numpy()).q
    assert res.interaction.set_index("scale").loc["additive (difference of rates)", "Q"] == pytest.approx(q_statsmodels, rel=1e-9)


def test_payment_reminder_counts_payment_of_the_same_order():
    t0 = pd.Timestamp("2025-06-01 10:00")
    unpaid = pd.DataFrame({"order_id": ["U1", "U2", "U3"], "customer_id": ["a", "b", "c"],
                           "created_at": [t0 - pd.Timedelta(hours=2)] * 3, "amount": [50.0, 80.0, 20.0]})
    orders = pd.DataFrame({"order_id": ["U1", "U3", "X9"], "line_id": ["1", "3", "9"], "customer_id": ["a", "c", "b"],
                           "paid_at": [t0 + pd.Timedelta(hours=5), t0 + pd.Timedelta(days=3), t0 + pd.Timedelta(hours=1)],
                           "product_id": ["p", "p", "p"], "quantity": [1, 1, 1], "paid_amount": [50.0, 20.0, 99.0], "refund_amount": 0.0})
    touches = pd.DataFrame({"touch_id": ["t1", "t2", "t3"], "campaign_id": "remind", "customer_id": ["a", "b", "c"],
                            "channel": "sms", "sent_at": t0, "group": ["treatment", "treatment", "control"], "cost": [0.05, 0.05, 0.0]})
    shop = cl.data.Shop(orders=orders, unpaid_orders=unpaid, touches=touches, as_of=pd.Timestamp("2025-06-30"))
    r = cl.campaign.payment_reminder_response(shop, "remind", windows=("24h", "7D")).set_index("customer_id")
    assert r["responded_24h"].to_dict() == {"a": 1, "b": 0, "c": 0}  # b paid another order, not the reminded one
    assert r["responded_7d"].to_dict() == {"a": 1, "b": 0, "c": 1} and r.loc["a", "paid_amount_24h"] == 50.0


def test_influencer_genre_and_responder_products(small_shop):
    table, trend = cl.campaign.influencer_genre(small_shop, since="2025-01-01")
    assert "自营" in set(table["influencer_name"]) and table["net_share"].sum() == pytest.approx(1.0)
    assert trend["period"].min() >= pd.Timestamp("2025-01-01") and (trend["refund_rate"].between(0, 1)).all()
    high = small_shop.truth["influencers"].query("refund_rate > 0.2")["influencer_name"]
    rates = table.groupby("influencer_name").apply(lambda g: g["refund_amount"].sum() / g["gross_amount"].sum(), include_groups=False)
    assert rates.reindex(high).dropna().min() > rates.drop(high, errors="ignore").median()
    r = cl.campaign.response(small_shop, "d11_2025_wave1")
    products = cl.campaign.responder_products(small_shop, r)
    assert {"buyers_treatment", "buyers_control", "share_treatment", "share_control"} <= set(products.columns)
    # Buyers per product in the 7 days after each touch, counted independently in pandas.
    lines = small_shop.orders.merge(r[["customer_id", "group", "sent_at"]], on="customer_id")
    lines = lines[(lines["paid_at"] > lines["sent_at"]) & (lines["paid_at"] <= lines["sent_at"] + pd.Timedelta(days=7))]
    expected = lines[lines["group"] == "treatment"].groupby("product_id")["customer_id"].nunique()
    assert products.set_index("product_id")["buyers_treatment"].to_dict() == expected.reindex(products["product_id"]).to_dict()
    assert products["buyers_treatment"].iloc[0] == expected.max()


sklift_warnings = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


@sklift_warnings
def test_metrics_equal_scikit_uplift():
    metrics = pytest.importorskip("sklift.metrics")
    rng = np.random.default_rng(5)
    n = 3_000
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + 0.05 * t).astype(int)
    scores = np.round(rng.random(n), 2)  # ties on purpose
    x, q = uplift.qini_curve(y, scores, t)
    x_ref, q_ref = metrics.qini_curve(y, scores, t)
    np.testing.assert_allclose(x, x_ref)
    np.testing.assert_allclose(q, q_ref)
    for negative in (True, False):
        assert uplift.qini_coefficient(y, scores, t, negative) == pytest.approx(metrics.qini_auc_score(y, scores, t, negative), rel=1e-12)
    for strategy in ("overall", "by_group"):
        assert uplift.uplift_at_k(y, scores, t, 0.3, strategy) == pytest.approx(metrics.uplift_at_k(y, scores, t, strategy, k=0.3), rel=1e-12)


@sklift_warnings
def test_two_model_learner_beats_random_targeting_on_the_shop(sample_shop):
    metrics = pytest.importorskip("sklift.metrics")
    shop = sample_shop
    r = cl.campaign.response(shop, "d11_2025_wave1")
    X = cl.campaign.touch_features(shop, r)
    t = (r["group"] == "treatment").astype(int).to_numpy()
    y = r["responded_7d"].to_numpy()
    train = np.random.default_rng(0).random(len(r)) < 0.5
    model = uplift.TwoModelUplift().fit(X[train], y[train], t[train])
    scores = model.predict(X[~train])
    qini = uplift.qini_coefficient(y[~train], scores, t[~train])
    assert qini == pytest.approx(metrics.qini_auc_score(y[~train], scores, t[~train]), rel=1e-12)
    assert qini > 0.05  # random targeting scores 0
    overall = y[~train][t[~train] == 1].mean() - y[~train][t[~train] == 0].mean()
    assert uplift.uplift_at_k(y[~train], scores, t[~train], k=0.3) > overall
    assert X["live_views"].gt(0).any() and list(model.feature_names_in_) == list(X.columns)


def test_result_plot_draws_rates_with_intervals(hillstrom):
    import matplotlib.pyplot as plt

    res = uplift.test(hillstrom, group="segment", outcome="visit", control="No E-Mail", bootstrap=0)
    ax = res.plot()
    assert len(ax.patches) == 3 and ax.get_title()
    plt.close("all")


def test_uplift_metrics_check_their_inputs_as_sklift_does():
    """sklift's own expectations: binary outcome and treatment, one length, k a share or a count."""
    metrics = pytest.importorskip("sklift.metrics")
    rng = np.random.default_rng(3)
    y, t, u = rng.integers(0, 2, 200), rng.integers(0, 2, 200), rng.random(200)
    bad_inputs = {"treatment coded 1/2": (y, u, t + 1), "net amount as outcome": (y * 99.5, u, t),
                  "one arm": (y, u, np.ones(200, int)), "lengths differ": (y[:-1], u, t)}
    for name, (yy, uu, tt) in bad_inputs.items():
        for ours, theirs in ((uplift.qini_curve, metrics.qini_curve), (uplift.qini_coefficient, metrics.qini_auc_score),
                             (uplift.uplift_at_k, None)):
            with pytest.raises(ValueError):
                ours(yy, uu, tt)
            if theirs is not None:
                with pytest.raises(ValueError):
                    theirs(yy, uu, tt)
    with pytest.raises(ValueError, match="NaN or infinite"):
        uplift.qini_curve(y, np.r_[u[:-1], np.nan], t)
    for k in (0, 200, 1.0, 0.0, -0.1, "30%"):
        with pytest.raises(ValueError):
            uplift.uplift_at_k(y, u, t, k=k)
    # k as a count, as sklift takes it, gives sklift's number.
    for strategy in ("overall", "by_group"):
        assert uplift.uplift_at_k(y, u, t, k=60, strategy=strategy) == pytest.approx(
            metrics.uplift_at_k(y, u, t, strategy, k=60), rel=1e-12)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"level": 1.5}, "level"),
        ({"level": 0.0}, "level"),
        ({"planned": {"control": -0.2, "treatment": 1.2}}, "planned"),
        ({"planned": {"control": 0.3, "treatment": 0.3}}, "sum to 1"),
    ],
)
def test_test_refuses_what_cannot_be_a_test(kwargs, match):
    df = pd.DataFrame({"group": ["control", "treatment"] * 50, "responded": [0, 1] * 50, "value": [1.0] * 100})
    with pytest.raises(ValueError, match=match):
        uplift.test(df, bootstrap=0, **kwargs)


def test_one_customer_per_arm_and_infinite_values_are_refused():
    one = pd.DataFrame({"group": ["control", "treatment"], "responded": [0, 1]})
    with pytest.raises(ValueError, match="fewer than 2 customers"):
        uplift.test(one, bootstrap=0)
    inf = pd.DataFrame({"group": ["control", "treatment"] * 5, "responded": [0, 1] * 5, "value": [1.0] * 9 + [np.inf]})
    with pytest.raises(ValueError, match="infinite"):
        uplift.test(inf, value="value", bootstrap=0)
