"""The member lifecycle: 入会 -> 首购 -> 复购, per joining cohort (Douyin's own picture of a member's progress),
and 新人三单, a new customer's first three orders (the growth teams' first goal), and the platform's
member-system rules (:func:`membership_check`: a member benefit at least every 90 days, member
coupons worth more than the store's).

:func:`funnel` follows each month's (or week's) new members: how many bought for the first time
within a window of joining, and how many of those came back on another day within the same window
after that first purchase. Members who had bought before joining are counted apart (they are not
new to buying), and a cohort too young to have been watched for the whole window says so.

Examples
--------
>>> import crm_lab as cl
>>> t = cl.lifecycle.funnel(cl.datasets.make_shop(1_000, seed=2), within="30D")
>>> bool((t["joined"] == t["bought_before_joining"] + t["new_to_buy"]).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import engine
from crm_lab.conversion import _pandas_freq, conversion, member_cohorts
from crm_lab.data import Shop, kept_orders, observation_end, required_table, window_length
from crm_lab.results import Result
from crm_lab.summary import order_lines
from crm_lab.uplift import rate_with_interval

__all__ = ["funnel", "first_orders_progress", "membership_check", "MembershipCheck", "BENEFIT_WARNING_DAYS", "BENEFIT_BREACH_DAYS"]


def _with_interval(table: pd.DataFrame, hits: str, eligible: str, name: str, level: float) -> None:
    """``<name>_rate`` = hits / eligible with its Wilson interval (NaN where none is eligible)."""
    table[f"{name}_rate"], table[f"{name}_low"], table[f"{name}_high"] = rate_with_interval(table[hits], table[eligible], level)


def funnel(shop: Shop, *, as_of: Any = None, cohort: str = "1mo", within: Any = "30D", level: float = 0.95) -> pd.DataFrame:
    """入会 -> 首购 -> 复购 per joining cohort, with right-censoring respected.

    Parameters
    ----------
    shop : Shop
        Needs ``members`` (``joined_at``) and ``orders``.
    as_of : date-like, optional
        The end of observation (default: the shop's).
    cohort : str
        Cohort width: ``"1mo"``, ``"1w"``, ``"1d"``, ``"1q"``.
    within : window
        A first purchase counts when it is a kept order (not fully refunded) at or after joining
        and within this window of it; a repurchase is a kept order on a later day, within this
        window after the first purchase.
    level : float
        Level of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame, one row per cohort (``cohort``: its first day): ``joined``,
    ``bought_before_joining`` (counted apart), ``new_to_buy``, ``eligible`` (new-to-buy members
    joined at least ``within`` before the end), ``first_purchase`` (of them, bought within
    ``within``), ``first_purchase_rate`` / ``_low`` / ``_high``, ``repurchase_eligible`` (first
    purchasers observed ``within`` after their first purchase), ``repurchase`` and
    ``repurchase_rate`` / ``_low`` / ``_high``, and ``complete`` (every new-to-buy member of the
    cohort observed for the whole window; False: the cohort is too young and its rates cover only
    its first members). With a ``referrals`` table (裂变), also ``referral_eligible`` (members
    observed ``within`` after joining), ``referring`` (of them, who brought at least one new member
    within it), ``referral_rate`` / ``_low`` / ``_high``, ``referred_members`` and
    ``referral_factor`` (new members per referring member).

    Raises
    ------
    ValueError
        Without a members table (naming it and how to add it).

    Examples
    --------
    >>> import crm_lab as cl
    >>> t = cl.lifecycle.funnel(cl.datasets.make_shop(1_000, seed=2))
    >>> bool(t["complete"].iloc[0]) and not bool(t["complete"].iloc[-1])
    True
    """
    end = observation_end(as_of if as_of is not None else shop.as_of)
    span = window_length(within)
    members = member_cohorts(shop, freq=cohort, as_of=as_of, what="funnel")
    new = members.loc[~members["before"]].rename(columns={"joined_at": "start_at"}).reset_index(drop=True)
    conv = conversion(shop, new[["customer_id", "start_at", "cohort"]], as_of=as_of)
    conv["eligible"] = conv["start_at"] + span <= end
    conv["first"] = conv["eligible"] & (conv["converted_at"] - conv["start_at"] <= span)
    conv["repeat_eligible"], conv["repeat"] = _repurchases(shop, conv, span, end, as_of)
    table = members.groupby("cohort").agg(joined=("customer_id", "size"), bought_before_joining=("before", "sum"))
    table["new_to_buy"] = table["joined"] - table["bought_before_joining"]
    per = conv.groupby("cohort").agg(eligible=("eligible", "sum"), first_purchase=("first", "sum"),
                                     repurchase_eligible=("repeat_eligible", "sum"), repurchase=("repeat", "sum"))
    table = table.join(per).fillna(0).astype("int64")
    _with_interval(table, "first_purchase", "eligible", "first_purchase", level)
    _with_interval(table, "repurchase", "repurchase_eligible", "repurchase", level)
    table["complete"] = table["eligible"] == table["new_to_buy"]
    if shop.referrals is not None:
        table = table.join(_referrals(shop, members, span, end))
        _with_interval(table, "referring", "referral_eligible", "referral", level)
        table["referral_factor"] = (table["referred_members"] / table["referring"]).where(table["referring"] > 0)
    return table.reset_index()


def _referrals(shop: Shop, members: pd.DataFrame, span: pd.Timedelta, end: pd.Timestamp) -> pd.DataFrame:
    """Per cohort (裂变): members observed ``span`` after joining, those who brought at least one new
    member within it, and how many they brought."""
    lf = engine.lazy(shop.referrals)
    refs = engine.collect(lf.filter(nw.col("referred_at") < engine.timestamp(end, lf)).select("referrer_id", "referred_at"))
    refs = refs.assign(referrer_id=refs["referrer_id"].astype(str)).merge(
        members[["customer_id", "joined_at", "cohort"]], left_on="referrer_id", right_on="customer_id")
    refs = refs[(refs["referred_at"] >= refs["joined_at"]) & (refs["referred_at"] <= refs["joined_at"] + span)]
    observed = members[members["joined_at"] + span <= end]
    refs = refs[refs["customer_id"].isin(observed["customer_id"])]
    per = refs.groupby("cohort").agg(referring=("customer_id", "nunique"), referred_members=("customer_id", "size"))
    out = observed.groupby("cohort").size().rename("referral_eligible").to_frame().join(per)
    return out.reindex(members["cohort"].unique()).fillna(0).astype("int64")


def _repurchases(shop: Shop, conv: pd.DataFrame, span: pd.Timedelta, end: pd.Timestamp, as_of: Any) -> tuple[pd.Series, pd.Series]:
    """Per row of ``conv``: a first purchaser observed ``span`` after the first purchase, and one
    with a kept order on a later day within it."""
    first = conv[conv["first"]]
    eligible = pd.Series(False, index=conv.index)
    eligible[first.index] = (first["converted_at"] + span <= end).to_numpy()
    # A repurchase is another purchase *day*: the search starts the day after the first purchase.
    starts = pd.DataFrame({"customer_id": first["customer_id"], "start_at": first["converted_at"].dt.normalize() + pd.Timedelta(days=1),
                           "first_at": first["converted_at"]})
    starts = starts[starts["start_at"] < end]
    repeat = pd.Series(False, index=conv.index)
    if len(starts):
        again = conversion(shop, starts.reset_index(drop=True), as_of=as_of)
        repeat[starts.index] = (again["converted_at"] - again["first_at"] <= span).to_numpy()
    return eligible, repeat & eligible


def _kept_orders(shop: Shop, as_of: Any) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Every kept order (net of refunds above 0): customer, order, time and a product (the smallest id of its lines), in time order."""
    lines, used = order_lines(shop, as_of=as_of, keep=["product_id"])
    orders = engine.collect(kept_orders(lines, nw.col("product_id").min()))
    orders = orders.astype({"customer_id": "str"}).sort_values(["customer_id", "paid_at", "order_id"], ignore_index=True)
    orders["rank"] = orders.groupby("customer_id").cumcount() + 1
    return orders, observation_end(used)


def first_orders_progress(shop: Shop, *, as_of: Any = None, cohort: str = "1mo", within: Any = "90D",
                          level: float = 0.95, top: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """新人三单: per new-customer cohort, the share reaching a 2nd and a 3rd kept order within ``within``.

    Parameters
    ----------
    shop : Shop
    as_of : date-like, optional
    cohort : str
        Cohort of the first kept order: ``"1mo"``, ``"1w"``, ``"1q"``.
    within : window
        Both the 2nd and the 3rd order count when paid within this window of the 1st.
    top : int
        First products listed in the second table.

    Returns
    -------
    (cohorts, products):

    * ``cohorts`` per cohort: ``customers``, ``eligible`` (observed ``within`` after their first
      order), ``second`` and ``third`` (reached within the window), ``second_rate`` /
      ``third_rate`` with Wilson ``_low`` / ``_high``, ``days_to_second`` and
      ``second_to_third`` (median days, among those who got there in the window), ``complete``.
    * ``products``: the first order's product (the smallest product id when it has several) by how
      many eligible customers it led to a second order: ``product_id, customers, second, second_rate`` with the interval,
      the ``top`` with most second orders.

    Examples
    --------
    >>> import crm_lab as cl
    >>> cohorts, products = cl.lifecycle.first_orders_progress(cl.datasets.make_shop(1_000, seed=2))
    >>> bool((cohorts["third"] <= cohorts["second"]).all())
    True
    """
    orders, end = _kept_orders(shop, as_of)
    span = window_length(within)
    wide = orders[orders["rank"] <= 3].pivot(index="customer_id", columns="rank", values="paid_at").reindex(columns=[1, 2, 3])
    first = orders[orders["rank"] == 1].set_index("customer_id")
    people = pd.DataFrame({"first_at": wide[1], "product_id": first["product_id"]})
    people["cohort"] = people["first_at"].dt.to_period(_pandas_freq(cohort)).dt.start_time
    people["eligible"] = people["first_at"] + span <= end
    people["second"] = people["eligible"] & (wide[2] - wide[1] <= span)
    people["third"] = people["eligible"] & (wide[3] - wide[1] <= span)
    people["days_to_second"] = ((wide[2] - wide[1]) / pd.Timedelta(days=1)).where(people["second"])
    people["second_to_third"] = ((wide[3] - wide[2]) / pd.Timedelta(days=1)).where(people["third"])
    cohorts = people.groupby("cohort").agg(customers=("first_at", "size"), eligible=("eligible", "sum"), second=("second", "sum"),
                                           third=("third", "sum"), days_to_second=("days_to_second", "median"),
                                           second_to_third=("second_to_third", "median"))
    counts = ["customers", "eligible", "second", "third"]
    cohorts[counts] = cohorts[counts].astype("int64")
    _with_interval(cohorts, "second", "eligible", "second", level)
    _with_interval(cohorts, "third", "eligible", "third", level)
    cohorts["complete"] = cohorts["eligible"] == cohorts["customers"]
    seen = people[people["eligible"]]
    products = seen.groupby("product_id").agg(customers=("first_at", "size"), second=("second", "sum")).astype("int64")
    _with_interval(products, "second", "customers", "second", level)
    products = products.sort_values(["second", "customers"], ascending=False).head(top)
    return cohorts.reset_index(), products.reset_index()


#: Days without a member benefit after which Douyin warns (60) and closes the member system (90).
BENEFIT_WARNING_DAYS, BENEFIT_BREACH_DAYS = 60, 90


@dataclass(frozen=True)
class MembershipCheck(Result):
    """The platform's member-system rules checked on a shop's own tables (:func:`membership_check`).

    Attributes
    ----------
    status : str
        ``"ok"``, ``"warning"`` (a rule close to breaking) or ``"breach"``.
    days_since_benefit : float
        Days from the end of the last member benefit (a members-only benefit or a member coupon)
        to ``as_of``; 0 while one is in force; NaN when the shop never offered one.
    findings : pandas.DataFrame
        One row per finding: ``rule`` (``benefit_gap`` / ``member_coupon_not_better``),
        ``severity`` (``warning`` / ``breach``), ``start``, ``end``, ``days``, and the rows that
        cause it: ``rows`` (benefit or coupon ids).
    as_of : pandas.Timestamp
    """

    status: str
    days_since_benefit: float
    findings: pd.DataFrame
    as_of: pd.Timestamp

    def summary(self) -> pd.DataFrame:
        """The findings (:attr:`findings`)."""
        return self.findings

    def to_frame(self) -> pd.DataFrame:
        return self.findings


def _table(shop: Shop, name: str, end: pd.Timestamp, time_col: str) -> pd.DataFrame:
    lf = engine.lazy(required_table(shop, name, "membership_check"))
    return engine.collect(lf.filter(nw.col(time_col) < engine.timestamp(end, lf)))


def _member_benefits(benefits: pd.DataFrame, coupons: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Every member benefit as an interval ``[start, stop)``, clipped to the end of observation, with its id."""
    own = benefits[benefits["members_only"].fillna(0).astype(bool)]
    member_coupons = coupons[coupons["audience"] == "member"]
    spans = pd.concat([pd.DataFrame({"id": own["benefit_id"], "start": own["starts_at"], "stop": own["ends_at"]}),
                       pd.DataFrame({"id": member_coupons["coupon_id"], "start": member_coupons["starts_at"], "stop": member_coupons["ends_at"]})])
    spans["stop"] = spans["stop"].fillna(end).clip(upper=end)
    return spans.sort_values("start", ignore_index=True)


def _benefit_gaps(spans: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Stretches of ``BENEFIT_WARNING_DAYS`` or more without any member benefit, up to ``end``."""
    reach = spans["stop"].cummax()
    holder = spans["id"].where(spans["stop"] == reach).ffill()  # the benefit whose end the coverage has reached
    gaps = pd.DataFrame({"start": reach.shift(), "end": spans["start"], "before": holder.shift(), "after": spans["id"]}).dropna(subset=["start"])
    gaps = gaps[gaps["end"] > gaps["start"]]
    tail = pd.DataFrame({"start": [reach.iloc[-1]], "end": [end], "before": [holder.iloc[-1]], "after": [None]})
    gaps = pd.concat([gaps, tail[tail["end"] > tail["start"]]], ignore_index=True)
    gaps["days"] = (gaps["end"] - gaps["start"]) / pd.Timedelta(days=1)
    gaps = gaps[gaps["days"] >= BENEFIT_WARNING_DAYS]
    return pd.DataFrame({"rule": "benefit_gap", "severity": np.where(gaps["days"] >= BENEFIT_BREACH_DAYS, "breach", "warning"),
                         "start": gaps["start"], "end": gaps["end"], "days": gaps["days"],
                         "rows": [[r for r in (b, a) if isinstance(r, str)] for b, a in zip(gaps["before"], gaps["after"])]})


def _coupons_not_better(coupons: pd.DataFrame) -> pd.DataFrame:
    """Member coupons no better than a store coupon in force at the same time: one at most as
    demanding (threshold) that takes at least as much off."""
    member = coupons[coupons["audience"] == "member"]
    store = coupons[coupons["audience"] == "store"]
    pairs = member.merge(store, how="cross", suffixes=("", "_store"))
    overlap = (pairs["starts_at"] < pairs["ends_at_store"]) & (pairs["starts_at_store"] < pairs["ends_at"])
    worse = (pairs["discount_store"] >= pairs["discount"]) & (pairs["threshold_store"].fillna(0) <= pairs["threshold"].fillna(0))
    bad = pairs[overlap & worse]
    return pd.DataFrame({"rule": "member_coupon_not_better", "severity": "breach",
                         "start": bad[["starts_at", "starts_at_store"]].max(axis=1), "end": bad[["ends_at", "ends_at_store"]].min(axis=1),
                         "days": np.nan, "rows": [[m, s] for m, s in zip(bad["coupon_id"], bad["coupon_id_store"])]})


def membership_check(shop: Shop, *, as_of: Any = None) -> MembershipCheck:
    """Douyin's member-system rules on the shop's ``benefits`` and ``coupons`` tables.

    * A member benefit (a members-only benefit, or a member coupon) at least every 90 days: a
      stretch of 60 days or more without one is a warning, 90 or more a breach (the platform closes
      the member system), whether it is the current stretch or one in the past.
    * Member coupons must be worth more than the store's other coupons: a member coupon is a breach
      when a store coupon in force at the same time asks at most the same threshold and takes at
      least as much off.

    Each finding names the rows that cause it (benefit and coupon ids).

    Raises
    ------
    ValueError
        Without a ``benefits`` or ``coupons`` table, naming it and its columns.

    Examples
    --------
    >>> import pandas as pd, crm_lab as cl
    >>> day = pd.Timestamp
    >>> benefits = pd.DataFrame({"benefit_id": ["B1"], "kind": ["gift"], "starts_at": [day("2025-01-01")],
    ...                          "ends_at": [day("2025-02-01")], "members_only": [1]})
    >>> coupons = pd.DataFrame({"coupon_id": ["M1", "S1"], "audience": ["member", "store"], "discount": [20.0, 20.0],
    ...     "threshold": [199.0, 199.0], "starts_at": [day("2025-01-01")] * 2, "ends_at": [day("2025-01-10")] * 2})
    >>> shop = cl.data.Shop(orders=cl.datasets.make_shop(200, seed=1).orders, as_of=day("2025-06-01"))
    >>> from dataclasses import replace
    >>> check = cl.lifecycle.membership_check(replace(shop, benefits=benefits, coupons=coupons))
    >>> check.status, round(check.days_since_benefit), sorted(check.findings["rule"].unique())
    ('breach', 121, ['benefit_gap', 'member_coupon_not_better'])
    """
    end = observation_end(as_of if as_of is not None else shop.as_of)
    benefits = _table(shop, "benefits", end, "starts_at")
    coupons = _table(shop, "coupons", end, "starts_at")
    spans = _member_benefits(benefits, coupons, end)
    if spans.empty:
        findings = pd.DataFrame([{"rule": "benefit_gap", "severity": "breach", "start": pd.NaT, "end": end, "days": np.nan, "rows": []}])
        return MembershipCheck("breach", float("nan"), findings, end)
    findings = pd.concat([_benefit_gaps(spans, end), _coupons_not_better(coupons)], ignore_index=True)
    in_force = (spans["start"] < end) & (spans["stop"] >= end)
    since = 0.0 if in_force.any() else float((end - spans["stop"].max()) / pd.Timedelta(days=1))
    status = "breach" if (findings["severity"] == "breach").any() else "warning" if len(findings) else "ok"
    return MembershipCheck(status, since, findings.sort_values("start", ignore_index=True), end)
