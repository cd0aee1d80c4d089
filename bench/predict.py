"""Validation and timing of the per-customer predictions and the budget allocation (run by hand, not a test).

Predictions (``cl.predict.customers``) are scored on the simulator's truth, looking forward 90 days
from a past ``as_of`` of the 20k sample shop: churn risk against who really bought nothing in the
90 days (AUC, calibration per band), P(alive) against the simulator's own dropouts, the median next
order against the first order that came. The user's alternative for the same numbers is lifetimes'
``BetaGeoFitter`` on the same summary (P(alive) only: it has no churn-in-t or next-order forms).

The allocation (``cl.program.allocate``) is scored on the true incremental value of each touch
(alive now x the channel's extra-order probability for the customer's segment x its true order
value - cost) against touching the top RFM customers with the same budget.

Usage::

    python bench/predict.py [--seeds 7 3]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

import crm_lab as cl

AS_OF = ("2025-06-30", "2025-08-31")
COSTS = {"sms": 0.05, "rich_sms": 0.30}
TESTS = {"sms": "618_2025_sms", "rich_sms": "d11_2025_wave1"}


def _kept_buyers(shop, start, stop) -> set[str]:
    o = shop.orders[(shop.orders["paid_at"] >= start) & (shop.orders["paid_at"] < stop)]
    net = (o["paid_amount"] - o["refund_amount"]).groupby([o["customer_id"], o["order_id"]]).sum()
    return set(net[net > 0].index.get_level_values(0))


def predictions(shop, as_of: str) -> dict:
    day = pd.Timestamp(as_of)
    started = time.perf_counter()
    p = cl.predict.customers(shop, as_of=day)
    seconds = time.perf_counter() - started
    lapsed = ~p.index.isin(list(_kept_buyers(shop, day + pd.Timedelta(days=1), day + pd.Timedelta(days=91))))
    truth = shop.truth["customers"].set_index("customer_id").reindex(p.index)
    dead = (truth["dropped_out_at"].notna() & (truth["dropped_out_at"] <= day)).to_numpy()
    bands = pd.DataFrame({"risk": p["churn_risk"], "lapsed": lapsed}).groupby(p["churn_band"], observed=True).mean()
    near = p[p["next_order_days"] <= 90]
    first_next = shop.orders[shop.orders["paid_at"] >= day + pd.Timedelta(days=1)].groupby("customer_id")["paid_at"].min()
    by_median = float((first_next.reindex(near.index) <= near["next_order_at"]).mean())
    from lifetimes import BetaGeoFitter

    s = cl.summary.customer_summary(shop, as_of=day)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
        alive_lt = bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    lt_seconds = time.perf_counter() - started
    return {"as_of": as_of, "customers": len(p), "seconds": seconds, "lifetimes_seconds": lt_seconds,
            "auc_lapse": roc_auc_score(lapsed, p["churn_risk"]), "auc_dead": roc_auc_score(dead, 1 - p["p_alive"]),
            "auc_dead_lifetimes": roc_auc_score(dead, 1 - np.asarray(alive_lt)),
            "lapse_rate": lapsed.mean(), "mean_risk": p["churn_risk"].mean(),
            "bands": {b: (int((p["churn_band"] == b).sum()), r["risk"], r["lapsed"]) for b, r in bands.iterrows()},
            "near": len(near), "by_median": by_median}


def allocation(shop) -> dict:
    as_of = pd.Timestamp(shop.as_of)
    views = shop.events[shop.events["event"] == "live_view"]

    def live(at):
        seen = views[(views["at"] >= at - pd.Timedelta(days=30)) & (views["at"] < at)]["customer_id"].unique()
        return pd.Series("live_viewer_30d", index=seen)

    sent = shop.touches.groupby("campaign_id")["sent_at"].min()
    cand = cl.program.candidates(shop, TESTS, {c: live(sent[c]) for c in TESTS.values()}, live(as_of + pd.Timedelta(days=1)))
    truth = shop.truth["customers"].set_index("customer_id").reindex(cand["customer_id"])
    alive = (truth["dropped_out_at"].isna() | (truth["dropped_out_at"] > as_of)).to_numpy()
    camp = shop.truth["campaigns"].set_index("campaign_id")
    is_live = (cand["segment"] == "live_viewer_30d").to_numpy()
    true = {ch: alive * np.where(is_live, camp.loc[TESTS[ch], "extra_order_probability_live_viewer"],
                                 camp.loc[TESTS[ch], "extra_order_probability_other"]) * truth["expected_order_value"].to_numpy() - COSTS[ch]
            for ch in COSTS}
    r = cl.rfm.score(cl.summary.customer_summary(shop))
    top = (r["r_score"] + r["f_score"] + r["m_score"]).sort_values(ascending=False, kind="stable").index
    rows = []
    for budget in (100.0, 300.0, 1000.0):
        started = time.perf_counter()
        plan = cl.program.allocate(cand, budget=budget, costs=COSTS)
        seconds = time.perf_counter() - started
        chosen = plan.choices["channel"].to_numpy()
        earned = sum(true[ch][chosen == ch].sum() for ch in COSTS)
        rfm = {ch: true[ch][cand["customer_id"].isin(top[: int(budget // c)]).to_numpy()].sum() for ch, c in COSTS.items()}
        rows.append({"budget": budget, "seconds": seconds, "earned": earned, "expected": plan.expected_value - plan.spent,
                     "low": plan.expected_value_low - plan.spent, "high": plan.expected_value_high - plan.spent, **{f"rfm_{k}": v for k, v in rfm.items()}})
    return {"candidates": len(cand), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 3])
    args = parser.parse_args()
    print(f"# {platform.platform()} · {platform.processor() or platform.machine()} · Python {platform.python_version()}")
    for seed in args.seeds:
        shop = cl.datasets.make_shop(20_000, seed=seed)
        for as_of in AS_OF:
            r = predictions(shop, as_of)
            bands = "; ".join(f"{b} {n:,}: {risk:.3f} vs {lapsed:.3f}" for b, (n, risk, lapsed) in r["bands"].items())
            print(f"seed {seed} as_of {as_of}: {r['customers']:,} customers, {r['seconds']:.2f}s (lifetimes P(alive) {r['lifetimes_seconds']:.2f}s); "
                  f"AUC lapse {r['auc_lapse']:.3f}, AUC dead {r['auc_dead']:.3f} (lifetimes {r['auc_dead_lifetimes']:.3f}); "
                  f"lapse rate {r['lapse_rate']:.3f} vs mean risk {r['mean_risk']:.3f}; bands {bands}; "
                  f"{r['near']:,} with a median next order within 90 days, {r['by_median']:.1%} ordered by it")
        a = allocation(shop)
        for row in a["rows"]:
            print(f"seed {seed} allocation over {a['candidates']:,} candidates, budget {row['budget']:.0f}: {row['seconds']:.2f}s, "
                  f"true net {row['earned']:,.0f} (expected {row['expected']:,.0f}, {row['low']:,.0f} to {row['high']:,.0f}); "
                  f"top RFM by sms {row['rfm_sms']:,.0f}, by rich sms {row['rfm_rich_sms']:,.0f}")


if __name__ == "__main__":
    main()
