"""Related products (关联品): which products are bought together, at catalogue scale.

Baskets become a sparse basket x item matrix ``X`` (one entry per distinct item in a basket);
``X.T @ X`` counts every pair at once. Nothing is ever one-hot encoded densely, so a million
baskets over fifty thousand SKUs fit in memory (the usual apriori route allocates the dense table
and fails there).

Each pair carries its counts, support, confidence both ways and lift, plus two measures that keep
rare pairs from topping a list: the (binomial) p-value of seeing that many co-occurrences by
chance, and ``lift_shrunk = (count + k) / (expected + k)``, the lift with a prior of ``k``
pseudo-baskets at lift 1 (``k = 10`` by default). One co-occurrence of two rare items can have a
lift of 500,000; its shrunk lift is about 1.1. Lists are ranked by the shrunk lift.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(3_000, seed=2)
>>> top = cl.assoc.related_products(shop, product="N01", top=3)
>>> top["partner"].iloc[0] == shop.truth["related_pairs"].set_index("new_product").loc["N01", "partner"]
True
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse, special

from crm_lab import engine
from crm_lab.data import Shop, orders_of, products

__all__ = ["Baskets", "baskets", "baskets_from_lists", "pair_table", "related_products", "rules", "plot_partners", "plot_pairs"]

PAIR_COLUMNS = ["item_a", "item_b", "count", "count_a", "count_b", "support", "confidence_ab", "confidence_ba",
                "lift", "lift_shrunk", "p_value"]
PRIOR = 10.0


@dataclass
class Baskets:
    """A sparse basket x item incidence matrix.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix of 0/1 (float32), baskets x items
    items : pandas.Index of item labels (column order)
    level, basket : str
        What an item and a basket are (``product`` / ``order`` ...).
    """

    matrix: sparse.csr_matrix
    items: pd.Index
    level: str = "item"
    basket: str = "basket"

    @property
    def n_baskets(self) -> int:
        return int(self.matrix.shape[0])

    def item_counts(self) -> pd.Series:
        """Baskets containing each item."""
        return pd.Series(np.asarray(self.matrix.sum(axis=0)).ravel().astype("int64"), index=self.items, name="count")


def _from_codes(basket_codes: np.ndarray, item_codes: np.ndarray, n_baskets: int, items: pd.Index, level: str, basket: str) -> Baskets:
    matrix = sparse.csr_matrix(
        (np.ones(basket_codes.size, dtype=np.float32), (basket_codes, item_codes)), shape=(n_baskets, len(items))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # presence, not quantity
    return Baskets(matrix, items, level, basket)


def baskets_from_lists(lists: list[list[str]]) -> Baskets:
    """Baskets from lists of item names (as in the Groceries data).

    Examples
    --------
    >>> from crm_lab.assoc import baskets_from_lists
    >>> b = baskets_from_lists([["milk", "bread"], ["milk"]])
    >>> b.n_baskets, list(b.items)
    (2, ['bread', 'milk'])
    """
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    flat = pd.Series([item for basket in lists for item in basket], dtype="str")
    codes, uniques = pd.factorize(flat, sort=True)
    return _from_codes(np.repeat(np.arange(len(lists)), lengths), codes, len(lists), pd.Index(uniques), "item", "basket")


def baskets(
    source: Any,
    level: Literal["product", "sku", "category"] = "product",
    basket: Literal["order", "customer"] = "order",
    window: tuple[Any, Any] | None = None,
) -> Baskets:
    """Build baskets from a shop's orders where they live; only distinct (basket, item) pairs move.

    Parameters
    ----------
    source : Shop or canonical orders (any engine)
    level : {"product", "sku", "category"}
        What counts as an item; ``category`` needs the shop's products table.
    basket : {"order", "customer"}
        An order, or everything a customer bought (within ``window``).
    window : (start, end), optional
        Orders paid in ``[start, end)``.
    """
    import narwhals as nw

    orders = orders_of(source)[0]
    item_col = {"product": "product_id", "sku": "sku_id", "category": "product_id"}[level]
    basket_col = {"order": "order_id", "customer": "customer_id"}[basket]
    lf = engine.lazy(orders)
    if window is not None:
        start, end = (pd.Timestamp(w) for w in window)
        lf = engine.between(lf, "paid_at", start, end)
    pairs = engine.collect(lf.select(nw.col(basket_col).alias("basket"), nw.col(item_col).alias("item")).unique())
    pairs = pairs.dropna()
    if level == "category":
        if not isinstance(source, Shop) or source.products is None:
            raise ValueError("level='category' needs a Shop with a products table")
        pairs["item"] = pairs["item"].map(products(source)["category"])
        pairs = pairs.dropna().drop_duplicates()
    b_codes, _ = pd.factorize(pairs["basket"])
    i_codes, items = pd.factorize(pairs["item"], sort=True)
    return _from_codes(b_codes, i_codes, int(b_codes.max()) + 1 if len(b_codes) else 0, pd.Index(items), level, basket)


#: Pairs enumerated per chunk of baskets (bounds the counting's memory).
PAIRS_PER_CHUNK = 1_000_000
#: Baskets with more items than this are counted by a sparse product instead of enumeration.
LARGE_BASKET = 1_000
#: Threads counting pairs (numpy and scipy release the GIL while they work).
WORKERS = 2


def _chunk_pairs(indptr: np.ndarray, indices: np.ndarray, lo: int, hi: int, n_items: int) -> sparse.csr_matrix:
    """Upper-triangle pair counts of baskets ``lo:hi`` (rows of a CSR matrix with sorted indices).

    Every pair ``(i, j)``, ``i < j``, of items in a basket is enumerated with vectorised
    repeat/arange arithmetic, and the pairs are summed as a sparse matrix: half the work of
    ``X.T @ X``, which computes both triangles and the diagonal.
    """
    p0, p1 = int(indptr[lo]), int(indptr[hi])
    sizes = np.diff(indptr[lo:hi + 1]).astype(np.int32)
    # Offsets within the chunk fit in int32 (chunks hold at most PAIRS_PER_CHUNK pairs).
    pos = np.arange(p1 - p0, dtype=np.int32)
    partners = np.repeat((indptr[lo + 1:hi + 1] - p0).astype(np.int32), sizes) - pos - 1  # later items in the basket
    left = np.repeat(indices[p0:p1], partners)
    first = np.cumsum(partners, dtype=np.int32) - partners
    step = np.repeat(first - pos - 1, partners)
    step -= np.arange(left.size, dtype=np.int32)
    np.negative(step, out=step)
    right = indices[p0:p1][step]
    del step
    pairs = sparse.csr_matrix((np.ones(left.size, dtype=np.int32), (left, right)), shape=(n_items, n_items))
    pairs.sum_duplicates()
    return pairs


def _pair_counts(x: sparse.csr_matrix) -> sparse.coo_matrix:
    """Baskets holding each pair of items (``i < j``), as a sparse upper triangle.

    Baskets are split into chunks of at most :data:`PAIRS_PER_CHUNK` pairs (a multiple of :data:`WORKERS`),
    counted :data:`WORKERS` at a time in threads, and summed.
    Baskets larger than :data:`LARGE_BASKET` items (a customer basket over years) go through
    ``X.T @ X`` instead, so no single basket's pairs are ever all held at once.
    """
    from concurrent.futures import ThreadPoolExecutor

    x = x.tocsr()
    if not x.has_sorted_indices:
        x = x.copy()
        x.sort_indices()
    n_items = x.shape[1]
    sizes = np.diff(x.indptr)
    large = sizes > LARGE_BASKET
    total = sparse.csr_matrix((n_items, n_items), dtype=np.int32)
    if large.any():
        big = x[np.flatnonzero(large)]
        big.data = np.ones_like(big.data, dtype=np.int32)
        total = total + sparse.triu(big.T @ big, k=1).tocsr()
        x = x[np.flatnonzero(~large)]
        sizes = sizes[~large]
    cumulative = np.cumsum(sizes.astype(np.int64) * (sizes.astype(np.int64) - 1) // 2)
    pairs = int(cumulative[-1]) if cumulative.size else 0
    if pairs <= PAIRS_PER_CHUNK // 4:  # small: threads would cost more than they save
        return (total + _chunk_pairs(x.indptr, x.indices, 0, x.shape[0], n_items)).tocoo()
    n_chunks = WORKERS * max(1, -(-pairs // (WORKERS * PAIRS_PER_CHUNK)))
    cuts = np.searchsorted(cumulative, np.arange(1, n_chunks) * (pairs / n_chunks)) + 1
    edges = np.unique(np.concatenate([[0], np.minimum(cuts, x.shape[0]), [x.shape[0]]]))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        parts = pool.map(lambda c: _chunk_pairs(x.indptr, x.indices, int(c[0]), int(c[1]), n_items), zip(edges[:-1], edges[1:], strict=True))
        for part in parts:
            total = total + part
    return total.tocoo()


def _binomial_tail(n_ab: np.ndarray, n_a: np.ndarray, p: np.ndarray) -> np.ndarray:
    """One-sided binomial tail P(X >= n_ab), X ~ Binomial(n_a, p).

    Close to the hypergeometric (Fisher) test when baskets far outnumber an item's, and compiled
    (scipy's hypergeom.sf took 39 s for 250k pairs). ``n_ab = 1``, most pairs of a catalogue,
    has the closed form 1 - (1 - p)^n_a, computed stably as -expm1(n_a log1p(-p)).
    """
    out = np.negative(p)
    np.log1p(out, out=out)
    out *= n_a
    np.expm1(out, out=out)
    np.negative(out, out=out)  # P(X >= 1) for every pair
    more = np.flatnonzero(n_ab > 1)
    out[more] = special.bdtrc(n_ab[more].astype(np.int64) - 1, np.asarray(n_a)[more].astype(np.int64), p[more])
    return out


def _shrunk_lift(n_ab: np.ndarray, expected: np.ndarray, prior: float = PRIOR) -> np.ndarray:
    """(count + prior) / (expected + prior): a prior of ``prior`` pseudo-baskets at lift 1, so
    that rare pairs cannot top a list by lift alone (the ranking of every list here)."""
    shrunk = n_ab + prior  # a new float array; divided in place to keep one copy at catalogue scale
    shrunk /= expected + prior
    return shrunk


def _pair_stats(n_ab: np.ndarray, n_a: np.ndarray, n_b: np.ndarray, n: int, prior: float = PRIOR) -> dict[str, np.ndarray]:
    n_ab, n_a, n_b = (np.asarray(v, dtype="float64") for v in (n_ab, n_a, n_b))
    expected = n_a * n_b / n
    return {
        "support": n_ab / n,
        "confidence_ab": n_ab / n_a,
        "confidence_ba": n_ab / n_b,
        "lift": n_ab / expected,
        "lift_shrunk": _shrunk_lift(n_ab, expected, prior),
        "p_value": _binomial_tail(n_ab, n_a, n_b / n),
    }


def pair_table(
    source: Any,
    level: Literal["product", "sku", "category"] = "product",
    basket: Literal["order", "customer"] = "order",
    window: tuple[Any, Any] | None = None,
    min_count: int = 10,
) -> pd.DataFrame:
    """Every pair of items bought together at least ``min_count`` times, with its statistics.

    Parameters
    ----------
    source : Shop, orders (any engine), or :class:`Baskets`
    level, basket, window : see :func:`baskets`
    min_count : int
        Baskets that must contain both items.

    Returns
    -------
    pandas.DataFrame, one row per unordered pair (``item_a < item_b`` in the item order),
    strongest first by ``lift_shrunk`` (ties in item order): ``item_a, item_b, count, count_a,
    count_b, support, confidence_ab`` (P(b | a)), ``confidence_ba``, ``lift, lift_shrunk,
    p_value`` (the basket count is :attr:`Baskets.n_baskets`).

    Notes
    -----
    Pairs are counted by enumerating each basket's pairs (half the work of ``X.T @ X``) in two
    threads; the sort runs in a thread while the p-values are computed. 1M baskets over 50k SKUs
    take about a second (bench/RESULTS.md).

    Examples
    --------
    >>> from crm_lab.assoc import baskets_from_lists, pair_table
    >>> t = pair_table(baskets_from_lists([["a", "b"], ["a", "b"], ["a"], ["c"]]), min_count=1)
    >>> t[["item_a", "item_b", "count", "lift"]].values.tolist()
    [['a', 'b', 2, 1.3333333333333333]]
    """
    from concurrent.futures import ThreadPoolExecutor

    b = source if isinstance(source, Baskets) else baskets(source, level, basket, window)
    empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in PAIR_COLUMNS})
    if b.n_baskets == 0 or len(b.items) < 2:
        warnings.warn(f"pair_table: {b.n_baskets} basket(s) over {len(b.items)} item(s): no pairs to count", stacklevel=2)
        return empty
    n = b.n_baskets
    counts = np.bincount(b.matrix.tocsr().indices, minlength=len(b.items)).astype(np.int64)
    co = _pair_counts(b.matrix)
    if min_count > 1:
        keep = co.data >= min_count
        ia, ib, n_ab = co.row[keep], co.col[keep], co.data[keep]
    else:
        ia, ib, n_ab = co.row, co.col, co.data
    del co
    per_item = counts.astype(np.float64)
    expected = per_item[ia]
    expected *= per_item[ib] / n
    shrunk = _shrunk_lift(n_ab, expected)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Strongest first; the sort (which releases the GIL) overlaps the p-values.
        sorting = pool.submit(lambda: np.argsort(np.negative(shrunk), kind="stable"))
        p_value = _binomial_tail(n_ab, per_item[ia], per_item[ib] / n)
        order = sorting.result()
    # Reorder column by column, each unordered array dropped once used, the largest first: the
    # table is the biggest thing held here (threads would overlap these steps at a higher peak).
    p_value = p_value[order]
    shrunk = shrunk[order]
    count = n_ab[order].astype(np.int64)
    del n_ab
    lift = expected[order]
    del expected
    np.divide(count, lift, out=lift)
    item_a = pd.Categorical.from_codes(ia[order], categories=b.items, validate=False)
    del ia
    item_b = pd.Categorical.from_codes(ib[order], categories=b.items, validate=False)
    del ib, order
    count_a, count_b = counts[item_a.codes], counts[item_b.codes]
    columns = {"item_a": item_a, "item_b": item_b, "count": count, "count_a": count_a, "count_b": count_b,
               "support": count / n, "confidence_ab": count / count_a, "confidence_ba": count / count_b,
               "lift": lift, "lift_shrunk": shrunk, "p_value": p_value}
    table = pd.DataFrame(columns, copy=False)
    return table


def _close_matches(product: str, candidates: pd.Index, names: pd.Series | None) -> list[str]:
    pool = [str(c) for c in candidates]
    found = difflib.get_close_matches(str(product), pool, n=5, cutoff=0.5)
    if names is not None:
        by_name = difflib.get_close_matches(str(product), names.astype("str").tolist(), n=5, cutoff=0.4)
        found += [f"{names.index[names == n][0]} ({n})" for n in by_name]
    return found[:5]


def related_products(
    source: Any,
    product: str,
    top: int = 10,
    min_lift: float = 2.0,
    min_count: int = 10,
    basket: Literal["order", "customer"] = "order",
    window: tuple[Any, Any] | None = None,
    prebuilt: Baskets | None = None,
) -> pd.DataFrame:
    """The products most often bought with ``product``, strongest first (by shrunk lift).

    A product too new (or too rare) to have a partner bought with it ``min_count`` times falls
    back to its category: the category's other products by number of baskets, the usual audience
    of a launch. ``basis`` and ``reason`` say so; association columns are then empty.

    Parameters
    ----------
    source : Shop (its products table gives names and categories) or canonical orders
    product : str
    top, min_lift, min_count : ranking: the ``top`` partners with lift >= ``min_lift``, seen
        together in ``min_count`` baskets or more
    basket, window : see :func:`baskets`
    prebuilt : Baskets, optional
        :func:`baskets` of ``source`` already built (same ``basket`` and ``window``), to rank
        the partners of several products with one scan of the orders.

    Returns
    -------
    pandas.DataFrame: ``product, partner, partner_name`` (with a products table), ``count,
    confidence`` (P(partner | product)), ``lift, lift_shrunk, p_value, support, basis, reason``
    (``basis`` is ``product`` or ``category:<name>``).

    Raises
    ------
    ValueError
        Unknown product, with close matches by id and name.

    Examples
    --------
    >>> import crm_lab as cl
    >>> top = cl.assoc.related_products(cl.datasets.make_shop(2_000, seed=2), "P001", top=3)
    >>> list(top.columns[:3])
    ['product', 'partner', 'partner_name']
    """

    b = prebuilt if prebuilt is not None else baskets(source, "product", basket, window)
    catalogue = products(source) if isinstance(source, Shop) and source.products is not None else None
    names = catalogue["name"] if catalogue is not None else None
    listed = catalogue is not None and product in catalogue.index
    if product not in b.items and not listed:
        raise ValueError(f"Unknown product {product!r}. Close matches: {_close_matches(product, b.items, names) or 'none'}")
    counts = b.item_counts()
    co = np.zeros(len(b.items))
    if product in b.items:
        j = b.items.get_loc(product)
        co = np.asarray((b.matrix.T @ b.matrix[:, j]).todense()).ravel()
        co[j] = 0
    idx = np.flatnonzero(co >= min_count)
    if idx.size:
        st = _pair_stats(co[idx], np.full(idx.size, counts.iloc[j]), counts.to_numpy()[idx], b.n_baskets)
        out = pd.DataFrame({"product": product, "partner": b.items[idx], "count": co[idx].astype("int64"),
                            "confidence": st["confidence_ab"], "lift": st["lift"], "lift_shrunk": st["lift_shrunk"],
                            "p_value": st["p_value"], "support": st["support"], "basis": "product", "reason": ""})
        out = out[out["lift"] >= min_lift].sort_values(["lift_shrunk", "count"], ascending=False, ignore_index=True)
    elif listed:
        category = catalogue.loc[product, "category"]
        members = catalogue.index[catalogue["category"] == category].drop(product, errors="ignore")
        popular = counts.reindex(members).dropna().sort_values(ascending=False)
        out = pd.DataFrame({"product": product, "partner": popular.index, "count": popular.to_numpy().astype("int64"),
                            "confidence": np.nan, "lift": np.nan, "lift_shrunk": np.nan, "p_value": np.nan,
                            "support": popular.to_numpy() / max(b.n_baskets, 1), "basis": f"category:{category}",
                            "reason": f"{product} has no partner bought with it {min_count}+ times (too new or too rare): "
                                      f"best-selling products of its category {category} instead"})
    else:
        warnings.warn(f"related_products: {product!r} has no partner bought with it {min_count}+ times", stacklevel=2)
        out = pd.DataFrame(columns=["product", "partner", "count", "confidence", "lift", "lift_shrunk", "p_value", "support", "basis", "reason"])
    if names is not None:
        out.insert(2, "partner_name", out["partner"].map(names))
    return out.head(top).reset_index(drop=True)


def rules(source: Any, min_support: float = 0.01, min_confidence: float = 0.5, max_len: int = 3, **kwargs: Any) -> pd.DataFrame:
    """Association rules ``antecedent -> consequent`` with one consequent and up to two antecedents.

    Frequent pairs come from :func:`pair_table`; three-item sets are counted only for the frequent
    pairs (each one a sparse column product), so the cost stays near the pair count's.

    Returns
    -------
    pandas.DataFrame: ``antecedent`` (tuple), ``consequent``, ``support, confidence, lift,
    count``, by lift.

    Examples
    --------
    >>> from crm_lab.assoc import baskets_from_lists, rules
    >>> r = rules(baskets_from_lists([["a", "b", "c"], ["a", "b", "c"], ["a", "b"], ["c"]]), min_support=0.4)
    """
    if max_len not in (2, 3):
        raise ValueError("max_len must be 2 or 3")
    b = source if isinstance(source, Baskets) else baskets(source, **kwargs)
    n = b.n_baskets
    min_count = max(1, int(np.ceil(min_support * n - 1e-9)))
    pairs = pair_table(b, min_count=min_count)
    counts = b.item_counts()
    one = pd.DataFrame({"antecedent": [(a,) for a in pairs["item_a"]], "consequent": pairs["item_b"],
                        "count": pairs["count"], "count_antecedent": pairs["count_a"], "count_consequent": pairs["count_b"]})
    other = pd.DataFrame({"antecedent": [(c,) for c in pairs["item_b"]], "consequent": pairs["item_a"],
                          "count": pairs["count"], "count_antecedent": pairs["count_b"], "count_consequent": pairs["count_a"]})
    rows: list[tuple[Any, ...]] = []
    if max_len == 3 and len(pairs):
        x = b.matrix.tocsc()
        for a, c in pairs[["item_a", "item_b"]].itertuples(index=False):
            both = x[:, b.items.get_loc(a)].multiply(x[:, b.items.get_loc(c)])
            triple = np.asarray((x.T @ both).todense()).ravel()
            n_ac = both.sum()
            for k in np.flatnonzero(triple >= min_count):
                item = b.items[k]
                if item in (a, c):
                    continue
                rows.append(((a, c), item, int(triple[k]), int(n_ac), int(counts[item])))
    r = pd.concat([one, other, pd.DataFrame(rows, columns=one.columns)], ignore_index=True)
    r["support"] = r["count"] / n
    r["confidence"] = r["count"] / r["count_antecedent"]
    r["lift"] = r["confidence"] / (r["count_consequent"] / n)
    r = r[r["confidence"] >= min_confidence]
    return r.sort_values(["lift", "count"], ascending=False, ignore_index=True)[
        ["antecedent", "consequent", "support", "confidence", "lift", "count"]
    ]


def plot_partners(related: pd.DataFrame, ax: Any = None, label: str = "partner_name") -> Any:
    """Top partners of a product by lift, bars; returns the Axes."""
    import matplotlib.pyplot as plt

    from crm_lab import plots

    col = label if label in related else "partner"
    data = related.assign(搭配商品=related[col].astype("str"), 提升度=related["lift"])
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 1.2 + 0.45 * max(len(data), 1)))
    return plots.bar(data, x="提升度", y="搭配商品", ax=ax, title=f"{related['product'].iloc[0] if len(related) else ''} 关联商品（提升度）",
                     xlabel="lift", ylabel="")


def plot_pairs(pairs: pd.DataFrame, top: int = 15, ax: Any = None) -> Any:
    """Heatmap of the lift of the strongest pairs; returns the Axes."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from crm_lab.plots import ensure_cjk

    ensure_cjk()
    strongest = pairs.head(top)
    items = pd.unique(pd.concat([strongest["item_a"], strongest["item_b"]]))
    grid = pd.DataFrame(np.nan, index=items, columns=items)
    for a, c, lift in strongest[["item_a", "item_b", "lift"]].itertuples(index=False):
        grid.loc[a, c] = grid.loc[c, a] = lift
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.6))
    sns.heatmap(grid, ax=ax, cmap="rocket_r", annot=len(items) <= 12, fmt=".1f", cbar_kws={"label": "lift"})
    ax.set_title("最强关联商品对（提升度）")
    return ax
