"""Relational work that runs where the data lives: the same answers from pandas, DuckDB and Spark.

Each function here used to collect a whole table to pandas; it now asks the engine for a small
result. Pandas frames are the reference; a shop folder (DuckDB over Parquet) and Spark frames must
agree with them.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import crm_lab as cl

TABLES = ("orders", "members", "products", "touches", "events", "unpaid_orders")


def _calls(shop):
    s = cl.summary.customer_summary(shop, as_of="2025-03-31")
    rep = cl.clv.evaluate(shop, "2025-03-31", "2025-11-30")
    recipe = cl.recipes.influencer_new_customers(shop, ["KOL001", "KOL002"], within="180D")
    return {
        "response": cl.campaign.response(shop, "d11_2025_wave1"),
        "payment_reminders": cl.campaign.payment_reminder_response(shop, "d11_2025_wave1", created_within="30D"),
        "member_first_purchase": cl.conversion.member_first_purchase(shop),
        "tracking": rep.tracking,
        "recommendations": recipe.explanation,
        "summary_rows": pd.DataFrame({"customers": [len(s)]}),
    }


def _same(got: dict, expected: dict) -> None:
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name].reset_index(drop=True), frame.reset_index(drop=True),
                                      check_dtype=False, check_exact=False, rtol=1e-9, obj=name)


@pytest.fixture(scope="module")
def reference(small_shop):
    return _calls(small_shop)


def test_other_touches_are_counted_per_touch(small_shop, reference):
    r = reference["response"]
    touches = small_shop.touches
    other = touches[touches["campaign_id"] != "d11_2025_wave1"][["customer_id", "sent_at"]]
    near = r[["touch_id", "customer_id", "sent_at"]].merge(other, on="customer_id", suffixes=("", "_other"))
    near = near[(near["sent_at_other"] - near["sent_at"]).abs() <= pd.Timedelta(days=7)]
    expected = r["touch_id"].map(near.groupby("touch_id").size()).fillna(0).astype("int64")
    assert r["other_touches"].tolist() == expected.tolist()


def test_a_shop_folder_in_duckdb_agrees_with_pandas(shop_dir, reference):
    _same(_calls(cl.data.read_shop(shop_dir)), reference)


@pytest.mark.spark
def test_spark_agrees_with_pandas(small_shop, spark, reference):
    frames = {t: spark.createDataFrame(getattr(small_shop, t)) for t in TABLES}
    sparked = dataclasses.replace(small_shop, **frames)
    _same(_calls(sparked), reference)


CARE = {"package_cards": [{"name": "达人", "when": {"influencer_id": ["KOL001"]}, "note": "小样"},
                          {"name": "新客", "when": {"first_order": True}, "note": "欢迎卡"},
                          {"name": "护肤", "when": {"category": ["护肤"], "member_tier": [2, 3, 4, 5]}, "note": "说明卡"},
                          {"name": "其他", "note": "感谢卡"}],
        "payment_reminders": {"after_minutes": 30, "created_within": "30D", "control_share": 0.2}}


def _lifecycle_calls(shop):
    """The member lifecycle, event care, pivots and the programme report (#17), each reduced to frames."""
    rules = cl.care.CareRules.from_dict(CARE)
    at = pd.Timestamp("2025-11-29 12:00")
    progress, first_products = cl.lifecycle.first_orders_progress(shop)
    reminders = cl.care.payment_reminders(shop, at, **rules.payment_reminders)
    return {
        "funnel": cl.lifecycle.funnel(shop, within="30D"),
        "first_orders": progress, "first_products": first_products,
        "package_cards": cl.care.package_cards(shop, rules, at).orders,
        "payment_reminders": reminders.orders, "reminders_left_out": pd.DataFrame([reminders.excluded]),
        "coupon_reminders": cl.care.coupon_reminders(shop, "2025-11-09", ends_within="3D"),
        "points_reminders": cl.care.points_reminders(shop, at, within="35D", min_points=100),
        "pivot": cl.summary.pivot(shop, rows=["category", "genre"], columns=["member_tier"], values=["net_amount", "buyers"],
                                  since="2025-05-31").reset_index(),
        "program": cl.program.program_report(shop, within="120D").customers,
    }


@pytest.fixture(scope="module")
def held_small():
    return cl.datasets.make_shop(1_500, seed=11, global_holdout_share=0.2)


@pytest.fixture(scope="module")
def lifecycle_reference(held_small):
    return _lifecycle_calls(held_small)


def test_lifecycle_and_care_in_a_duckdb_shop_folder_agree_with_pandas(held_small, lifecycle_reference, tmp_path):
    assert len(lifecycle_reference["package_cards"]) and lifecycle_reference["reminders_left_out"].to_numpy().sum() > 0
    assert len(lifecycle_reference["coupon_reminders"]) and len(lifecycle_reference["points_reminders"])
    cl.data.write_shop(held_small, tmp_path / "shop")
    _same(_lifecycle_calls(cl.data.read_shop(tmp_path / "shop")), lifecycle_reference)


@pytest.mark.spark
def test_lifecycle_and_care_on_spark_agree_with_pandas(held_small, spark, lifecycle_reference):
    frames = {t: spark.createDataFrame(f) for t, f in held_small.tables().items()}
    _same(_lifecycle_calls(dataclasses.replace(held_small, **frames)), lifecycle_reference)
