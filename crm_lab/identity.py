"""OneID (统一用户ID): one customer id per person across platform ids.

A person reaches a shop under several ids: Douyin open_id and union_id, a WeChat openid, a member
id, a Tmall buyer nick, a hashed phone. Every record that names two of them at once (a member
sign-up, an order with a phone) links them. :func:`unify` takes these links and gives each
connected group one stable ``customer_id`` (connected components of the id graph, computed by
``scipy.sparse.csgraph``), with an audit table that flags suspicious groups, such as one phone
hash joining several members. :func:`apply` rewrites ``customer_id`` in any table, where it lives.

Examples
--------
>>> import pandas as pd
>>> from crm_lab import identity
>>> links = pd.DataFrame({"open_id": ["o1", "o2", None], "member_id": ["m1", "m1", "m2"],
...                       "phone_hash": [None, "h1", "h2"]})
>>> ids = identity.unify(links)
>>> ids.mapping.groupby("customer_id").size().sort_values().tolist()
[2, 4]
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from crm_lab import engine

__all__ = ["IdentityMap", "unify", "apply", "KIND_PRIORITY"]

log = logging.getLogger(__name__)

#: Which id names a group (its anchor): the first kind present in this order, then the smallest id.
KIND_PRIORITY = ("member_id", "union_id", "unionid", "open_id", "openid", "buyer_nick", "phone_hash", "customer_id")


@dataclass
class IdentityMap:
    """Result of :func:`unify`.

    Attributes
    ----------
    mapping : pandas.DataFrame
        One row per id: ``kind, id, customer_id``.
    audit : pandas.DataFrame
        One row per customer: ``customer_id, ids, kinds`` (count per kind), ``anchor``,
        ``sample_ids``, ``conflict`` (bool) and ``reason``.
    """

    mapping: pd.DataFrame
    audit: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Counts: ids, customers, ids per customer, conflicting groups."""
        sizes = self.audit["ids"]
        return pd.DataFrame(
            {"value": {"ids": len(self.mapping), "customers": len(self.audit), "mean ids per customer": sizes.mean(),
                       "largest group": sizes.max(), "groups flagged": int(self.audit["conflict"].sum())}}
        )

    def lookup(self, kind: str) -> pd.DataFrame:
        """``id -> customer_id`` for one kind of id (e.g. to rewrite an orders table)."""
        found = self.mapping[self.mapping["kind"] == kind]
        if found.empty:
            raise ValueError(f"no ids of kind {kind!r}; kinds: {sorted(self.mapping['kind'].unique())}")
        return found[["id", "customer_id"]].reset_index(drop=True)


def _edges(links: pd.DataFrame) -> pd.DataFrame:
    """Long table of (row, kind, id): every non-null id of a row links to the others."""
    if {"id_a", "id_b"} <= set(links.columns):
        kind_a = links["kind_a"] if "kind_a" in links else "id"
        kind_b = links["kind_b"] if "kind_b" in links else "id"
        wide = pd.DataFrame({"a": links["id_a"], "b": links["id_b"]})
        long = pd.concat(
            [pd.DataFrame({"row": np.arange(len(links)), "kind": kind_a, "id": wide["a"]}),
             pd.DataFrame({"row": np.arange(len(links)), "kind": kind_b, "id": wide["b"]})],
            ignore_index=True,
        )
    else:
        long = links.reset_index(drop=True).rename_axis("row").reset_index().melt(id_vars="row", var_name="kind", value_name="id")
    long = long.dropna(subset=["id"])
    long["id"] = long["id"].astype("str").str.strip()
    long = long[long["id"] != ""]
    long["kind"] = long["kind"].astype("str")
    return long


def unify(links: pd.DataFrame, max_members: int = 1, prefix: str = "cid_") -> IdentityMap:
    """One stable customer id per connected group of platform ids.

    Parameters
    ----------
    links : pandas.DataFrame
        Either wide, one column per kind of id (``open_id, union_id, member_id, phone_hash`` ...;
        every non-null id of a row is the same person), or long pairs ``id_a, id_b`` with optional
        ``kind_a, kind_b``.
    max_members : int
        A group holding more member ids than this is flagged (a shared phone or a merged account).
    prefix : str
        Prefix of the unified ids.

    Returns
    -------
    IdentityMap
        ``customer_id`` = prefix + the first 16 hex digits of SHA-256 of the group's anchor (the
        id of the highest-priority kind in :data:`KIND_PRIORITY`, smallest first): the same links
        give the same ids on every run, and a group keeps its id while its anchor stays in it.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.identity import unify
    >>> m = unify(pd.DataFrame({"id_a": ["a", "b"], "id_b": ["b", "c"]}))
    >>> m.mapping["customer_id"].nunique()
    1
    """
    long = _edges(links)
    if long.empty:
        raise ValueError("links: no ids (every value is empty)")
    node_key = long["kind"] + "\x1f" + long["id"]
    codes, nodes = pd.factorize(node_key)
    n = len(nodes)
    # Link each id of a row to the row's first id: a star per row connects them all.
    first = pd.Series(codes).groupby(long["row"].to_numpy()).transform("first").to_numpy()
    graph = sparse.coo_matrix((np.ones(codes.size), (codes, first)), shape=(n, n))
    n_groups, labels = csgraph.connected_components(graph, directed=False)
    parts = pd.Series(nodes).str.split("\x1f", n=1, expand=True)
    mapping = pd.DataFrame({"kind": parts[0].to_numpy(), "id": parts[1].to_numpy(), "group": labels})
    rank = {k: i for i, k in enumerate(KIND_PRIORITY)}
    mapping["priority"] = mapping["kind"].map(rank).fillna(len(rank)).astype(int)
    anchors = mapping.sort_values(["group", "priority", "kind", "id"]).drop_duplicates("group").set_index("group")
    anchor_text = anchors["kind"] + ":" + anchors["id"]
    cid = anchor_text.map(lambda a: prefix + hashlib.sha256(a.encode("utf-8")).hexdigest()[:16])
    mapping["customer_id"] = mapping["group"].map(cid)
    counts = mapping.pivot_table(index="group", columns="kind", values="id", aggfunc="count", fill_value=0)
    members = counts["member_id"] if "member_id" in counts else pd.Series(0, index=counts.index)
    audit = pd.DataFrame(
        {
            "customer_id": cid,
            "ids": counts.sum(axis=1),
            "kinds": counts.apply(lambda r: ", ".join(f"{k}×{int(v)}" for k, v in r.items() if v), axis=1),
            "anchor": anchor_text,
            "sample_ids": mapping.groupby("group")["id"].agg(lambda s: ", ".join(sorted(s)[:5])),
        }
    )
    audit["conflict"] = members.reindex(audit.index, fill_value=0) > max_members
    audit["reason"] = np.where(audit["conflict"], members.reindex(audit.index, fill_value=0).astype(str) + " member ids joined (shared phone or merged accounts?)", "")
    audit = audit.sort_values(["conflict", "ids"], ascending=False).reset_index(drop=True)
    flagged = int(audit["conflict"].sum())
    if flagged:
        log.warning("identity: %d group(s) join more than %d member ids; see the audit table", flagged, max_members)
    return IdentityMap(mapping[["kind", "id", "customer_id"]].reset_index(drop=True), audit)


def apply(frame: Any, ids: IdentityMap, kind: str, column: str = "customer_id", keep_unmatched: bool = True) -> Any:
    """Rewrite ``column`` of a table (any engine) from ids of ``kind`` to unified customer ids.

    Rows whose id is not in the map keep their id (``keep_unmatched=True``, counted in the log)
    or are dropped when asked; nothing is dropped silently.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.identity import unify, apply
    >>> m = unify(pd.DataFrame({"open_id": ["o1"], "member_id": ["m1"]}))
    >>> apply(pd.DataFrame({"customer_id": ["o1", "zz"]}), m, kind="open_id")["customer_id"].str[:4].tolist()
    ['cid_', 'zz']
    """
    lookup = ids.lookup(kind).rename(columns={"id": "_oneid_source", "customer_id": "_oneid_target"})
    lf = engine.lazy(frame)
    joined = lf.join(engine.like(frame, lookup), left_on=column, right_on="_oneid_source", how="left")
    unmatched = engine.collect(joined.select(nw.col("_oneid_target").is_null().cast(nw.Int64()).sum().alias("n")))["n"].iloc[0]
    if unmatched:
        log.info("identity.apply: %d row(s) with a %s not in the map %s", int(unmatched), kind,
                 "keep their id" if keep_unmatched else "are dropped (keep_unmatched=False)")
    if not keep_unmatched:
        joined = joined.filter(~nw.col("_oneid_target").is_null())
    out = joined.with_columns(nw.coalesce(nw.col("_oneid_target"), nw.col(column)).alias(column))
    return engine.to_native(out.select(*lf.collect_schema().names()))
