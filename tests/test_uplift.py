"""Uplift tests and response windows: Hillstrom, interval coverage, the shop's true uplift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab import proportions, sequential, uplift


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
    q_statsmodels = combine_effects(seg["difference"].to_numpy(), (seg["difference_se"] ** 2).to_numpy()).q
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
        ({"final": False, "planned_rate": 0.0}, "planned_rate"),
        ({"value": "value", "orders": "missing"}, "no column"),
        ({"orders": "value"}, "give value="),
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


# --------------------------------------------------------------------------------------------
# Issue 13: small samples, exact power, daily looks, ratio metrics


def _arms(k1, n1, k0, n0, **extra):
    return pd.DataFrame({"group": ["treatment"] * n1 + ["control"] * n0,
                         "responded": [1] * k1 + [0] * (n1 - k1) + [1] * k0 + [0] * (n0 - k0), **extra})


def test_three_of_three_against_none_is_not_significant_and_intervals_never_collapse():
    row = uplift.test(_arms(3, 3, 0, 3), bootstrap=0).summary().loc["treatment"]
    # Fisher's exact test: p = 0.10 (the z-test said 0.014); Newcombe's interval [0.206, 1].
    assert row["test"] == "Fisher exact" and row["p_value"] == pytest.approx(0.10, abs=1e-9)
    assert row["difference_low"] == pytest.approx(0.2059, abs=1e-4) and row["difference_high"] == pytest.approx(1.0)
    assert row["relative_lift_high"] > 10  # zero-cell-corrected ratio interval, not NaN
    zeros = uplift.test(_arms(0, 3, 0, 3), bootstrap=0).summary().loc["treatment"]
    assert zeros["difference_low"] == pytest.approx(-0.5615, abs=1e-4) and zeros["difference_high"] == pytest.approx(0.5615, abs=1e-4)
    assert zeros["p_value"] == 1.0
    res = uplift.test(_arms(3, 3, 0, 3), bootstrap=0)
    assert any("Fisher's exact test" in n for n in res.notes)
    lo, hi = res.arms["rate_low"], res.arms["rate_high"]
    assert (hi - lo > 0.4).all()  # Wilson: 3/3 is [0.44, 1], never [1, 1]


def test_intervals_and_tests_equal_statsmodels_and_scipy():
    from scipy.stats import fisher_exact
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, test_proportions_2indep

    big = uplift.test(_arms(130, 1000, 100, 1000), bootstrap=0).summary().loc["treatment"]
    assert big["test"] == "z-test (pooled)"
    assert big["p_value"] == pytest.approx(test_proportions_2indep(130, 1000, 100, 1000, method="score", correction=False).pvalue, rel=1e-12)
    # statsmodels' own test case (test_confint_2indep: Fagerland, Lydersen and Laake 2015, 7/34 vs 1/34):
    # Newcombe's hybrid score [0.019, 0.340], adjusted log ratio [0.92, 27].
    row = uplift.test(_arms(7, 34, 1, 34), bootstrap=0).summary().loc["treatment"]
    assert (row["difference_low"], row["difference_high"]) == pytest.approx((0.019, 0.340), abs=0.005)
    assert (1 + row["relative_lift_low"], 1 + row["relative_lift_high"]) == pytest.approx((0.92, 27), rel=0.01)
    lo, hi = confint_proportions_2indep(56, 70, 48, 80, method="newcomb")
    row = uplift.test(_arms(56, 70, 48, 80), bootstrap=0).summary().loc["treatment"]
    assert (row["difference_low"], row["difference_high"]) == pytest.approx((lo, hi), rel=1e-12)
    small = uplift.test(_arms(7, 40, 2, 45), bootstrap=0).summary().loc["treatment"]
    assert small["p_value"] == pytest.approx(fisher_exact([[7, 33], [2, 43]]).pvalue, rel=1e-12)
    assert proportion_confint(7, 40, method="wilson") == pytest.approx(tuple(map(float, uplift.wilson(7, 40))), rel=1e-12)


@pytest.mark.parametrize("n", [20, 200])
def test_difference_interval_covers_93_to_97_percent(n):
    """Exact coverage (every outcome weighed by its binomial probability: no simulation noise) of the
    difference interval, both arms n, rates 1% to 50%. Sparse cells (under 4 expected responders in
    an arm) may only be conservative: no interval of positive width covers 0/20 vs 0/20 less often."""
    from scipy import stats
    from statsmodels.stats.proportion import confint_proportions_2indep

    k = np.arange(n + 1)
    k1, k0 = (g.ravel() for g in np.meshgrid(k, k, indexing="ij"))
    lo, hi = (np.asarray(v).reshape(n + 1, n + 1) for v in confint_proportions_2indep(k1, n, k0, n, method="newcomb"))
    for i, j in [(0, 0), (n, 0), (1, n // 2), (n // 3, n // 4)]:  # the intervals uplift.test reports
        row = proportions.compare_rates(i, n, j, n)
        assert (row["difference_low"], row["difference_high"]) == pytest.approx((lo[i, j], hi[i, j]), rel=1e-12, abs=1e-15)
    rates = [0.01, 0.05, 0.1, 0.2, 0.5]
    for p1 in rates:
        for p0 in rates:
            w = np.outer(stats.binom.pmf(k, n, p1), stats.binom.pmf(k, n, p0))
            d = p1 - p0
            coverage = float((w * ((lo <= d + 1e-12) & (d - 1e-12 <= hi))).sum())
            assert coverage >= 0.93, (n, p1, p0, coverage)
            if n * min(p1, p0) >= 4:
                assert coverage <= 0.97, (n, p1, p0, coverage)


def test_power_reaches_the_asked_power_exactly():
    # 1.5% -> 0.1% at power 0.742: the old Cohen's-h answer (409) had exact power 0.695.
    plan = uplift.power(0.015, relative_lift=0.001 / 0.015 - 1, power=0.742)
    assert plan["power"] >= 0.742 and plan["customers_treatment"] > 409
    assert proportions.exact_power(0.001, 0.015, plan["customers_treatment"], plan["customers_control"]) == pytest.approx(plan["power"])
    # Unequal arms, 20% -> 10%, control twice the treatment: both sizes, exact power >= 0.80 (146 had 0.785).
    unequal = uplift.power(0.20, relative_lift=-0.5, ratio=2)
    assert unequal["customers_control"] == int(np.ceil(2 * unequal["customers_treatment"])) and unequal["power"] >= 0.80
    assert unequal["customers_treatment"] > 146
    # Given sizes, the power: statsmodels' normal approximation beside the exact.
    from statsmodels.stats.proportion import power_proportions_2indep

    given = uplift.power(0.015, relative_lift=0.001 / 0.015 - 1, customers_per_arm=550)
    assert given["power_normal"] == pytest.approx(power_proportions_2indep(0.001 - 0.015, 0.015, 550).power, rel=1e-12)
    assert given["power"] < given["power_normal"]  # Fisher at 8 vs 0.5 expected responders is conservative
    with pytest.raises(ValueError, match="baseline_rate"):
        uplift.power(1.5, relative_lift=0.1)
    with pytest.raises(ValueError, match="must differ"):
        uplift.power(0.1, relative_lift=0.0)


def test_exact_power_counts_the_rejections_of_the_test_actually_run():
    from scipy import stats

    n1, n0, p1, p0 = 20, 35, 0.45, 0.12
    k1, k0 = np.arange(n1 + 1), np.arange(n0 + 1)
    # compare_rates is what uplift.test runs per arm (checked on one table), over every table.
    assert uplift.test(_arms(9, n1, 4, n0), bootstrap=0).summary().loc["treatment", "p_value"] == proportions.compare_rates(9, n1, 4, n0)["p_value"]
    reject = np.array([[proportions.compare_rates(int(a), n1, int(b), n0)["p_value"] < 0.05 for b in k0] for a in k1])
    expected = stats.binom.pmf(k1, n1, p1) @ reject @ stats.binom.pmf(k0, n0, p0)
    assert proportions.exact_power(p1, p0, n1, n0) == pytest.approx(expected, rel=1e-9)


def _null_campaign_looks(rng, sims, n, rate, days):
    """Cumulative responders per day of a campaign without effect: (sims, days) per arm."""
    probs = np.r_[np.full(days, rate / days), 1 - rate]
    daily = rng.multinomial(n, probs, size=(2, sims))[..., :days]
    return np.cumsum(daily[0], axis=1), np.cumsum(daily[1], axis=1)


def test_a_null_campaign_looked_at_14_times_is_rarely_called_significant():
    rng = np.random.default_rng(13)
    sims, n, days = 4_000, 3_000, 14
    k1, k0 = _null_campaign_looks(rng, sims, n, 0.05, days)
    p1, p0 = k1 / n, k0 / n
    diff, var = p1 - p0, p1 * (1 - p1) / n + p0 * (1 - p0) / n
    half = sequential.half_width(var, tuning_variance=sequential.rate_tuning_variance(n, n), level=0.95)
    always = (np.abs(diff) > half).any(axis=1).mean()
    fixed = (np.abs(diff) > 1.959964 * np.sqrt(var)).any(axis=1).mean()
    assert always <= 0.05  # measured 0.8%: always-valid, conservative for 14 looks
    assert fixed > 0.12  # the fixed-horizon interval read daily: measured 21.9% (4.8% at the last look alone)
    # Through uplift.test on one look: the always-valid columns are those half-widths.
    df = _arms(int(k1[0, 6]), n, int(k0[0, 6]), n)
    row = uplift.test(df, bootstrap=0, final=False).summary().loc["treatment"]
    assert row["difference_always_high"] - row["difference"] == pytest.approx(half[0, 6], rel=1e-9)
    assert (row["p_value_always_valid"] < 0.05) == (abs(diff[0, 6]) > half[0, 6])
    assert "difference_always_low" not in uplift.test(df, bootstrap=0).summary()


def test_always_valid_interval_covers_a_real_effect_at_every_look():
    rng = np.random.default_rng(5)
    sims, n, days = 2_000, 3_000, 14
    t_daily = rng.multinomial(n, np.r_[np.full(days, 0.07 / days), 0.93], size=sims)[:, :days].cumsum(axis=1)
    c_daily = rng.multinomial(n, np.r_[np.full(days, 0.05 / days), 0.95], size=sims)[:, :days].cumsum(axis=1)
    p1, p0 = t_daily / n, c_daily / n
    truth = (0.07 - 0.05) * np.arange(1, days + 1) / days
    var = p1 * (1 - p1) / n + p0 * (1 - p0) / n
    half = sequential.half_width(var, tuning_variance=sequential.rate_tuning_variance(n, n))
    missed = (np.abs(p1 - p0 - truth) > half).any(axis=1).mean()
    assert missed <= 0.05  # measured 0.7% (the price: at the last look it finds the +2 points in 59% of campaigns, the fixed interval in 90%)


def test_value_per_responder_and_aov_with_delta_method_intervals():
    rng = np.random.default_rng(2)
    n = 4_000
    responded = np.r_[rng.random(n) < 0.12, rng.random(n) < 0.10].astype(int)
    orders = responded * rng.integers(1, 4, 2 * n)
    value = orders * np.r_[rng.gamma(4, 25, n), rng.gamma(4, 20, n)]
    df = pd.DataFrame({"group": ["treatment"] * n + ["control"] * n, "responded": responded, "net": value, "orders": orders})
    row = uplift.test(df, value="net", orders="orders", bootstrap=0).summary().loc["treatment"]
    t, c = df[df.group == "treatment"], df[df.group == "control"]
    assert row["value_per_responder"] == pytest.approx(t.net.sum() / t.responded.sum())
    assert row["aov"] == pytest.approx(t.net.sum() / t.orders.sum()) and row["control_aov"] == pytest.approx(c.net.sum() / c.orders.sum())
    # Delta-method standard error against a bootstrap of the same ratio difference.
    boot = []
    for _ in range(400):
        bt, bc = t.sample(frac=1, replace=True, random_state=rng), c.sample(frac=1, replace=True, random_state=rng)
        boot.append(bt.net.sum() / bt.responded.sum() - bc.net.sum() / bc.responded.sum())
    se_delta = (row["value_per_responder_difference_high"] - row["value_per_responder_difference_low"]) / (2 * 1.959964)
    assert se_delta == pytest.approx(np.std(boot), rel=0.15)
    # Planted: 2 orders per responder on average at 100 (treatment) and 80 (control) per order.
    assert row["value_per_responder_difference_low"] < 40 < row["value_per_responder_difference_high"]


def test_an_interim_response_report_says_it_is_interim(small_shop):
    import dataclasses

    sent = small_shop.touches.query("campaign_id == 'd11_2025_wave1'")["sent_at"].max()
    early = dataclasses.replace(small_shop, as_of=(sent + pd.Timedelta(days=3)).normalize())
    with pytest.raises(ValueError, match="partial=True"):
        cl.campaign.response(early, "d11_2025_wave1")
    resp = cl.campaign.response(early, "d11_2025_wave1", partial=True)
    assert resp.attrs["final"] is False and resp.attrs["observed_until"] == early.as_of
    full = cl.campaign.response(small_shop, "d11_2025_wave1")
    assert full.attrs["final"] is True
    # Only what was paid by as_of's end counts, computed directly.
    o = small_shop.orders.merge(resp[["customer_id", "sent_at"]], on="customer_id")
    end = early.as_of + pd.Timedelta(days=1)
    seen = o[(o["paid_at"] > o["sent_at"]) & (o["paid_at"] <= o["sent_at"] + pd.Timedelta(days=7)) & (o["paid_at"] < end)]
    assert resp["orders_7d"].sum() == seen.groupby("customer_id")["order_id"].nunique().sum() < full["orders_7d"].sum()
    res = uplift.test(resp, outcome="responded_7d", value="net_7d", planned={"control": 0.2, "treatment": 0.8},
                      bootstrap=0, final=resp.attrs["final"])
    row = res.summary().loc["treatment"]
    assert row["difference_always_low"] < row["difference_low"] and row["difference_always_high"] > row["difference_high"]
    assert row["value_difference_always_low"] < row["value_difference_low"]
    text = cl.report.response_verdict(res, observed_until=resp.attrs["observed_until"])
    assert text.startswith("**中期结果**") and "随时有效" in text
    final_text = cl.report.response_verdict(uplift.test(full, outcome="responded_7d", planned={"control": 0.2, "treatment": 0.8}, bootstrap=0))
    assert final_text.startswith("7天响应率") and "中期" not in final_text


def _null_value_looks(rng, sims, n, rate, days):
    """Per arm and look: the sum and the sum of squares of the value so far, and the responders."""
    sums, squares, responders = np.zeros((2, sims, days)), np.zeros((2, sims, days)), np.zeros((2, sims, days))
    sim = np.repeat(np.arange(sims), n)
    for arm in range(2):
        # Each customer: a response day (or none) and a skewed order value, alike in both arms.
        day = np.where(rng.random(sims * n) < rate, rng.integers(0, days, sims * n), days)
        value = rng.gamma(1.5, 80.0, sims * n)
        hit = day < days
        for out, weight in ((sums, value), (squares, value**2), (responders, np.ones(sims * n))):
            np.add.at(out[arm], (sim[hit], day[hit]), weight[hit])
    return sums.cumsum(axis=2), squares.cumsum(axis=2), responders.cumsum(axis=2)


def test_a_null_campaign_s_value_looked_at_14_times_is_rarely_called_significant():
    rng = np.random.default_rng(14)
    sims, n, days = 2_000, 3_000, 14
    sums, squares, responders = _null_value_looks(rng, sims, n, 0.05, days)
    mean = sums / n
    var_of_mean = (squares / n - mean**2) / (n - 1)
    diff, variance = mean[0] - mean[1], var_of_mean.sum(axis=0)
    tuning = np.vectorize(sequential.value_tuning_variance)(variance, responders.sum(axis=0) / (2 * n))
    half = sequential.half_width(variance, tuning_variance=tuning)
    always = (np.abs(diff) > half).any(axis=1).mean()
    fixed = (np.abs(diff) > 1.959964 * np.sqrt(variance)).any(axis=1).mean()
    assert always <= 0.05  # measured 0.95%
    assert fixed > 0.12  # measured 20.8%
