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
WITH per_order AS (
  SELECT customer_id, order_id, min(paid_at) AS paid_at, min(date_trunc('day', paid_at)) AS day,
         sum(paid_amount) AS gross, sum(coalesce(refund_amount, 0)) AS refund, sum(quantity) AS items
  FROM read_parquet('{path}') WHERE paid_at < DATE '{as_of}' + INTERVAL 1 DAY
  GROUP BY customer_id, order_id),
per_day AS (
  SELECT customer_id, day, sum(gross - refund) AS day_net, count(*) AS orders, sum(gross) AS gross,
         sum(refund) AS refund, sum(items) AS items, sum((refund > 0)::INT) AS refund_orders,
         min(paid_at) AS first_order_at, max(paid_at) AS last_order_at,
         sum(gross - refund) > 0 OR sum(refund) <= 0 AS kept
  FROM per_order GROUP BY customer_id, day),
cust AS (
  SELECT customer_id, min(first_order_at) AS first_order_at, max(last_order_at) AS last_order_at,
         sum(orders) AS orders, count(*) AS purchase_days, sum(items) AS items, sum(gross) AS gross_amount,
         sum(refund) AS refund_amount, sum(refund_orders) AS refund_orders, max(day) AS last_day,
         min(day) AS first_day, sum(kept::INT) AS kept_days,
         min(CASE WHEN kept THEN day END) AS first_kept_day, max(CASE WHEN kept THEN day END) AS last_kept_day,
         sum(CASE WHEN kept THEN day_net ELSE 0 END) AS kept_net,
         coalesce(arg_min(day_net, CASE WHEN kept THEN day END), 0) AS first_kept_net
  FROM per_day GROUP BY customer_id)
SELECT customer_id, first_order_at, last_order_at, orders, purchase_days, items, items / orders AS items_per_order,
       gross_amount, refund_amount, refund_orders, gross_amount - refund_amount AS net_amount,
       (gross_amount - refund_amount) / orders AS aov, date_diff('day', last_day, DATE '{as_of}') AS recency_days,
       greatest(kept_days - 1, 0)::DOUBLE AS frequency,
       coalesce(date_diff('day', first_kept_day, last_kept_day), 0)::DOUBLE AS recency,
       date_diff('day', coalesce(first_kept_day, first_day), DATE '{as_of}')::DOUBLE AS T,
       CASE WHEN kept_days > 1 THEN (kept_net - first_kept_net) / (kept_days - 1) ELSE 0 END AS monetary_value
FROM cust ORDER BY customer_id
"""

# The same summary as a Polars lazy scan, written as a Polars user would (kept days, the first kept
# day's net by sort_by().first(), derived columns in Polars, pandas at the end as crm_lab returns).
POLARS = """
import polars as pl
def run():
    day_net = pl.col("gross") - pl.col("refund")
    per_day = (
        pl.scan_parquet({source!r}).filter(pl.col("paid_at") < pl.lit({as_of!r}).str.to_datetime() + pl.duration(days=1))
        .with_columns(pl.col("paid_at").dt.truncate("1d").alias("day"), pl.col("refund_amount").fill_null(0))
        .group_by("customer_id", "order_id").agg(pl.col("paid_at").min(), pl.col("day").min(), pl.col("paid_amount").sum().alias("gross"),
                                                pl.col("refund_amount").sum().alias("refund"), pl.col("quantity").sum().alias("items"))
        .group_by("customer_id", "day").agg(day_net.sum().alias("day_net"), pl.len().alias("orders"), pl.col("gross").sum(), pl.col("refund").sum(),
                                            pl.col("items").sum(), (pl.col("refund") > 0).sum().alias("refund_orders"),
                                            pl.col("paid_at").min().alias("first_order_at"), pl.col("paid_at").max().alias("last_order_at"))
        .with_columns(kept=(pl.col("day_net") > 0) | (pl.col("refund") <= 0))
    )
    kept_day = pl.when(pl.col("kept")).then(pl.col("day"))
    cust = per_day.group_by("customer_id").agg(
        pl.col("first_order_at").min(), pl.col("last_order_at").max(), pl.col("orders").sum(), pl.len().alias("purchase_days"),
        pl.col("items").sum(), pl.col("gross").sum().alias("gross_amount"), pl.col("refund").sum().alias("refund_amount"),
        pl.col("refund_orders").sum(), pl.col("day").min().alias("first_day"), pl.col("day").max().alias("last_day"),
        pl.col("kept").sum().alias("kept_days"), kept_day.min().alias("first_kept_day"), kept_day.max().alias("last_kept_day"),
        pl.when(pl.col("kept")).then(pl.col("day_net")).otherwise(0.0).sum().alias("kept_net"),
        pl.col("day_net").filter(pl.col("kept")).sort_by(pl.col("day").filter(pl.col("kept"))).first().fill_null(0.0).alias("first_kept_net"),
    )
    end = pl.lit({as_of!r}).str.to_datetime()
    freq = (pl.col("kept_days").cast(pl.Int64) - 1).clip(lower_bound=0).cast(pl.Float64)
    out = cust.select(
        "customer_id", "first_order_at", "last_order_at", "orders", "purchase_days", "items", (pl.col("items") / pl.col("orders")).alias("items_per_order"),
        "gross_amount", "refund_amount", "refund_orders", (pl.col("gross_amount") - pl.col("refund_amount")).alias("net_amount"),
        ((pl.col("gross_amount") - pl.col("refund_amount")) / pl.col("orders")).alias("aov"),
        (end - pl.col("last_day")).dt.total_days().alias("recency_days"), freq.alias("frequency"),
        (pl.col("last_kept_day") - pl.col("first_kept_day")).dt.total_days().fill_null(0).cast(pl.Float64).alias("recency"),
        (end - pl.coalesce("first_kept_day", "first_day")).dt.total_days().cast(pl.Float64).alias("T"),
        pl.when(freq > 0).then((pl.col("kept_net") - pl.col("first_kept_net")) / freq).otherwise(0.0).alias("monetary_value"),
    ).sort("customer_id")
    return out.collect().to_pandas().set_index("customer_id")
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
    "polars": POLARS + """
{setup}
t = time.perf_counter(); s = run(); first = time.perf_counter() - t
t = time.perf_counter(); s = run(); elapsed = time.perf_counter() - t
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


def take_turns(path: Path, turns: int) -> None:
    """crm_lab, the hand-written DuckDB query and the Polars lazy scan, each call in a fresh
    process, taking turns (evens out machine noise); medians of the warm calls, same results."""
    import statistics

    kinds = {"crm_lab customer_summary(parquet)": ("crm_lab", {"setup": ""}),
             "hand-written DuckDB query": ("duckdb_sql", {"sql": HAND_SQL.format(path=path, as_of=AS_OF), "setup": ""}),
             "Polars lazy scan": ("polars", {"setup": ""})}
    runs: dict[str, list[dict]] = {name: [] for name in kinds}
    for _ in range(turns):
        for name, (kind, fmt) in kinds.items():
            runs[name].append(run_child(kind, source=str(path), as_of=AS_OF, **fmt))
    ref = runs["hand-written DuckDB query"][0]
    print("| contender | median s (runs) | peak RSS MB (median) | customers |\n|---|---:|---:|---:|")
    medians = {}
    for name, rs in runs.items():
        r = rs[0]
        assert r["rows"] == ref["rows"] and r["freq"] == ref["freq"], (name, r, ref)
        assert abs(r["net"] - ref["net"]) < 1e-9 * abs(ref["net"]) and abs(r["mv"] - ref["mv"]) < 1e-9 * abs(ref["mv"]), (name, r, ref)
        medians[name] = statistics.median(x["seconds"] for x in rs)
        rss = statistics.median(x["peak_rss_mb"] for x in rs)
        listed = ", ".join(f"{x['seconds']:.2f}" for x in rs)
        print(f"| {name} | {medians[name]:.2f} ({listed}) | {rss:,.0f} | {r['rows']:,} |")
    ours = medians["crm_lab customer_summary(parquet)"]
    print(f"\ncrm_lab / hand-written query = {ours / medians['hand-written DuckDB query']:.2f}x, "
          f"crm_lab / Polars = {ours / medians['Polars lazy scan']:.2f}x ({turns} turns)")


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
    parser.add_argument("--turns", type=int, default=0, help="only: N turns of crm_lab, the hand-written query and Polars")
    args = parser.parse_args()
    if args.turns:
        main_file = args.data / f"orders_{args.lines}.parquet"
        generate(main_file, args.lines, args.customers)
        take_turns(main_file, args.turns)
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
