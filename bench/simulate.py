"""Benchmark: the sample-shop simulator (run by hand, not a test).

Times ``make_shop`` for growing numbers of customers in a fresh process each (wall time of the
call and peak RSS of the process), and the write of the tables as Parquet. With ``--stream``,
``crm-lab simulate`` instead (``write_sample_shop``: blocks of customers in worker processes, each
block validated and written): wall time of the whole command and the peak of the summed RSS of
the process and its workers (sampled every 0.2 s), and the folder's size on disk.

Usage::

    python bench/simulate.py                      # 20k, 200k and 1M customers
    python bench/simulate.py --customers 1000000
    python bench/simulate.py --stream --customers 1000000 10000000
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
from pathlib import Path

CHILD = """
import json, resource, time, tempfile
import crm_lab as cl
t = time.perf_counter(); shop = cl.datasets.make_shop({n}, seed=7); made = time.perf_counter() - t
with tempfile.TemporaryDirectory() as d:
    t = time.perf_counter(); cl.data.write_shop(shop, d); written = time.perf_counter() - t
print(json.dumps(dict(made=made, written=written, lines=len(shop.orders), events=len(shop.events),
                      peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def stream(n: int, workers: int, folder: str | None = None) -> dict:
    """``crm-lab simulate`` of ``n`` customers into ``folder`` (default: a temporary one, removed);
    wall s, peak of the summed RSS of the command and its workers, GB on disk."""
    import psutil
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as d:
        out = folder or f"{d}/shop"
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "crm_lab.cli", "simulate", "--customers", str(n), "--out", out,
                                 "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        parent, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            try:
                total = sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
            except psutil.Error:
                total = 0
            peak = max(peak, total)
            time.sleep(0.2)
        wall = time.perf_counter() - started
        if proc.returncode:
            raise RuntimeError(f"crm-lab simulate --customers {n} failed ({proc.returncode})")
        files = [p for p in Path(out).rglob("*") if p.is_file()]
        orders = [p for p in files if p.name == "orders.parquet" or p.parent.name == "orders"]
        lines = sum(pq.ParquetFile(p).metadata.num_rows for p in orders)
        return dict(wall=wall, peak=peak / 2**20, disk=sum(p.stat().st_size for p in files) / 2**30, lines=lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    parser.add_argument("--stream", action="store_true", help="crm-lab simulate (block by block) instead of make_shop")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n")
    if args.stream:
        print("| customers | crm-lab simulate, wall s | peak RSS, all processes (MB) | order lines | on disk (GB) |")
        print("|---:|---:|---:|---:|---:|")
        for n in args.customers:
            r = stream(n, args.workers)
            print(f"| {n:,} | {r['wall']:.1f} | {r['peak']:,.0f} | {r['lines']:,} | {r['disk']:.2f} |", flush=True)
        return
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
