"""A campaign's numbers: response to its touches (:mod:`crm_lab.response`) and its planning
(:mod:`crm_lab.planning`: the gap to target, the two waves), under one name.

Examples
--------
>>> import crm_lab as cl
>>> cl.campaign.response is cl.response.response and cl.campaign.gap is cl.planning.gap
True
"""

from __future__ import annotations

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
           "touch_features", "gap", "GapResult", "wave_plan", "WavePlan"]
