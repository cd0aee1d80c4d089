"""Related products: Groceries against mlxtend and the published rule, planted truth, real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab.assoc import baskets_from_lists, pair_table, related_products, rules


@pytest.fixture(scope="module")
def groceries():
    if not cl.datasets.shared_data_path("groceries.csv").exists():
        pytest.skip("../shared/data is not beside this checkout")
    return cl.datasets.load_groceries()


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_groceries_pairs_equal_mlxtend(groceries):
    mlxtend = pytest.importorskip("mlxtend")
    from mlxtend.frequent_patterns import apriori, association_rules
    from mlxtend.preprocessing import TransactionEncoder

    assert mlxtend
    ours = pair_table(baskets_from_lists(groceries), min_count=1)
    te = TransactionEncoder()
    onehot = pd.DataFrame(te.fit(groceries).transform(groceries), columns=te.columns_)
    itemsets = apriori(onehot, min_support=1 / len(groceries) - 1e-12, max_len=2, use_colnames=True)
    theirs = association_rules(itemsets, metric="confidence", min_threshold=0.0)
    theirs = theirs.assign(a=theirs["antecedents"].map(lambda s: next(iter(s))), b=theirs["consequents"].map(lambda s: next(iter(s))))
    theirs = theirs.set_index(["a", "b"])
    assert len(theirs) == 2 * len(ours) == 2 * 9_636
    forward = theirs.loc[list(zip(ours["item_a"], ours["item_b"]))]
    backward = theirs.loc[list(zip(ours["item_b"], ours["item_a"]))]
    np.testing.assert_allclose(ours["support"], forward["support"], rtol=1e-12)
    np.testing.assert_allclose(ours["confidence_ab"], forward["confidence"], rtol=1e-12)
    np.testing.assert_allclose(ours["confidence_ba"], backward["confidence"], rtol=1e-12)
    np.testing.assert_allclose(ours["lift"], forward["lift"], rtol=1e-12)


def test_groceries_published_rule(groceries):
    # {citrus fruit, root vegetables} -> {other vegetables}: support 0.0104, confidence 0.586, lift 3.03.
    r = rules(baskets_from_lists(groceries), min_support=0.01, min_confidence=0.5)
    rule = r[(r["antecedent"] == ("citrus fruit", "root vegetables")) & (r["consequent"] == "other vegetables")].iloc[0]
    assert round(rule["support"], 4) == 0.0104
    assert round(rule["confidence"], 3) == 0.586
    assert round(rule["lift"], 2) == 3.03
    assert (r["confidence"] >= 0.5).all() and (r["support"] >= 0.01 - 1e-12).all()


def test_rare_pairs_do_not_top_the_list():
    common = [["milk", "bread"]] * 60 + [["milk"]] * 100 + [["bread"]] * 100
    rare = [["caviar", "truffle"]]  # one co-occurrence of two items seen once: lift = n
    filler = [["water"]] * 5_000
    table = pair_table(baskets_from_lists(common + rare + filler), min_count=1)
    assert table.set_index(["item_a", "item_b"]).loc[("caviar", "truffle"), "lift"] > 5_000
    assert tuple(table.iloc[0][["item_a", "item_b"]]) == ("bread", "milk")  # ranked by the shrunk lift
    assert table.set_index(["item_a", "item_b"]).loc[("caviar", "truffle"), "lift_shrunk"] < 1.2
    assert table.iloc[0]["p_value"] < 1e-10


def test_planted_related_products_rank_first(small_shop):
    truth = small_shop.truth["related_pairs"]
    for new, partner in truth[["new_product", "partner"]].itertuples(index=False):
        top = related_products(small_shop, new, top=5, min_count=5)
        assert top["partner"].iloc[0] == partner, (new, top[["partner", "lift"]].head(3))
        assert top["basis"].eq("product").all() and "partner_name" in top
    pairs = pair_table(small_shop, min_count=5).set_index(["item_a", "item_b"])
    for new, partner in truth[["new_product", "partner"]].itertuples(index=False):
        key = tuple(sorted((new, partner)))
        assert pairs.loc[key, "lift"] > 3 and pairs.loc[key, "p_value"] < 1e-6


def test_engines_agree(small_shop, shop_dir):
    expected = pair_table(small_shop.orders, min_count=3)
    for frame in (shop_dir / "orders.parquet", cl.engine.connection().from_df(small_shop.orders)):
        got = pair_table(frame, min_count=3)
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True), check_exact=False, rtol=1e-12)


def test_new_product_falls_back_to_its_category(small_shop):
    extra = pd.DataFrame({"product_id": ["N99"], "sku_id": ["N99-01"], "name": ["新品精华"], "category": ["护肤"],
                          "listed_at": [small_shop.as_of], "status": ["on_sale"], "sample_of": [None]})
    shop = cl.data.Shop(orders=small_shop.orders, products=pd.concat([small_shop.products, extra], ignore_index=True),
                        as_of=small_shop.as_of)
    out = related_products(shop, "N99", top=5, min_count=5)
    assert len(out) == 5 and out["basis"].eq("category:护肤").all()
    skincare = set(shop.products.loc[shop.products["category"] == "护肤", "product_id"])
    assert set(out["partner"]) <= skincare
    # The fallback's counts are each partner's baskets, counted here from the orders by pandas.
    per_product = small_shop.orders.groupby("product_id")["order_id"].nunique()
    assert out["count"].tolist() == per_product.reindex(out["partner"]).tolist()
    assert "N99" in out["reason"].iloc[0] and "护肤" in out["reason"].iloc[0]


def test_unknown_product_lists_close_matches(small_shop):
    with pytest.raises(ValueError, match="P001"):
        related_products(small_shop, "P0001")


def test_empty_or_single_item_gives_an_empty_table_with_a_warning():
    with pytest.warns(UserWarning, match="no pairs"):
        assert pair_table(baskets_from_lists([["milk"], ["milk"]]), min_count=1).empty
    with pytest.warns(UserWarning, match="no pairs"):
        assert pair_table(baskets_from_lists([]), min_count=1).empty


def test_online_retail_partners_are_the_same_family():
    if not cl.datasets.shared_data_path("online_retail_clean.parquet").exists():
        pytest.skip("../shared/data is not beside this checkout")
    df = cl.datasets.load_online_retail()
    orders = pd.DataFrame({"order_id": df["InvoiceNo"].astype("str"), "product_id": df["StockCode"].astype("str"),
                           "customer_id": df["CustomerID"].astype(int).astype("str"),
                           "paid_at": pd.to_datetime(df["InvoiceDate"]), "paid_amount": df["Quantity"] * df["UnitPrice"]})
    names = df.drop_duplicates("StockCode").set_index("StockCode")["Description"]
    top = related_products(orders, "22697", top=3, min_count=20)  # GREEN REGENCY TEACUP AND SAUCER
    shown = top.assign(name=top["partner"].map(names))
    assert shown["name"].str.contains("REGENCY").all(), shown[["partner", "name", "count", "lift"]]
    assert (shown["count"] >= 100).all() and (shown["lift"] > 10).all()


def test_plots_return_axes(small_shop):
    import matplotlib.pyplot as plt

    top = related_products(small_shop, "N01", top=5, min_count=5)
    ax = cl.assoc.plot_partners(top)
    assert len(ax.patches) == len(top)
    ax2 = cl.assoc.plot_pairs(pair_table(small_shop, min_count=5), top=6)
    assert ax2.get_title()
    plt.close("all")


@pytest.mark.parametrize("pairs_per_chunk,large_basket", [(1_000_000, 1_000), (7, 1_000), (50, 4), (1_000_000, 4)])
def test_pair_counting_equals_the_sparse_product(monkeypatch, pairs_per_chunk, large_basket):
    # Enumerated pairs, in one chunk or many, with large baskets sent through X.T @ X, count
    # exactly what the plain upper triangle of X.T @ X counts.
    from scipy import sparse

    rng = np.random.default_rng(5)
    n_baskets, n_items = 400, 60
    sizes = rng.integers(0, 12, n_baskets)
    rows = np.repeat(np.arange(n_baskets), sizes)
    cols = rng.integers(0, n_items, rows.size)
    x = sparse.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n_baskets, n_items))
    x.sum_duplicates()
    x.data[:] = 1.0
    # Items in reverse order within each basket: unsorted indices must be sorted first.
    row = np.repeat(np.arange(n_baskets), np.diff(x.indptr))
    flipped = x.indices[x.indptr[row] + x.indptr[row + 1] - 1 - np.arange(x.indices.size)]
    x = sparse.csr_matrix((x.data, flipped, x.indptr), shape=x.shape)
    assert not x.has_sorted_indices or x.nnz == 0
    monkeypatch.setattr(cl.assoc, "PAIRS_PER_CHUNK", pairs_per_chunk)
    monkeypatch.setattr(cl.assoc, "LARGE_BASKET", large_basket)
    got = cl.assoc._pair_counts(x).tocsr()
    expected = sparse.triu(x.T @ x, k=1).tocsr()
    assert (got != expected.astype(np.int32)).nnz == 0 and got.nnz == expected.nnz
    table = cl.assoc.pair_table(cl.assoc.Baskets(x, pd.Index([f"i{k:02d}" for k in range(n_items)])), min_count=1)
    assert int(table["count"].sum()) == int(expected.sum())
    assert table["lift_shrunk"].is_monotonic_decreasing


def test_binomial_tail_closed_form_equals_scipy():
    from scipy import special, stats

    n_ab = np.array([1, 1, 2, 5, 1])
    n_a = np.array([10, 5000, 40, 200, 1])
    p = np.array([1e-7, 0.3, 0.01, 0.02, 0.999])
    got = cl.assoc._binomial_tail(n_ab, n_a, p)
    np.testing.assert_allclose(got, special.bdtrc(n_ab - 1, n_a, p), rtol=1e-12)
    np.testing.assert_allclose(got, stats.binom.sf(n_ab - 1, n_a, p), rtol=1e-9)


def test_prebuilt_baskets_rank_the_same_partners(small_shop):
    prebuilt = cl.assoc.baskets(small_shop)
    for product in ("N01", "P001"):
        pd.testing.assert_frame_equal(related_products(small_shop, product, min_count=5, prebuilt=prebuilt),
                                      related_products(small_shop, product, min_count=5))
