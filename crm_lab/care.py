"""Event care (事件关怀): the daily rules third-party CRMs sell, on the shop's own tables.

* **Package cards** (包裹卡 / 订单备注): an ordered list of rules gives every paid, unshipped order its
  note (达人 X's orders get a sample, orders with product Y get card Z ...). An order matching several
  rules gets the first, and the output says which rule.
* **Payment reminders** (催付): unpaid orders of the last day, older than N minutes, not paid since
  and not reminded for the same order before; a stable share is held out so that
  :func:`crm_lab.campaign.payment_reminder_response` can measure what the reminders earned.
* **Expiry reminders**: coupons about to end (to the coupon's audience who have not ordered since it
  started) and members' points about to expire.

Care works on moments, not days: ``at`` is when the run happens (default: the shop's extraction
time ``shop.as_of`` taken as a moment), because "older than 30 minutes" and "not shipped yet" are
questions about a moment. :func:`run_care` writes one dated folder per day, rebuilt whole by a rerun
(the same tables and moment give the same files), plus a ledger of reminded orders so that no order
is reminded twice by a later run.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(2_000, seed=4)
>>> rules = cl.care.CareRules.from_dict({"package_cards": [
...     {"name": "新客欢迎卡", "when": {"first_order": True}, "note": "放入新客欢迎卡"},
...     {"name": "常规", "note": "放入品牌卡"}]})
>>> cards = cl.care.package_cards(shop, rules)
>>> set(cards.notes["rule"]) <= {"新客欢迎卡", "常规"}
True
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import engine
from crm_lab.data import Shop, kept_orders, required_table, window_length
from crm_lab.files import atomic_frame, replace_dir
from crm_lab.results import Result
from crm_lab.splits import control_groups, in_holdout

__all__ = ["CareRules", "CardRule", "PackageCards", "PaymentReminders", "CareRun", "package_cards", "payment_reminders",
           "coupon_reminders", "points_reminders", "run_care", "UNSHIPPED_STATUS", "CLOSED_UNPAID_STATUS"]

#: Order statuses of a paid order not shipped yet (抖店, 天猫).
UNSHIPPED_STATUS = ("已支付", "备货中", "待发货", "等待卖家发货", "买家已付款")

#: Statuses of an unpaid order that no reminder can help: closed, cancelled, or paid since.
CLOSED_UNPAID_STATUS = ("已关闭", "已取消", "交易关闭", "已支付")

#: What a package-card rule may test (all given tests must hold).
CONDITIONS = {
    "influencer_id": "the order has a line sold by one of these influencers (达人)",
    "product_id": "the order has a line of one of these products",
    "category": "the order has a line of a product in one of these categories (needs the products table)",
    "min_amount": "the order's paid amount is at least this",
    "max_amount": "the order's paid amount is below this",
    "first_order": "true: the customer's first kept order; false: a returning customer's",
    "member_tier": "the customer is a member of one of these tiers (needs the members table)",
}


@dataclass(frozen=True)
class CardRule:
    """One package-card rule: its name, the note it writes, and its conditions (:data:`CONDITIONS`)."""

    name: str
    note: str
    when: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CareRules:
    """The event-care rules of a shop, as a params file's ``care:`` block gives them.

    Attributes
    ----------
    package_cards : tuple of CardRule
        Ordered: the first rule an order matches gives its note.
    payment_reminders : dict or None
        ``after_minutes`` (30), ``created_within`` ("24h"), ``control_share`` (0.1), ``campaign_id``
        ("payment_reminder"), ``seed`` (0). None: no reminders.
    coupon_reminders : dict or None
        ``ends_within`` ("3D").
    points_reminders : dict or None
        ``expire_on`` ("12-31", the yearly expiry day), ``within`` ("30D"), ``min_points`` (1).
    """

    package_cards: tuple[CardRule, ...] = ()
    payment_reminders: dict[str, Any] | None = None
    coupon_reminders: dict[str, Any] | None = None
    points_reminders: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> CareRules:
        """Read and check a ``care:`` mapping; a wrong key or value is a ValueError naming where it stands."""
        sections = {"package_cards": None, "payment_reminders": _REMINDER_DEFAULTS, "coupon_reminders": {"ends_within": "3D"},
                    "points_reminders": {"expire_on": "12-31", "within": "30D", "min_points": 1}}
        _known(spec, sections, "care")
        cards = tuple(_card_rule(r, f"care.package_cards[{i}]") for i, r in enumerate(spec.get("package_cards") or []))
        blocks = {}
        for name in ("payment_reminders", "coupon_reminders", "points_reminders"):
            given = spec.get(name)
            if given is None:
                blocks[name] = None
                continue
            if given is True:
                given = {}
            if not isinstance(given, dict):
                raise ValueError(f"care.{name}: a mapping of settings (or true for the defaults), got {given!r}")
            _known(given, sections[name], f"care.{name}")
            blocks[name] = _checked_block(name, {**sections[name], **given})
        return cls(cards, **blocks)


_REMINDER_DEFAULTS = {"after_minutes": 30, "created_within": "24h", "control_share": 0.1, "campaign_id": "payment_reminder", "seed": 0}


def _known(given: dict[str, Any], allowed: dict[str, Any], where: str) -> None:
    if not isinstance(given, dict):
        raise ValueError(f"{where}: a mapping, got {type(given).__name__}")
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected {sorted(allowed)}")


def _card_rule(rule: Any, where: str) -> CardRule:
    _known(rule, {"name": 0, "note": 0, "when": 0}, where)
    if not isinstance(rule.get("note"), str) or not rule["note"].strip():
        raise ValueError(f"{where}.note: the note to print, as text (e.g. 放入小样一份)")
    when = rule.get("when") or {}
    _known(when, CONDITIONS, f"{where}.when")
    for key, value in when.items():
        ok = {"min_amount": _is_number, "max_amount": _is_number, "first_order": lambda v: isinstance(v, bool),
              "member_tier": lambda v: _is_list_of(v, int)}.get(key, lambda v: _is_list_of(v, str))(value)
        if not ok:
            raise ValueError(f"{where}.when.{key}: {CONDITIONS[key]}; got {value!r}")
    when = {k: ([v] if isinstance(v, (str, int)) and k in ("influencer_id", "product_id", "category", "member_tier") else v)
            for k, v in when.items()}
    return CardRule(str(rule.get("name") or rule["note"]), rule["note"], when)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_list_of(value: Any, kind: type) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, kind) and not isinstance(v, bool) for v in values)


def _checked_block(name: str, block: dict[str, Any]) -> dict[str, Any]:
    for key in ("created_within", "ends_within", "within"):
        if key in block:
            try:
                window_length(block[key])
            except (ValueError, TypeError):
                raise ValueError(f"care.{name}.{key}: a window such as '24h' or '3D', got {block[key]!r}") from None
    if "control_share" in block and not (_is_number(block["control_share"]) and 0 <= block["control_share"] < 1):
        raise ValueError(f"care.{name}.control_share: a share in [0, 1), got {block['control_share']!r}")
    if "after_minutes" in block and not (_is_number(block["after_minutes"]) and block["after_minutes"] >= 0):
        raise ValueError(f"care.{name}.after_minutes: minutes >= 0, got {block['after_minutes']!r}")
    if "expire_on" in block:
        try:
            pd.Timestamp(f"2000-{block['expire_on']}")
        except (ValueError, TypeError):
            raise ValueError(f"care.{name}.expire_on: a month and day such as '12-31', got {block['expire_on']!r}") from None
    return block


# ---- package cards ---------------------------------------------------------------------------


def _moment(shop: Shop, at: Any) -> pd.Timestamp:
    """The run's moment: ``at``, else the shop's extraction time, else its last payment."""
    if at is not None:
        return pd.Timestamp(at)
    if shop.as_of is not None:
        return pd.Timestamp(shop.as_of)
    lf = engine.lazy(shop.orders)
    return pd.Timestamp(engine.collect(lf.select(nw.col("paid_at").max()))["paid_at"].iloc[0])


def _unshipped_lines(shop: Shop, at: pd.Timestamp) -> pd.DataFrame:
    """Lines of paid orders not shipped at ``at``: by the export's status when it has one, else by ``shipped_at``."""
    lf = engine.lazy(shop.orders)
    cols = engine.columns(shop.orders)
    lf = lf.filter(nw.col("paid_at") < engine.timestamp(at, lf))
    if "status" in cols:
        lf = lf.filter(nw.col("status").is_in(UNSHIPPED_STATUS))
    else:
        known = engine.collect(lf.select(nw.col("shipped_at").is_null().cast(nw.Int64()).sum().alias("open"), nw.len().alias("n")))
        if int(known["open"].iloc[0]) == int(known["n"].iloc[0]):
            raise ValueError("package cards: orders.shipped_at is empty and the orders have no status, so no order can be told "
                             "shipped or not. Fix: import the export with 发货时间 (shipped_at) or 订单状态 (status)")
        lf = lf.filter(nw.col("shipped_at").is_null() | (nw.col("shipped_at") >= engine.timestamp(at, lf)))
    keep = [c for c in ("order_id", "customer_id", "paid_at", "product_id", "influencer_id", "paid_amount", "refund_amount") if c in cols]
    lines = engine.collect(lf.select(*keep))
    lines["refund_amount"] = lines["refund_amount"].fillna(0.0)
    refunded = lines.groupby("order_id")["refund_amount"].transform("sum") >= lines.groupby("order_id")["paid_amount"].transform("sum")
    # A fully refunded (cancelled) order is not shipped: no card for it.
    return lines[~(refunded & (lines["refund_amount"] > 0))].reset_index(drop=True)


def _first_kept_order_at(shop: Shop, customers: pd.Series, at: pd.Timestamp) -> pd.Series:
    """Each customer's first kept order time before ``at`` (kept: net of refunds above 0)."""
    lf = engine.lazy(shop.orders)
    ids = engine.like(shop.orders, pd.DataFrame({"customer_id": customers.drop_duplicates().astype(str)}))
    lines = lf.filter(nw.col("paid_at") < engine.timestamp(at, lf)).join(ids, on="customer_id", how="semi")
    orders = kept_orders(lines).group_by("customer_id").agg(nw.col("paid_at").min().alias("first_at"))
    return engine.collect(orders).set_index("customer_id")["first_at"]


def _order_table(shop: Shop, lines: pd.DataFrame, rules: tuple[CardRule, ...], at: pd.Timestamp) -> pd.DataFrame:
    """One row per unshipped order with what the rules test at order level."""
    orders = lines.groupby("order_id", sort=True).agg(customer_id=("customer_id", "first"), paid_at=("paid_at", "min"),
                                                     amount=("paid_amount", "sum")).reset_index()
    used = {k for r in rules for k in r.when}
    if "first_order" in used:
        first = _first_kept_order_at(shop, orders["customer_id"], at)
        orders["first_order"] = orders["paid_at"] <= orders["customer_id"].map(first).fillna(pd.Timestamp.max)
    if "member_tier" in used:
        members = engine.collect(engine.lazy(required_table(shop, "members", "a member_tier rule", " or drop the rules that use it")).select("customer_id", "tier"))
        orders["tier"] = orders["customer_id"].map(members.set_index("customer_id")["tier"])
    return orders


def _matches(rule: CardRule, lines: pd.DataFrame, orders: pd.DataFrame) -> np.ndarray:
    """Whether each order (rows of ``orders``) meets every condition of ``rule``."""
    hit = np.ones(len(orders), dtype=bool)
    line_tests = [(key, lines[key].isin(rule.when[key])) for key in ("influencer_id", "product_id", "category") if key in rule.when]
    for _, on_line in line_tests:
        hit &= orders["order_id"].isin(lines.loc[on_line.to_numpy(), "order_id"]).to_numpy()
    if "min_amount" in rule.when:
        hit &= (orders["amount"] >= rule.when["min_amount"]).to_numpy()
    if "max_amount" in rule.when:
        hit &= (orders["amount"] < rule.when["max_amount"]).to_numpy()
    if "first_order" in rule.when:
        hit &= (orders["first_order"] == rule.when["first_order"]).to_numpy()
    if "member_tier" in rule.when:
        hit &= orders["tier"].isin(rule.when["member_tier"]).to_numpy()
    return hit


@dataclass(frozen=True)
class PackageCards(Result):
    """Notes for the day's unshipped orders (:func:`package_cards`).

    Attributes
    ----------
    orders : pandas.DataFrame
        Every paid, unshipped order: ``order_id, customer_id, paid_at, amount, rule_no, rule, note``
        (rule and note empty when no rule matched).
    rules : tuple of CardRule
    at : pandas.Timestamp
    """

    orders: pd.DataFrame
    rules: tuple[CardRule, ...]
    at: pd.Timestamp

    @property
    def notes(self) -> pd.DataFrame:
        """The file an ERP imports: ``order_id, note, rule`` for every order a rule matched, by order id."""
        matched = self.orders[self.orders["rule"].notna()]
        return matched[["order_id", "note", "rule"]].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """Orders and paid amount per rule, in rule order, with the orders no rule matched last."""
        names = [r.name for r in self.rules]
        per = self.orders.assign(rule=self.orders["rule"].fillna("（无规则命中）")).groupby("rule", sort=False).agg(
            orders=("order_id", "size"), amount=("amount", "sum"))
        per = per.reindex([*names, "（无规则命中）"]).fillna(0)
        per["orders"] = per["orders"].astype("int64")
        per.insert(0, "note", [*(r.note for r in self.rules), ""])
        return per.rename_axis("rule").reset_index()


def package_cards(shop: Shop, rules: CareRules, at: Any = None) -> PackageCards:
    """Give each paid, unshipped order the note of the first rule it matches.

    Parameters
    ----------
    shop : Shop
        Needs orders with ``shipped_at`` or the export's ``status``; ``products`` for category
        rules, ``members`` for tier rules.
    rules : CareRules
    at : timestamp, optional
        The moment of the run (default: the shop's extraction time).

    Returns
    -------
    PackageCards
        Deterministic: the same tables and ``at`` give the same notes.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.datasets.make_shop(2_000, seed=4)
    >>> rules = cl.care.CareRules.from_dict({"package_cards": [{"name": "大单", "when": {"min_amount": 300}, "note": "赠送小样"}]})
    >>> bool((cl.care.package_cards(shop, rules).notes["note"] == "赠送小样").all())
    True
    """
    at = _moment(shop, at)
    lines = _unshipped_lines(shop, at)
    if any("category" in r.when for r in rules.package_cards):
        products = engine.collect(engine.lazy(required_table(shop, "products", "a category rule", " or drop the rules that use it")).select("product_id", "category"))
        lines["category"] = lines["product_id"].map(products.drop_duplicates("product_id").set_index("product_id")["category"])
    orders = _order_table(shop, lines, rules.package_cards, at)
    masks = [_matches(r, lines, orders) for r in rules.package_cards]
    first = np.select(masks, list(range(len(masks))), default=-1) if masks else np.full(len(orders), -1)
    names = np.array([r.name for r in rules.package_cards] + [None], dtype=object)
    notes = np.array([r.note for r in rules.package_cards] + [None], dtype=object)
    out = orders[["order_id", "customer_id", "paid_at", "amount"]].copy()
    out["rule_no"] = pd.array(np.where(first >= 0, first + 1, 0), dtype="Int64").astype("Int64")
    out.loc[first < 0, "rule_no"] = pd.NA
    out["rule"], out["note"] = names[first], notes[first]
    return PackageCards(out, rules.package_cards, at)


# ---- payment reminders -----------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentReminders(Result):
    """Today's 催付 list (:func:`payment_reminders`).

    Attributes
    ----------
    orders : pandas.DataFrame
        ``order_id, customer_id, created_at, amount, group`` (``treatment``: remind; ``control``: held out).
    excluded : dict
        Unpaid orders of the window left out, by reason: ``too_new``, ``closed``, ``paid_since``, ``reminded_before``,
        ``global_holdout`` (the shop's global holdout is never touched).
    at : pandas.Timestamp
    settings : dict
    """

    orders: pd.DataFrame
    excluded: dict[str, int]
    at: pd.Timestamp
    settings: dict[str, Any]

    def summary(self) -> pd.DataFrame:
        """Orders and customers per group, with the exclusions."""
        groups = self.orders.groupby("group").agg(orders=("order_id", "size"), customers=("customer_id", "nunique"),
                                                  amount=("amount", "sum"))
        return groups.reindex(["treatment", "control"]).fillna(0).astype({"orders": "int64", "customers": "int64"})


def _unpaid_in_window(shop: Shop, at: pd.Timestamp, created_within: Any) -> pd.DataFrame:
    lf = engine.lazy(required_table(shop, "unpaid_orders", "payment reminders"))
    cols = engine.columns(shop.unpaid_orders)
    lf = engine.between(lf, "created_at", at - window_length(created_within), at)
    keep = [c for c in ("order_id", "customer_id", "created_at", "amount", "status") if c in cols]
    lines = engine.collect(lf.select(*keep))
    if "status" not in lines:
        lines["status"] = None
    if "amount" not in lines:
        lines["amount"] = np.nan
    return lines.groupby("order_id", as_index=False).agg(customer_id=("customer_id", "first"), created_at=("created_at", "min"),
                                                         amount=("amount", "sum"), status=("status", "last"))


def _paid_order_ids(shop: Shop, order_ids: pd.Series, at: pd.Timestamp) -> set[str]:
    lf = engine.lazy(shop.orders)
    ids = engine.like(shop.orders, pd.DataFrame({"order_id": order_ids.astype(str)}))
    paid = lf.filter(nw.col("paid_at") < engine.timestamp(at, lf)).join(ids, on="order_id", how="semi").select("order_id").unique()
    return set(engine.collect(paid)["order_id"].astype(str))


def _touched_after(shop: Shop, unpaid: pd.DataFrame, campaign_id: str, at: pd.Timestamp) -> np.ndarray:
    """Whether the customer of each unpaid order got a reminder of ``campaign_id`` after it was created."""
    if shop.touches is None or unpaid.empty:
        return np.zeros(len(unpaid), dtype=bool)
    lf = engine.lazy(shop.touches)
    sent = engine.collect(lf.filter((nw.col("campaign_id") == campaign_id) & (nw.col("sent_at") < engine.timestamp(at, lf)))
                          .select("customer_id", "sent_at"))
    last = sent.groupby("customer_id")["sent_at"].max()
    return (unpaid["customer_id"].map(last) >= unpaid["created_at"]).fillna(False).to_numpy(bool)


def payment_reminders(shop: Shop, at: Any = None, *, after_minutes: float = 30, created_within: Any = "24h",
                      control_share: float = 0.1, campaign_id: str = "payment_reminder", seed: int = 0,
                      reminded: Any = None) -> PaymentReminders:
    """催付: unpaid orders created in the ``created_within`` before ``at``, older than ``after_minutes``,
    not closed, not paid since, and not reminded for the same order before.

    Parameters
    ----------
    shop : Shop
        Needs ``unpaid_orders``; ``orders`` tell which were paid since; ``touches`` of
        ``campaign_id`` tell who was reminded.
    at : timestamp, optional
        The moment of the run (default: the shop's extraction time).
    control_share : float
        Customers held out (keyed hash of the customer id and ``seed``: the same customer is always
        in the same group), so that the reminders' effect can be measured afterwards with
        :func:`crm_lab.campaign.payment_reminder_response`.
    reminded : iterable of order ids, optional
        Orders reminded on earlier runs (the ledger :func:`run_care` keeps).

    Examples
    --------
    >>> import crm_lab as cl
    >>> r = cl.care.payment_reminders(cl.datasets.make_shop(5_000, seed=4))
    >>> set(r.orders["group"]) <= {"treatment", "control"}
    True
    """
    at = _moment(shop, at)
    unpaid = _unpaid_in_window(shop, at, created_within)
    reasons = {
        "too_new": (unpaid["created_at"] > at - pd.Timedelta(minutes=after_minutes)).to_numpy(),
        "closed": unpaid["status"].isin(CLOSED_UNPAID_STATUS).to_numpy(),
        "paid_since": unpaid["order_id"].isin(_paid_order_ids(shop, unpaid["order_id"], at)).to_numpy(),
        "reminded_before": (unpaid["order_id"].isin(set(map(str, [] if reminded is None else reminded))).to_numpy()
                            | _touched_after(shop, unpaid, campaign_id, at)),
        # The shop's global holdout gets no touch at all, or the programme's increment would be blurred.
        "global_holdout": (in_holdout(unpaid["customer_id"], shop.holdout["share"], shop.holdout["key"]) if shop.holdout
                           else np.zeros(len(unpaid), dtype=bool)),
    }
    left = np.ones(len(unpaid), dtype=bool)
    excluded = {}
    for reason, mask in reasons.items():  # each order counted under its first reason
        excluded[reason] = int((left & mask).sum())
        left &= ~mask
    due = unpaid[left].sort_values("order_id", ignore_index=True)[["order_id", "customer_id", "created_at", "amount"]]
    due["group"] = control_groups(due["customer_id"], control_share, seed) if control_share else "treatment"
    settings = {"after_minutes": after_minutes, "created_within": str(created_within), "control_share": control_share,
                "campaign_id": campaign_id, "seed": seed}
    return PaymentReminders(due, excluded, at, settings)


# ---- expiry reminders ------------------------------------------------------------------------


def _without_holdout(shop: Shop, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` less the shop's global holdout (never touched), with how many it held out in ``attrs["held_out"]``."""
    held = (in_holdout(frame["customer_id"], shop.holdout["share"], shop.holdout["key"]) if shop.holdout and len(frame)
            else np.zeros(len(frame), dtype=bool))
    out = frame[~held].reset_index(drop=True)
    out.attrs["held_out"] = int(held.sum())
    return out


def coupon_reminders(shop: Shop, at: Any = None, *, ends_within: Any = "3D") -> pd.DataFrame:
    """Customers to remind of a coupon that ends within ``ends_within`` after ``at``.

    The coupons table holds the shop's coupons, not who holds one: a member coupon goes to the
    members who joined before ``at``, a store coupon to the customers who bought in the 365 days
    before it started; either way only those with no kept order since the coupon started (who
    have most likely not used it).

    Returns
    -------
    pandas.DataFrame: ``customer_id, coupon_id, audience, discount, threshold, ends_at``, one row
    per customer and coupon; the shop's global holdout is left out (``attrs["held_out"]`` counts it).

    Examples
    --------
    >>> import crm_lab as cl
    >>> due = cl.care.coupon_reminders(cl.datasets.make_shop(2_000, seed=4), "2025-11-09")  # 双11 coupons end on 11-11
    >>> sorted(due["coupon_id"].unique())
    ['M04', 'S04']
    """
    at = _moment(shop, at)
    coupons = engine.collect(engine.lazy(required_table(shop, "coupons", "coupon reminders")))
    ending = coupons[(coupons["starts_at"] <= at) & (coupons["ends_at"] > at) & (coupons["ends_at"] <= at + window_length(ends_within))]
    lf = engine.lazy(shop.orders)
    rows = []
    for coupon in ending.itertuples():  # a handful of coupons, each one query
        if coupon.audience == "member":
            members = engine.lazy(required_table(shop, "members", "a member coupon's reminder"))
            audience = members.filter(nw.col("joined_at") < engine.timestamp(at, members)).select("customer_id")
        else:
            audience = engine.between(lf, "paid_at", coupon.starts_at - pd.Timedelta(days=365), coupon.starts_at).select("customer_id").unique()
        since = kept_orders(engine.between(lf, "paid_at", coupon.starts_at, at)).select("customer_id").unique()
        ids = engine.collect(audience.join(since, on="customer_id", how="anti"))["customer_id"].astype(str).sort_values()
        rows.append(pd.DataFrame({"customer_id": ids.to_numpy(), "coupon_id": coupon.coupon_id, "audience": coupon.audience,
                                  "discount": coupon.discount, "threshold": coupon.threshold, "ends_at": coupon.ends_at}))
    columns = ["customer_id", "coupon_id", "audience", "discount", "threshold", "ends_at"]
    return _without_holdout(shop, pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns))


def points_reminders(shop: Shop, at: Any = None, *, expire_on: str = "12-31", within: Any = "30D", min_points: float = 1) -> pd.DataFrame:
    """Members whose points expire on the next ``expire_on`` (month-day; the end of that day), when it is within ``within``.

    Returns
    -------
    pandas.DataFrame: ``customer_id, points, expires_at``; empty when the next expiry is further
    away (``attrs["next_expiry"]`` says when it is); the global holdout left out (``attrs["held_out"]``).

    Examples
    --------
    >>> import crm_lab as cl
    >>> due = cl.care.points_reminders(cl.datasets.make_shop(2_000, seed=4), within="35D", min_points=100)
    >>> str(due.attrs["next_expiry"].date()), bool((due["points"] >= 100).all())
    ('2026-01-01', True)
    """
    at = _moment(shop, at)
    members = required_table(shop, "members", "points reminders")
    expiry = pd.Timestamp(f"{at.year}-{expire_on}") + pd.Timedelta(days=1)
    if expiry <= at:
        expiry = pd.Timestamp(f"{at.year + 1}-{expire_on}") + pd.Timedelta(days=1)
    columns = ["customer_id", "points", "expires_at"]
    out = pd.DataFrame(columns=columns)
    if expiry - at <= window_length(within):
        lf = engine.lazy(members)
        held = engine.collect(lf.filter((nw.col("points") >= min_points) & (nw.col("joined_at") < engine.timestamp(at, lf)))
                              .select("customer_id", "points"))
        out = held.assign(customer_id=held["customer_id"].astype(str), expires_at=expiry).sort_values("customer_id", ignore_index=True)[columns]
    out = _without_holdout(shop, out)
    out.attrs["next_expiry"] = expiry
    return out


# ---- the daily run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CareRun(Result):
    """What :func:`run_care` wrote: the parts, the folder and the manifest."""

    cards: PackageCards | None
    reminders: PaymentReminders | None
    coupons: pd.DataFrame | None
    points: pd.DataFrame | None
    folder: Path
    manifest: dict[str, Any]

    def summary(self) -> pd.DataFrame:
        """One row per file written, with its rows."""
        return pd.DataFrame([{"file": name, "rows": rows} for name, rows in self.manifest["files"].items()])


#: The ledger of reminded orders, beside the day folders: one row per reminded order and the run's moment.
LEDGER = "reminded.csv"


def _ledger(out: Path) -> pd.DataFrame:
    path = out / LEDGER
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype="str") for c in ("order_id", "customer_id", "at")})
    return pd.read_csv(path, dtype=str)


def run_care(shop: Shop, rules: CareRules, out: str | os.PathLike[str], at: Any = None, *, run: dict[str, Any] | None = None) -> CareRun:
    """Write the day's care files into ``<out>/<YYYY-MM-DD>/`` and record the reminded orders.

    The day's folder is built aside and put in place whole, so a pickup job sees yesterday's set or
    today's, never half; a rerun the same day rebuilds it from the same tables to the same files
    (the ledger's reminders of runs at an earlier moment count as "reminded before", those of a run
    at the same moment do not, so a later run the same day never reminds an order twice). Files: ``package_cards.csv``
    (order_id, note, rule), ``payment_reminders.csv`` (order_id, customer_id, group),
    ``coupon_reminders.csv``, ``points_reminders.csv`` (customer ids), ``manifest.json``; UTF-8 with a
    BOM so that Excel and ERP imports read the Chinese notes.

    Examples
    --------
    >>> import tempfile, crm_lab as cl
    >>> rules = cl.care.CareRules.from_dict({"package_cards": [{"note": "放入品牌感谢卡"}], "payment_reminders": True})
    >>> done = cl.care.run_care(cl.datasets.make_shop(2_000, seed=4), rules, tempfile.mkdtemp())
    >>> done.summary()["file"].tolist()
    ['package_cards.csv', 'payment_reminders.csv']
    """
    at = _moment(shop, at)
    out = Path(out)
    day = f"{at:%Y-%m-%d}"
    ledger = _ledger(out)
    stamp = at.isoformat()
    earlier = ledger.loc[pd.to_datetime(ledger["at"]) < at, "order_id"]
    cards = package_cards(shop, rules, at) if rules.package_cards else None
    reminders = payment_reminders(shop, at, reminded=earlier, **rules.payment_reminders) if rules.payment_reminders else None
    coupons = coupon_reminders(shop, at, **rules.coupon_reminders) if rules.coupon_reminders else None
    points = points_reminders(shop, at, **rules.points_reminders) if rules.points_reminders else None
    files = {"package_cards.csv": cards.notes if cards else None,
             "payment_reminders.csv": reminders.orders[["order_id", "customer_id", "group"]] if reminders else None,
             "coupon_reminders.csv": coupons, "points_reminders.csv": points}
    files = {name: frame for name, frame in files.items() if frame is not None}
    manifest = {"at": str(at), "files": {name: int(len(frame)) for name, frame in files.items()},
                "package_cards": cards.summary().to_dict(orient="records") if cards else None,
                "payment_reminders": {"excluded": reminders.excluded, **reminders.settings} if reminders else None,
                "global_holdout": {"share": shop.holdout["share"]} if shop.holdout else None,
                "data": {k: v for k, v in (shop.source or {}).items() if k != "contacts"} or None, "run": run}
    out.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=f".{day}.", dir=out))
    built.chmod(0o755)  # mkdtemp's 0700 would hide the files from a pickup job run as another user
    for name, frame in files.items():
        frame.to_csv(built / name, index=False, encoding="utf-8-sig")
    (built / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    folder = replace_dir(built, out / day)
    if reminders is not None:
        sent = reminders.orders.loc[reminders.orders["group"] == "treatment", ["order_id", "customer_id"]].assign(at=stamp)
        kept = ledger[ledger["at"] != stamp]
        atomic_frame(pd.concat([kept, sent], ignore_index=True).astype(str), out / LEDGER)
    return CareRun(cards, reminders, coupons, points, folder, manifest)
