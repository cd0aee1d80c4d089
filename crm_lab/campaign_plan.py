"""A campaign as one object: its plan (目标, 活动期, 两波) and how it went, planned vs selected vs sent.

A campaign's pages (the gap, the two waves, the response, the overview) read one
:class:`CampaignPlan`, written once in the params file's ``plan:``. Three counts of a wave are
distinct and named the same way everywhere:

* **planned** (计划需触达): the audience the gap plan says must be touched (:func:`crm_lab.planning.gap`);
* **selected** (圈选): the wave's audience rule applied on its selection day (:func:`select_waves`);
* **sent** (实际发送): the wave's touches in the touches table, treatment and control.

:func:`reconcile` puts them side by side with what each wave earned and the campaign's target,
forecast and actual net amount (:class:`CampaignStatus`).

Examples
--------
>>> import crm_lab as cl
>>> plan = cl.campaign.CampaignPlan.from_dict({"name": "双11 2025", "event": ["2025-10-20", "2025-11-11"],
...     "waves": [{"name": "第一波", "select_on": "2025-10-18", "send_at": "2025-10-19 10:00"}]}, id="d11_2025")
>>> plan.waves[0].audience, f"{plan.event_end:%m-%d}"
('rf_core', '11-11')
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from crm_lab import recipes
from crm_lab.audience import Audience
from crm_lab.data import Shop, net_amount, observation_end, window_length
from crm_lab.results import Result

__all__ = ["Wave", "CampaignPlan", "CampaignStatus", "select_waves", "plan_gap", "plan_waves", "reconcile", "WAVE_AUDIENCES"]

#: A wave's audience rules: wave 1 from the shop (RF core cells, a paid order within a window, the
#: gap plan's cells), wave 2 from wave 1 (its customers who have not bought). Readers' words for
#: them: :data:`crm_lab.report.labels.WAVE_AUDIENCE_ZH`.
WAVE_AUDIENCES = ("rf_core", "active", "gap", "wave1_not_bought")


def _day(value: Any, where: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {value!r} is not a date. Fix: write it as 2025-10-18 (or 2025-10-19 10:00)") from None


@dataclass(frozen=True)
class Wave:
    """One wave of a campaign plan.

    Attributes
    ----------
    name : str
        As readers see it (第一波).
    select_on, send_at : pandas.Timestamp
        The audience is selected on the data up to the end of ``select_on`` and sent at ``send_at``.
    audience : str
        The rule, one of :data:`WAVE_AUDIENCES`: ``rf_core`` (``r_min``, ``f_min``), ``active``
        (a paid order ``within`` before selection, :meth:`crm_lab.audience.Audience.bought`), ``gap`` (the gap plan's cells) for wave 1,
        ``wave1_not_bought`` for wave 2.
    exclude_recent_buyers : str or None
        Wave 1 leaves out who ordered within this window before selection.
    control_share, cost_per_touch : float
        The held-out share and the cost of one touch (in the shop's currency).
    channel : str
        sms, rich_sms, push ...
    touches : str or None
        The ``campaign_id`` of the wave's touches in the touches table, once sent.
    response_window : str
        The window a touch's response is counted in (7D).
    """

    name: str
    select_on: pd.Timestamp
    send_at: pd.Timestamp
    audience: str = "rf_core"
    within: str = "365D"
    r_min: int = 3
    f_min: int = 2
    exclude_recent_buyers: str | None = "14D"
    control_share: float = 0.1
    cost_per_touch: float = 0.0
    channel: str = "sms"
    touches: str | None = None
    response_window: str = "7D"

    @classmethod
    def from_dict(cls, spec: dict[str, Any], where: str = "wave") -> Wave:
        """A wave from plain data; unknown keys, a rule not in :data:`WAVE_AUDIENCES` or a bad date are errors."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; a wave takes {sorted(known)}")
        missing = [k for k in ("name", "select_on", "send_at") if k not in spec]
        if missing:
            raise ValueError(f"{where}: {missing} missing. Fix: give each wave a name, select_on and send_at")
        values = {**spec, "select_on": _day(spec["select_on"], f"{where}.select_on").normalize(),
                  "send_at": _day(spec["send_at"], f"{where}.send_at")}
        wave = cls(**values)
        if wave.audience not in WAVE_AUDIENCES:
            raise ValueError(f"{where}.audience: {wave.audience!r} is not a wave rule; one of {list(WAVE_AUDIENCES)}")
        if not 0 <= wave.control_share < 1:
            raise ValueError(f"{where}.control_share: {wave.control_share} is not a share in [0, 1)")
        if wave.send_at < wave.select_on:
            raise ValueError(f"{where}: send_at {wave.send_at} is before the selection day {wave.select_on:%Y-%m-%d}")
        window_length(wave.response_window)
        return wave


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign's definition: what every page of it reads.

    Attributes
    ----------
    id : str
        The campaign's folder name (the params file's ``campaign``).
    name : str
        As readers see it (双11 2025).
    event_start, event_end : pandas.Timestamp
        First and last day of the event.
    target_net_amount : float or None
        The event's target net amount (有效金额).
    baselines : tuple of (start, end)
        Comparable past events for the gap's forecast.
    touch_uplift : float
        The incremental response a touch is planned to bring.
    waves : tuple of Wave
        Wave 1, and wave 2 if planned.
    """

    id: str
    name: str
    event_start: pd.Timestamp
    event_end: pd.Timestamp
    target_net_amount: float | None = None
    baselines: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = ()
    touch_uplift: float = 0.03
    waves: tuple[Wave, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, spec: dict[str, Any], id: str = "campaign") -> CampaignPlan:
        """A plan from a params file's ``plan:`` (plain data); every problem is an error naming the key.

        Examples
        --------
        >>> from crm_lab.campaign import CampaignPlan
        >>> CampaignPlan.from_dict({"name": "x", "event": ["2025-10-20"]})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: plan.event: give [first day, last day], got ['2025-10-20']
        """
        known = {"id", "name", "event", "target_net_amount", "baselines", "touch_uplift", "waves"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"plan: unknown key(s) {unknown}; a plan takes {sorted(known)}")
        event = spec.get("event")
        if not isinstance(event, (list, tuple)) or len(event) != 2:
            raise ValueError(f"plan.event: give [first day, last day], got {event!r}")
        start, end = (_day(d, "plan.event").normalize() for d in event)
        if end < start:
            raise ValueError(f"plan.event: the last day {end:%Y-%m-%d} is before the first {start:%Y-%m-%d}")
        baselines = tuple(tuple(_day(d, f"plan.baselines[{i}]").normalize() for d in b) for i, b in enumerate(spec.get("baselines") or []))
        waves = tuple(Wave.from_dict(w, f"plan.waves[{i}]") for i, w in enumerate(spec.get("waves") or []))
        if len(waves) > 2:
            raise ValueError(f"plan.waves: {len(waves)} waves; a plan has wave 1 and, optionally, wave 2")
        if waves and waves[0].audience == "wave1_not_bought":
            raise ValueError("plan.waves[0].audience: wave 1 cannot be chosen from itself. Fix: rf_core, active or gap")
        if len(waves) == 2 and waves[1].audience != "wave1_not_bought":
            raise ValueError("plan.waves[1].audience: wave 2 is wave1_not_bought (wave 1's customers who have not bought)")
        if len(waves) == 2 and not start <= waves[1].select_on < end:
            raise ValueError(f"plan.waves[1].select_on {waves[1].select_on:%Y-%m-%d} must fall within the event and before its last day")
        target = spec.get("target_net_amount")
        id = str(spec.get("id") or id)
        return cls(id, str(spec.get("name") or id), start, end, None if target is None else float(target), baselines,
                   float(spec.get("touch_uplift", 0.03)), waves)

    @property
    def event(self) -> tuple[str, str]:
        """``(first day, last day)`` as the analyses take it."""
        return (f"{self.event_start:%Y-%m-%d}", f"{self.event_end:%Y-%m-%d}")

    @property
    def baseline_days(self) -> list[tuple[str, str]]:
        """The baselines as ``(first day, last day)`` text pairs, as :func:`crm_lab.planning.gap` takes them."""
        return [(f"{a:%Y-%m-%d}", f"{b:%Y-%m-%d}") for a, b in self.baselines]

    @property
    def send_days(self) -> tuple[pd.Timestamp, ...]:
        """Each wave's send time, in wave order."""
        return tuple(w.send_at for w in self.waves)


def _wave1(shop: Shop, plan: CampaignPlan) -> Audience:
    wave = plan.waves[0]
    if wave.audience == "gap":
        from crm_lab.planning import gap

        if plan.target_net_amount is None or not plan.baselines:
            raise ValueError("plan.waves[0].audience gap needs the plan's target_net_amount and baselines")
        return gap(shop, plan.event, plan.target_net_amount, plan.baseline_days,
                   touch_uplift=plan.touch_uplift, exclude_recent_buyers=wave.exclude_recent_buyers or "0D").wave1
    if wave.audience == "active":
        aud = Audience(shop, wave.select_on, "wave1").bought(within=wave.within)
    else:
        aud = recipes.rf_core(shop, wave.select_on, r_min=wave.r_min, f_min=wave.f_min)
    return aud.not_bought(within=wave.exclude_recent_buyers) if wave.exclude_recent_buyers else aud


def select_waves(shop: Shop, plan: CampaignPlan) -> recipes.Recipe:
    """圈选: each wave's audience by its rule on its selection day (wave 2 once the data reach that day).

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.datasets.make_shop(2_000, seed=1)
    >>> plan = cl.campaign.CampaignPlan.from_dict({"name": "双11", "event": ["2025-10-20", "2025-11-11"], "waves": [
    ...     {"name": "第一波", "select_on": "2025-10-18", "send_at": "2025-10-19 10:00"},
    ...     {"name": "第二波", "audience": "wave1_not_bought", "select_on": "2025-11-07", "send_at": "2025-11-08 10:00"}]})
    >>> list(cl.campaign.select_waves(shop, plan).audiences)
    ['wave1', 'wave2']
    """
    if not plan.waves:
        raise ValueError(f"plan {plan.id}: no waves. Fix: add waves to the params file's plan:")
    if shop.as_of is not None and plan.waves[0].select_on > pd.Timestamp(shop.as_of).normalize():
        raise ValueError(f"plan {plan.id}: wave 1 is selected on {plan.waves[0].select_on:%Y-%m-%d}, after the data end "
                         f"{pd.Timestamp(shop.as_of):%Y-%m-%d}")
    wave2_at = plan.waves[1].select_on if len(plan.waves) == 2 else None
    if wave2_at is not None and shop.as_of is not None and wave2_at > pd.Timestamp(shop.as_of).normalize():
        wave2_at = None  # not selectable yet: the recipe holds wave 1 only
    return recipes.promotion_waves(shop, plan.event_start, wave2_at, wave1=_wave1(shop, plan))


@dataclass(frozen=True)
class CampaignStatus(Result):
    """How a campaign went against its plan (:func:`reconcile`).

    Attributes
    ----------
    plan : CampaignPlan
    waves : pandas.DataFrame
        One row per planned wave: ``wave`` (wave1 / wave2), ``name``, ``select_on``, ``send_at``,
        ``planned`` (the gap plan's audience, NaN without a target), ``selected`` (NaN before the
        selection day), ``sent``, ``treated``, ``control``, ``sent_selected`` (sent customers who
        were in the selection) and ``not_selected``, ``sent_first`` (the first touch's time) and
        ``send_delay`` (after the planned ``send_at``), ``responded`` (treated
        customers with a kept order in the response window), ``rate``, ``control_rate``,
        ``difference`` and its ``difference_low`` / ``difference_high``, ``incremental_value``
        with ``incremental_value_low`` / ``_high``, ``cost``, ``roi``, ``final`` (the window is over).
    target, forecast, actual : float
        Target net amount, the gap's forecast without touches (returning + new customers; NaN
        without baselines) and the net amount of the event's orders so far.
    actual_until : pandas.Timestamp
        The last day ``actual`` covers (the event's last day once the data reach it).
    complete : bool
        The data cover the whole event.
    gap : Any
        The :class:`crm_lab.planning.GapResult`, or None without a target and baselines.
    two_waves : Any
        The :class:`crm_lab.planning.WavePlan` the selections came from (what each wave bought).
    """

    plan: CampaignPlan
    waves: pd.DataFrame
    target: float
    forecast: float
    actual: float
    actual_until: pd.Timestamp
    complete: bool
    gap: Any = None
    two_waves: Any = None

    @property
    def measured(self) -> pd.DataFrame:
        """The waves sent with both groups, whose increment against control is known."""
        return self.waves.dropna(subset=["incremental_value"]) if "incremental_value" in self.waves else self.waves.iloc[0:0]

    @property
    def attained(self) -> bool | None:
        """Whether the event reached its target (None while it runs or without a target)."""
        if not self.complete or np.isnan(self.target):
            return None
        return bool(self.actual >= self.target)

    def summary(self) -> pd.DataFrame:
        """The waves table (:attr:`waves`)."""
        return self.waves

    def to_frame(self) -> pd.DataFrame:
        return self.waves


def _event_net(shop: Shop, plan: CampaignPlan) -> tuple[float, pd.Timestamp, bool]:
    """Net amount of the orders paid during the event, up to the data end."""
    from crm_lab import engine

    data_end = observation_end(shop.as_of) if shop.as_of is not None else plan.event_end + pd.Timedelta(days=1)
    stop = min(plan.event_end + pd.Timedelta(days=1), data_end)
    lines = engine.between(engine.lazy(shop.orders), "paid_at", plan.event_start, stop)
    total = engine.collect(lines.select(net_amount().sum().alias("net")))["net"].iloc[0]
    return float(0.0 if pd.isna(total) else total), stop - pd.Timedelta(days=1), bool(stop > plan.event_end)


def _sent(shop: Shop, wave: Wave, selected: pd.Series | None) -> dict[str, Any]:
    """The wave's touches and their response against control (:func:`crm_lab.uplift.test`)."""
    from crm_lab import uplift
    from crm_lab.response import response, window_label

    resp = response(shop, wave.touches, windows=(wave.response_window,), partial=True)
    w = window_label(wave.response_window)
    groups = resp["group"].value_counts()
    row: dict[str, Any] = {"sent": len(resp), "treated": int(groups.get("treatment", 0)), "control": int(groups.get("control", 0)),
                           "sent_first": resp["sent_at"].min(), "final": bool(resp.attrs.get("final", True))}
    if selected is not None:
        row["sent_selected"] = int(resp["customer_id"].isin(set(selected)).sum())
    if row["treated"] and row["control"]:
        planned = {"control": wave.control_share, "treatment": 1 - wave.control_share} if wave.control_share else None
        result = uplift.test(resp, outcome=f"responded_{w}", value=f"net_{w}", cost="cost", planned=planned, bootstrap=0, final=row["final"])
        s = result.summary().loc["treatment"]
        row.update(responded=int(resp.loc[resp["group"] == "treatment", f"responded_{w}"].sum()),
                   **{k: float(s[k]) for k in ("rate", "control_rate", "difference", "difference_low", "difference_high",
                                               "incremental_value", "incremental_value_low", "incremental_value_high", "cost", "roi")},
                   test=s["test"], srm_passed=bool(result.srm["passed"]))
    return row


def plan_gap(shop: Shop, plan: CampaignPlan, wave1: Audience | None = None) -> Any:
    """The gap to the plan's target (:func:`crm_lab.planning.gap`) with the plan's waves: its
    touch plan counts the selected wave 1 (``wave1``, selected here when not given) and sends on
    the plan's days."""
    from crm_lab.planning import gap

    if plan.target_net_amount is None or not plan.baselines:
        raise ValueError(f"plan {plan.id}: the gap needs target_net_amount and baselines in the plan")
    if wave1 is None and plan.waves:
        wave1 = select_waves(shop, plan).audiences["wave1"]
    return gap(shop, plan.event, plan.target_net_amount, plan.baseline_days,
               touch_uplift=plan.touch_uplift, wave2_at=plan.waves[1].select_on if len(plan.waves) == 2 else None,
               wave1=wave1, send_on=plan.send_days or None)


def plan_waves(shop: Shop, plan: CampaignPlan) -> Any:
    """The plan's waves selected and what each bought (:func:`crm_lab.planning.wave_plan`)."""
    from crm_lab.planning import wave_plan

    recipe = select_waves(shop, plan)
    wave2_at = recipe.audiences["wave2"].as_of if "wave2" in recipe.audiences else None
    return wave_plan(shop, plan.event, wave2_at=wave2_at, send_on=plan.send_days, wave1=recipe.audiences["wave1"])


def _planned(g: Any) -> pd.Series:
    """计划需触达 per wave: the gap's audience to touch for wave 1, wave 2's forecast size while it is one."""
    if g is None:
        return pd.Series(dtype=float)
    touch = g.touch_plan().set_index("wave")
    planned = {"wave1": float(g.cells["audience_needed"].sum())}
    if "wave2" in touch.index and touch.loc["wave2", "basis"] == "forecast":
        planned["wave2"] = float(touch.loc["wave2", "customers"])
    return pd.Series(planned)


def _campaigns_sent(shop: Shop) -> set[str]:
    """The campaign ids in the shop's touches table."""
    if shop.touches is None:
        return set()
    from crm_lab import engine

    ids = engine.collect(engine.lazy(shop.touches).select("campaign_id").unique())
    return set(ids["campaign_id"].astype(str))


def reconcile(shop: Shop, plan: CampaignPlan) -> CampaignStatus:
    """目标 vs 预测 vs 实际, and per wave planned / selected / sent / responded / incremental value.

    Every page of a campaign that shows one of these numbers takes it from here (or from the same
    functions with the same plan), so the pages agree.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.datasets.make_shop(2_000, seed=1)
    >>> plan = cl.campaign.CampaignPlan.from_dict({"name": "双11", "event": ["2025-10-20", "2025-11-11"],
    ...     "target_net_amount": 100000, "baselines": [["2024-10-20", "2024-11-11"]],
    ...     "waves": [{"name": "第一波", "audience": "active", "exclude_recent_buyers": None, "select_on": "2025-10-18",
    ...                "send_at": "2025-10-19 10:00", "touches": "d11_2025_wave1", "control_share": 0.2}]})
    >>> status = cl.campaign.reconcile(shop, plan)
    >>> int(status.waves.loc[0, "sent"]) == int((cl.campaign.response(shop, "d11_2025_wave1")).shape[0])
    True
    """
    two_waves = plan_waves(shop, plan)
    waves = two_waves.recipe
    # The gap's touch plan counts the waves just selected: selected once, the same on every page.
    g = plan_gap(shop, plan, waves.audiences["wave1"]) if plan.target_net_amount is not None and plan.baselines else None
    planned = _planned(g)
    sent_campaigns = _campaigns_sent(shop)
    rows = []
    for key, wave in zip(("wave1", "wave2"), plan.waves):
        aud = waves.audiences.get(key)
        ids = aud.customer_ids() if aud is not None else None
        row: dict[str, Any] = {"wave": key, "name": wave.name, "select_on": wave.select_on, "send_at": wave.send_at,
                               "planned": float(planned.get(key, np.nan)), "selected": float(len(ids)) if ids is not None else np.nan}
        if wave.touches is not None and wave.touches in sent_campaigns:  # not in the touches table: not sent (yet)
            row.update(_sent(shop, wave, ids))
            row["not_selected"] = row["sent"] - row.get("sent_selected", row["sent"])
            row["send_delay"] = pd.Timestamp(row["sent_first"]) - wave.send_at
        rows.append(row)
    actual, until, complete = _event_net(shop, plan)
    forecast = g.forecast_returning + g.new_customer_amount if g is not None else np.nan
    target = plan.target_net_amount if plan.target_net_amount is not None else np.nan
    return CampaignStatus(plan, pd.DataFrame(rows), float(target), float(forecast), actual, until, complete, g, two_waves)
