"""Benchmark: a three-rule audience over order lines in Parquet (run by hand, not a test).

Rules: bought one of two products within 90 days, never bought a third, net amount >= 200. Each
contender runs in a fresh process, twice (the first call warms DuckDB's Parquet metadata), and the
best of three processes is kept; both must return the same customers.

Usage::

    python bench/audience.py                       # bench/data/orders_10000000.parquet (bench/summary.py writes it)
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
AS_OF = "2025-11-30"
PRODUCTS, EXCLUDED = ("P1", "P2"), "P3"

OURS = """
import crm_lab as cl
from crm_lab.audience import Audience
shop = cl.data.Shop(orders=cl.engine.open_file({path!r}), as_of={as_of!r})
def run():
    return (Audience(shop).bought(product={products!r}, within="90D").not_bought(product={excluded!r})
            .min_net_amount(200).customer_ids())
"""
HAND = """
import duckdb
con = duckdb.connect(); con.execute("SET preserve_insertion_order = false")
SQL = '''
WITH o AS (SELECT customer_id, product_id, paid_at, paid_amount - coalesce(refund_amount, 0) AS net
           FROM read_parquet({path!r}) WHERE paid_at < DATE {as_of!r} + INTERVAL 1 DAY)
SELECT customer_id FROM (SELECT DISTINCT customer_id FROM o
                         WHERE product_id IN {products!r} AND paid_at >= DATE {as_of!r} + INTERVAL 1 DAY - INTERVAL 90 DAY) a
WHERE customer_id NOT IN (SELECT customer_id FROM o WHERE product_id = {excluded!r})
  AND customer_id IN (SELECT customer_id FROM o GROUP BY customer_id HAVING sum(net) >= 200)
ORDER BY customer_id
'''
def run():
    return con.sql(SQL).df()["customer_id"]
"""


def measure(body: str) -> dict:
    code = "import time, json, resource\n" + body + (
        "\nt = time.perf_counter(); ids = run(); first = time.perf_counter() - t"
        "\nt = time.perf_counter(); ids = run(); second = time.perf_counter() - t"
        "\nprint(json.dumps(dict(first=first, seconds=second, n=len(ids), head=list(map(str, ids[:3])),"
        " peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "data" / "orders_10000000.parquet")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} is missing: run python bench/summary.py first (it generates it)")
    fmt = dict(path=str(args.data), as_of=AS_OF, products=PRODUCTS, excluded=EXCLUDED)
    results = {}
    for name, body in (("crm_lab Audience (3 rules)", OURS), ("hand-written DuckDB SQL", HAND)):
        runs = [measure(body.format(**fmt)) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["seconds"])
        best["runs"] = [round(r["seconds"], 2) for r in runs]
        results[name] = best
    a, b = results.values()
    assert a["n"] == b["n"] and a["head"] == b["head"], (a, b)
    print(f"\nMachine: {platform.platform()}, Python {platform.python_version()}; {time.strftime('%Y-%m-%d')}; {args.data.name}\n")
    print("| run | seconds (best, warm) | first call | runs | customers | peak RSS (MB) |")
    print("|---|---:|---:|---|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds']:.2f} | {r['first']:.2f} | {r['runs']} | {r['n']:,} | {r['peak']:.0f} |")
    print(f"\ncrm_lab / hand-written SQL = {a['seconds'] / b['seconds']:.2f}x")


if __name__ == "__main__":
    main()
