"""RFM scores: hand computations, UCI Online Retail, properties, segments and grids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crm_lab as cl
from crm_lab import rfm


def _frame(recency, frequency, monetary):
    return pd.DataFrame({"recency_days": recency, "orders": frequency, "net_amount": monetary},
                        index=[f"c{i}" for i in range(len(recency))])


def test_quintiles_by_hand():
    # Quintile cut points of 1..10 are 2.8, 4.6, 6.4, 8.2.
    s = _frame(list(range(10, 0, -1)), list(range(1, 11)), [float(v) for v in range(1, 11)])
    r = rfm.score(s)
    assert r["f_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert r["m_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert r["r_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]  # recency 10 days is worst
    assert r.loc["c9", "rfm_score"] == "555" and r.loc["c9", "rfm_segment"] == "重要价值客户"


def test_ties_never_split():
    s = _frame([5] * 6 + [50] * 4, [1] * 6 + [2, 3, 4, 5], [10.0] * 10)
    with pytest.warns(UserWarning, match="same monetary score"):
        r = rfm.score(s)
    assert r["f_score"].iloc[:6].nunique() == 1 and r["m_score"].nunique() == 1
    assert r["r_score"].iloc[:6].nunique() == 1 and (r["r_score"].iloc[:6] > r["r_score"].iloc[6]).all()


def test_business_thresholds_by_hand():
    s = _frame([10, 30, 31, 400], [1, 2, 5, 12], [150.0, 200.0, 2999.0, 3000.0])
    r = rfm.score(s, method="thresholds")
    assert r["r_score"].tolist() == [5, 5, 4, 1]
    assert r["f_score"].tolist() == [1, 2, 4, 5]
    assert r["m_score"].tolist() == [1, 2, 4, 5]


def test_mean_method_gives_the_eight_segments():
    rows = []
    for r_high in (True, False):
        for f_high in (True, False):
            for m_high in (True, False):
                rows.append((1 if r_high else 100, 10 if f_high else 1, 1000.0 if m_high else 10.0))
    s = _frame(*map(list, zip(*rows)))
    r = rfm.score(s, method="mean")
    assert set(r["rfm_segment"]) == set(rfm.SEGMENT_ORDER)
    assert r["rfm_segment"].iloc[0] == "重要价值客户" and r["rfm_segment"].iloc[-1] == "一般挽留客户"
    assert r["rfm_segment_en"].iloc[1] == "general value"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(1, 30), st.floats(0, 1e5, allow_nan=False)), min_size=2, max_size=60),
       st.sampled_from(["quantile", "thresholds", "mean"]))
@pytest.mark.filterwarnings("ignore:rfm. every customer has the same:UserWarning")
def test_scores_are_monotone_and_everyone_is_scored_once(rows, method):
    s = _frame(*map(list, zip(*rows)))
    r = rfm.score(s, method=method)
    assert r.index.equals(s.index) and r[["r_score", "f_score", "m_score"]].notna().all().all()
    assert r[["r_score", "f_score", "m_score"]].isin(range(1, 6)).all().all()
    for col, key, sign in (("recency_days", "r_score", -1), ("orders", "f_score", 1), ("net_amount", "m_score", 1)):
        v, sc = sign * s[col].to_numpy(dtype=float), r[key].to_numpy()
        order = np.argsort(v, kind="stable")
        assert (np.diff(sc[order]) >= 0).all()  # better input, never a worse score
        same = v[:, None] == v[None, :]
        assert (sc[:, None] == sc[None, :])[same].all()  # equal inputs, equal scores


def test_online_retail_scores_match_an_independent_computation():
    if not cl.datasets.shared_data_path("online_retail_clean.parquet").exists():
        pytest.skip("../shared/data is not beside this checkout")
    df = cl.datasets.load_online_retail()
    orders = pd.DataFrame({"order_id": df["InvoiceNo"].astype("str"), "customer_id": df["CustomerID"].astype(int).astype("str"),
                           "paid_at": pd.to_datetime(df["InvoiceDate"]), "paid_amount": df["Quantity"] * df["UnitPrice"],
                           "quantity": df["Quantity"]})
    s = cl.summary.customer_summary(orders, as_of="2011-12-09")
    r = rfm.score(s)
    # Independent: plain pandas group-by, and scores as the quintile of the rank, ties at their top rank.
    g = orders.groupby("customer_id").agg(last=("paid_at", "max"), n=("order_id", "nunique"), m=("paid_amount", "sum"))
    g = g.loc[r.index]
    recency = (pd.Timestamp("2011-12-09") - g["last"].dt.normalize()).dt.days.to_numpy()
    assert len(r) == orders["customer_id"].nunique() == 4_339
    np.testing.assert_array_equal(r["recency"], recency)
    np.testing.assert_array_equal(r["frequency"], g["n"])
    np.testing.assert_allclose(r["monetary"], g["m"], rtol=1e-9)
    for values, key in ((-recency.astype(float), "r_score"), (g["n"].to_numpy(float), "f_score"), (g["m"].to_numpy(), "m_score")):
        expected = np.ceil(5 * pd.Series(values).rank(method="max", pct=True).round(12)).astype(int)
        np.testing.assert_array_equal(r[key], expected, err_msg=key)
    # Real data: the best cell spends far more than the worst.
    seg = r.groupby("rfm_segment", observed=True)["monetary"].mean()
    assert seg["重要价值客户"] > 5 * seg["一般挽留客户"]


def test_grids_and_comparison(small_shop):
    now = rfm.score(cl.summary.customer_summary(small_shop))
    before = rfm.score(cl.summary.customer_summary(small_shop, as_of="2024-11-30"))
    rf_now, rf_before = rfm.grid(now), rfm.grid(before)
    assert rf_now["customers"].sum() == len(now) and rf_now["share"].sum() == pytest.approx(1.0)
    assert rf_now["net_amount"].sum() == pytest.approx(now["net_amount"].sum())
    rm = rfm.grid(now, cols="m_score")
    assert set(rm.columns[:2]) == {"r_score", "m_score"}
    diff = rfm.compare(rf_before, rf_now, labels=("2024", "2025"))
    assert diff["customers_change"].sum() == len(now) - len(before)
    assert {"share_change", "net_amount_change", "customers_2024", "customers_2025"} <= set(diff.columns)
    import matplotlib.pyplot as plt

    seg = rfm.segment_summary(now)
    assert len(seg) == 8 and seg["customers"].sum() == len(now) and seg["net_share"].sum() == pytest.approx(1.0)
    assert rfm.plot_grid(rf_now).get_title() and rfm.plot_segments(now).patches
    plt.close("all")


def test_bad_input():
    with pytest.raises(ValueError, match="missing column"):
        rfm.score(pd.DataFrame({"orders": [1]}))
    with pytest.raises(ValueError, match="net_amount: 1 missing"):
        rfm.score(_frame([1, 2], [1, 2], [np.nan, 3.0]))
    with pytest.raises(ValueError, match="no customers"):
        rfm.score(_frame([], [], []))
    with pytest.raises(ValueError, match="method"):
        rfm.score(_frame([1, 2], [1, 2], [1.0, 3.0]), method="median")


def test_ties_at_the_best_value_get_the_best_score():
    # 80% of customers bought 10 days ago: they are R = 5, the one at 300 days R = 1.
    s = _frame([10] * 8 + [120, 300], [1, 2, 3, 4, 5, 1, 2, 3, 4, 5], [float(v) for v in range(10, 110, 10)])
    r = rfm.score(s)
    assert (r["r_score"].iloc[:8] == 5).all() and r["r_score"].iloc[9] == 1 and r["r_score"].iloc[8] == 1
    # Distinct values: the plain quintiles.
    assert r["m_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_an_all_tied_shop_is_not_all_lost_and_says_why():
    s = _frame([30] * 20, [2] * 20, [100.0] * 20)
    with pytest.warns(UserWarning) as caught:
        r = rfm.score(s)
    assert [str(w.message).split(" score")[0].split("the same ")[1] for w in caught] == ["recency", "frequency", "monetary"]
    assert all(w.filename == __file__ for w in caught)  # pointed at the caller
    assert set(r["rfm_segment"]) == {"重要价值客户"}


@pytest.mark.parametrize("bins", [0, 1, 2.5, True])
def test_bins_must_be_two_or_more(bins):
    with pytest.raises(ValueError, match="bins must be a whole number >= 2"):
        rfm.score(_frame([1, 2, 3], [1, 2, 3], [1.0, 2.0, 3.0]), bins=bins)


def test_vectorised_segments_equal_the_segment_table_row_by_row():
    rng = np.random.default_rng(5)
    n = 2_000
    s = pd.DataFrame({"recency_days": rng.integers(0, 400, n), "orders": rng.integers(1, 12, n),
                      "net_amount": rng.gamma(2, 300, n)}, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    r = cl.rfm.score(s)
    high = {k: r[f"{k}_score"] > r[f"{k}_score"].mean() for k in "rfm"}
    expected = [cl.rfm.SEGMENTS[(bool(a), bool(b), bool(c))] for a, b, c in zip(high["r"], high["f"], high["m"])]
    assert r["rfm_segment"].astype(str).tolist() == [zh for zh, _ in expected]
    assert r["rfm_segment_en"].tolist() == [en for _, en in expected]
    # Quantile scores: ceil(bins x share of customers at or below), ties to the top of their run.
    v = s["net_amount"].to_numpy()
    share = (v[None, :] <= v[:, None]).sum(axis=1) / n
    np.testing.assert_array_equal(r["m_score"].to_numpy(), np.clip(np.ceil(5 * share - 1e-9), 1, 5))
