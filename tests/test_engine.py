"""The engine: files open lazily in DuckDB, frames stay where they are, results come back as pandas."""

from __future__ import annotations

import narwhals as nw
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab.data import DataValidationError


def test_csv_ids_stay_text(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,paid_amount\n6921234567890123456,0012,1.5\n", encoding="utf-8")
    df = cl.engine.collect(cl.engine.open_file(path))
    assert df["order_id"].iloc[0] == "6921234567890123456" and df["customer_id"].iloc[0] == "0012"
    assert cl.engine.backend_name(path) == "duckdb" and cl.engine.columns(path) == ["order_id", "customer_id", "paid_amount"]


def test_open_file_rejects_exports(tmp_path):
    with pytest.raises(ValueError, match="preset"):
        cl.engine.open_file(tmp_path / "orders.xlsx")


def test_integer_sums_come_back_as_numbers():
    rel = cl.engine.connection().sql("select 'a' as k, 3::BIGINT as n union all select 'a', 4")
    out = cl.engine.collect(nw.from_native(rel).group_by("k").agg(nw.col("n").sum()))
    assert out["n"].tolist() == [7] and pd.api.types.is_integer_dtype(out["n"])


def test_timestamp_literal_and_backends():
    df = pd.DataFrame({"t": pd.to_datetime(["2025-01-01", "2025-02-01"])})
    for frame in (df, cl.engine.connection().from_df(df)):
        lf = cl.engine.lazy(frame)
        assert len(cl.engine.collect(lf.filter(nw.col("t") > cl.engine.timestamp("2025-01-15", lf)))) == 1


@pytest.mark.spark
def test_spark_frames_validate_and_return_local_time(spark, small_shop):
    orders = small_shop.orders.head(200)
    sdf = spark.createDataFrame(orders)
    back = cl.engine.collect(sdf).sort_values("line_id", ignore_index=True)
    assert back["paid_at"].tolist() == orders.sort_values("line_id", ignore_index=True)["paid_at"].tolist()
    assert cl.data.validate(sdf, "orders", as_of=small_shop.as_of) is sdf
    dup = spark.createDataFrame(pd.concat([orders.head(3), orders.head(1)]))
    with pytest.raises(DataValidationError, match="duplicates"):
        cl.data.validate(dup, "orders")
    early = small_shop.orders["paid_at"].min()
    with pytest.raises(DataValidationError, match="after as_of"):
        cl.data.validate(sdf, "orders", as_of=early)


def test_checkpoints_are_dropped_and_never_change_results(small_shop, shop_dir):
    import duckdb

    con = cl.engine.connection()
    tables = "select table_name from duckdb_tables() where table_name like 'crm_lab_keep_%'"
    expected = cl.summary.customer_summary(small_shop.orders, as_of=small_shop.as_of)
    got = cl.summary.customer_summary(shop_dir / "orders.parquet", as_of=small_shop.as_of)
    assert con.sql(tables).fetchall() == []
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    # A relation of another connection cannot be kept in crm_lab's: it stays lazy, same answer.
    other = duckdb.connect().from_df(small_shop.orders)
    pd.testing.assert_frame_equal(cl.summary.customer_summary(other, as_of=small_shop.as_of), expected, check_exact=False, rtol=1e-12)


def test_threads_read_shop_folders_at_once(shop_dir):
    """The report runner checks templates' tables in parallel threads: DuckDB refuses two calls at
    once on one connection, so each thread has its own cursor."""
    from concurrent.futures import ThreadPoolExecutor

    def count(_):
        shop = cl.data.read_shop(shop_dir, validated=False)
        return len(cl.engine.collect(cl.engine.lazy(shop.orders).select("order_id")))

    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(count, range(16)))
    assert len(set(counts)) == 1 and counts[0] > 0


class _Conf(dict):
    def get(self, key, default=None):
        return super().get(key, default)

    def set(self, key, value):
        self[key] = value


def test_a_spark_session_at_its_defaults_gets_partitions_for_its_cores_and_a_tuned_one_is_left_alone():
    from types import SimpleNamespace

    fresh = SimpleNamespace(conf=_Conf({"spark.sql.shuffle.partitions": "200", "spark.sql.adaptive.enabled": "false"}),
                            sparkContext=SimpleNamespace(defaultParallelism=2))
    assert cl.engine.tune_spark(fresh) == {"spark.sql.shuffle.partitions": "4", "spark.sql.adaptive.enabled": "true"}
    tuned = SimpleNamespace(conf=_Conf({"spark.sql.shuffle.partitions": "64"}), sparkContext=SimpleNamespace(defaultParallelism=2))
    assert cl.engine.tune_spark(tuned) == {} and tuned.conf["spark.sql.shuffle.partitions"] == "64"


@pytest.mark.spark
def test_meeting_the_test_session_keeps_its_own_settings(spark, small_shop):
    cl.engine.lazy(spark.createDataFrame(small_shop.orders.head(10)))
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"  # set by the fixture, not by crm_lab
