"""Benchmark: how each step grows with the shop (run by hand, not a test).

For each size, in fresh processes (wall seconds, peak RSS of the process): simulate and write the
shop folder (``crm-lab simulate``, block by block in two worker processes: the peak is of all
processes together), then on that folder the customer summary, RFM scores, the CLV fit and predictions, a
three-rule audience, related products for the top product, and the overview report through
``crm-lab run`` (whole process).

Usage::

    python bench/scaling.py --customers 20000 200000 1000000
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import simulate  # noqa: E402  (bench/simulate.py: the streaming simulator's measurement)

STEPS = {
    "customer summary": """
import crm_lab as cl
import crm_lab.audience, crm_lab.assoc, crm_lab.summary, crm_lab.clv, crm_lab.rfm  # imported before the clocks start
shop = cl.data.read_shop({folder!r})
t = time.perf_counter(); s = cl.summary.customer_summary(shop); print("inner", time.perf_counter() - t)
""",
    "RFM scores": """
import crm_lab as cl
import crm_lab.audience, crm_lab.assoc, crm_lab.summary, crm_lab.clv, crm_lab.rfm  # imported before the clocks start
s = cl.summary.customer_summary(cl.data.read_shop({folder!r}))
t = time.perf_counter(); cl.rfm.score(s); print("inner", time.perf_counter() - t)
""",
    "CLV fit + predict": """
import crm_lab as cl
import crm_lab.audience, crm_lab.assoc, crm_lab.summary, crm_lab.clv, crm_lab.rfm  # imported before the clocks start
s = cl.summary.customer_summary(cl.data.read_shop({folder!r}))
t = time.perf_counter(); cl.clv.fit(s).predict(horizon="90D"); print("inner", time.perf_counter() - t)
""",
    "audience (3 rules)": """
import crm_lab as cl
import crm_lab.audience, crm_lab.assoc, crm_lab.summary, crm_lab.clv, crm_lab.rfm  # imported before the clocks start
shop = cl.data.read_shop({folder!r})
t = time.perf_counter()
cl.audience.Audience(shop).bought(within="180D").not_bought(product="N01").min_net_amount(200).size()
print("inner", time.perf_counter() - t)
""",
    "related products": """
import crm_lab as cl
import crm_lab.audience, crm_lab.assoc, crm_lab.summary, crm_lab.clv, crm_lab.rfm  # imported before the clocks start
shop = cl.data.read_shop({folder!r})
t = time.perf_counter(); cl.assoc.related_products(shop, product="N01", top=10); print("inner", time.perf_counter() - t)
""",
}


def _measure(code: str) -> tuple[float, float, float | None]:
    wrapped = ("import time, resource\nstarted = time.perf_counter()\n" + code
               + "\nprint('wall', time.perf_counter() - started)\nprint('rss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")
    out = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    found = {line.split()[0]: float(line.split()[1]) for line in out.stdout.splitlines() if line.split()[:1] in (["wall"], ["rss"], ["inner"])}
    return found["wall"], found["rss"], found.get("inner")


def _report(folder: str, out: str) -> tuple[float, float]:
    code = ("import subprocess, sys, time, resource\nt = time.perf_counter()\n"
            f"subprocess.run([{str(Path(sys.executable).parent / 'crm-lab')!r}, 'run', 'params/demo_overview.yaml', '--data', {folder!r}, '--out', {out!r}],"
            " check=True, capture_output=True)\n"
            "print('wall', time.perf_counter() - t)\nprint('rss', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    return float(found[1]), float(found[3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    args = parser.parse_args()
    print(f"# {platform.platform()} · Python {platform.python_version()}")
    print("| customers | step | process wall s (the call alone) | peak RSS MB |\n|---:|---|---:|---:|")
    for n in args.customers:
        with tempfile.TemporaryDirectory() as tmp:
            folder = str(Path(tmp) / "shop")
            made = simulate.stream(n, workers=2, folder=folder)
            print(f"| {n:,} | simulate + validate + write (`crm-lab simulate`, 2 workers) | {made['wall']:.1f} | {made['peak']:,.0f} (all processes) |",
                  flush=True)
            for step, code in STEPS.items():
                wall, rss, inner = _measure(code.format(n=n, folder=folder))
                print(f"| {n:,} | {step} | {wall:.1f}" + (f" ({inner:.2f})" if inner is not None else "") + f" | {rss:,.0f} |", flush=True)
            wall, rss = _report(folder, str(Path(tmp) / "reports"))
            print(f"| {n:,} | overview report (`crm-lab run`, whole process) | {wall:.1f} | {rss:,.0f} (largest child) |", flush=True)


if __name__ == "__main__":
    main()
