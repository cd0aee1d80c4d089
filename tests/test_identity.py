"""OneID: connected groups of platform ids, stable ids, conflicts, rewriting tables in any engine."""

from __future__ import annotations

import pandas as pd
import pytest

import crm_lab as cl
from crm_lab import identity

LINKS = pd.DataFrame(
    {
        "open_id": ["o1", "o2", None, "o4", "o5", None],
        "union_id": ["u1", None, "u1", None, None, "u6"],
        "member_id": ["m1", "m2", None, "m4", "m4", None],
        "phone_hash": [None, "h2", "h1", "h4", None, "h4"],
    }
)


def test_groups_follow_chains_across_rows():
    ids = identity.unify(LINKS)
    cid = ids.mapping.set_index(["kind", "id"])["customer_id"]
    # o1-u1-m1 (row 0), u1-h1 (row 2): one person.
    assert cid[("open_id", "o1")] == cid[("phone_hash", "h1")] == cid[("member_id", "m1")]
    # o4-m4-h4 (row 3), o5-m4 (row 4), u6-h4 (row 5): one person.
    assert cid[("open_id", "o5")] == cid[("union_id", "u6")] == cid[("open_id", "o4")]
    assert cid[("open_id", "o2")] != cid[("open_id", "o1")]
    assert ids.mapping["customer_id"].nunique() == 3 == len(ids.audit)
    assert ids.audit["ids"].sum() == len(ids.mapping) == 12


def test_ids_are_stable_and_deterministic():
    a = identity.unify(LINKS).mapping.sort_values(["kind", "id"], ignore_index=True)
    b = identity.unify(LINKS.sample(frac=1, random_state=3)).mapping.sort_values(["kind", "id"], ignore_index=True)
    pd.testing.assert_frame_equal(a, b)
    # Growing a group by a new open id keeps its id (the anchor, member id m1, stays).
    grown = pd.concat([LINKS, pd.DataFrame({"open_id": ["o9"], "member_id": ["m1"]})], ignore_index=True)
    c = identity.unify(grown).mapping.set_index(["kind", "id"])["customer_id"]
    assert c[("open_id", "o9")] == a.set_index(["kind", "id"])["customer_id"][("member_id", "m1")]


def test_long_pairs_and_conflicts():
    pairs = pd.DataFrame({"id_a": ["h1", "h1", "h1"], "kind_a": "phone_hash", "id_b": ["m1", "m2", "m3"], "kind_b": "member_id"})
    ids = identity.unify(pairs)
    assert len(ids.audit) == 1 and bool(ids.audit["conflict"].iloc[0])
    assert "3 member ids" in ids.audit["reason"].iloc[0]
    assert ids.summary().loc["groups flagged", "value"] == 1
    with pytest.raises(ValueError, match="no ids"):
        identity.unify(pd.DataFrame({"open_id": [None, ""]}))
    with pytest.raises(ValueError, match="kinds"):
        ids.lookup("open_id")


def _orders():
    return pd.DataFrame({"order_id": ["1", "2", "3", "4"], "customer_id": ["o1", "o5", "o4", "unknown"], "paid_amount": [1.0, 2.0, 3.0, 4.0]})


def test_apply_rewrites_customer_ids_in_pandas_and_duckdb():
    ids = identity.unify(LINKS)
    out = identity.apply(_orders(), ids, kind="open_id")
    assert list(out.columns) == ["order_id", "customer_id", "paid_amount"]
    assert out.loc[1, "customer_id"] == out.loc[2, "customer_id"] != out.loc[0, "customer_id"]
    assert out.loc[3, "customer_id"] == "unknown"
    dropped = identity.apply(_orders(), ids, kind="open_id", keep_unmatched=False)
    assert len(dropped) == 3
    duck = identity.apply(cl.engine.connection().from_df(_orders()), ids, kind="open_id")
    pd.testing.assert_frame_equal(cl.engine.collect(duck).sort_values("order_id", ignore_index=True), out, check_dtype=False)


@pytest.mark.spark
def test_apply_in_spark(spark):
    ids = identity.unify(LINKS)
    expected = identity.apply(_orders(), ids, kind="open_id")
    got = identity.apply(spark.createDataFrame(_orders()), ids, kind="open_id")
    pd.testing.assert_frame_equal(cl.engine.collect(got).sort_values("order_id", ignore_index=True), expected, check_dtype=False)
