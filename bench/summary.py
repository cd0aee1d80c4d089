"""Benchmark: customer_summary over order lines in Parquet (run by hand, not a test).

Compares, each in a fresh process (wall time of the call, peak RSS of the process):

* crm_lab ``customer_summary(path)`` (narwhals over a lazy DuckDB relation);
* one hand-written DuckDB SQL query producing the same complete summary;
* lifetimes' ``summary_data_from_transaction_data`` (pandas; on a smaller slice, as its time
  grows linearly) beside crm_lab on the same pandas frame and on the same Parquet slice;
* crm_lab on a much larger file with DuckDB limited to 1 GB, so that it must spill.

Usage::

    python bench/summary.py                       # 10M lines, 1M-line lifetimes slice, 100M spill
    python bench/summary.py --lines 1000000 --spill-lines 0

Results go to stdout as a Markdown table; copy them into bench/RESULTS.md with the machine and date.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
AS_OF = "2025-11-30"


def generate(path: Path, lines: int, customers: int) -> None:
    """Order lines with ~3 lines per order; an order's lines share customer and payment time."""
    import duckdb

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        f"""
        COPY (
          SELECT
            (6900000000000000000 + o)::VARCHAR AS order_id,
            (6800000000000000000 + i)::VARCHAR AS line_id,
            'C' || lpad((hash(o * 7919) % {customers})::VARCHAR, 8, '0') AS customer_id,
            TIMESTAMP '2024-01-01' + to_seconds((hash(o * 104729) % (700 * 86400))::BIGINT) AS paid_at,
            'P' || (hash(i * 31) % 5000)::VARCHAR AS product_id,
            'P' || (hash(i * 31) % 5000)::VARCHAR || '-01' AS sku_id,
            (1 + hash(i * 17) % 2)::BIGINT AS quantity,
            ((hash(i * 13) % 50000) / 100.0)::DOUBLE AS paid_amount,
            CASE WHEN hash(i * 101) % 20 = 0 THEN ((hash(i * 13) % 50000) / 100.0) ELSE 0.0 END::DOUBLE AS refund_amount,
            'live' AS traffic_genre,
            'douyin' AS channel
          FROM (SELECT i, i // 3 AS o FROM range({lines}) t(i))
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
        """
    )
    print(f"generated {lines:,} lines in {time.time() - started:.0f}s -> {path} ({path.stat().st_size / 2**20:.0f} MiB)", file=sys.stderr)


HAND_SQL = """
WITH lines AS (
  SELECT customer_id, order_id, paid_at, paid_amount AS gross, coalesce(refund_amount, 0) AS refund, quantity
  FROM read_parquet('{path}') WHERE paid_at < DATE '{as_of}' + INTERVAL 1 DAY),
per_order AS (
  SELECT customer_id, order_id, min(paid_at) AS paid_at, min(date_trunc('day', paid_at)) AS day,
         sum(gross) AS gross, sum(refund) AS refund, sum(quantity) AS items
  FROM lines GROUP BY customer_id, order_id),
per_day AS (SELECT customer_id, day, sum(gross - refund) AS day_net FROM per_order GROUP BY customer_id, day),
days AS (SELECT customer_id, count(*) AS purchase_days, min(day) AS first_day, max(day) AS last_day
         FROM per_day GROUP BY customer_id),
first_net AS (SELECT p.customer_id, p.day_net AS first_day_net FROM per_day p
              JOIN days d ON p.customer_id = d.customer_id AND p.day = d.first_day),
cust AS (SELECT customer_id, min(paid_at) AS first_order_at, max(paid_at) AS last_order_at, count(*) AS orders,
                sum(items) AS items, sum(gross) AS gross_amount, sum(refund) AS refund_amount,
                sum(CASE WHEN refund > 0 THEN 1 ELSE 0 END) AS refund_orders
         FROM per_order GROUP BY customer_id)
SELECT c.customer_id, c.first_order_at, c.last_order_at, c.orders, d.purchase_days, c.items,
       c.items / c.orders AS items_per_order, c.gross_amount, c.refund_amount, c.refund_orders,
       c.gross_amount - c.refund_amount AS net_amount, (c.gross_amount - c.refund_amount) / c.orders AS aov,
       date_diff('day', d.last_day, DATE '{as_of}') AS recency_days,
       d.purchase_days - 1 AS frequency, date_diff('day', d.first_day, d.last_day) AS recency,
       date_diff('day', d.first_day, DATE '{as_of}') AS T,
       CASE WHEN d.purchase_days > 1 THEN (c.gross_amount - c.refund_amount - f.first_day_net) / (d.purchase_days - 1)
            ELSE 0 END AS monetary_value
FROM cust c JOIN days d USING (customer_id) JOIN first_net f USING (customer_id)
ORDER BY c.customer_id
"""

CHILD = {
    "crm_lab": """
        import crm_lab as cl
        {setup}
        t = time.perf_counter(); s = cl.summary.customer_summary({source!r}, as_of={as_of!r}); first = time.perf_counter() - t
        t = time.perf_counter(); s = cl.summary.customer_summary({source!r}, as_of={as_of!r}); elapsed = time.perf_counter() - t
        result = dict(first=first, rows=len(s), net=float(s["net_amount"].sum()), freq=float(s["frequency"].sum()), mv=float(s["monetary_value"].sum()))
    """,
    "duckdb_sql": """
        import duckdb
        con = duckdb.connect(); con.execute("SET preserve_insertion_order = false")
        {setup}
        t = time.perf_counter(); s = con.sql({sql!r}).df(); first = time.perf_counter() - t
        t = time.perf_counter(); s = con.sql({sql!r}).df(); elapsed = time.perf_counter() - t
        result = dict(first=first, rows=len(s), net=float(s["net_amount"].sum()), freq=float(s["frequency"].sum()), mv=float(s["monetary_value"].sum()))
    """,
    "lifetimes": """
        import warnings, pandas as pd
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lifetimes.utils import summary_data_from_transaction_data
            df = pd.read_parquet({source!r}, columns=["customer_id", "paid_at", "paid_amount", "refund_amount"])
            df["net"] = df["paid_amount"] - df["refund_amount"]
            t = time.perf_counter()
            s = summary_data_from_transaction_data(df, "customer_id", "paid_at", monetary_value_col="net", observation_period_end={as_of!r})
            elapsed = first = time.perf_counter() - t
        result = dict(first=first, rows=len(s), freq=float(s["frequency"].sum()))
    """,
    "crm_lab_pandas": """
        import pandas as pd, crm_lab as cl
        df = pd.read_parquet({source!r})
        t = time.perf_counter(); s = cl.summary.customer_summary(df, as_of={as_of!r}); elapsed = first = time.perf_counter() - t
        result = dict(first=first, rows=len(s), freq=float(s["frequency"].sum()))
    """,
}


def run_child(kind: str, **fmt: str) -> dict:
    body = textwrap.dedent(CHILD[kind]).format(**fmt)
    code = "import time, resource, json\n" + body + (
        "\nresult.update(seconds=elapsed, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
        "\nprint(json.dumps(result))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def best_of(kind: str, repeat: int, **fmt: str) -> dict:
    runs = [run_child(kind, **fmt) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    best["runs"] = [round(r["seconds"], 2) for r in runs]
    return best


def alternate(path: Path, repeat: int) -> None:
    """crm_lab and the hand-written query in one process, taking turns (evens out machine noise)."""
    import duckdb

    import crm_lab as cl

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    sql = HAND_SQL.format(path=path, as_of=AS_OF)
    times: dict[str, list[float]] = {"crm_lab": [], "hand-written SQL": []}
    for _ in range(repeat):
        t = time.perf_counter()
        cl.summary.customer_summary(path, as_of=AS_OF)
        times["crm_lab"].append(time.perf_counter() - t)
        t = time.perf_counter()
        con.sql(sql).df()
        times["hand-written SQL"].append(time.perf_counter() - t)
    for name, runs in times.items():
        print(f"| {name}, one process, taking turns | {min(runs):.2f} | {[round(r, 2) for r in runs]} |")
    print(f"crm_lab / hand-written SQL = {min(times['crm_lab']) / min(times['hand-written SQL']):.2f}x (best of {repeat}, no memory limit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lifetimes-lines", type=int, default=1_000_000)
    parser.add_argument("--spill-lines", type=int, default=100_000_000)
    parser.add_argument("--spill-memory", default="1GB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-limit", default="500MB", help="DuckDB memory_limit for both main runs ('' for none)")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--alternate", type=int, default=0, help="only: N turns of both in one process")
    args = parser.parse_args()
    if args.alternate:
        main_file = args.data / f"orders_{args.lines}.parquet"
        generate(main_file, args.lines, args.customers)
        alternate(main_file, args.alternate)
        return

    main_file = args.data / f"orders_{args.lines}.parquet"
    generate(main_file, args.lines, args.customers)
    rows = []
    limit = args.memory_limit
    ours = best_of("crm_lab", args.repeat, source=str(main_file), as_of=AS_OF,
                   setup=f"cl.engine.configure(memory_limit={limit!r})" if limit else "")
    ref = best_of("duckdb_sql", args.repeat, sql=HAND_SQL.format(path=main_file, as_of=AS_OF),
                  setup=f"con.execute(\"SET memory_limit = '{limit}'\")" if limit else "")
    assert ours["rows"] == ref["rows"] and abs(ours["net"] - ref["net"]) < 1e-6 * abs(ref["net"]) and ours["freq"] == ref["freq"]
    assert abs(ours["mv"] - ref["mv"]) < 1e-6 * abs(ref["mv"])
    note = f", DuckDB memory_limit {limit}" if limit else ""
    rows.append((f"crm_lab customer_summary(parquet), {args.lines:,} lines{note}", ours))
    rows.append((f"hand-written DuckDB SQL, {args.lines:,} lines{note}", ref))

    small = args.data / f"orders_{args.lifetimes_lines}.parquet"
    generate(small, args.lifetimes_lines, max(args.lifetimes_lines // 10, 1000))
    lt = best_of("lifetimes", 1, source=str(small), as_of=AS_OF)
    small_ours = best_of("crm_lab", args.repeat, source=str(small), as_of=AS_OF, setup="")
    small_pd = best_of("crm_lab_pandas", args.repeat, source=str(small), as_of=AS_OF)
    assert lt["rows"] == small_ours["rows"] == small_pd["rows"] and lt["freq"] == small_ours["freq"] == small_pd["freq"]
    rows.append((f"lifetimes summary_data_from_transaction_data (pandas), {args.lifetimes_lines:,} lines", lt))
    rows.append((f"crm_lab customer_summary(parquet), {args.lifetimes_lines:,} lines", small_ours))
    rows.append((f"crm_lab customer_summary(pandas frame), {args.lifetimes_lines:,} lines", small_pd))

    if args.spill_lines:
        big = args.data / f"orders_{args.spill_lines}.parquet"
        generate(big, args.spill_lines, args.customers * 5)
        spill = run_child("crm_lab", source=str(big), as_of=AS_OF,
                          setup=f"cl.engine.configure(memory_limit={args.spill_memory!r})")
        spill["runs"] = [round(spill["first"], 2), round(spill["seconds"], 2)]
        rows.append((f"crm_lab customer_summary(parquet), {args.spill_lines:,} lines, DuckDB memory_limit {args.spill_memory}", spill))

    print(f"\nMachine: {platform.platform()}, Python {platform.python_version()}, {__import__('os').cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n")
    print("| run | seconds, steady (best) | first call in a fresh process | runs | customers | peak RSS (MB) |")
    print("|---|---:|---:|---|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['seconds']:.2f} | {r['first']:.2f} | {r['runs']} | {r['rows']:,} | {r['peak_rss_mb']:.0f} |")
    print(f"\ncrm_lab / hand-written SQL = {ours['seconds'] / ref['seconds']:.2f}x; "
          f"lifetimes / crm_lab (parquet) = {lt['seconds'] / small_ours['seconds']:.1f}x, "
          f"lifetimes / crm_lab (pandas) = {lt['seconds'] / small_pd['seconds']:.1f}x on {args.lifetimes_lines:,} lines")


if __name__ == "__main__":
    main()
