"""Benchmark: the demo's reports and one report, whole processes, against an earlier checkout (run by hand).

Contenders, taking turns, each a fresh ``crm-lab`` process on the 20k demo shop already simulated
(``data/demo``; the simulation is not timed):

* ``crm-lab demo --parallel 2``: every demo page (16 pages of 8 params files) and the index;
* ``crm-lab run params/demo_overview.yaml``: one report, from the process start to its exit;
* with ``--baseline DIR``: the same two commands in another checkout of crm_lab (``git worktree
  add DIR <commit>``), run with ``PYTHONPATH=DIR`` from DIR, so that its own params, templates and
  code are used with this environment's libraries.

Usage::

    git worktree add /tmp/base a69de50 && python bench/reports.py --baseline /tmp/base --turns 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CRM_LAB = Path(sys.executable).with_name("crm-lab")
COMMANDS = {"demo (16 pages)": ["demo", "--parallel", "2"], "one report (shop_overview)": ["run", "params/demo_overview.yaml"]}


def _timed(checkout: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    subprocess.run([str(CRM_LAB), *args], cwd=checkout, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, help="another checkout of crm_lab to compare with")
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    checkouts = {"this checkout": ROOT}
    if args.baseline:
        checkouts[f"baseline {args.baseline}"] = args.baseline.resolve()
    for checkout in checkouts.values():  # the demo shop and a first run (its manifests) in each
        _timed(checkout, COMMANDS["demo (16 pages)"])
    runs: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.turns):
        for command, cli_args in COMMANDS.items():
            for name, checkout in checkouts.items():
                runs.setdefault((command, name), []).append(_timed(checkout, cli_args))
    print(f"# {platform.platform()} · Python {platform.python_version()} · {os.cpu_count()} cores")
    print("| command | checkout | median s (runs) | vs baseline |\n|---|---|---:|---:|")
    for (command, name), secs in runs.items():
        base = [v for (c, n), v in runs.items() if c == command and n.startswith("baseline")]
        ratio = f"{statistics.median(secs) / statistics.median(base[0]):.2f}x" if base else ""
        print(f"| {command} | {name} | {statistics.median(secs):.1f} ({', '.join(f'{s:.1f}' for s in secs)}) | {ratio} |")


if __name__ == "__main__":
    main()
