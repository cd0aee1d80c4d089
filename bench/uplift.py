"""Benchmark: the full uplift report on Hillstrom (run by hand, not a test).

Both outcomes (visit, conversion) with spend as value, all arms against the control, per history
segment with Holm correction, 2,000-draw bootstraps: wall time in a fresh process (imports
excluded), best of 5.

Usage::

    python bench/uplift.py
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time

CHILD = """
import time, json
import crm_lab.uplift as up, crm_lab.datasets as ds
h = ds.load_hillstrom()
up.test(h.head(2000), group="segment", outcome="visit", control="No E-Mail", bootstrap=10)  # warm imports
t = time.perf_counter()
for outcome in ("visit", "conversion"):
    r = up.test(h, group="segment", outcome=outcome, value="spend", control="No E-Mail", segments="history_segment", bootstrap=2000)
    r.summary(); r.segments
print(json.dumps(dict(seconds=time.perf_counter() - t)))
"""


def main() -> None:
    runs = []
    for _ in range(5):
        done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
    print(f"Machine: {platform.platform()}, Python {platform.python_version()}; {time.strftime('%Y-%m-%d')}")
    print(f"full Hillstrom uplift report (2 outcomes x 2 arms, 7 segments, bootstrap 2,000): best {min(runs):.2f} s, runs {[round(r, 2) for r in runs]}")


if __name__ == "__main__":
    main()
