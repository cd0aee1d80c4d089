"""Benchmark: RFM scores and the eight segments for 880k customers (run by hand, not a test).

Contenders, each in a fresh process, best of three calls, taking turns:

* ``crm_lab``: ``cl.rfm.score(summary)`` (quintile scores with ties to the better score, segments);
* ``pandas qcut``: the tutorial recipe a user writes instead: ``pd.qcut`` of ranks, then
  ``np.select`` over the eight (R, F, M) high/low combinations.

Usage::

    python bench/rfm.py --turns 3 [--old <worktree of an earlier commit>]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SETUP = """
import sys, time
sys.path.insert(0, {tree!r})
import numpy as np, pandas as pd
rng = np.random.default_rng(0); n = 880_000
s = pd.DataFrame({{"recency_days": rng.integers(0, 700, n), "orders": rng.integers(1, 30, n), "net_amount": rng.gamma(2, 300, n)}},
                 index=pd.Index([f"c{{i}}" for i in range(n)], name="customer_id"))
"""

OURS = """
import crm_lab as cl
def run():
    return cl.rfm.score(s)
"""

QCUT = """
names = ["重要价值客户", "重要发展客户", "重要保持客户", "重要挽留客户", "一般价值客户", "一般发展客户", "一般保持客户", "一般挽留客户"]
def run():
    r = pd.qcut(s["recency_days"].rank(method="first"), 5, labels=[5, 4, 3, 2, 1]).astype(int)
    f = pd.qcut(s["orders"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5]).astype(int)
    m = pd.qcut(s["net_amount"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5]).astype(int)
    hr, hf, hm = r > r.mean(), f > f.mean(), m > m.mean()
    conditions = [hr & hf & hm, hr & ~hf & hm, ~hr & hf & hm, ~hr & ~hf & hm, hr & hf & ~hm, hr & ~hf & ~hm, ~hr & hf & ~hm, ~hr & ~hf & ~hm]
    return pd.DataFrame({"r": r, "f": f, "m": m, "segment": np.select(conditions, names, default="")})
"""

TIMER = """
best = min((lambda t: (run(), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))
print(round(best, 3))
"""


def measure(tree: str, body: str) -> float:
    code = SETUP.format(tree=tree) + body + TIMER
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--old", default=None, help="a worktree of an earlier commit, measured too")
    args = parser.parse_args()
    print(f"{platform.platform()} · Python {platform.python_version()}")
    contenders = {"crm_lab": (str(HERE.parent), OURS), "pandas qcut": (str(HERE.parent), QCUT)}
    if args.old:
        contenders["crm_lab (old)"] = (args.old, OURS)
    runs: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.turns):
        for name, (tree, body) in contenders.items():
            runs[name].append(measure(tree, body))
    for name, seconds in runs.items():
        print(f"{name:14s} median {sorted(seconds)[len(seconds) // 2]:6.2f} s  runs {', '.join(f'{x:.2f}' for x in seconds)}")


if __name__ == "__main__":
    main()
