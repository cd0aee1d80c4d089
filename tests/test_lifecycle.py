"""The member lifecycle: 入会 -> 首购 -> 复购 per joining cohort, against an independent pandas computation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab import lifecycle


def _funnel_by_hand(shop, within: str = "30D") -> pd.DataFrame:
    """The same funnel from the members and orders tables, in plain pandas."""
    end = pd.Timestamp(shop.as_of)
    span = pd.Timedelta(within)
    members = shop.members[shop.members["joined_at"] < end].groupby("customer_id")["joined_at"].min()
    o = shop.orders[shop.orders["paid_at"] < end]
    o = o.assign(net=o["paid_amount"] - o["refund_amount"].fillna(0.0))
    first_paid = o.groupby("customer_id")["paid_at"].min()
    kept = o[o["net"] > 0]
    rows = []
    for customer, joined in members.items():
        before = customer in first_paid.index and first_paid[customer] < joined
        mine = kept.loc[kept["customer_id"] == customer, "paid_at"].sort_values()
        t1 = mine[mine >= joined].min() if not before else pd.NaT
        eligible = not before and joined + span <= end
        first = bool(eligible and pd.notna(t1) and t1 - joined <= span)
        repeat_eligible = bool(first and t1 + span <= end)
        later = mine[mine >= t1.normalize() + pd.Timedelta(days=1)] if first else mine.iloc[0:0]
        repeat = bool(repeat_eligible and len(later) and later.min() - t1 <= span)
        rows.append({"cohort": joined.to_period("M").start_time, "before": before, "eligible": eligible, "first": first,
                     "repeat_eligible": repeat_eligible, "repeat": repeat})
    t = pd.DataFrame(rows).groupby("cohort").agg(joined=("before", "size"), bought_before_joining=("before", "sum"),
                                                 eligible=("eligible", "sum"), first_purchase=("first", "sum"),
                                                 repurchase_eligible=("repeat_eligible", "sum"), repurchase=("repeat", "sum"))
    return t.reset_index()


@pytest.fixture(scope="module")
def shop():
    return cl.datasets.make_shop(600, seed=5)


def test_funnel_equals_a_pandas_computation_from_members_and_orders(shop):
    got = lifecycle.funnel(shop, within="30D")
    want = _funnel_by_hand(shop, "30D")
    cols = ["joined", "bought_before_joining", "eligible", "first_purchase", "repurchase_eligible", "repurchase"]
    pd.testing.assert_frame_equal(got[["cohort", *cols]].reset_index(drop=True), want[["cohort", *cols]].astype({c: "int64" for c in cols}),
                                  check_dtype=False)
    assert (got["repurchase"] <= got["first_purchase"]).all() and (got["first_purchase"] <= got["eligible"]).all()


def test_rates_carry_wilson_intervals_and_young_cohorts_say_so(shop):
    t = lifecycle.funnel(shop, within="30D")
    done = t[t["eligible"] > 0]
    assert np.allclose(done["first_purchase_rate"], done["first_purchase"] / done["eligible"])
    assert ((done["first_purchase_low"] <= done["first_purchase_rate"]) & (done["first_purchase_rate"] <= done["first_purchase_high"])).all()
    from statsmodels.stats.proportion import proportion_confint

    row = done.iloc[0]
    lo, hi = proportion_confint(row["first_purchase"], row["eligible"], method="wilson")
    assert np.isclose(row["first_purchase_low"], lo) and np.isclose(row["first_purchase_high"], hi)
    # The last month's members joined within 30 days of the data end: not all observed, and it says so.
    assert not t["complete"].iloc[-1] and t["complete"].iloc[0]


def test_funnel_without_members_names_the_table(shop):
    with pytest.raises(ValueError, match="members table"):
        lifecycle.funnel(cl.data.Shop(orders=shop.orders, as_of=shop.as_of))


def _progress_by_hand(shop, within: str = "90D") -> pd.DataFrame:
    """新人三单 from the orders table in plain pandas: kept orders ranked per customer."""
    end = pd.Timestamp(shop.as_of)
    o = shop.orders[shop.orders["paid_at"] < end]
    o = o.assign(net=o["paid_amount"] - o["refund_amount"].fillna(0.0))
    orders = o.groupby(["customer_id", "order_id"]).agg(paid_at=("paid_at", "min"), net=("net", "sum")).reset_index()
    orders = orders[orders["net"] > 0].sort_values(["customer_id", "paid_at", "order_id"])
    rows = []
    for customer, mine in orders.groupby("customer_id"):
        times = mine["paid_at"].tolist()
        eligible = times[0] + pd.Timedelta(within) <= end
        second = eligible and len(times) > 1 and times[1] - times[0] <= pd.Timedelta(within)
        third = eligible and len(times) > 2 and times[2] - times[0] <= pd.Timedelta(within)
        rows.append({"cohort": times[0].to_period("M").start_time, "eligible": eligible, "second": second, "third": third})
    return pd.DataFrame(rows).groupby("cohort").agg(customers=("eligible", "size"), eligible=("eligible", "sum"),
                                                    second=("second", "sum"), third=("third", "sum")).reset_index()


def test_first_three_orders_equal_a_pandas_computation(shop):
    cohorts, products = lifecycle.first_orders_progress(shop, within="90D")
    want = _progress_by_hand(shop, "90D")
    cols = ["cohort", "customers", "eligible", "second", "third"]
    pd.testing.assert_frame_equal(cohorts[cols], want[cols], check_dtype=False)
    assert cohorts["second"].sum() > 0 and cohorts["third"].sum() > 0
    assert (cohorts["days_to_second"].dropna() <= 90).all() and (cohorts["second_to_third"].dropna() >= 0).all()
    # First products: counted over the eligible customers, sorted by second orders.
    assert products["second"].is_monotonic_decreasing and products["customers"].sum() <= cohorts["eligible"].sum()
    assert (products["second"] <= products["customers"]).all()


def _benefit_shop(shop, benefits, coupons):
    from dataclasses import replace

    day = pd.Timestamp
    b = pd.DataFrame(benefits, columns=["benefit_id", "kind", "starts_at", "ends_at", "members_only"]).astype({"starts_at": "datetime64[ns]", "ends_at": "datetime64[ns]"})
    c = pd.DataFrame(coupons, columns=["coupon_id", "audience", "discount", "threshold", "starts_at", "ends_at"]).astype({"starts_at": "datetime64[ns]", "ends_at": "datetime64[ns]"})
    return replace(shop, benefits=b, coupons=c), day


CLEAN_BENEFITS = [("B1", "gift", "2025-01-01", "2025-03-01", 1), ("B2", "points", "2025-04-15", "2025-07-01", 1),
                  ("B3", "gift", "2025-08-01", "2025-12-31", 1)]
CLEAN_COUPONS = [("M1", "member", 30.0, 199.0, "2025-05-01", "2025-05-10"), ("S1", "store", 10.0, 199.0, "2025-05-01", "2025-05-10"),
                 ("M2", "member", 50.0, 299.0, "2025-09-01", "2025-09-30"), ("S2", "store", 50.0, 399.0, "2025-09-01", "2025-09-30")]


def test_membership_check_finds_nothing_on_a_clean_shop(shop):
    clean, _ = _benefit_shop(shop, CLEAN_BENEFITS, CLEAN_COUPONS)
    check = lifecycle.membership_check(clean)
    assert check.status == "ok" and check.findings.empty and check.days_since_benefit == 0


def test_membership_check_finds_a_planted_gap_and_a_planted_coupon(shop):
    # B2 removed: 2025-03-01 .. 2025-08-01 has only M1 (05-01 .. 05-10); the stretches around it are 61 and 83 days.
    gap_benefits = [CLEAN_BENEFITS[0], CLEAN_BENEFITS[2]]
    planted, _ = _benefit_shop(shop, gap_benefits, CLEAN_COUPONS)
    check = lifecycle.membership_check(planted)
    gaps = check.findings[check.findings["rule"] == "benefit_gap"]
    assert gaps["days"].round().tolist() == [61, 83] and set(gaps["severity"]) == {"warning"} and check.status == "warning"
    assert gaps["rows"].iloc[0] == ["B1", "M1"]
    # A 95-day stretch is a breach; so is a member coupon no better than a store coupon at the same time.
    far = [CLEAN_BENEFITS[0], ("B3", "gift", "2025-06-04", "2025-12-31", 1)]
    bad_coupons = CLEAN_COUPONS[2:] + [("M3", "member", 20.0, 199.0, "2025-10-01", "2025-10-05"),
                                       ("S3", "store", 20.0, 149.0, "2025-10-02", "2025-10-08")]
    breach, _ = _benefit_shop(shop, far, bad_coupons)
    check = lifecycle.membership_check(breach)
    assert check.status == "breach"
    found = check.findings.set_index("rule")
    assert round(found.loc["benefit_gap", "days"]) == 95 and found.loc["benefit_gap", "severity"] == "breach"
    assert found.loc["member_coupon_not_better", "rows"] == ["M3", "S3"]


def test_membership_check_counts_the_current_stretch_and_names_missing_tables(shop):
    ended, _ = _benefit_shop(shop, [("B1", "gift", "2025-01-01", "2025-08-01", 1)], [])
    check = lifecycle.membership_check(ended)
    end = cl.data.observation_end(shop.as_of)  # the whole of the as_of day is observed
    assert round(check.days_since_benefit) == (end - pd.Timestamp("2025-08-01")).days and check.status == "breach"
    with pytest.raises(ValueError, match="benefits table"):
        lifecycle.membership_check(cl.data.Shop(orders=shop.orders, members=shop.members, as_of=shop.as_of))


def test_the_simulated_shop_keeps_the_member_rules_and_round_trips_its_tables(shop, tmp_path):
    check = lifecycle.membership_check(shop)
    assert check.status == "ok" and shop.truth["member_programme"]["coupon_violations"] == 0
    cl.data.write_shop(shop, tmp_path / "s")
    back = cl.data.read_shop(tmp_path / "s")
    assert lifecycle.membership_check(back).days_since_benefit == check.days_since_benefit
    bad = shop.coupons.assign(audience="vip")
    with pytest.raises(ValueError, match="audience"):
        cl.data.read_table(bad, "coupons")


def test_referrals_per_cohort_equal_a_pandas_computation(shop):
    """裂变: members observed 30 days after joining, who brought at least one new member within them, and how many."""
    f = cl.lifecycle.funnel(shop, within="30D").set_index("cohort")
    end = pd.Timestamp(shop.as_of) + pd.Timedelta(days=1)
    m = shop.members.assign(cohort=shop.members["joined_at"].dt.to_period("M").dt.start_time)
    refs = shop.referrals.merge(m, left_on="referrer_id", right_on="customer_id")
    refs = refs[(refs["referred_at"] >= refs["joined_at"]) & (refs["referred_at"] <= refs["joined_at"] + pd.Timedelta(days=30))]
    observed = m[m["joined_at"] + pd.Timedelta(days=30) <= end]
    refs = refs[refs["customer_id"].isin(observed["customer_id"])]
    expected = observed.groupby("cohort").size().rename("referral_eligible").to_frame().join(
        refs.groupby("cohort").agg(referring=("customer_id", "nunique"), referred_members=("customer_id", "size"))).fillna(0)
    for col in ("referral_eligible", "referring", "referred_members"):
        pd.testing.assert_series_equal(f.loc[expected.index, col], expected[col].astype("int64"), check_names=False)
    assert f["referral_rate"].dropna().between(0, 1).all() and (f["referral_factor"].dropna() >= 1).all()
    truth = shop.truth["referrals"]
    assert abs(len(shop.referrals) / len(shop.members) - truth["referred_share"]) < 0.05
    without = cl.lifecycle.funnel(dataclasses.replace(shop, referrals=None))
    assert "referral_rate" not in without.columns
