"""Benchmark: all item pairs at catalogue scale (run by hand, not a test).

Simulates baskets over a Zipf-popular catalogue (~3 distinct items per basket) and measures, each
in a fresh process (wall time, peak RSS):

* crm_lab ``pair_table(Baskets, min_count=1)``: every co-occurring pair with support,
  confidence both ways, lift, shrunk lift and binomial p-value, sorted (two threads);
* a plain scipy.sparse reference written here: ``X.T @ X`` and its upper triangle (counts only);
* mlxtend apriori (max_len 2) + association_rules on a dense one-hot table, at the sizes where it runs.

Usage::

    python bench/assoc.py                                  # 1M baskets x 50k SKUs
    python bench/assoc.py --baskets 100000 --mlxtend-baskets 20000 --mlxtend-items 500
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

import numpy as np

SETUP = """
import time, resource, json, numpy as np
from scipy import sparse
d = np.load({path!r})
b, i, n_b, n_i = d["b"], d["i"], int(d["n_b"]), int(d["n_i"])
"""

CHILD = {
    "crm_lab": """
import pandas as pd
from crm_lab import assoc
t0, c0 = time.perf_counter(), time.process_time()
x = sparse.csr_matrix((np.ones(b.size, dtype=np.float32), (b, i)), shape=(n_b, n_i))
baskets = assoc.Baskets(x, pd.Index(np.arange(n_i).astype(str)))
table = assoc.pair_table(baskets, min_count=1)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
pairs = len(table)
""",
    "scipy_reference": """
t0, c0 = time.perf_counter(), time.process_time()
x = sparse.csr_matrix((np.ones(b.size, dtype=np.float32), (b, i)), shape=(n_b, n_i))
co = sparse.triu(x.T @ x, k=1).tocoo()
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
pairs = int(co.nnz)
""",
    "mlxtend": """
import pandas as pd, warnings
warnings.simplefilter("ignore")
from mlxtend.frequent_patterns import apriori, association_rules
t0, c0 = time.perf_counter(), time.process_time()
onehot = pd.DataFrame(sparse.csr_matrix((np.ones(b.size, dtype=bool), (b, i)), shape=(n_b, n_i)).toarray(), columns=np.arange(n_i).astype(str))
items = apriori(onehot, min_support=1 / n_b - 1e-12, max_len=2, use_colnames=True)
rules = association_rules(items, metric="confidence", min_threshold=0.0)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
pairs = len(rules) // 2
""",
}


def simulate(n_baskets: int, n_items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = 1 + rng.poisson(2.2, n_baskets)
    weights = 1 / np.arange(1, n_items + 1) ** 1.05
    items = rng.choice(n_items, sizes.sum(), p=weights / weights.sum())
    baskets = np.repeat(np.arange(n_baskets), sizes)
    pairs = np.unique(baskets.astype(np.int64) * n_items + items)  # distinct items per basket
    return (pairs // n_items).astype(np.int64), (pairs % n_items).astype(np.int64)


def run(kind: str, path: Path, timeout: int) -> dict:
    code = SETUP.format(path=str(path)) + CHILD[kind] + (
        "\nprint(json.dumps(dict(seconds=seconds, cpu=cpu, pairs=pairs, peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout}s"}
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1][:120] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baskets", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--mlxtend-baskets", type=int, nargs="*", default=[20_000, 100_000])
    parser.add_argument("--mlxtend-items", type=int, nargs="*", default=[50_000, 500],
                        help="catalogue sizes for the mlxtend comparison (it only runs on small ones)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=int, default=600)
    args = parser.parse_args()
    print(f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n")
    print("| run | baskets | SKUs | basket-item entries | seconds (best) | median | CPU s (best run) | runs | pairs | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        sizes = [(args.baskets, args.items, ("crm_lab", "scipy_reference"))]
        sizes += [(n, k, ("crm_lab", "mlxtend")) for k in args.mlxtend_items for n in args.mlxtend_baskets]
        for n_baskets, n_items, kinds in sizes:
            b, i = simulate(n_baskets, n_items)
            path = Path(tmp) / f"b{n_baskets}_{n_items}.npz"
            np.savez(path, b=b, i=i, n_b=n_baskets, n_i=n_items)
            # Contenders take turns (a, b, a, b ...) so that the machine's drift hits them alike.
            repeat = {kind: 1 if kind == "mlxtend" else args.repeat for kind in kinds}
            results: dict[str, list[dict]] = {kind: [] for kind in kinds}
            for round_ in range(max(repeat.values())):
                for kind in kinds:
                    if round_ < repeat[kind]:
                        results[kind].append(run(kind, path, args.timeout))
            medians = {}
            for kind in kinds:
                runs = results[kind]
                ok = [r for r in runs if "error" not in r]
                if not ok:
                    print(f"| {kind} | {n_baskets:,} | {n_items:,} | {b.size:,} | failed: {runs[0]['error']} | | | | | |")
                    continue
                best = min(ok, key=lambda r: r["seconds"])
                medians[kind] = float(np.median([r["seconds"] for r in ok]))
                print(f"| {kind} | {n_baskets:,} | {n_items:,} | {b.size:,} | {best['seconds']:.2f} | {medians[kind]:.2f} | {best['cpu']:.2f} | "
                      f"{[round(r['seconds'], 2) for r in ok]} | {best['pairs']:,} | {max(r['peak'] for r in ok):.0f} |")
            if {"crm_lab", "scipy_reference"} <= set(medians):
                print(f"\nratio of medians crm_lab / reference: {medians['crm_lab'] / medians['scipy_reference']:.2f}")


if __name__ == "__main__":
    main()
