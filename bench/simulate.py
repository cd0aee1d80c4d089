"""Benchmark: the sample-shop simulator (run by hand, not a test).

Times ``make_shop`` for growing numbers of customers in a fresh process each (wall time of the
call and peak RSS of the process), and the write of the tables as Parquet.

Usage::

    python bench/simulate.py                      # 20k, 200k and 1M customers
    python bench/simulate.py --customers 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

CHILD = """
import json, resource, time, tempfile
import crm_lab as cl
t = time.perf_counter(); shop = cl.datasets.make_shop({n}, seed=7); made = time.perf_counter() - t
with tempfile.TemporaryDirectory() as d:
    t = time.perf_counter(); cl.data.write_shop(shop, d); written = time.perf_counter() - t
print(json.dumps(dict(made=made, written=written, lines=len(shop.orders), events=len(shop.events),
                      peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    args = parser.parse_args()
    print(f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n")
    print("| customers | make_shop (s) | write Parquet (s) | order lines | events | peak RSS (MB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.customers:
        done = subprocess.run([sys.executable, "-c", CHILD.format(n=n)], capture_output=True, text=True,
                              cwd=tempfile.gettempdir())
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {n:,} | {r['made']:.1f} | {r['written']:.1f} | {r['lines']:,} | {r['events']:,} | {r['peak']:.0f} |")


if __name__ == "__main__":
    main()
