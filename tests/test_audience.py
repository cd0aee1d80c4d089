"""Audience rules and the six scenario recipes: against direct computation, shop truth and engines."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab.audience import Audience


@pytest.fixture(scope="module")
def shop(shop_4k):
    return shop_4k


def _window(orders, as_of, days):
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    return orders[(orders["paid_at"] < end) & (orders["paid_at"] >= end - pd.Timedelta(days=days))]


def test_rules_match_a_direct_computation(shop):
    o = shop.orders
    aud = Audience(shop).bought(product=["P001", "P002"], within="90D").not_bought(product="N01").min_net_amount(200)
    recent = _window(o, shop.as_of, 90)
    bought = set(recent.loc[recent["product_id"].isin(["P001", "P002"]), "customer_id"])
    never = bought - set(o.loc[o["product_id"] == "N01", "customer_id"])
    net = (o["paid_amount"] - o["refund_amount"]).groupby(o["customer_id"]).sum()
    expected = sorted(c for c in never if net[c] >= 200)
    assert aud.customer_ids().tolist() == expected and aud.size() == len(expected) > 0
    d = aud.describe()
    assert d["include"].tolist() == [True, False, True]
    assert d["中文"].iloc[1] == "排除购买过 N01" and "exclude" in d["English"].iloc[1]


def test_order_count_refunds_genre_influencer_category(shop):
    o = shop.orders
    counts = o.groupby("customer_id")["order_id"].nunique()
    assert set(Audience(shop).orders_between(3, 5).customer_ids()) == set(counts[(counts >= 3) & (counts <= 5)].index)
    refunds = (o["refund_amount"] > 0).groupby(o["customer_id"]).sum()
    assert set(Audience(shop).refunds_between(min=2).customer_ids()) == set(refunds[refunds >= 2].index)
    live = set(o.loc[o["traffic_genre"] == "live", "customer_id"])
    assert set(Audience(shop).bought(genre="live").customer_ids()) == live
    via = set(o.loc[o["influencer_id"] == "KOL003", "customer_id"])
    assert set(Audience(shop).bought(influencer="KOL003").customer_ids()) == via
    assert set(Audience(shop).bought(influencer="甜心酱").customer_ids()) == via  # by name too
    affiliate = set(o.loc[o["traffic_source"] == "精选联盟", "customer_id"])
    assert set(Audience(shop).bought(source="精选联盟").customer_ids()) == affiliate
    skincare = set(shop.products.loc[shop.products["category"] == "护肤", "product_id"])
    assert set(Audience(shop).bought(category="护肤").customer_ids()) == set(o.loc[o["product_id"].isin(skincare), "customer_id"])


def test_members_events_touches_rfm_and_clv(shop):
    m, ev, t = shop.members, shop.events, shop.touches
    joined = m[m["joined_at"] >= shop.as_of + pd.Timedelta(days=1) - pd.Timedelta(days=60)]
    assert set(Audience(shop).member(joined_within="60D").customer_ids()) == set(joined["customer_id"])
    assert set(Audience(shop).member(tier=[4, 5]).customer_ids()) == set(m.loc[m["tier"] >= 4, "customer_id"])
    views = ev[(ev["event"] == "live_view") & (ev["at"] >= shop.as_of + pd.Timedelta(days=1) - pd.Timedelta(days=30))]
    assert set(Audience(shop).event("live_view", within="30D").customer_ids()) == set(views["customer_id"])
    sent = t[t["group"] == "treatment"]
    window = pd.Timedelta(days=(shop.as_of + pd.Timedelta(days=1) - sent["sent_at"].min()).days + 1)
    kept = Audience(shop).bought(within="365D").exclude_touched(within=window)
    assert not set(kept.customer_ids()) & set(sent["customer_id"])
    vip = Audience(shop).rfm_segment("重要价值客户").customer_ids()
    scored = cl.rfm.score(cl.summary.customer_summary(shop))
    assert set(vip) == set(scored.index[scored["rfm_segment"] == "重要价值客户"])
    assert set(Audience(shop).rfm_segment("important value").customer_ids()) == set(vip)
    top = Audience(shop).clv_tier("top").size()
    assert 0.03 * len(scored) < top < 0.07 * len(scored)


def test_set_operations(shop):
    a = Audience(shop, name="a").bought(product="P001")
    b = Audience(shop, name="b").bought(product="P002")
    ia, ib = set(a.customer_ids()), set(b.customer_ids())
    assert set(a.union(b).customer_ids()) == ia | ib
    assert set(a.minus(b).customer_ids()) == ia - ib
    assert set(a.intersect(b).customer_ids()) == ia & ib
    everyone = Audience(shop).customer_ids()
    assert set(everyone) == set(shop.orders["customer_id"]) | set(shop.members["customer_id"])


def test_split_control_is_stable_and_within_binomial_error(shop):
    small = Audience(shop).bought(within="90D").split_control(0.1, seed=3).set_index("customer_id")["group"]
    large = Audience(shop).bought(within="365D").split_control(0.1, seed=3).set_index("customer_id")["group"]
    common = small.index.intersection(large.index)
    assert len(common) == len(small) and (small[common] == large[common]).all()
    ids = pd.Series([f"C{i:07d}" for i in range(20_000)])
    groups = cl.audience._assign(ids, 0.1, seed=9)
    share = (groups == "control").mean()
    assert abs(share - 0.1) < 3.5 * np.sqrt(0.1 * 0.9 / len(ids))
    assert not (groups == cl.audience._assign(ids, 0.1, seed=10)).all()  # the seed matters


def test_engines_give_the_same_audience(shop, tmp_path):
    cl.data.write_shop(shop, tmp_path / "shop")
    lazy = cl.data.read_shop(tmp_path / "shop")
    def build(s):
        return (Audience(s).bought(product=["P001", "P004"], within="180D").not_bought(product="N01")
                .net_amount_between(100, 5_000).event("live_view", within="60D").not_bought_since_joining())
    assert build(lazy).customer_ids().tolist() == build(shop).customer_ids().tolist()


@pytest.mark.spark
def test_spark_gives_the_same_audience(shop, spark):
    sparked = cl.data.Shop(orders=spark.createDataFrame(shop.orders), members=spark.createDataFrame(shop.members),
                           events=spark.createDataFrame(shop.events), as_of=shop.as_of)
    def build(s):
        return Audience(s).bought(product=["P001", "P004"], within="180D").not_bought(product="N01").min_net_amount(100).event("live_view", within="60D")
    assert build(sparked).customer_ids().tolist() == build(shop).customer_ids().tolist()


def test_export_ids_only_with_manifest(shop, tmp_path):
    aud = Audience(shop, name="vip").bought(within="180D").min_net_amount(500)
    path = aud.export(tmp_path / "vip.csv", control_share=0.2, seed=4)
    written = pd.read_csv(path, dtype=str)
    assert list(written.columns) == ["id", "group"] and len(written) == aud.size()
    manifest = json.loads((tmp_path / "vip.csv.manifest.json").read_text(encoding="utf-8"))
    assert manifest["customers"] == len(written) and manifest["control_share"] == 0.2 and len(manifest["rules"]) == 2
    hashed = aud.member().export(tmp_path / "vip_hash.csv", ids="phone_hash")
    text = hashed.read_text(encoding="utf-8")
    assert re.search(r"^[0-9a-f]{64}$", text.splitlines()[1]) and not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)


def test_bad_rules_are_clear_errors(shop):
    with pytest.raises(ValueError, match="unknown value"):
        Audience(shop).bought(product="P999")
    with pytest.raises(ValueError, match="window"):
        Audience(shop).bought(within="-5D")
    with pytest.raises(ValueError, match="unknown RFM segment"):
        Audience(shop).rfm_segment("VIP")
    with pytest.raises(ValueError, match="min 5 > max 2"):
        Audience(shop).orders_between(5, 2)
    with pytest.raises(ValueError, match="after the shop's data end"):
        Audience(shop, as_of="2026-06-30")
    with pytest.warns(UserWarning, match="empty"):
        assert Audience(shop).bought(product="N01").not_bought(product="N01").customer_ids().empty


# ---- recipes against the shop's truth ---------------------------------------------------------


def test_sample_to_full_size_finds_exactly_the_planted_non_converters(shop):
    truth = shop.truth["sample_buyers"]
    for sample in truth["sample_product"].unique():
        recipe = cl.recipes.sample_to_full_size(shop, sample)
        expected = set(truth.loc[(truth["sample_product"] == sample) & ~truth["converted"], "customer_id"])
        assert set(recipe.audiences["sample_not_full_size"].customer_ids()) == expected


def test_new_member_first_purchase_never_holds_a_buyer(shop):
    recipe = cl.recipes.new_member_first_purchase(shop, joined_within="30D")
    ids = set(recipe.audiences["new_members"].customer_ids())
    assert ids and not ids & set(shop.orders["customer_id"])
    m = shop.members
    joined = m[m["joined_at"] >= shop.as_of + pd.Timedelta(days=1) - pd.Timedelta(days=30)]
    assert ids == set(joined["customer_id"]) - set(shop.orders["customer_id"])


def test_promotion_wave_two_holds_no_wave_one_buyer(shop):
    recipe = cl.recipes.promotion_waves(shop, "2025-10-20", "2025-11-05")
    wave1, wave2 = set(recipe.audiences["wave1"].customer_ids()), set(recipe.audiences["wave2"].customer_ids())
    assert wave2 <= wave1 and len(wave2) < len(wave1)
    o = shop.orders
    since = o[(o["paid_at"] >= "2025-10-20") & (o["paid_at"] < "2025-11-06")]
    kept = since[since["paid_amount"] - since["refund_amount"] > 0]
    refunders = set(since.loc[since["refund_amount"] > 0, "customer_id"])
    assert not (wave2 & set(kept["customer_id"])) - refunders
    recent = o[(o["paid_at"] >= "2025-10-06") & (o["paid_at"] < "2025-10-20")]
    assert not wave1 & set(recent["customer_id"])  # bought in the 14 days before: excluded
    rm = cl.recipes.promotion_waves(shop, "2025-10-20", "2025-11-05", m_min=4)
    assert set(rm.audiences["wave1"].customer_ids()) < wave1


def test_new_product_launch_targets_partner_buyers_who_never_bought_it(shop):
    planted = shop.truth["related_pairs"].set_index("new_product")["partner"]
    recipe = cl.recipes.new_product_launch(shop, "N01")
    assert recipe.explanation["partner"].iloc[0] == planted["N01"]
    high, rest = set(recipe.audiences["high_value"].customer_ids()), set(recipe.audiences["rest"].customer_ids())
    assert high and rest and not high & rest
    o = shop.orders
    recent = _window(o, shop.as_of, 90)
    partners = recipe.explanation["partner"].tolist()
    expected = set(recent.loc[recent["product_id"].isin(partners), "customer_id"]) - set(o.loc[o["product_id"] == "N01", "customer_id"])
    assert high | rest == expected


def test_influencer_new_customers_first_bought_through_them(shop):
    recipe = cl.recipes.influencer_new_customers(shop, ["KOL001"], within="180D")
    ids = set(recipe.audiences["new_via_influencer"].customer_ids())
    o = shop.orders.sort_values(["customer_id", "paid_at"])
    first = o.groupby("customer_id").head(1)
    first = first[first["paid_at"] >= shop.as_of + pd.Timedelta(days=1) - pd.Timedelta(days=180)]
    # The first order's lines share its time: any of them through KOL001 makes it an influencer order.
    first_orders = o.merge(first[["customer_id", "paid_at"]], on=["customer_id", "paid_at"])
    assert ids == set(first_orders.loc[first_orders["influencer_id"] == "KOL001", "customer_id"])
    offers = recipe.explanation
    assert len(offers) > 0 and {"product", "partner", "lift", "audience_buyers"} <= set(offers.columns)
    assert (offers["product"] != offers["partner"]).all()


def test_high_potential_combines_behaviour_and_orders(shop):
    ids = set(cl.recipes.high_potential(shop).audiences["high_potential"].customer_ids())
    ev = shop.events[shop.events["at"] >= shop.as_of + pd.Timedelta(days=1) - pd.Timedelta(days=30)]
    behaviour = set(ev.loc[ev["event"].isin(["live_view", "add_to_cart"]), "customer_id"])
    recent_buyers = set(_window(shop.orders, shop.as_of, 30)["customer_id"])
    assert ids == behaviour - recent_buyers


def test_cli_exports_a_recipe_without_a_notebook(shop_dir, small_shop, tmp_path, capsys):
    out = tmp_path / "audiences"
    code = cl.cli.main(["audience", "sample_to_full_size", "--data", str(shop_dir), "--out", str(out),
                        "--set", "sample_product=S01", "--control-share", "0.2"])
    assert code == 0
    exported = pd.read_csv(out / "sample_to_full_size_sample_not_full_size.csv", dtype=str)
    expected = cl.recipes.sample_to_full_size(small_shop, "S01").audiences["sample_not_full_size"].customer_ids()
    assert sorted(exported["id"]) == expected.tolist() and set(exported["group"]) <= {"treatment", "control"}
    manifest = json.loads((out / "sample_to_full_size_sample_not_full_size.csv.manifest.json").read_text(encoding="utf-8"))
    assert manifest["control_share"] == 0.2 and manifest["customers"] == len(exported)
    assert str(len(exported)) in capsys.readouterr().out
    # A misspelt parameter names the accepted ones (exit 2); a bad value is a clear failure (exit 1).
    assert cl.cli.main(["audience", "sample_to_full_size", "--data", str(shop_dir), "--out", str(out), "--set", "sampel_product=S01"]) == 2
    assert "sample_product" in capsys.readouterr().err
    assert cl.cli.main(["audience", "sample_to_full_size", "--data", str(shop_dir), "--out", str(out), "--set", "sample_product=P001"]) == 1
    assert "not a sample" in capsys.readouterr().err


def test_from_ids_is_the_given_list_refined_by_more_rules(shop):
    given = ["C0000001", "C0000002", "C0000003", "nobody"]
    aud = Audience.from_ids(shop, given, name="uploaded")
    given.append("C0000004")  # the audience keeps the list as it was given
    assert aud.customer_ids().tolist() == ["C0000001", "C0000002", "C0000003", "nobody"]
    recent = set(_window(shop.orders, shop.as_of, 30)["customer_id"])
    refined = aud.not_bought(within="30D")
    assert set(refined.customer_ids()) == {"C0000001", "C0000002", "C0000003", "nobody"} - recent
    assert refined.describe()["中文"].tolist()[0] == "给定的客户名单"


def test_windows_in_months_and_as_pairs_select_what_pandas_selects(shop):
    """One window vocabulary: '90D', calendar months ('3mo') and a (start, end) pair of days, both included."""
    orders = shop.orders
    as_of = pd.Timestamp("2025-09-30")
    cases = {"3mo": (pd.Timestamp("2025-07-01"), pd.Timestamp("2025-10-01")),
             ("2025-06-01", "2025-06-18"): (pd.Timestamp("2025-06-01"), pd.Timestamp("2025-06-19")),
             "90D": (pd.Timestamp("2025-07-03"), pd.Timestamp("2025-10-01"))}
    for within, (start, end) in cases.items():
        aud = Audience(shop, as_of=as_of).bought(product="P001", within=within)
        lines = orders[(orders["product_id"] == "P001") & (orders["paid_at"] >= start) & (orders["paid_at"] < end)]
        assert set(aud.customer_ids()) == set(lines["customer_id"]), within
    assert Audience(shop, as_of=as_of).bought(within="3mo").describe()["中文"].iloc[0] == "3个月内购买过 任意商品"
    assert "2025-06-01至2025-06-18" in Audience(shop, as_of=as_of).event("live_view", within=("2025-06-01", "2025-06-18")).describe()["中文"].iloc[0]
    with pytest.raises(ValueError, match="no fixed length"):
        cl.data.window_length("3mo")


def test_export_writes_the_split_it_is_given_and_the_same_seed_gives_the_same_groups(shop, tmp_path):
    import json

    aud = Audience(shop).bought(within="90D")
    split = aud.split_control(0.1, seed=1)
    # The same share and seed: the same groups; the default seed is shared (CONTROL_SEED).
    path = aud.export(tmp_path / "a.csv", control_share=0.1, groups=split)
    written = pd.read_csv(path, dtype=str).set_index("id")["group"]
    assert written.to_dict() == split.set_index("customer_id")["group"].to_dict()
    assert json.loads(path.with_name("a.csv.manifest.json").read_text())["seed"] == 1
    default = pd.read_csv(aud.export(tmp_path / "b.csv", control_share=0.1), dtype=str).set_index("id")["group"]
    assert default.to_dict() == aud.split_control(0.1).set_index("customer_id")["group"].to_dict()
    assert cl.audience.CONTROL_SEED == 0
    with pytest.raises(ValueError, match="not in the audience"):
        Audience(shop).bought(within="30D").export(tmp_path / "c.csv", groups=split)
    with pytest.raises(ValueError, match="split_control"):
        aud.export(tmp_path / "d.csv", groups=pd.DataFrame({"customer_id": split["customer_id"], "group": split["group"]}))
