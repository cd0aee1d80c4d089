"""Benchmark: the customer summary on a local Spark session, with and without crm_lab's Spark defaults (run by hand).

Contenders, each in a fresh process, taking turns; each process makes one warm-up call and times the
next ``--calls`` (the second call: a session that has run once, as in a notebook; the median of all
timed calls: a session in steady use, its JIT warm):

* ``Spark, its defaults``: local[2], ``crm_lab.engine.configure(spark_defaults=False)`` (200 shuffle partitions);
* ``Spark, crm_lab's defaults``: the same session tuned by :func:`crm_lab.engine.tune_spark` (4 partitions, AQE);
* ``DuckDB``: ``customer_summary`` on the Parquet file, as without Spark.

The lines are the first N of ``bench/data/orders_10000000.parquet`` (written once by DuckDB).

Usage::

    python bench/spark.py [--lines 1000000 10000000] [--turns 2] [--calls 5] [--skip-untuned]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "data" / "orders_10000000.parquet"

SPARK = """
import os, sys, time
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
import crm_lab as cl
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.driver.memory", "6g").config("spark.sql.session.timeZone", "Asia/Shanghai").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
cl.engine.configure(spark_defaults={tune})
orders = spark.read.parquet({path!r})
cl.summary.customer_summary(orders, as_of="2025-11-30")
secs = []
for _ in range({calls}):
    t = time.perf_counter()
    s = cl.summary.customer_summary(orders, as_of="2025-11-30")
    secs.append(time.perf_counter() - t)
print(",".join(map(str, secs)), len(s), spark.conf.get("spark.sql.shuffle.partitions"))
"""

DUCKDB = """
import time, crm_lab as cl
cl.summary.customer_summary({path!r}, as_of="2025-11-30")
secs = []
for _ in range({calls}):
    t = time.perf_counter()
    s = cl.summary.customer_summary({path!r}, as_of="2025-11-30")
    secs.append(time.perf_counter() - t)
print(",".join(map(str, secs)), len(s), "-")
"""


def _slice(lines: int) -> Path:
    path = HERE / "data" / f"orders_{lines}.parquet"
    if not path.exists():
        import duckdb

        duckdb.sql(f"copy (select * from read_parquet('{SOURCE}') limit {lines}) to '{path}' (format parquet)")
    return path


def _run(code: str) -> tuple[list[float], int, str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip().split("\n")[-1].split()
    return [float(s) for s in out[0].split(",")], int(out[1]), out[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--calls", type=int, default=1, help="timed calls per process after the warm-up (the first and the median of all are reported)")
    parser.add_argument("--skip-untuned", action="store_true", help="leave out Spark at its own defaults (minutes at 10M lines)")
    args = parser.parse_args()
    print(f"# {platform.platform()} · Python {platform.python_version()}")
    print("| lines | contender | second call: median s (runs) | steady: median of the calls after the warm-up | customers | shuffle partitions |\n|---:|---|---:|---:|---:|---:|")
    for lines in args.lines:
        path = str(_slice(lines))
        contenders = {"Spark, its defaults": SPARK.format(tune=False, path=path, calls=args.calls),
                      "Spark, crm_lab's defaults": SPARK.format(tune=True, path=path, calls=args.calls),
                      "DuckDB": DUCKDB.format(path=path, calls=args.calls)}
        if args.skip_untuned:
            del contenders["Spark, its defaults"]
        runs: dict[str, list[tuple[list[float], int, str]]] = {name: [] for name in contenders}
        for _ in range(args.turns):
            for name, code in contenders.items():
                runs[name].append(_run(code))
        for name, got in runs.items():
            second = [g[0][0] for g in got]
            steady = statistics.median(s for g in got for s in g[0])
            print(f"| {lines:,} | {name} | {statistics.median(second):.2f} ({', '.join(f'{s:.2f}' for s in second)}) | {steady:.2f} | {got[0][1]:,} | {got[0][2]} |")


if __name__ == "__main__":
    main()
