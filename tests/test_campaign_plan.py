"""A campaign as one object: the plan read from a params file, planned vs selected vs sent, reconciled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl

PLAN = {
    "name": "双11 2025", "event": ["2025-10-20", "2025-11-11"], "target_net_amount": 300000,
    "baselines": [["2024-10-20", "2024-11-11"]],
    "waves": [
        {"name": "第一波", "audience": "active", "within": "365D", "exclude_recent_buyers": None, "select_on": "2025-10-24",
         "send_at": "2025-10-25 10:00", "touches": "d11_2025_wave1", "control_share": 0.2, "cost_per_touch": 0.3},
        {"name": "第二波", "audience": "wave1_not_bought", "select_on": "2025-11-07", "send_at": "2025-11-08 10:00"},
    ],
}


@pytest.fixture(scope="module")
def plan():
    return cl.campaign.CampaignPlan.from_dict(PLAN, id="d11_2025")


@pytest.fixture(scope="module")
def status(small_shop, plan):
    return cl.campaign.reconcile(small_shop, plan)


@pytest.mark.parametrize("change, message", [
    ({"evnt": 1}, "unknown key"),
    ({"event": ["2025-11-11", "2025-10-20"]}, "before the first"),
    ({"waves": [{"name": "a", "select_on": "2025-10-18", "send_at": "2025-10-19", "audience": "everyone"}]}, "not a wave rule"),
    ({"waves": [{"name": "a", "select_on": "2025-10-18"}]}, "missing"),
    ({"waves": [{"name": "a", "select_on": "2025-10-18", "send_at": "2025-10-17"}]}, "before the selection day"),
    ({"waves": [{"name": "a", "select_on": "2025-10-18", "send_at": "2025-10-19", "control_share": 1.5}]}, "share"),
    ({"waves": [PLAN["waves"][0], {**PLAN["waves"][1], "select_on": "2025-11-20", "send_at": "2025-11-21"}]}, "within the event"),
])
def test_plan_errors_name_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        cl.campaign.CampaignPlan.from_dict({**PLAN, **change})


def test_a_params_file_with_a_bad_plan_is_refused_before_anything_runs():
    text = "campaign: c\nplan:\n  name: x\n  event: [2025-10-20]\nnotebooks:\n  - notebook: campaign_overview\n"
    with pytest.raises(cl.report.ParamsError, match="plan.event"):
        cl.report.params.load_params_text(text)


def test_selected_counts_the_rule_on_the_selection_day(small_shop, plan, status):
    # active: a paid order in the 365 days up to the end of 10-24, computed independently
    o = small_shop.orders
    paid = o[(o["paid_at"] < "2025-10-25") & (o["paid_at"] >= pd.Timestamp("2025-10-25") - pd.Timedelta(days=365))]
    wave1 = status.waves.set_index("wave").loc["wave1"]
    assert wave1["selected"] == paid["customer_id"].nunique()
    # wave 2 is wave 1 less its buyers since the event started (plus refunders): never larger
    assert status.waves.set_index("wave").loc["wave2", "selected"] <= wave1["selected"]


def test_sent_and_increment_are_the_touches_and_the_uplift_test(small_shop, status):
    wave1 = status.waves.set_index("wave").loc["wave1"]
    resp = cl.campaign.response(small_shop, "d11_2025_wave1", windows=("7D",))
    t = small_shop.touches.query("campaign_id == 'd11_2025_wave1'")
    assert wave1["sent"] == len(t) == len(resp)
    assert wave1["treated"] == (t["group"] == "treatment").sum() and wave1["control"] == (t["group"] == "control").sum()
    row = cl.uplift.test(resp, outcome="responded_7d", value="net_7d", cost="cost", bootstrap=0,
                         planned={"control": 0.2, "treatment": 0.8}).summary().loc["treatment"]
    assert np.isclose(wave1["incremental_value"], row["incremental_value"]) and np.isclose(wave1["difference"], row["difference"])
    # the simulated sends went to (almost) the planned rule's customers, at the planned time
    assert wave1["sent_selected"] / wave1["sent"] > 0.98
    assert abs(wave1["send_delay"]) < pd.Timedelta(hours=1)


def test_target_forecast_and_actual(small_shop, plan, status):
    g = cl.campaign.plan_gap(small_shop, plan)
    assert status.target == 300000 and np.isclose(status.forecast, g.forecast_returning + g.new_customer_amount)
    o = small_shop.orders
    during = o[(o["paid_at"] >= "2025-10-20") & (o["paid_at"] < "2025-11-12")]
    assert np.isclose(status.actual, (during["paid_amount"] - during["refund_amount"].fillna(0)).sum())
    assert status.complete and status.attained == (status.actual >= 300000)
    # the gap's touch plan counts the plan's selection, sent on the plan's days
    touch = g.touch_plan().set_index("wave")
    assert touch.loc["wave1", "customers"] == status.waves.loc[0, "selected"]
    assert touch.loc["wave1", "send_on"] == pd.Timestamp("2025-10-25") and touch.loc["wave2", "send_on"] == pd.Timestamp("2025-11-08")


def test_facts_name_every_count_once(status):
    facts = cl.report.campaign_facts(status)
    assert {"target", "forecast", "actual", "wave1_selected", "wave1_sent", "wave1_incremental_value", "wave2_selected"} <= set(facts)
    table = cl.report.campaign_waves_table(status)
    assert list(table["波次"]) == ["第一波", "第二波"] and table.loc[0, "圈选"] == f"{facts['wave1_selected']:,.0f}"


def test_a_plan_before_wave_two_has_wave_one_only(small_shop, plan):
    early = cl.data.Shop(**small_shop.tables(), as_of=pd.Timestamp("2025-10-25"), name="early")
    status = cl.campaign.reconcile(early, plan)
    assert np.isnan(status.waves.set_index("wave").loc["wave2", "selected"]) and not status.complete and status.attained is None


def test_a_wave_not_sent_yet_has_no_sent_counts(small_shop):
    waves = [{**PLAN["waves"][0], "touches": "d11_2025_wave9"}, PLAN["waves"][1]]
    status = cl.campaign.reconcile(small_shop, cl.campaign.CampaignPlan.from_dict({**PLAN, "waves": waves}))
    assert "sent" not in status.waves or status.waves["sent"].isna().all()
    assert cl.report.campaign_waves_table(status).loc[0, "实际发送"] == "–"
    assert cl.report.campaign_cards(status)[2][2] == "尚无发送记录"
