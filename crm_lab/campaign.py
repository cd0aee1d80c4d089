"""A campaign's numbers: response to its touches (:mod:`crm_lab.response`), its planning
(:mod:`crm_lab.planning`: the gap to target, the two waves) and its plan as one object
(:mod:`crm_lab.campaign_plan`: planned vs selected vs sent), under one name.

Examples
--------
>>> import crm_lab as cl
>>> cl.campaign.response is cl.response.response and cl.campaign.gap is cl.planning.gap
True
"""

from __future__ import annotations

from crm_lab.campaign_plan import CampaignPlan, CampaignStatus, Wave, plan_gap, plan_waves, reconcile, select_waves
from crm_lab.planning import GapResult, WavePlan, gap, wave_plan
from crm_lab.response import (
           influencer_genre,
           payment_reminder_response,
           responder_products,
           response,
           touch_features,
           window_label,
)

__all__ = ["response", "window_label", "payment_reminder_response", "influencer_genre", "responder_products",
           "touch_features", "gap", "GapResult", "wave_plan", "WavePlan", "CampaignPlan", "Wave", "CampaignStatus", "select_waves",
           "reconcile", "plan_gap", "plan_waves"]
