"""Benchmark: importing UCI Online Retail (531,282 lines) into a shop folder (run by hand, not a test).

Contenders, each in a fresh process, best of ``--turns``:

* ``crm-lab import``: ``cl.data.import_shop`` with ``mappings/online_retail.yaml`` (parse, validate
  every rule, quarantine the 133,358 CustomerID-0 lines with raw values, quality report, atomic write);
* ``pandas by hand``: what a user writes instead: read the Parquet, drop CustomerID 0, amount =
  Quantity x UnitPrice, a line id per invoice position, ids as text, write Parquet. No validation,
  no quarantine file, no report.

Both must keep the same 397,924 lines.

Usage::

    python bench/import_shop.py --turns 3
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "online_retail_clean.parquet"

OURS = """
import time, warnings, json, sys
import crm_lab as cl
warnings.simplefilter("ignore")
t = time.perf_counter()
report = cl.data.import_shop(sys.argv[2], orders=[sys.argv[1]], mapping=sys.argv[3], as_of="2011-12-10")
print(json.dumps({"seconds": time.perf_counter() - t, "lines": report.tables[0].rows}))
"""

PANDAS = """
import time, json, sys
import pandas as pd
t = time.perf_counter()
df = pd.read_parquet(sys.argv[1])
df = df[df["CustomerID"] != 0]
out = pd.DataFrame({"order_id": df["InvoiceNo"].astype(str),
                    "line_id": df["InvoiceNo"].astype(str) + "-" + (df.groupby("InvoiceNo").cumcount() + 1).astype(str),
                    "customer_id": df["CustomerID"].astype("int64").astype(str),
                    "paid_at": pd.to_datetime(df["InvoiceDate"]), "product_id": df["StockCode"],
                    "quantity": df["Quantity"], "paid_amount": df["Quantity"] * df["UnitPrice"]})
out.to_parquet(sys.argv[2] + ".parquet", index=False)
print(json.dumps({"seconds": time.perf_counter() - t, "lines": len(out)}))
"""


def run(code: str, out: str) -> dict:
    mapping = str(HERE.parent / "mappings" / "online_retail.yaml")
    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-c", code, str(DATA), out, mapping]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env={"CRM_LAB_SALT": "bench-salt-0123456789abcdef",
                                                                              "PATH": "/usr/bin:/bin"})
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = int(done.stderr.strip().splitlines()[-1]) / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.platform()} · Python {platform.python_version()}")
    rows = {"crm-lab import": OURS, "pandas by hand": PANDAS}
    results: dict[str, list[dict]] = {name: [] for name in rows}
    for _ in range(args.turns):
        for name, code in rows.items():  # the contenders take turns
            with tempfile.TemporaryDirectory() as tmp:
                results[name].append(run(code, str(Path(tmp) / "shop")))
    for name, runs in results.items():
        seconds = sorted(r["seconds"] for r in runs)
        lines = {r["lines"] for r in runs}
        each = ", ".join(f"{r['seconds']:.2f}" for r in runs)
        peak = max(r["peak_rss_mb"] for r in runs)
        print(f"{name:16s} best {seconds[0]:6.2f} s  median {seconds[len(seconds) // 2]:6.2f} s  "
              f"runs {each}  lines {lines}  peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
