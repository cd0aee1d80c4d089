"""customer_summary: against lifetimes on CDNOW, a hand computation, and across engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl


def _lifetimes_summary(orders: pd.DataFrame, end: str) -> pd.DataFrame:
    from lifetimes.utils import summary_data_from_transaction_data

    ref = summary_data_from_transaction_data(
        orders, "customer_id", "paid_at", monetary_value_col="paid_amount", observation_period_end=end
    )
    ref.index = ref.index.astype("str")
    return ref.sort_index()


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_matches_lifetimes_on_cdnow_master():
    orders = cl.datasets.load_cdnow("master")
    ours = cl.summary.customer_summary(orders, as_of="1998-06-30")
    ref = _lifetimes_summary(orders, "1998-06-30")
    assert len(ours) == 23_570
    assert ours.index.tolist() == ref.index.tolist()
    for col in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[col].to_numpy(), ref[col].to_numpy(), err_msg=col)
    # Same numbers, summed in a different order: equal to float rounding.
    np.testing.assert_allclose(ours["monetary_value"], ref["monetary_value"], rtol=1e-12, atol=1e-9)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_matches_lifetimes_with_a_calibration_cut():
    orders = cl.datasets.load_cdnow("sample")
    ours = cl.summary.customer_summary(orders, as_of="1997-09-30")
    ref = _lifetimes_summary(orders[orders["paid_at"] <= "1997-09-30"], "1997-09-30")
    assert len(ours) == len(ref) == 2_357
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[col], ref[col], rtol=1e-12, atol=1e-9, err_msg=col)


def _hand_orders() -> pd.DataFrame:
    t = pd.to_datetime
    return pd.DataFrame(
        {
            "order_id": ["o1", "o1", "o2", "o3", "o4", "o5", "o6"],
            "line_id": ["l1", "l2", "l3", "l4", "l5", "l6", "l7"],
            "customer_id": ["a", "a", "a", "a", "b", "a", "c"],
            "paid_at": t(["2025-01-01 09:00", "2025-01-01 09:00", "2025-01-01 20:00", "2025-01-11 10:00",
                          "2025-01-05 12:00", "2025-02-01 10:00", "2025-03-02 00:00"]),
            "product_id": ["p1", "p2", "p1", "p3", "p1", "p1", "p2"],
            "quantity": [1, 2, 1, 1, 3, 1, 1],
            "paid_amount": [100.0, 50.0, 30.0, 80.0, 60.0, 40.0, 10.0],
            "refund_amount": [0.0, 50.0, 0.0, 20.0, 0.0, 0.0, 0.0],
        }
    )


def test_hand_computed_example():
    # as_of 2025-01-31 includes that whole day; o5 (2025-02-01) and c's order come after it.
    s = cl.summary.customer_summary(_hand_orders(), as_of="2025-01-31")
    assert s.index.tolist() == ["a", "b"]
    a = s.loc["a"]
    assert a["orders"] == 3 and a["purchase_days"] == 2 and a["items"] == 5
    assert a["gross_amount"] == pytest.approx(260.0) and a["refund_amount"] == pytest.approx(70.0)
    assert a["net_amount"] == pytest.approx(190.0) and a["refund_orders"] == 2
    # Day 1 (o1 + o2) merges into the first purchase; the one repeat day is o3: 80 - 20.
    assert (a["frequency"], a["recency"], a["T"]) == (1.0, 10.0, 30.0)
    assert a["monetary_value"] == pytest.approx(60.0)
    assert a["recency_days"] == 20 and a["aov"] == pytest.approx(190 / 3)
    b = s.loc["b"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0.0, 0.0, 26.0, 0.0)


def test_as_of_date_includes_its_day_and_a_time_cuts_there():
    whole_day = cl.summary.customer_summary(_hand_orders(), as_of="2025-02-01")
    assert whole_day.loc["a", "orders"] == 4 and whole_day.loc["a", "T"] == 31.0
    morning = cl.summary.customer_summary(_hand_orders(), as_of="2025-02-01 09:59")
    assert morning.loc["a", "orders"] == 3 and morning.loc["a", "T"] == 31.0
    at_ten = cl.summary.customer_summary(_hand_orders(), as_of="2025-02-01 10:00")
    assert at_ten.loc["a", "orders"] == 4


def test_as_of_defaults_to_the_shop(small_shop):
    s = cl.summary.customer_summary(small_shop)
    assert s.attrs["as_of"] == small_shop.as_of
    assert (s["T"] >= s["recency"]).all() and (s["frequency"] >= 0).all()
    assert s["net_amount"].sum() == pytest.approx(
        small_shop.orders["paid_amount"].sum() - small_shop.orders["refund_amount"].sum()
    )


def test_missing_column_is_a_clear_error():
    with pytest.raises(ValueError, match="paid_amount"):
        cl.summary.customer_summary(_hand_orders().drop(columns="paid_amount"))


def test_pandas_duckdb_polars_and_parquet_agree(small_shop, shop_dir):
    import polars as pl

    as_of = "2025-10-01"
    expected = cl.summary.customer_summary(small_shop.orders, as_of=as_of)
    frames = {
        "duckdb": cl.engine.connection().from_df(small_shop.orders),
        "polars": pl.from_pandas(small_shop.orders),
        "parquet": shop_dir / "orders.parquet",
        "read_shop": cl.data.read_shop(shop_dir),
    }
    for name, frame in frames.items():
        got = cl.summary.customer_summary(frame, as_of=as_of)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, obj=name)


@pytest.mark.spark
def test_spark_agrees_with_pandas(small_shop, spark):
    as_of = "2025-10-01"
    expected = cl.summary.customer_summary(small_shop.orders, as_of=as_of)
    got = cl.summary.customer_summary(spark.createDataFrame(small_shop.orders), as_of=as_of)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    months = cl.summary.period_summary(spark.createDataFrame(small_shop.orders), as_of=as_of)
    pd.testing.assert_frame_equal(months, cl.summary.period_summary(small_shop.orders, as_of=as_of), check_exact=False, rtol=1e-12)


def test_period_summary_and_breakdown_add_up(small_shop):
    s = cl.summary.customer_summary(small_shop)
    months = cl.summary.period_summary(small_shop)
    assert months["net_amount"].sum() == pytest.approx(s["net_amount"].sum())
    assert months["new_buyers"].sum() == len(s)  # everyone is new exactly once
    genres = cl.summary.breakdown(small_shop, "traffic_genre")
    assert genres["net_amount"].sum() == pytest.approx(s["net_amount"].sum())
    assert set(genres["traffic_genre"]) == {"live", "short_video", "product_card", "other"}
    with pytest.raises(ValueError, match="no column"):
        cl.summary.breakdown(small_shop, "nope")


def test_high_refund_influencers_stand_out(small_shop):
    infl = cl.summary.breakdown(small_shop, ["influencer_id"])
    infl = infl[infl["influencer_id"].notna()].set_index("influencer_id")
    truth = small_shop.truth["influencers"].set_index("influencer_id")["refund_rate"]
    high = truth[truth > 0.2].index.intersection(infl.index)
    low = truth[truth < 0.2].index.intersection(infl.index)
    pooled = lambda ids: infl.loc[ids, "refund_amount"].sum() / infl.loc[ids, "gross_amount"].sum()  # noqa: E731
    # Planted: 35% of lines refunded (80% in full) vs 8%; pooled amount rates keep that order by far.
    assert pooled(high) > 2.5 * pooled(low)
    assert infl.loc[high, "refund_rate"].min() > pooled(low)


def test_since_means_one_thing_and_365_days_are_365_days(small_shop):
    as_of = pd.Timestamp(small_shop.as_of)
    since = as_of - pd.Timedelta(days=365)
    lines = small_shop.orders
    days = lines["paid_at"].dt.normalize()
    kept = lines[(days > since.normalize()) & (days <= as_of.normalize())]
    assert kept["paid_at"].dt.normalize().nunique() <= 365
    by_channel = cl.summary.breakdown(small_shop, "channel", since=since)
    months = cl.summary.period_summary(small_shop, since=since)
    net = (kept["paid_amount"] - kept["refund_amount"].fillna(0)).sum()
    assert by_channel["net_amount"].sum() == pytest.approx(net)
    assert months["net_amount"].sum() == pytest.approx(net)  # the same lines: since's day excluded in both
    table, trend = cl.campaign.influencer_genre(small_shop, since=since, as_of=as_of - pd.Timedelta(days=60))
    # The trend honours as_of like the table: the same net amount, nothing after as_of.
    assert trend["net_amount"].sum() == pytest.approx(table["net_amount"].sum())
    assert trend["period"].max() <= as_of - pd.Timedelta(days=60)


def test_pivot_cells_and_margins_equal_plain_pandas(sample_shop):
    """Every cell and margin against a groupby on the lines; distinct buyers are counted, not added."""
    shop = sample_shop
    t = cl.summary.pivot(shop, rows=["category", "genre"], columns=["member_tier"], values=["net_amount", "buyers", "orders"],
                         since="2025-08-31")
    o = shop.orders[(shop.orders["paid_at"] >= pd.Timestamp("2025-09-01")) & (shop.orders["paid_at"] < pd.Timestamp("2025-12-01"))].copy()
    o["net"] = o["paid_amount"] - o["refund_amount"].fillna(0)
    o["category"] = o["product_id"].map(shop.products.drop_duplicates("product_id").set_index("product_id")["category"])
    o["tier"] = o["customer_id"].map(shop.members.set_index("customer_id")["tier"])
    cells = o.groupby(["category", "traffic_genre", "tier"]).agg(net=("net", "sum"), buyers=("customer_id", "nunique"))
    for (cat, genre, tier), row in cells.sample(20, random_state=0).iterrows():
        assert t.loc[(cat, genre), ("net_amount", tier)] == pytest.approx(row["net"])
        assert t.loc[(cat, genre), ("buyers", tier)] == row["buyers"]
    total = t.loc[("(total)", "(total)")]
    by_category = cl.summary.pivot(shop, rows=["category"], values=["buyers"], since="2025-08-31")["buyers"].drop("(total)")
    assert total[("buyers", "(total)")] == o["customer_id"].nunique() < by_category.sum()  # buyers of two categories count once
    assert total[("orders", "(total)")] == o["order_id"].nunique()
    assert total[("net_amount", "(total)")] == pytest.approx(o["net"].sum())
    by_tier = cl.summary.pivot(shop, rows=["category"], columns=["member_tier"], values=["buyers"], since="2025-08-31")["buyers"]
    non_members = by_tier.loc["护肤", [c for c in by_tier.columns if pd.isna(c)]].iloc[0]
    assert non_members == o[(o["category"] == "护肤") & o["tier"].isna()]["customer_id"].nunique()


def test_pivot_refuses_unknown_names_and_missing_tables(small_shop):
    import dataclasses

    with pytest.raises(ValueError, match="distinct names"):
        cl.summary.pivot(small_shop, rows=["genre"], columns=["genre"])
    with pytest.raises(ValueError, match="distinct names"):
        cl.summary.pivot(small_shop, rows=["weekday"])
    with pytest.raises(ValueError, match="needs the members table"):
        cl.summary.pivot(dataclasses.replace(small_shop, members=None), rows=["member_tier"])
    month = cl.summary.pivot(small_shop, rows=["month"], values=["orders", "aov", "refund_rate"])
    assert month.loc["(total)", "orders"] == small_shop.orders["order_id"].nunique()
