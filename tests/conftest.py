"""Shared fixtures: the sample shops (each simulated once per session) and, for tests marked `spark`, one local Spark session.

The shops are read-only for tests: a test that needs to change one copies its tables first.
"""

from __future__ import annotations

import os
import sys

import pytest

import crm_lab as cl


@pytest.fixture(scope="session")
def small_shop():
    return cl.datasets.make_shop(n_customers=1_500, seed=11)


@pytest.fixture(scope="session")
def sample_shop():
    """The 20k-customer sample shop (seed 3), simulated once for every module that needs its size."""
    return cl.datasets.make_shop(20_000, seed=3)


@pytest.fixture(scope="session")
def shop_4k():
    """A 4k-customer shop (seed 17) for the audience and conversion tests."""
    return cl.datasets.make_shop(4_000, seed=17)


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
