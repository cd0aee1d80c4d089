"""The sample shop: deterministic, consistent, and its ground truth recoverable from its tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl


@pytest.fixture(scope="module")
def shop20k(sample_shop):
    return sample_shop


def test_same_seed_same_shop_other_seed_other_shop():
    a = cl.datasets.make_shop(800, seed=5)
    b = cl.datasets.make_shop(800, seed=5)
    for name, frame in a.tables().items():
        pd.testing.assert_frame_equal(frame, getattr(b, name), obj=name)
    pd.testing.assert_frame_equal(a.truth["customers"], b.truth["customers"])
    c = cl.datasets.make_shop(800, seed=6)
    assert not a.orders["paid_amount"].equals(c.orders["paid_amount"])


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_customers"):
        cl.datasets.make_shop(5)
    with pytest.raises(ValueError, match="after start"):
        cl.datasets.make_shop(100, start="2025-01-01", end="2024-01-01")


def test_write_sample_shop_refuses_what_make_shop_refuses(tmp_path):
    with pytest.raises(ValueError, match="n_customers"):
        cl.datasets.write_sample_shop(tmp_path / "shop", 5)
    with pytest.raises(ValueError, match="after start"):
        cl.datasets.write_sample_shop(tmp_path / "shop", 100, start="2025-01-01", end="2024-01-01")
    assert not (tmp_path / "shop").exists()


def _binomial_ok(successes: int, n: int, p: float, z: float = 3.5) -> bool:
    return abs(successes / n - p) <= z * np.sqrt(p * (1 - p) / n)


def test_member_and_never_buyer_shares_within_binomial_error(shop20k):
    members = shop20k.members
    buyers = set(shop20k.orders["customer_id"])
    never = ~members["customer_id"].isin(buyers)
    assert _binomial_ok(len(members), 20_000, shop20k.truth["member_share"])
    assert _binomial_ok(int(never.sum()), len(members), shop20k.truth["never_buy_share"])
    # The truth's flags agree with the tables exactly.
    truth = shop20k.truth["customers"].set_index("customer_id")
    assert set(members["customer_id"][never]) == set(truth.index[truth["never_buys"]])


def test_latent_purchase_rates_follow_the_gamma_prior(shop20k):
    bg = shop20k.truth["bgnbd"]
    lam = shop20k.truth["customers"]["purchase_rate_per_day"].to_numpy()
    mean, se = bg["r"] / bg["alpha"], np.sqrt(bg["r"]) / bg["alpha"] / np.sqrt(lam.size)
    assert abs(lam.mean() - mean) < 4 * se
    p = shop20k.truth["customers"]["dropout_probability"].to_numpy()
    p_mean = bg["a"] / (bg["a"] + bg["b"])
    assert abs(p.mean() - p_mean) < 4 * p.std() / np.sqrt(p.size)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::RuntimeWarning")
def test_bgnbd_and_gamma_gamma_parameters_recovered_within_sampling_error():
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    shop = cl.datasets.make_shop(6_000, seed=1, promotions=False, campaigns=False)
    s = cl.summary.customer_summary(shop)
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    for name, true in shop.truth["bgnbd"].items():
        est, se = bg.params_[name], bg.standard_errors_[name]
        assert abs(est - true) < 3 * se, (name, est, true, se)
    # Gamma-Gamma describes paid order values: no refunds, and without the 9.9 sample add-ons.
    gross = shop.orders[~shop.orders["product_id"].str.startswith("S")].assign(refund_amount=0.0)
    r = cl.summary.customer_summary(gross, as_of=shop.as_of).query("frequency > 0")
    gg = GammaGammaFitter().fit(r["frequency"], r["monetary_value"])
    truth = shop.truth["gamma_gamma"]
    for ours, theirs in (("p", "p"), ("q", "q"), ("gamma", "v")):
        est, se = gg.params_[theirs], gg.standard_errors_[theirs]
        assert abs(est - truth[ours]) < 3 * se, (ours, est, truth[ours], se)
    implied = gg.params_["p"] * gg.params_["v"] / (gg.params_["q"] - 1)
    assert implied == pytest.approx(truth["p"] * truth["gamma"] / (truth["q"] - 1), rel=0.05)


def test_promotions_lift_daily_orders(shop20k):
    o = shop20k.orders
    daily = o.groupby(o["paid_at"].dt.normalize())["order_id"].nunique()
    for _, promo in shop20k.truth["promotions"].iterrows():
        inside = daily[promo["start"] : promo["end"] - pd.Timedelta(days=1)].mean()
        before = daily[promo["start"] - pd.Timedelta(days=30) : promo["start"] - pd.Timedelta(days=1)].mean()
        # Repeat purchases run at intensity_lift x inside; first purchases are not lifted.
        assert inside / before > 1.6, promo["event"]


def test_samples_and_full_size_truth_matches_orders(shop20k):
    o = shop20k.orders
    sb = shop20k.truth["sample_buyers"]
    assert len(sb) > 100 and 0.05 < sb["converted"].mean() < 0.5
    bought = set(zip(o["customer_id"], o["product_id"]))
    has_full = np.array([(c, f) in bought for c, f in zip(sb["customer_id"], sb["full_size_product"])])
    has_sample = np.array([(c, s) in bought for c, s in zip(sb["customer_id"], sb["sample_product"])])
    assert has_sample.all()
    np.testing.assert_array_equal(has_full, sb["converted"].to_numpy())
    samples = shop20k.products.dropna(subset=["sample_of"])
    assert set(samples["product_id"]) == set(shop20k.truth["samples"]["sample_product"])


def test_planted_related_products_co_occur(shop20k):
    o = shop20k.orders
    baskets = o.groupby("order_id")["product_id"].agg(set)
    for _, pair in shop20k.truth["related_pairs"].iterrows():
        after = o[o["paid_at"] >= pair["launched_at"]]["order_id"].unique()
        b = baskets.loc[after]
        has_new = b.map(lambda s, p=pair["new_product"]: p in s)
        has_partner = b.map(lambda s, p=pair["partner"]: p in s)
        lift = (has_new & has_partner).mean() / (has_new.mean() * has_partner.mean())
        assert lift > 3, (pair["new_product"], lift)
        assert not (o[o["product_id"] == pair["new_product"]]["paid_at"] < pair["launched_at"]).any()


def test_campaigns_have_random_control_groups_and_true_uplift(shop20k):
    t = shop20k.touches
    campaigns = shop20k.truth["campaigns"].set_index("campaign_id")
    reminders = shop20k.truth["operations"]
    marketing = t["campaign_id"].isin(campaigns.index)
    assert set(t.loc[~marketing, "campaign_id"]) == {reminders["campaign_id"]}  # 催付, one touch per unpaid order
    sent = t[~marketing]
    assert _binomial_ok(int((sent["group"] == "control").sum()), len(sent), reminders["control_share"])
    for cid, g in t[marketing].groupby("campaign_id"):
        share = campaigns.loc[cid, "control_share"]
        assert _binomial_ok(int((g["group"] == "control").sum()), len(g), share)
        assert (g.loc[g["group"] == "control", "cost"] == 0).all()
        assert g["customer_id"].is_unique
    uplift = shop20k.truth["uplift"].set_index(["campaign_id", "segment"])
    for cid in campaigns.index:
        assert uplift.loc[(cid, "live_viewer_30d"), "true_uplift_7d"] > uplift.loc[(cid, "other"), "true_uplift_7d"]
    # The campaign orders exist only for treated customers, inside the 7-day window.
    extra = shop20k.orders[shop20k.orders["order_id"].isin(shop20k.truth["campaign_orders"]["order_id"])]
    treated = set(t.loc[t["group"] == "treatment", "customer_id"])
    assert len(extra) > 0 and extra["customer_id"].isin(treated).all()


def test_influencers_genres_and_events(shop20k):
    o = shop20k.orders
    assert set(o["traffic_genre"]) == {"live", "short_video", "product_card", "other"}
    via = o["influencer_id"].notna()
    assert o.loc[via, "traffic_genre"].isin(["live", "short_video"]).all()
    assert (o.loc[via, "traffic_source"] == "精选联盟").all()
    assert (o["refund_amount"] <= o["paid_amount"]).all()
    ev = shop20k.events
    assert set(ev["event"]) == {"live_view", "add_to_cart", "product_view", "follow"}
    assert ev["at"].max() <= shop20k.as_of
    fans = shop20k.truth["customers"].set_index("customer_id")["live_fan"]
    views = ev[ev["event"] == "live_view"].groupby("customer_id").size()
    assert views.reindex(fans.index[fans], fill_value=0).mean() > 5 * views.reindex(fans.index[~fans], fill_value=0).mean()


def test_ids_are_19_digit_text(small_shop):
    assert small_shop.orders["order_id"].str.fullmatch(r"\d{19}").all()
    assert small_shop.orders["line_id"].is_unique


def test_cdnow_loaders():
    sample = cl.datasets.load_cdnow("sample")
    master = cl.datasets.load_cdnow("master")
    assert sample["customer_id"].nunique() == 2_357 and len(sample) == 6_919
    assert master["customer_id"].nunique() == 23_570 and len(master) == 69_659
    assert master["paid_at"].min() == pd.Timestamp("1997-01-01") and master["paid_at"].max() == pd.Timestamp("1998-06-30")
    with pytest.raises(ValueError):
        cl.datasets.load_cdnow("other")


def test_shared_public_data_loads():
    if not cl.datasets.shared_data_path("hillstrom.csv").exists():
        pytest.skip("../shared/data is not beside this checkout")
    assert len(cl.datasets.load_groceries()) == 9_835
    assert len(cl.datasets.load_hillstrom()) == 64_000
    assert (cl.datasets.load_online_retail()["CustomerID"] != 0).all()


# --- the shop in blocks: written block by block, the same shop as made at once ---------------------

def _sorted(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    cols = list(like.columns)
    return frame[cols].astype(like.dtypes.to_dict()).sort_values(cols, ignore_index=True)


def test_a_shop_written_block_by_block_in_workers_equals_the_shop_made_at_once(tmp_path):
    folder = cl.datasets.write_sample_shop(tmp_path / "shop", 2_400, seed=3, workers=2, block_customers=800)
    shop = cl.datasets.make_shop(2_400, seed=3, block_customers=800)
    truth = cl.datasets.read_truth(folder)
    assert set(truth) == set(shop.truth)
    for key, value in shop.truth.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(truth[key], value, obj=key)
        else:
            assert truth[key] == value, key
    assert sorted(p.name for p in (folder / "orders").iterdir()) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    back = cl.data.read_shop(folder)
    for name, frame in shop.tables().items():
        pd.testing.assert_frame_equal(_sorted(cl.engine.collect(getattr(back, name)), frame), frame.sort_values(list(frame.columns), ignore_index=True),
                                      obj=name, check_dtype=False)
    assert cl.data.canonical._marked_valid(folder, {"as_of": str(shop.as_of)})  # validated per block, marked once
    assert back.calendar == shop.calendar and back.name == shop.name


def test_blocks_have_their_own_draws_and_ids_and_share_the_catalogue():
    shop = cl.datasets.make_shop(3_000, seed=4, block_customers=1_000)
    assert [(b.offset, b.size) for b in cl.simulator.blocks(3_000, 1_000)] == [(0, 1_000), (1_000, 1_000), (2_000, 1_000)]
    customers = shop.truth["customers"]
    assert customers["customer_id"].is_unique and len(customers) == 3_000
    rates = customers["purchase_rate_per_day"].to_numpy()
    assert not np.allclose(rates[:1_000], rates[1_000:2_000])  # each block its own stream
    for table, key in (("orders", "line_id"), ("touches", "touch_id"), ("unpaid_orders", "order_id"), ("members", "customer_id")):
        assert getattr(shop, table)[key].is_unique, table
    orders = shop.orders.groupby("order_id")["customer_id"].nunique()
    assert (orders == 1).all()  # no order id shared by two blocks' customers
    assert set(shop.orders["sku_id"]) <= set(shop.products["sku_id"]) and shop.products["sku_id"].is_unique
    # Block 0 draws on the seed's own stream: its customers are those of the one-block shop of its size.
    first = cl.datasets.make_shop(1_000, seed=4)
    pd.testing.assert_frame_equal(shop.truth["customers"].head(1_000), first.truth["customers"])


def test_the_truth_of_a_shop_in_blocks_adds_up_to_its_tables():
    shop = cl.datasets.make_shop(3_000, seed=4, block_customers=1_000)
    touches = shop.touches
    campaigns = shop.truth["campaigns"].set_index("campaign_id")["audience"]
    sent = touches[touches["campaign_id"].isin(campaigns.index)].groupby("campaign_id").size()
    pd.testing.assert_series_equal(sent.sort_index(), campaigns.sort_index(), check_names=False)
    uplift = shop.truth["uplift"].set_index(["campaign_id", "segment"])
    assert (uplift.xs("all", level="segment")["customers"].sort_index() == campaigns.sort_index()).all()
    segments = shop.truth["touch_segments"].merge(shop.truth["customers"][["customer_id"]], on="customer_id")
    by_segment = segments.groupby(["campaign_id", "segment"]).size()
    assert (uplift.loc[by_segment.index, "customers"] == by_segment).all()
    reminders = touches[touches["campaign_id"] == "payment_reminder"]
    assert shop.truth["operations"]["reminded"] == int((reminders["group"] == "treatment").sum())
    assert shop.truth["referrals"]["referrals"] == len(shop.referrals)
    members = shop.truth["customers"]["is_member"]
    assert _binomial_ok(int(members.sum()), len(members), 0.6)


def test_write_sample_shop_refuses_a_folder_of_other_files_and_publishes_nothing_half_made(tmp_path, monkeypatch):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(FileExistsError, match="notes.txt"):
        cl.datasets.write_sample_shop(other, 300)
    assert (other / "notes.txt").exists()

    calls = []
    real = cl.datasets._write_block

    def failing(job, block, popularity):
        calls.append(block.index)
        if block.index == 1:
            raise OSError("disk full")
        return real(job, block, popularity)

    monkeypatch.setattr(cl.datasets, "_write_block", failing)
    with pytest.raises(OSError, match="disk full"):
        cl.datasets.write_sample_shop(tmp_path / "shop", 900, workers=1, block_customers=300)
    assert calls == [0, 1] and sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
