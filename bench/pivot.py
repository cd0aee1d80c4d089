"""Benchmark: a custom pivot (genre x month: net amount and distinct buyers, with margins) on 10M order lines.

Contenders, each in a fresh process, taking turns:

* ``crm_lab``: ``cl.summary.pivot(path, ...)``, DuckDB over the Parquet file (four grouped queries:
  cells, row margins, column margins, total; only the small result comes back);
* ``pandas pivot_table``: what a user writes instead: read the Parquet file, filter, ``pivot_table``
  with ``aggfunc={"net": "sum", "customer_id": "nunique"}, margins=True``.

Usage::

    python bench/pivot.py [--turns 3] [--lines bench/data/orders_10000000.parquet]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

OURS = """
import time, crm_lab as cl
t = time.perf_counter()
out = cl.summary.pivot({path!r}, rows=["genre"], columns=["month"], values=["net_amount", "buyers"], as_of="2025-11-30", since="2024-11-30")
print(time.perf_counter() - t, out.shape)
"""

PANDAS = """
import time, pandas as pd
t = time.perf_counter()
o = pd.read_parquet({path!r}, columns=["customer_id", "paid_at", "paid_amount", "refund_amount", "traffic_genre"])
o = o[(o["paid_at"] >= "2024-12-01") & (o["paid_at"] < "2025-12-01")]
o["net"] = o["paid_amount"] - o["refund_amount"].fillna(0)
o["month"] = o["paid_at"].dt.to_period("M")
out = o.pivot_table(index="traffic_genre", columns="month", values=["net", "customer_id"], aggfunc={{"net": "sum", "customer_id": "nunique"}}, margins=True)
print(time.perf_counter() - t, out.shape)
"""


def _run(code: str) -> tuple[float, float]:
    wrapped = code + "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    # The last two lines: DuckDB's progress bar writes to stdout before them.
    out = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, check=True).stdout.strip().split("\n")[-2:]
    return float(out[0].split()[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--lines", default=str(HERE / "data" / "orders_10000000.parquet"))
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"crm_lab pivot (DuckDB)": [], "pandas pivot_table": []}
    for _ in range(args.turns):
        results["crm_lab pivot (DuckDB)"].append(_run(OURS.format(path=args.lines)))
        results["pandas pivot_table"].append(_run(PANDAS.format(path=args.lines)))
    print(f"# {platform.platform()} · Python {platform.python_version()} · {args.lines}")
    print("| contender | median s (runs) | peak RSS MB |\n|---|---:|---:|")
    for name, runs in results.items():
        secs = [r[0] for r in runs]
        print(f"| {name} | {statistics.median(secs):.2f} ({', '.join(f'{s:.2f}' for s in secs)}) | {max(r[1] for r in runs):,.0f} |")


if __name__ == "__main__":
    main()
