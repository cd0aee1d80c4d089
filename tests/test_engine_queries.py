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
