"""Shared fixtures: a small sample shop and, for tests marked `spark`, one local Spark session."""

from __future__ import annotations

import os
import sys

import pytest

import crm_lab as cl


@pytest.fixture(scope="session")
def small_shop():
    return cl.datasets.make_shop(n_customers=1_500, seed=11)


@pytest.fixture(scope="session")
def shop_dir(tmp_path_factory, small_shop):
    folder = tmp_path_factory.mktemp("shop")
    cl.data.write_shop(small_shop, folder)
    return folder


@pytest.fixture(scope="session")
def spark():
    pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("crm_lab-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        # A zone other than UTC proves that collected timestamps come back as local wall time.
        .config("spark.sql.session.timeZone", "Asia/Shanghai")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    assert pyspark
    yield session
    session.stop()
