"""Audience selection (人群圈选): readable rules, a randomised control group, and export.

An :class:`Audience` is a list of rules read left to right. Each rule selects customers where the
shop's tables live (DuckDB, pandas, Polars or Spark); rules are combined with semi- and
anti-joins there, and only the final customer ids come back. Every method returns a new
audience, so partial audiences can be kept and reused.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(2_000, seed=1)
>>> aud = (cl.audience.Audience(shop)
...        .bought(product=["P001", "P002"], within="90D")
...        .not_bought(product="N01")
...        .min_net_amount(200))
>>> aud.describe()["中文"].tolist()[0]
'90天内购买过 P001, P002'
"""

from __future__ import annotations

import datetime as dt
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import engine, rules
from crm_lab.data import (
    Shop,
    atomic_write,
    kept_orders,
    observation_end,
    window_length,
)
from crm_lab.files import atomic_text
from crm_lab.periods import window
from crm_lab.results import Result
from crm_lab.splits import control_groups, in_holdout

__all__ = [
    "Audience",
    "Outcome",
]

#: Recipes and their helpers live in :mod:`crm_lab.recipes`; these names stay reachable here
#: (``cl.audience.new_product_launch``) for notebooks written before the move.
_RECIPE_NAMES = ("Recipe", "recipe_sizes", "new_product_launch", "promotion_waves", "sample_to_full_size",
                 "influencer_new_customers", "new_member_first_purchase", "high_potential", "RECIPES")


def __getattr__(name: str) -> Any:
    if name in _RECIPE_NAMES:
        from crm_lab import recipes

        return getattr(recipes, name)
    raise AttributeError(f"module 'crm_lab.audience' has no attribute {name!r}")


#: The seed of the treatment / control split, shared by :meth:`Audience.split_control` and
#: :meth:`Audience.export`: the same share and seed always give the same groups.
CONTROL_SEED = 0


# A long class on purpose: its public API is a chain of small rule methods (bought, not_bought,
# event ...) users discover on one object; the work behind them (_export_rows, _export_platform,
# _assign, the rules module) lives in module functions.
@dataclass(frozen=True)
class Audience:
    """Customers selected by rules on a shop, as of a moment.

    Parameters
    ----------
    shop : Shop
    as_of : date-like, optional
        Reference moment of every window (a date includes its whole day); default the shop's.
    name : str
        Used in descriptions and exports.
    global_holdout : bool
        Leave out the shop's global holdout (:attr:`crm_lab.data.Shop.holdout`), as every audience
        does unless switched off; recorded in the export's manifest. No effect on a shop without one.
    """

    shop: Shop
    as_of: pd.Timestamp | None = None
    name: str = "audience"
    rules: tuple[rules.Rule, ...] = field(default_factory=tuple)
    global_holdout: bool = True

    def __post_init__(self) -> None:
        as_of = self.as_of if self.as_of is not None else self.shop.as_of
        if as_of is None:
            raise ValueError("Audience needs as_of (the shop has none)")
        as_of = pd.Timestamp(as_of)
        if self.shop.as_of is not None and as_of.normalize() > pd.Timestamp(self.shop.as_of).normalize():
            raise ValueError(f"as_of {as_of.date()} is after the shop's data end {pd.Timestamp(self.shop.as_of).date()}: "
                             "windows would reach into days with no data. Fix: use an as_of on or before the data end")
        object.__setattr__(self, "as_of", as_of)

    @classmethod
    def from_ids(cls, shop: Shop, ids: Any, as_of: Any = None, name: str = "audience",
                 zh: str = "给定的客户名单", en: str = "a given list of customers") -> Audience:
        """An audience of given customer ids (an uploaded list, a model's pick), to refine with more rules.

        ``zh`` / ``en`` describe where the list came from in :meth:`describe`.

        Examples
        --------
        >>> import crm_lab as cl
        >>> shop = cl.datasets.make_shop(500, seed=1)
        >>> aud = cl.audience.Audience.from_ids(shop, ["C0000001", "C0000002"]).not_bought(within="7D")
        >>> aud.size() <= 2
        True
        """
        return cls(shop, as_of, name)._with(rules.ids(ids, zh, en))

    # ---- building blocks ---------------------------------------------------------------------

    def _with(self, rule: rules.Rule) -> Audience:
        return replace(self, rules=(*self.rules, rule))

    def _add(self, include: bool, zh: str, en: str, select: Callable[[Audience], nw.LazyFrame]) -> Audience:
        """A custom rule (a recipe's own selection), described in Chinese and English."""
        return self._with(rules.Rule(include, zh, en, select))

    def _end(self) -> pd.Timestamp:
        return observation_end(self.as_of)

    def _window_start(self, within: Any) -> pd.Timestamp:
        return window(within, as_of=self.as_of)[0]

    def _table(self, name: str) -> nw.LazyFrame:
        return rules.table(self, name)

    def _orders(self, **filters: Any) -> nw.LazyFrame:
        return rules.orders_in(self, **filters)

    # ---- order rules (see crm_lab.rules) -----------------------------------------------------

    def bought(self, product: Any = None, sku: Any = None, category: Any = None, *, within: Any = None,
               influencer: Any = None, genre: Any = None, source: Any = None) -> Audience:
        """Keep customers who bought (any of) these, within the window before as_of (default: ever).

        Filters combine: products / SKUs / categories, influencer ids or names (达人), traffic
        genre (live, short_video, product_card, other) and traffic source (流量来源, e.g. 精选联盟).
        """
        return self._with(rules.purchase(self.shop, True, product, sku, category, within, influencer, genre, source))

    def not_bought(self, product: Any = None, sku: Any = None, category: Any = None, *, within: Any = None,
                   influencer: Any = None, genre: Any = None, source: Any = None) -> Audience:
        """Drop customers who bought (any of) these within the window (default: ever)."""
        return self._with(rules.purchase(self.shop, False, product, sku, category, within, influencer, genre, source))

    def orders_between(self, min: int | None = None, max: int | None = None, *, within: Any = None) -> Audience:  # noqa: A002
        """Keep customers whose number of orders lies in [min, max]."""
        return self._with(rules.aggregate("orders", min, max, within, "订单数", "orders"))

    def net_amount_between(self, min: float | None = None, max: float | None = None, *, within: Any = None) -> Audience:  # noqa: A002
        """Keep customers whose net (refund-adjusted) amount lies in [min, max]."""
        return self._with(rules.aggregate("net_amount", min, max, within, "有效金额", "net amount"))

    def min_net_amount(self, amount: float, *, within: Any = None) -> Audience:
        """Keep customers with at least this net amount."""
        return self.net_amount_between(min=amount, within=within)

    def paid_amount_between(self, min: float | None = None, max: float | None = None, *, within: Any = None) -> Audience:  # noqa: A002
        """Keep customers whose paid amount (before refunds) lies in [min, max]."""
        return self._with(rules.aggregate("paid_amount", min, max, within, "实付金额", "paid amount"))

    def refunds_between(self, min: int | None = None, max: int | None = None, *, within: Any = None) -> Audience:  # noqa: A002
        """Keep customers whose number of refunded order lines lies in [min, max]."""
        return self._with(rules.aggregate("refund_lines", min, max, within, "退款次数", "refunded lines"))

    # ---- member and behaviour rules ------------------------------------------------------

    def member(self, joined_within: Any = None, tier: Any = None, min_points: float | None = None) -> Audience:
        """Keep members (joined in the window, of these tiers, with at least these points)."""
        return self._with(rules.member(joined_within, tier, min_points))

    def not_bought_since_joining(self) -> Audience:
        """Drop members who paid an order at or after joining (入会后未购买)."""
        return self._with(rules.not_bought_since_joining())

    def event(self, kind: str = "live_view", *, within: Any = "30D", ref: Any = None) -> Audience:
        """Keep customers with this behaviour event (live_view, add_to_cart, product_view, follow) in the window."""
        return self._with(rules.event(kind, within, ref))

    def cart_without_order(self, *, within: Any = "30D") -> Audience:
        """Keep customers who added to cart in the window and paid no order since."""
        return self.event("add_to_cart", within=within).not_bought(within=within)

    def rfm_segment(self, segments: Any, method: str = "quantile") -> Audience:
        """Keep customers in these RFM segments (Chinese or English names), scored as of as_of."""
        return self._with(rules.rfm_segment(segments, method))

    def clv_tier(self, tiers: Any, *, horizon: Any = "90D") -> Audience:
        """Keep customers whose predicted CLV tier (top / high / medium / low) is one of these."""
        return self._with(rules.clv_tier(tiers, horizon=horizon))

    def predicted(self, churn: Any = None, *, next_order_within: Any = None, min_value: float | None = None) -> Audience:
        """Keep customers by their predictions (:mod:`crm_lab.predict`): churn-risk band(s) ``"low"`` /
        ``"medium"`` / ``"high"``, a next order expected within a window ("14D"), a minimum predicted
        365-day value. Example: ``Audience(shop).predicted(churn="high").min_net_amount(500)``."""
        return self._with(rules.predicted(churn, next_order_within, min_value))

    def exclude_touched(self, *, within: Any = "7D", campaign: Any = None) -> Audience:
        """Drop customers touched (treatment group) in the window, or by these campaigns (排重)."""
        return self._with(rules.exclude_touched(within, campaign))

    # ---- set operations ------------------------------------------------------------------

    def minus(self, other: Audience) -> Audience:
        """Drop the customers of another audience."""
        return self._with(rules.other_audience(other, include=False))

    def intersect(self, other: Audience) -> Audience:
        """Keep only customers also in another audience."""
        return self._with(rules.other_audience(other, include=True))

    def union(self, other: Audience) -> Audience:
        """Customers in this audience or the other (rules of both kept for the description)."""
        return Audience(self.shop, self.as_of, f"{self.name} ∪ {other.name}",
                        global_holdout=self.global_holdout)._with(rules.union(self, other))

    # ---- results -------------------------------------------------------------------------

    def _universe(self) -> nw.LazyFrame:
        ids = self._orders().select("customer_id").unique()
        if self.shop.members is not None:
            members = self._table("members")
            members = members.filter(nw.col("joined_at") < engine.timestamp(self._end(), members)).select("customer_id")
            ids = nw.concat([ids, members]).unique()
        return ids

    def _frame(self) -> nw.LazyFrame:
        # Start from the first keeping rule (or everyone), then keep (semi-join) or drop (anti-join).
        first = next((r for r in self.rules if r.include), None)
        current = first.select(self) if first is not None else self._universe()
        for rule in self.rules:
            if rule is first:
                continue
            if rule.include and rule.within_candidates is not None:
                current = rule.within_candidates(self, current)
            else:
                current = current.join(rule.select(self), on="customer_id", how="semi" if rule.include else "anti")
        return current

    @property
    def _holdout(self) -> dict[str, Any] | None:
        return self.shop.holdout if self.global_holdout else None

    def _selected(self) -> tuple[pd.Series, int]:
        """The ids the rules select, minus the global holdout, and how many the holdout took."""
        ids = engine.collect(self._frame())["customer_id"].astype("str").sort_values(ignore_index=True)
        if self._holdout is None:
            return ids, 0
        held = in_holdout(ids, self._holdout["share"], self._holdout["key"])
        return ids[~held].reset_index(drop=True), int(held.sum())

    def held_out(self) -> int:
        """Customers the rules select that the shop's global holdout leaves out (0 without one)."""
        return self._selected()[1]

    def customer_ids(self) -> pd.Series:
        """The audience's customer ids, sorted (an empty audience warns)."""
        import warnings

        ids, _ = self._selected()
        if ids.empty:
            warnings.warn(f"audience '{self.name}' is empty: {' / '.join(r.en for r in self.rules)}", stacklevel=2)
        return ids.rename("customer_id")

    def size(self) -> int:
        """Number of customers."""
        if self._holdout is not None:
            return len(self._selected()[0])
        return int(engine.collect(self._frame().select(nw.len().alias("n")))["n"].iloc[0])

    def outcome(self, *, horizon: Any = "30D", product: Any = None) -> Outcome:
        """What the audience did after its ``as_of``: per customer, kept orders and net amount within ``horizon``.

        Built for backtests: select an audience as of a past day, untouched, and read how many
        bought anyway in the following days (the response a touch must beat). An order counts when
        paid in ``(as_of's end, + horizon]`` and kept (net of refunds above 0).

        Parameters
        ----------
        horizon : window, e.g. "7D", "30D"
        product : str or list of str, optional
            Only orders of these products count.

        Returns
        -------
        Outcome: per customer ``customer_id, bought`` (0/1), ``orders, net_amount`` (:meth:`Outcome.to_frame`),
        the window, and the share who bought (:attr:`Outcome.rate`).

        Raises
        ------
        ValueError
            If the horizon reaches past the shop's data end.

        Examples
        --------
        >>> import crm_lab as cl
        >>> shop = cl.datasets.make_shop(2_000, seed=1)
        >>> past = cl.audience.Audience(shop, as_of="2025-09-30").event("live_view", within="30D").not_bought(within="30D")
        >>> out = past.outcome(horizon="30D")
        >>> 0 <= out.rate <= 1
        True
        """
        start = self._end()
        stop = start + window_length(horizon)
        data_end = observation_end(self.shop.as_of) if self.shop.as_of is not None else None
        if data_end is not None and stop > data_end:
            raise ValueError(f"outcome: {horizon} after {self.as_of:%Y-%m-%d} reaches {stop:%Y-%m-%d}, past the data end "
                             f"{pd.Timestamp(self.shop.as_of):%Y-%m-%d}. Fix: select the audience as of an earlier day or use a shorter horizon.")
        ids = self.customer_ids()
        lf = self._table("orders")
        lf = engine.between(lf, "paid_at", start, stop)
        if product is not None:
            lf = lf.filter(nw.col("product_id").is_in(rules.as_list(product)))
        kept = engine.collect(
            kept_orders(lf.join(rules._ids_where(self.shop, ids), on="customer_id", how="semi"))
            .group_by("customer_id").agg(nw.len().alias("orders"), nw.col("net").sum().alias("net_amount"))
        ).set_index("customer_id")
        out = pd.DataFrame({"customer_id": ids})
        out["orders"] = out["customer_id"].map(kept["orders"]).fillna(0).astype("int64")
        out["net_amount"] = out["customer_id"].map(kept["net_amount"]).fillna(0.0)
        out.insert(1, "bought", (out["orders"] > 0).astype("int64"))
        return Outcome(out, start, stop)

    def describe(self) -> pd.DataFrame:
        """The rules in order, in Chinese and English (the global holdout last, when there is one)."""
        steps = [(r.include, r.zh, r.en) for r in self.rules]
        if self._holdout is not None:
            share = self._holdout["share"]
            steps.append((False, f"排除全局对照组（{share:.0%} 的客户，不参与任何触达）", f"minus the global holdout ({share:.0%})"))
        return pd.DataFrame({"step": range(1, len(steps) + 1), "include": [s[0] for s in steps],
                             "中文": [s[1] for s in steps], "English": [s[2] for s in steps]})

    def split_control(self, share: float = 0.1, seed: int = CONTROL_SEED) -> pd.DataFrame:
        """Random, reproducible treatment / control split, stable when the audience grows.

        Each customer's group depends only on its id and ``seed`` (a keyed hash), never on who
        else is in the audience: :meth:`export` with the same share and seed (both default to
        :data:`CONTROL_SEED`) writes the same groups, and ``export(groups=split)`` writes this one.

        Returns
        -------
        pandas.DataFrame: ``customer_id, group`` (``treatment`` / ``control``); ``attrs`` holds
        ``share`` and ``seed``.
        """
        if not 0 < share < 1:
            raise ValueError("share must be between 0 and 1")
        ids = self.customer_ids()
        split = pd.DataFrame({"customer_id": ids, "group": _assign(ids, share, seed)})
        split.attrs.update(share=share, seed=int(seed))
        return split

    def export(self, path: str | os.PathLike[str], control_share: float | None = None, seed: int = CONTROL_SEED,
               ids: str = "customer_id", run: dict[str, Any] | None = None, groups: pd.DataFrame | None = None,
               format: str = "ids", contacts: str | os.PathLike[str] | None = None) -> Path:
        """Write the audience as a file a platform or a pickup job takes, plus ``<path>.manifest.json``; atomic.

        An empty audience writes a file with the header only and its manifest, so that a pickup
        job never finds yesterday's list where today's should be.

        Parameters
        ----------
        ids : {"customer_id", "phone_hash"}
            With ``format="ids"``: the unified customer id or the member's salted phone hash.
        run : dict, optional
            The run that made the export (id, command), recorded in the manifest.
        groups : pandas.DataFrame, optional
            A split from :meth:`split_control` to write as it is (its share and seed go to the
            manifest); it must hold exactly this audience's customers.
        format : {"ids", "oceanengine_dmp", "tencent_gdt", "doudian_open_id"}
            ``"ids"``: CSV of ``id`` (and ``group``). The others are the platforms' upload files,
            one key per line, no header, for the treatment group only (the control group is held
            out, as the manifest says): SHA-256 of the 11-digit phone for a 巨量引擎 DMP audience
            package, MD5 of it for 广点通 (``HASH_MOBILE_PHONE``), ``doudian_open_id`` for 抖店 SMS.
            The keys come from the shop's contacts table (:mod:`crm_lab.data.contacts`); the
            manifest's ``match`` says how many of the audience have one.
        contacts : path, optional
            The contacts file (default: the shop folder's ``contacts/contacts.parquet``).

        Notes
        -----
        The manifest records the audience's ``as_of``, the data snapshot it came from
        (``Shop.source``: folder, extraction time, fingerprint of its files), the rules, the
        groups and ``run``.
        """
        if groups is not None:
            control_share, seed = _check_groups(self, groups)
        if format == "ids":
            out, missing = _export_rows(self, control_share, seed, ids, groups)
            target = atomic_write(out, path)
            extra: dict[str, Any] = {"ids": ids, "customers": int(len(out)), "without_id": missing}
        else:
            target, extra = _export_platform(self, Path(path), format, contacts, control_share, seed, groups)
            out = None
        manifest = {
            "name": self.name, "as_of": str(self.as_of), "created_at": dt.datetime.now().isoformat(timespec="seconds"),
            "format": format, **extra,
            "control_share": control_share, "seed": seed if control_share else None,
            "groups": out["group"].value_counts().to_dict() if out is not None and "group" in out else extra.get("groups"),
            "rules": self.describe().to_dict(orient="records"),
            "global_holdout": (None if self.shop.holdout is None else
                               {"share": self.shop.holdout["share"], "applied": self.global_holdout, "held_out": self.held_out()}),
            "data": {k: v for k, v in (self.shop.source or {}).items() if k != "contacts"} or None, "run": run,
        }
        atomic_text(f"{target}.manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1, default=str))
        return target


@dataclass(frozen=True)
class Outcome(Result):
    """What an audience bought, untouched, after its ``as_of`` (:meth:`Audience.outcome`).

    Attributes
    ----------
    customers : pandas.DataFrame
        Per customer: ``customer_id, bought`` (0/1), ``orders`` (kept), ``net_amount``.
    start, end : pandas.Timestamp
        The window: orders paid in ``[start, end)`` count.
    """

    customers: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def buyers(self) -> int:
        """Customers who bought in the window."""
        return int(self.customers["bought"].sum())

    @property
    def rate(self) -> float:
        """Share of the audience who bought (NaN for an empty audience)."""
        return self.buyers / len(self.customers) if len(self.customers) else float("nan")

    @property
    def net_amount(self) -> float:
        """Their net amount in the window."""
        return float(self.customers["net_amount"].sum())

    def to_frame(self) -> pd.DataFrame:
        """The per-customer table."""
        return self.customers

    def summary(self) -> pd.DataFrame:
        """One row: ``customers, buyers, rate, net_amount, start, end``."""
        return pd.DataFrame([{"customers": len(self.customers), "buyers": self.buyers, "rate": self.rate,
                              "net_amount": self.net_amount, "start": self.start, "end": self.end}])


def _check_groups(aud: Audience, groups: pd.DataFrame) -> tuple[float, int]:
    """The share and seed of a split given to export; an error unless it is this audience's."""
    if not {"customer_id", "group"} <= set(groups.columns) or not {"share", "seed"} <= set(groups.attrs):
        raise ValueError("groups: give the frame returned by Audience.split_control (customer_id, group, with its share and seed)")
    ids = set(aud.customer_ids())
    given = set(groups["customer_id"].astype("str"))
    if given != ids:
        raise ValueError(f"groups: the split has {len(given - ids):,} customer(s) not in the audience and lacks {len(ids - given):,}; "
                         "split this audience again (the data or the rules changed)")
    return float(groups.attrs["share"]), int(groups.attrs["seed"])


def _export_rows(aud: Audience, control_share: float | None, seed: int, ids: str,
                 groups: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """The rows an export writes (``id`` and, with a control share, ``group``) and how many lack the id."""
    if groups is not None:
        out = groups[["customer_id", "group"]].assign(customer_id=groups["customer_id"].astype("str")).reset_index(drop=True)
    elif control_share:
        out = aud.split_control(control_share, seed)
    else:
        out = pd.DataFrame({"customer_id": aud.customer_ids()})
    if ids == "phone_hash":
        members = engine.collect(aud._table("members").select("customer_id", "phone_hash"))
        out = out.merge(members, on="customer_id", how="left")
        missing = int(out["phone_hash"].isna().sum())
        return out.drop(columns="customer_id").rename(columns={"phone_hash": "id"}), missing
    if ids == "customer_id":
        return out.rename(columns={"customer_id": "id"}), 0
    raise ValueError("ids must be 'customer_id' or 'phone_hash'")


def _export_platform(aud: Audience, path: Path, format: str, contacts: Any, control_share: float | None, seed: int,
                     groups: pd.DataFrame | None) -> tuple[Path, dict[str, Any]]:
    """The treatment group's platform keys, one per line, and the manifest's match counts."""
    from crm_lab.data.contacts import PLATFORM_KEYS, keys_for, read_contacts

    if format not in PLATFORM_KEYS:
        raise ValueError(f"format={format!r}: expected 'ids' or one of {sorted(PLATFORM_KEYS)}")
    source = contacts or (aud.shop.source or {}).get("contacts")
    if source is None:
        raise ValueError(f"format={format!r} needs the shop's contacts table (platform keys kept apart from the "
                         "analysis tables): import the shop with `crm-lab import`, which writes contacts/ from the "
                         "export's phones and open ids, or pass contacts='<shop>/contacts/contacts.parquet'")
    split, _ = _export_rows(aud, control_share, seed, "customer_id", groups)
    treated = split.loc[split["group"] == "treatment", "id"] if "group" in split else split["id"]
    key = PLATFORM_KEYS[format]
    rows, without = keys_for(read_contacts(source), treated, key)
    target = atomic_text(path, "".join(f"{k}\n" for k in rows[key].drop_duplicates()))
    n = int(len(treated))
    if without:
        warnings.warn(f"{aud.name}: {without:,} of {n:,} customer(s) to touch have no {key} in the contacts table "
                      f"(match {1 - without / n:.1%}); the platform cannot reach them through {format}", stacklevel=3)
    extra = {"key": key, "customers": n, "keys": int(rows[key].nunique()),
             "match": {"customers": n, "with_key": n - without, "rate": (n - without) / n if n else None},
             "held_out": int(len(split) - n),
             "groups": split["group"].value_counts().to_dict() if "group" in split else None}
    return target, extra


def _assign(ids: pd.Series, share: float, seed: int) -> np.ndarray:
    return control_groups(ids, share, seed)
