"""Conversion from a start to a purchase: sample to full size, influencer repurchase, new members."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl


@pytest.fixture(scope="module")
def shop(shop_4k):
    return shop_4k


def test_sample_conversion_matches_the_planted_converters(shop):
    truth = shop.truth["sample_buyers"]
    o = shop.orders
    for row in shop.truth["samples"].itertuples():
        starts = cl.conversion.first_orders(shop, product=row.sample_product)
        planted = truth[truth["sample_product"] == row.sample_product]
        assert set(starts["customer_id"]) == set(planted["customer_id"])
        conv = cl.conversion.conversion(shop, starts, product=row.full_size_product)
        converted = set(conv.loc[conv["converted_at"].notna(), "customer_id"])
        # A planted converter whose full-size lines were all refunded did not convert (kept orders only).
        full = o[(o["product_id"] == row.full_size_product) & o["customer_id"].isin(planted["customer_id"])]
        kept = set(full.loc[full["paid_amount"] - full["refund_amount"] > 0, "customer_id"])
        assert converted == kept & set(planted.loc[planted["converted"], "customer_id"])
        assert (conv["days_to_convert"].dropna() >= 0).all()


def test_conversion_by_hand_and_censoring():
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5"], "line_id": ["1", "2", "3", "4", "5"],
        "customer_id": ["a", "a", "b", "b", "c"],
        "paid_at": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-01", "2025-01-03", "2025-01-25"]),
        "product_id": ["S", "F", "S", "F", "S"], "quantity": 1, "paid_amount": [1.0, 100.0, 1.0, 100.0, 1.0],
        "refund_amount": [0.0, 0.0, 0.0, 100.0, 0.0],
    })
    starts = cl.conversion.first_orders(orders, product="S", as_of="2025-01-31")
    conv = cl.conversion.conversion(orders, starts, product="F", as_of="2025-01-31").set_index("customer_id")
    assert conv.loc["a", "days_to_convert"] == 4.0
    assert pd.isna(conv.loc["b", "converted_at"])  # refunded in full: not a conversion
    assert conv.loc["c", "observed_days"] == 7.0
    c = cl.conversion.curve(conv.reset_index(), days=(7, 10)).set_index("days")
    assert c.loc[7, ["eligible", "converted"]].tolist() == [3, 1]
    assert c.loc[10, ["eligible", "converted"]].tolist() == [2, 1]  # c not yet observed 10 days
    lo, hi = cl.uplift.wilson(1, 2)
    assert c.loc[10, "ci_low"] == pytest.approx(lo) and c.loc[10, "ci_high"] == pytest.approx(hi)
    # Repurchase: the start order itself never converts.
    first = cl.conversion.first_orders(orders, as_of="2025-01-31")
    again = cl.conversion.conversion(orders, first, as_of="2025-01-31").set_index("customer_id")
    assert again.loc["a", "days_to_convert"] == 4.0 and pd.isna(again.loc["c", "converted_at"])


def test_influencer_repurchase_counts_every_new_customer_once(shop):
    t = cl.conversion.influencer_repurchase(shop, since="2025-01-01", days=30)
    first = cl.conversion.first_orders(shop)
    new = first[first["start_at"] >= "2025-01-02"]
    assert int(t["new_customers"].sum()) == len(new)
    own = t.set_index("influencer_name").loc[cl.conversion.OWN_SALES, "new_customers"]
    assert own == new["influencer_name"].isna().sum()
    # The intervals are Wilson's, as statsmodels computes them from the counts.
    from statsmodels.stats.proportion import proportion_confint

    seen = t[t["eligible"] > 0]
    low, high = proportion_confint(seen["repurchased"], seen["eligible"], method="wilson")
    np.testing.assert_allclose(seen["ci_low"], low, atol=1e-9)
    np.testing.assert_allclose(seen["ci_high"], high, atol=1e-9)
    # The influencers planted with high refund rates show it in their new customers' first orders.
    planted = shop.truth["influencers"].set_index("influencer_name")["refund_rate"]
    big = t[t["new_customers"] >= 40].set_index("influencer_name")
    high, low = big.index[planted.reindex(big.index) > 0.2], big.index[planted.reindex(big.index) < 0.2]
    assert len(high) and len(low)
    assert big.loc[high, "first_order_refund_rate"].min() > big.loc[low, "first_order_refund_rate"].max()


def test_member_first_purchase_cohorts(shop):
    t = cl.conversion.member_first_purchase(shop, freq="1mo", days=(7, 30))
    m, o = shop.members, shop.orders
    first = o.groupby("customer_id")["paid_at"].min()
    assert t["joined"].sum() == len(m)
    assert t["bought_before_joining"].sum() == int((m["customer_id"].map(first) < m["joined_at"]).sum())
    last = t.iloc[-1]  # joined in the data's last month: not yet observed 30 days
    assert last["eligible_30d"] < last["new_to_buy"] or np.isnan(last["first_purchase_30d"])
    assert t["first_purchase_7d"].dropna().between(0, 1).all()


def test_conversion_engines_agree(shop, tmp_path):
    cl.data.write_shop(shop, tmp_path)
    duck = cl.data.read_shop(tmp_path)
    for source in (shop, duck):
        starts = cl.conversion.first_orders(source, product="S01")
        conv = cl.conversion.conversion(source, starts, product=shop.truth["samples"].set_index("sample_product").loc["S01", "full_size_product"])
        out = conv.sort_values("customer_id", ignore_index=True)
        if source is shop:
            expected = out
        else:
            pd.testing.assert_frame_equal(out, expected, check_dtype=False)


@pytest.mark.spark
def test_conversion_on_spark(shop, spark):
    spark_shop = cl.data.Shop(orders=spark.createDataFrame(shop.orders), as_of=shop.as_of, name="spark")
    expected = cl.conversion.conversion(shop, cl.conversion.first_orders(shop)).sort_values("customer_id", ignore_index=True)
    got = cl.conversion.conversion(spark_shop, cl.conversion.first_orders(spark_shop)).sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_bad_starts_are_clear_errors(shop):
    with pytest.raises(ValueError, match="start_at"):
        cl.conversion.conversion(shop, pd.DataFrame({"customer_id": ["a"]}))
    with pytest.raises(ValueError, match="more than once"):
        cl.conversion.conversion(shop, pd.DataFrame({"customer_id": ["a", "a"], "start_at": pd.to_datetime(["2025-01-01"] * 2)}))
    with pytest.raises(ValueError, match="after the end of observation"):
        cl.conversion.conversion(shop, pd.DataFrame({"customer_id": ["a"], "start_at": pd.to_datetime(["2026-01-01"])}))
