"""Programme-level decisions: the global holdout and program_report against the simulator's planted
increment; budget allocation against brute force and against the RFM heuristic on true uplift."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab.splits import control_groups, in_holdout


@pytest.fixture(scope="module")
def held_shop():
    """A 20k shop whose campaigns (and reminders) all left a 20% global holdout out."""
    return cl.datasets.make_shop(20_000, seed=5, global_holdout_share=0.2)


def test_the_holdout_is_stable_keyed_and_independent_of_control_groups():
    ids = pd.Series([f"C{i:07d}" for i in range(200_000)])
    held = in_holdout(ids, 0.05, "shop-key")
    assert abs(held.mean() - 0.05) < 0.002
    assert (in_holdout(ids.iloc[::-1], 0.05, "shop-key") == held[::-1]).all()  # order and company do not matter
    assert (held != in_holdout(ids, 0.05, "other-key")).mean() > 0.05  # the key matters
    control = control_groups(ids, 0.1, seed=0) == "control"
    assert abs(control[held].mean() - 0.1) < 0.01  # a holdout customer is as likely as anyone to be a control


def test_every_audience_leaves_the_holdout_out_unless_switched_off(held_shop, tmp_path):
    aud = cl.audience.Audience(held_shop).bought(within="90D")
    everyone = cl.audience.Audience(held_shop, global_holdout=False).bought(within="90D")
    ids, all_ids = aud.customer_ids(), everyone.customer_ids()
    assert aud.size() == len(ids) and len(ids) + aud.held_out() == len(all_ids)
    assert not in_holdout(ids, 0.2, held_shop.holdout["key"]).any()
    assert "排除全局对照组" in aud.describe()["中文"].iloc[-1] and len(everyone.describe()) == 1
    path = aud.export(tmp_path / "aud.csv", control_share=0.1)
    manifest = json.loads(path.with_name(path.name + ".manifest.json").read_text(encoding="utf-8"))
    assert manifest["global_holdout"] == {"share": 0.2, "applied": True, "held_out": aud.held_out()}
    touched = held_shop.touches[held_shop.touches["group"] == "treatment"]
    assert not in_holdout(touched["customer_id"], 0.2, held_shop.holdout["key"]).any()  # the simulator respected it


def test_program_report_finds_the_planted_increment(held_shop):
    """The truth: the net amount of the campaign responses the simulator added in the period."""
    r = cl.program.program_report(held_shop, within=("2025-06-01", "2025-11-29"))
    row = r.summary().loc["programme"]
    o = held_shop.orders
    planted = o[(o["paid_at"] >= r.start) & (o["paid_at"] < r.end) & o["order_id"].isin(held_shop.truth["campaign_orders"]["order_id"])]
    truth = float((planted["paid_amount"] - planted["refund_amount"]).sum())
    assert row["incremental_value_low"] < truth < row["incremental_value_high"] and row["incremental_value_low"] > 0
    assert r.leaks == 0 and row["customers"] + row["control_customers"] == len(r.customers)
    assert abs(row["control_customers"] / len(r.customers) - 0.2) < 0.02
    assert r.test.cuped is not None  # the period before sharpens the comparison
    touches = held_shop.touches
    in_period = touches[(touches["sent_at"] >= r.start) & (touches["sent_at"] < r.end) & (touches["group"] == "treatment")]
    assert row["touch_cost"] == pytest.approx(in_period["cost"].sum())


def test_program_report_needs_a_holdout_and_warns_of_leaks(small_shop, held_shop):
    with pytest.raises(ValueError, match="global holdout"):
        cl.program.program_report(small_shop)
    import dataclasses

    leaky = dataclasses.replace(held_shop, holdout={"share": 0.2, "key": "another-key"})  # campaigns ignored this one
    with pytest.warns(UserWarning, match="holdout customer"):
        cl.program.program_report(leaky, within="90D")


def _brute_force(gain: np.ndarray, cost: np.ndarray, budget: float) -> float:
    best = 0.0
    for pick in itertools.product(range(-1, gain.shape[1]), repeat=gain.shape[0]):
        rows = [i for i, k in enumerate(pick) if k >= 0]
        spent = sum(cost[i, pick[i]] for i in rows)
        if spent <= budget + 1e-12:
            best = max(best, sum(gain[i, pick[i]] - cost[i, pick[i]] for i in rows))
    return best


def test_allocate_stays_within_budget_and_is_near_the_optimum():
    rng = np.random.default_rng(0)
    ratios = []
    for _ in range(40):
        n = 6
        cand = pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)], "value": rng.gamma(2, 60, n),
                             "uplift_sms": rng.uniform(0, 0.05, n), "uplift_rich_sms": rng.uniform(0, 0.12, n)})
        costs = {"sms": 0.5, "rich_sms": 2.0}
        budget = float(rng.uniform(1, 8))
        plan = cl.program.allocate(cand, budget=budget, costs=costs)
        assert plan.spent <= budget + 1e-9
        gain = np.column_stack([cand["uplift_sms"] * cand["value"], cand["uplift_rich_sms"] * cand["value"]])
        cost = np.tile([0.5, 2.0], (n, 1))
        optimum = _brute_force(gain, cost, budget)
        ratios.append(plan.choices["expected_net"].sum() / optimum if optimum > 0 else 1.0)
    assert min(ratios) > 0.8 and np.mean(ratios) > 0.97


def test_allocate_without_a_binding_budget_makes_every_touch_that_pays():
    cand = pd.DataFrame({"customer_id": ["A", "B", "C"], "value": [100.0, 1.0, 300.0], "uplift_sms": [0.02, 0.02, 0.02],
                         "uplift_rich_sms": [0.03, 0.03, 0.06]})
    plan = cl.program.allocate(cand, budget=1_000, costs={"sms": 0.05, "rich_sms": 0.3})
    channel = plan.choices.set_index("customer_id")["channel"]
    assert channel["A"] == channel["C"] == "rich_sms" and pd.isna(channel["B"])  # 2 cents of value never pay 5 of cost
    with pytest.raises(ValueError, match="uplift_push"):
        cl.program.allocate(cand, budget=1, costs={"push": 0.01})


def test_allocation_beats_touching_the_top_rfm_customers_on_true_incremental_value(sample_shop):
    """Segment uplifts from the shop's two past tests (SMS at 618, rich SMS at 双11), the live-viewer
    segment of 30 days and the CLV order value; scored on the simulator's truth: alive now x the
    channel's extra-order probability for the segment x the customer's true order value − cost."""
    shop, as_of = sample_shop, pd.Timestamp(sample_shop.as_of)
    views = shop.events[shop.events["event"] == "live_view"]

    def live(at):
        seen = views[(views["at"] >= at - pd.Timedelta(days=30)) & (views["at"] < at)]["customer_id"].unique()
        return pd.Series("live_viewer_30d", index=seen)

    tests = {"sms": "618_2025_sms", "rich_sms": "d11_2025_wave1"}
    sent = shop.touches.groupby("campaign_id")["sent_at"].min()
    cand = cl.program.candidates(shop, tests, {c: live(sent[c]) for c in tests.values()}, live(as_of + pd.Timedelta(days=1)))
    costs, budget = {"sms": 0.05, "rich_sms": 0.30}, 300.0
    truth = shop.truth["customers"].set_index("customer_id").reindex(cand["customer_id"])
    alive = (truth["dropped_out_at"].isna() | (truth["dropped_out_at"] > as_of)).to_numpy()
    campaigns = shop.truth["campaigns"].set_index("campaign_id")
    is_live = (cand["segment"] == "live_viewer_30d").to_numpy()
    true_net = {ch: alive * np.where(is_live, campaigns.loc[tests[ch], "extra_order_probability_live_viewer"],
                                     campaigns.loc[tests[ch], "extra_order_probability_other"])
                * truth["expected_order_value"].to_numpy() - costs[ch] for ch in costs}

    def earned(channels: np.ndarray) -> float:
        return float(sum(true_net[ch][channels == ch].sum() for ch in costs))

    plan = cl.program.allocate(cand, budget=budget, costs=costs)
    assert plan.spent <= budget
    allocated = earned(plan.choices["channel"].to_numpy())
    r = cl.rfm.score(cl.summary.customer_summary(shop))
    top = (r["r_score"] + r["f_score"] + r["m_score"]).sort_values(ascending=False, kind="stable").index
    for channel, cost in costs.items():
        chosen = cand["customer_id"].isin(top[: int(budget // cost)]).to_numpy()
        assert allocated > 1.5 * earned(np.where(chosen, channel, None)), channel
    assert plan.expected_value_low - plan.spent < allocated < plan.expected_value_high - plan.spent


def test_care_leaves_the_global_holdout_out(held_shop):
    key = held_shop.holdout["key"]
    points = cl.care.points_reminders(held_shop, within="35D", min_points=1)
    assert len(points) and points.attrs["held_out"] > 0 and not in_holdout(points["customer_id"], 0.2, key).any()
    reminders = cl.care.payment_reminders(held_shop, created_within="60D")
    assert not in_holdout(reminders.orders["customer_id"], 0.2, key).any()
    cards = cl.care.package_cards(held_shop, cl.care.CareRules.from_dict({"package_cards": [{"note": "感谢卡"}]}))
    assert in_holdout(cards.orders["customer_id"], 0.2, key).any()  # a package card is service, not a touch: the holdout gets it too
