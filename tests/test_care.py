"""Event care: package-card rules, payment reminders and expiry reminders, against independent pandas."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import crm_lab as cl

RULES = {
    "package_cards": [
        {"name": "达人小样", "when": {"influencer_id": ["KOL001", "KOL002"]}, "note": "赠送小样一份"},
        {"name": "新客", "when": {"first_order": True}, "note": "放入新客欢迎卡"},
        {"name": "大单护肤", "when": {"category": ["护肤"], "min_amount": 150}, "note": "加赠护肤旅行装"},
        {"name": "兜底", "note": "放入品牌感谢卡"},
    ],
    "payment_reminders": {"after_minutes": 30, "control_share": 0.2},
    "coupon_reminders": {"ends_within": "3D"},
    "points_reminders": {"expire_on": "12-31", "within": "35D", "min_points": 100},
}


@pytest.fixture(scope="module")
def rules():
    return cl.care.CareRules.from_dict(RULES)


def _kept_before(orders: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    o = orders[orders["paid_at"] < at]
    per = o.groupby(["customer_id", "order_id"]).agg(paid_at=("paid_at", "min"), paid=("paid_amount", "sum"), refund=("refund_amount", "sum"))
    return per[per["paid"] - per["refund"] > 0].reset_index()


def _expected_notes(shop, at: pd.Timestamp) -> pd.Series:
    """The first matching rule of every paid, unshipped order, computed order by order with plain pandas."""
    o = shop.orders
    lines = o[(o["paid_at"] < at) & (o["shipped_at"].isna() | (o["shipped_at"] >= at))].copy()
    cancelled = lines.groupby("order_id")["refund_amount"].transform("sum") >= lines.groupby("order_id")["paid_amount"].transform("sum")
    lines = lines[~(cancelled & (lines["refund_amount"] > 0))]
    lines["category"] = lines["product_id"].map(shop.products.drop_duplicates("product_id").set_index("product_id")["category"])
    first_at = _kept_before(o, at).groupby("customer_id")["paid_at"].min()
    notes = {}
    for order_id, part in lines.groupby("order_id"):
        amount = part["paid_amount"].sum()
        if part["influencer_id"].isin(["KOL001", "KOL002"]).any():
            notes[order_id] = "达人小样"
        elif part["paid_at"].min() <= first_at.get(part["customer_id"].iloc[0], pd.Timestamp.max):
            notes[order_id] = "新客"
        elif (part["category"] == "护肤").any() and amount >= 150:
            notes[order_id] = "大单护肤"
        else:
            notes[order_id] = "兜底"
    return pd.Series(notes, name="rule").sort_index()


def test_every_unshipped_order_gets_the_first_rule_it_matches(small_shop, rules):
    cards = cl.care.package_cards(small_shop, rules)
    expected = _expected_notes(small_shop, pd.Timestamp(small_shop.as_of))
    got = cards.orders.set_index("order_id")["rule"].sort_index()
    assert len(got) > 0 and got.index.equals(expected.index)
    pd.testing.assert_series_equal(got, expected, check_names=False)
    assert set(got) >= {"兜底"} and cards.summary()["orders"].sum() == len(got)
    assert list(cards.notes.columns) == ["order_id", "note", "rule"]


def test_rule_order_decides_and_an_order_no_rule_matches_gets_no_note(small_shop, rules):
    swapped = dataclasses.replace(rules, package_cards=(rules.package_cards[3], *rules.package_cards[:3]))
    assert set(cl.care.package_cards(small_shop, swapped).orders["rule"]) == {"兜底"}
    strict = dataclasses.replace(rules, package_cards=rules.package_cards[:1])
    cards = cl.care.package_cards(small_shop, strict)
    assert cards.orders["rule"].isna().any() and len(cards.notes) == cards.orders["rule"].notna().sum()
    assert cards.summary().iloc[-1]["rule"] == "（无规则命中）"


def test_unshipped_by_status_when_the_export_has_one_and_refused_when_nothing_tells(small_shop, rules):
    orders = small_shop.orders.tail(40).copy()
    orders["status"] = ["备货中"] * 10 + ["已发货"] * 30
    shop = dataclasses.replace(small_shop, orders=orders)
    cards = cl.care.package_cards(shop, rules, at=orders["paid_at"].max() + pd.Timedelta(seconds=1))
    assert set(cards.orders["order_id"]) == set(orders.loc[orders["status"] == "备货中", "order_id"])
    blind = dataclasses.replace(small_shop, orders=small_shop.orders.assign(shipped_at=pd.NaT))
    with pytest.raises(ValueError, match="shipped_at is empty"):
        cl.care.package_cards(blind, rules)


def _unpaid_shop(small_shop):
    at = pd.Timestamp("2025-11-30 12:00")
    unpaid = pd.DataFrame({
        "order_id": ["U1", "U2", "U3", "U4", "U5", "U6"],
        "customer_id": ["C0000001", "C0000002", "C0000003", "C0000004", "C0000005", "C0000006"],
        "created_at": at - pd.to_timedelta([60, 10, 120, 90, 200, 60 * 30], unit="min"),
        "amount": [100.0, 50, 80, 70, 60, 90], "status": ["待支付", "待支付", "已关闭", "待支付", "待支付", "待支付"],
        "line_id": None, "product_id": None, "sku_id": None, "quantity": 1, "channel": "douyin",
    })
    paid = small_shop.orders.head(1).assign(order_id="U4", line_id="U4-1", paid_at=at - pd.Timedelta(minutes=20))
    touch = pd.DataFrame({"touch_id": ["R1"], "campaign_id": ["payment_reminder"], "customer_id": ["C0000005"], "channel": ["sms"],
                          "sent_at": [at - pd.Timedelta(minutes=150)], "group": ["treatment"], "cost": [0.05]})
    return dataclasses.replace(small_shop, unpaid_orders=unpaid, orders=pd.concat([small_shop.orders, paid], ignore_index=True),
                               touches=pd.concat([small_shop.touches, touch], ignore_index=True)), at


def test_payment_reminders_leave_out_new_closed_paid_and_reminded_orders(small_shop):
    shop, at = _unpaid_shop(small_shop)
    r = cl.care.payment_reminders(shop, at, after_minutes=30, control_share=0)
    # U6 is older than the 24 hours looked at; U1 alone is due.
    assert r.orders["order_id"].tolist() == ["U1"] and r.excluded == {"too_new": 1, "closed": 1, "paid_since": 1, "reminded_before": 1, "global_holdout": 0}
    assert cl.care.payment_reminders(shop, at, reminded=["U1"]).orders.empty
    split = cl.care.payment_reminders(shop, at, created_within="2D", control_share=0.5, seed=3).orders
    again = cl.care.payment_reminders(shop, at, created_within="2D", control_share=0.5, seed=3).orders
    pd.testing.assert_frame_equal(split, again)
    assert set(split["order_id"]) == {"U1", "U6"}


def test_a_rerun_is_identical_and_a_later_run_never_reminds_twice(tmp_path, small_shop, rules):
    shop, at = _unpaid_shop(small_shop)
    no_control = dataclasses.replace(rules, payment_reminders={**rules.payment_reminders, "control_share": 0})
    first = cl.care.run_care(shop, no_control, tmp_path, at=at)
    files = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    second = cl.care.run_care(shop, no_control, tmp_path, at=at)
    assert {p.name: p.read_bytes() for p in second.folder.iterdir() if p.name != "manifest.json"} == \
        {k: v for k, v in files.items() if k != "manifest.json"}
    assert set(files) == {"package_cards.csv", "payment_reminders.csv", "coupon_reminders.csv", "points_reminders.csv", "manifest.json"}
    assert files["package_cards.csv"].startswith("\ufeff".encode())  # Excel and ERP imports read the Chinese notes
    assert pd.read_csv(first.folder / "payment_reminders.csv")["order_id"].tolist() == ["U1"]
    later = cl.care.run_care(shop, no_control, tmp_path, at=at + pd.Timedelta(hours=1))
    # U2 is now old enough; U1 (this ledger) and U5 (the touches) were reminded before.
    assert later.reminders.orders["order_id"].tolist() == ["U2"] and later.reminders.excluded["reminded_before"] == 2
    ledger = pd.read_csv(tmp_path / "reminded.csv", dtype=str)
    assert ledger["order_id"].tolist() == ["U1", "U2"]
    assert not list(tmp_path.glob(".2025*"))  # no half-built day folder left behind


def test_coupon_and_points_reminders(small_shop):
    at = pd.Timestamp("2025-11-30")
    coupons = pd.DataFrame({"coupon_id": ["M1", "S1", "M2"], "audience": ["member", "store", "member"], "discount": [30.0, 20, 30],
                            "threshold": [199.0, 199, 199], "starts_at": pd.to_datetime(["2025-11-20", "2025-11-25", "2025-11-01"]),
                            "ends_at": pd.to_datetime(["2025-12-02", "2025-12-01", "2025-12-20"])})
    shop = dataclasses.replace(small_shop, coupons=coupons)
    got = cl.care.coupon_reminders(shop, at, ends_within="3D")
    assert set(got["coupon_id"]) == {"M1", "S1"}
    members, orders = small_shop.members, small_shop.orders
    kept = _kept_before(orders[orders["paid_at"] >= pd.Timestamp("2025-11-20")], at)
    expected = set(members.loc[members["joined_at"] < at, "customer_id"]) - set(kept["customer_id"])
    assert set(got.loc[got["coupon_id"] == "M1", "customer_id"]) == expected
    bought = orders[(orders["paid_at"] >= pd.Timestamp("2024-11-25")) & (orders["paid_at"] < pd.Timestamp("2025-11-25"))]
    since = _kept_before(orders[orders["paid_at"] >= pd.Timestamp("2025-11-25")], at)
    assert set(got.loc[got["coupon_id"] == "S1", "customer_id"]) == set(bought["customer_id"]) - set(since["customer_id"])
    points = cl.care.points_reminders(small_shop, at, expire_on="12-31", within="35D", min_points=100)
    assert set(points["customer_id"]) == set(members.loc[(members["points"] >= 100) & (members["joined_at"] < at), "customer_id"])
    far = cl.care.points_reminders(small_shop, at, expire_on="06-30", within="35D")
    assert far.empty and far.attrs["next_expiry"] == pd.Timestamp("2026-07-01")


def test_rules_are_checked_and_missing_tables_named(small_shop):
    bad = [({"package_cards": [{"note": "x", "when": {"influencer": ["A"]}}]}, r"package_cards\[0\].when: unknown key"),
           ({"package_cards": [{"name": "a"}]}, r"package_cards\[0\].note"),
           ({"package_cards": [{"note": "x", "when": {"min_amount": "300"}}]}, r"when.min_amount"),
           ({"payment_reminders": {"control_share": 1.5}}, r"payment_reminders.control_share"),
           ({"points_reminders": {"expire_on": "13-45"}}, r"expire_on"), ({"reminders": {}}, r"care: unknown key")]
    for spec, message in bad:
        with pytest.raises(ValueError, match=message):
            cl.care.CareRules.from_dict(spec)
    bare = dataclasses.replace(small_shop, unpaid_orders=None, coupons=None, products=None)
    with pytest.raises(ValueError, match="needs the unpaid_orders table"):
        cl.care.payment_reminders(bare)
    with pytest.raises(ValueError, match="needs the coupons table"):
        cl.care.coupon_reminders(bare)
    with pytest.raises(ValueError, match="needs the products table"):
        cl.care.package_cards(bare, cl.care.CareRules.from_dict(RULES))


def test_the_simulated_reminders_earn_what_the_simulator_planted(sample_shop):
    """The simulator reminds unpaid orders with a held-out share: pay within 24 hours 25% vs 10%."""
    truth = sample_shop.truth["operations"]
    r = cl.campaign.payment_reminder_response(sample_shop, truth["campaign_id"])
    rates = r.groupby("group")["responded_24h"].mean()
    assert abs(rates["treatment"] - truth["pay_probability_reminded"]) < 0.06
    assert abs(rates["control"] - truth["pay_probability_control"]) < 0.08
    cards = cl.care.package_cards(sample_shop, cl.care.CareRules.from_dict({"package_cards": [{"note": "感谢卡"}]}))
    cancelled = truth["unshipped_orders"] - len(cards.orders)
    assert 0 <= cancelled <= 3  # fully refunded orders get no card


def test_cli_care_writes_the_day_and_refuses_a_file_without_care(tmp_path, shop_dir):
    params = tmp_path / "care.yaml"
    params.write_text(f"campaign: care\ndata: {shop_dir}\ncare:\n  package_cards:\n    - note: 放入品牌感谢卡\n"
                      "  payment_reminders: {after_minutes: 30}\nnotebooks:\n  - notebook: event_care\n", encoding="utf-8")
    assert cl.cli.main(["care", str(params), "--out", str(tmp_path / "care")]) == 0
    day = next((tmp_path / "care").glob("20*"))
    assert (day / "package_cards.csv").exists() and (day / "payment_reminders.csv").exists()
    bare = tmp_path / "bare.yaml"
    bare.write_text(f"campaign: x\ndata: {shop_dir}\nnotebooks:\n  - notebook: shop_overview\n", encoding="utf-8")
    assert cl.cli.main(["care", str(bare), "--out", str(tmp_path / "care")]) == 1
