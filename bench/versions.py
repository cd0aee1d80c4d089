"""Benchmark: the same workloads on two source trees of crm_lab, taking turns (run by hand).

For a refactoring that must not slow anything down: the customer summary (10M order lines in
Parquet), the three-rule audience (same file) and the CLV fit + 90-day prediction (1M customers)
run on this tree and on another (e.g. ``git worktree add /tmp/old <commit>``), each call in a
fresh process with that tree first on ``PYTHONPATH``, alternating old / new, medians reported.

Usage::

    git worktree add /tmp/old 4ea16a2
    python bench/versions.py --old /tmp/old --turns 5

The data come from ``bench/summary.py`` and ``bench/clv.py`` (generated on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NEW = HERE.parent
sys.path.insert(0, str(HERE))

# Each workload: setup, then run() timed on its second (warm) call; keyword arguments only, which
# both the old and the new signatures accept.
WORKLOADS = {
    "customer summary, 10M lines": """
import crm_lab as cl
def run():
    return cl.summary.customer_summary({orders!r}, as_of="2025-11-30")
""",
    "audience, 3 rules, 10M lines": """
import crm_lab as cl
from crm_lab.audience import Audience
shop = cl.data.Shop(orders=cl.engine.open_file({orders!r}), as_of="2025-11-30")
def run():
    return (Audience(shop).bought(product=["P1", "P2"], within="90D").not_bought(product="P3")
            .min_net_amount(200).customer_ids())
""",
    "CLV fit + predict, 1M customers": """
import pandas as pd
import crm_lab as cl
import crm_lab.clv
import crm_lab.summary  # as in a notebook; the newer clv imports it at module level
df = pd.read_parquet({clv!r})
def run():
    model = cl.clv.fit(df)
    try:
        return model.predict(horizon="90D")
    except TypeError:  # before `horizon` replaced `horizon_days`
        return model.predict(horizon_days=90)
""",
}


def measure(tree: Path, body: str) -> dict:
    code = "import time, json, resource\n" + body + (
        "\nrun()\nt = time.perf_counter(); out = run(); seconds = time.perf_counter() - t"
        "\nprint(json.dumps(dict(seconds=seconds, rows=len(out), peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tree)
    if done.returncode:
        raise RuntimeError(f"{tree}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the other source tree (a git worktree)")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--only", default="", help="run only the workloads whose name contains this text")
    args = parser.parse_args()
    import clv as clv_bench
    import summary as summary_bench

    orders = args.data / "orders_10000000.parquet"
    summary_bench.generate(orders, 10_000_000, 1_000_000)
    clv_data = args.data / "clv_1000000.parquet"
    if not clv_data.exists():
        clv_bench.simulate(1_000_000).to_parquet(clv_data)
    paths = {"orders": str(orders), "clv": str(clv_data)}
    print(f"| workload | {args.old.name} median s (runs) | this tree median s (runs) | new / old | rows | peak RSS MB old / new |")
    print("|---|---:|---:|---:|---:|---|")
    for name, body in WORKLOADS.items():
        if args.only not in name:
            continue
        code = body.format(**paths)
        runs: dict[str, list[dict]] = {"old": [], "new": []}
        for _ in range(args.turns):
            runs["old"].append(measure(args.old, code))
            runs["new"].append(measure(NEW, code))
        assert runs["old"][0]["rows"] == runs["new"][0]["rows"], name
        med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
        shown = {k: ", ".join(f"{r['seconds']:.2f}" for r in v) for k, v in runs.items()}
        peak = {k: max(r["peak"] for r in v) for k, v in runs.items()}
        print(f"| {name} | {med['old']:.2f} ({shown['old']}) | {med['new']:.2f} ({shown['new']}) | {med['new'] / med['old']:.2f} "
              f"| {runs['new'][0]['rows']:,} | {peak['old']:.0f} / {peak['new']:.0f} |")


if __name__ == "__main__":
    main()
