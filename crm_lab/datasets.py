"""Data to learn and test on: the simulated sample shop, CDNOW, and the shared public data.

:func:`make_shop` simulates a Douyin-like shop whose ground truth is known (``shop.truth``):

* customers are acquired over time by their first purchase; afterwards they buy by a BG/NBD
  process (purchase rate λ ~ Gamma(r, α) per day, drop-out after each repeat purchase with
  probability p ~ Beta(a, b)), with purchase intensity multiplied inside the big promotions
  (618 and 双11 of each year);
* order values follow Gamma-Gamma (ν ~ Gamma(q, γ), value ~ Gamma(p, ν)), split over the order's
  lines;
* a catalogue of categories and SKUs with popularity, trial-size samples (派样) mapped to their
  full-size products, and new products launched mid-period with a planted related product;
* traffic genres (live, short_video, product_card, other) with influencers (达人), three of them
  with high refund rates, and refunds;
* members who join before or after their first purchase, and members who never buy;
* live-view, add-to-cart, product-view and follow events;
* SMS campaigns with a randomised control group and a true uplift that is larger for customers
  who watched a live stream in the 30 days before the send.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(n_customers=2_000, seed=7)
>>> sorted(shop.truth["bgnbd"])
['a', 'alpha', 'b', 'r']
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from crm_lab.data import Shop

__all__ = ["make_shop", "load_cdnow", "load_cdnow_master", "shared_data_path", "load_groceries", "load_hillstrom", "load_online_retail"]

# Parameters of the purchase process, time unit one day (Fader, Hardie and Lee's CDNOW estimates
# are per week: r 0.24, alpha 4.41 weeks; a shop buys a little more often).
BGNBD = {"r": 0.25, "alpha": 40.0, "a": 0.8, "b": 2.5}
GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "gamma": 75.0}

PROMOTIONS = (
    ("618_2024", "2024-06-01", "2024-06-18", 2.5),
    ("d11_2024", "2024-10-20", "2024-11-11", 3.0),
    ("618_2025", "2025-06-01", "2025-06-18", 2.5),
    ("d11_2025", "2025-10-20", "2025-11-11", 3.0),
)

CATALOGUE = {
    ("skincare", "护肤"): ["精华液", "面霜", "爽肤水", "乳液", "眼霜", "面膜", "防晒霜", "洁面乳"],
    ("makeup", "彩妆"): ["口红", "粉底液", "眼影盘", "腮红", "睫毛膏", "散粉"],
    ("body", "身体护理"): ["身体乳", "沐浴露", "护手霜", "磨砂膏"],
    ("fragrance", "香氛"): ["淡香水", "香氛蜡烛", "车载香薰"],
    ("haircare", "洗护"): ["洗发水", "护发素", "发膜", "护发精油"],
}
EDITIONS = ("经典款", "升级款")
INFLUENCER_NAMES = (
    "小鹿美妆", "阿May护肤", "甜心酱", "大橙子", "柚子姐姐", "美妆课代表", "林小满", "护肤研究所",
    "一只猫", "星星的口红", "糖糖Tang", "阿九", "桃子说", "Coco好物", "小甜甜", "成分党老王",
    "南风", "小雨", "安安", "夏夏",
)
GENRE_P = {"live": 0.45, "short_video": 0.25, "product_card": 0.25, "other": 0.05}


def _inverse_piecewise(u: np.ndarray, knots_t: np.ndarray, knots_u: np.ndarray) -> np.ndarray:
    return np.interp(u, knots_u, knots_t)


def _time_change(days: float, windows: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Knots of U(t) = ∫ m(s) ds with m = lift inside promotion windows, 1 outside."""
    points = sorted({0.0, float(days) * 4, *[w[0] for w in windows], *[w[1] for w in windows]})
    t = np.array(points)
    m = np.ones(len(t) - 1)
    for s, e, lift in windows:
        inside = (t[:-1] >= s) & (t[1:] <= e)
        m[inside] = lift
    u = np.concatenate([[0.0], np.cumsum(np.diff(t) * m)])
    return t, u


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width))


def _str_series(arr: pa.Array) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(arr.cast(pa.large_string()))).astype("str")


def _take(dictionary: np.ndarray | list[str], index: np.ndarray, valid: np.ndarray | None = None) -> pd.Series:
    """Strings by position from a small dictionary: pandas' Arrow-backed ``str``, built in C++."""
    idx = pa.array(np.asarray(index, dtype=np.int64), mask=None if valid is None else ~np.asarray(valid))
    return _str_series(pa.array(np.asarray(dictionary, dtype=object), type=pa.string()).take(idx))


def _digits(numbers: np.ndarray) -> pd.Series:
    """Integers as decimal text (19-digit order numbers stay exact)."""
    return _str_series(pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string()))


def make_shop(
    n_customers: int = 20_000,
    start: str = "2024-01-01",
    end: str = "2025-11-30",
    seed: int = 7,
    *,
    promotions: bool = True,
    campaigns: bool = True,
    member_share: float = 0.6,
    never_buy_share: float = 0.2,
    bgnbd: dict[str, float] | None = None,
    gamma_gamma: dict[str, float] | None = None,
    progress: bool = False,
) -> Shop:
    """Simulate a Douyin-like shop with known ground truth.

    Parameters
    ----------
    n_customers : int
        People in the simulation: buyers plus members who never buy.
    start, end : date strings
        The observed period; ``end`` is the shop's ``as_of``.
    seed : int
        Same seed, same shop.
    promotions : bool
        Multiply purchase intensity inside 618 and 双11 windows (see ``shop.truth["promotions"]``).
        Off gives an exact BG/NBD process.
    campaigns : bool
        Simulate SMS campaigns with control groups and a true uplift (adds orders on top of the
        BG/NBD process for treated responders).
    member_share : float
        Share of people who are members (会员).
    never_buy_share : float
        Share of members who never buy.
    bgnbd, gamma_gamma : dict, optional
        Override the purchase (r, alpha, a, b; per day) and spend (p, q, gamma) parameters.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Shop
        pandas tables and ``truth``: parameters, per-customer latent values, promotions, related
        product pairs, samples, influencers, campaigns and true uplift per segment.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.datasets.make_shop(n_customers=1_000, seed=1)
    >>> shop.orders.columns[:4].tolist()
    ['order_id', 'line_id', 'customer_id', 'paid_at']
    """
    if n_customers < 10:
        raise ValueError("n_customers must be at least 10")
    rng = np.random.default_rng(seed)
    t_start, t_end = pd.Timestamp(start), pd.Timestamp(end)
    if t_end <= t_start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    days = float((t_end - t_start) / pd.Timedelta(days=1))
    bg = {**BGNBD, **(bgnbd or {})}
    gg = {**GAMMA_GAMMA, **(gamma_gamma or {})}
    bar = tqdm(total=7, desc="make_shop", disable=not progress)

    # People: members, never-buying members, buyers.
    n = int(n_customers)
    customer_ids = _ids("C", np.arange(1, n + 1), 7)
    is_member = rng.random(n) < member_share
    never_buys = is_member & (rng.random(n) < never_buy_share)
    buyer = ~never_buys
    first_t = np.where(buyer, rng.uniform(0, days - 1, n), np.nan)
    lam = rng.gamma(bg["r"], 1.0 / bg["alpha"], n)
    p_drop = rng.beta(bg["a"], bg["b"], n)
    nu = rng.gamma(gg["q"], 1.0 / gg["gamma"], n)

    # Purchases: BG/NBD in promotion-adjusted operational time.
    promos = []
    for name, s, e, lift in PROMOTIONS:
        s_t = (pd.Timestamp(s) - t_start) / pd.Timedelta(days=1)
        e_t = (pd.Timestamp(e) + pd.Timedelta(days=1) - t_start) / pd.Timedelta(days=1)
        if 0 <= s_t and e_t <= days:
            promos.append((name, float(s_t), float(e_t), lift if promotions else 1.0))
    knots_t, knots_u = _time_change(days, [(s, e, lift) for _, s, e, lift in promos])
    buyers = np.flatnonzero(buyer)
    u = np.interp(first_t[buyers], knots_t, knots_u)
    cust_list, time_list = [buyers], [first_t[buyers]]
    alive_idx, alive_u = buyers, u
    dropout_t = np.full(n, np.inf)
    while alive_idx.size:
        alive_u = alive_u + rng.exponential(1.0, alive_idx.size) / lam[alive_idx]
        t = _inverse_piecewise(alive_u, knots_t, knots_u)
        within = t <= days
        alive_idx, alive_u, t = alive_idx[within], alive_u[within], t[within]
        cust_list.append(alive_idx)
        time_list.append(t)
        drop = rng.random(alive_idx.size) < p_drop[alive_idx]
        dropout_t[alive_idx[drop]] = t[drop]
        alive_idx, alive_u = alive_idx[~drop], alive_u[~drop]
    order_cust = np.concatenate(cust_list)
    order_t = np.concatenate(time_list)
    order_src = np.zeros(order_cust.size, dtype=np.int8)  # 0 natural, 1 campaign response
    bar.update()

    # Events: live views while the customer is around; add-to-cart, product views, follows.
    live_fan = rng.random(n) < 0.35
    act_start = np.where(buyer, np.maximum(first_t - 30, 0), rng.uniform(0, days, n))
    act_end = np.minimum(np.where(np.isfinite(dropout_t), dropout_t + 20, days), days)
    act_end = np.maximum(act_end, act_start)
    rate = np.where(live_fan, 1 / 12, 1 / 300)
    n_views = rng.poisson(rate * (act_end - act_start))
    view_cust = np.repeat(np.arange(n), n_views)
    view_t = act_start[view_cust] + rng.random(view_cust.size) * (act_end - act_start)[view_cust]
    bar.update()

    # Campaigns: a treated customer who is still active responds with an extra order with a
    # probability that is larger for recent live viewers; potential outcomes are kept as truth.
    campaign_specs = [
        ("618_2025_sms", "2025-06-05 10:00", "sms", 0.05, 0.10, 0.02, 0.08),
        ("d11_2025_wave1", "2025-10-25 10:00", "rich_sms", 0.30, 0.20, 0.03, 0.10),
    ]
    touch_frames, uplift_rows, campaign_rows, segment_frames = [], [], [], []
    if campaigns:
        order_order = np.lexsort((order_t, order_cust))
        sorted_cust, sorted_t = order_cust[order_order], order_t[order_order]
        view_order = np.lexsort((view_t, view_cust))
        sv_cust, sv_t = view_cust[view_order], view_t[view_order]
        for k, (cid, sent, channel, cost, control_share, u_base, u_live) in enumerate(campaign_specs):
            sent_t = (pd.Timestamp(sent) - t_start) / pd.Timedelta(days=1)
            if not 0 < sent_t < days - 7:
                continue
            # Audience: bought within 365 days before the send.
            key = sorted_cust * (4 * days) + sorted_t
            before = np.searchsorted(key, np.arange(n) * (4 * days) + sent_t, side="right") - 1
            has_before = (before >= 0) & (sorted_cust[np.clip(before, 0, None)] == np.arange(n))
            last_before = np.where(has_before, sorted_t[np.clip(before, 0, None)], -np.inf)
            audience = np.flatnonzero(has_before & (sent_t - last_before <= 365))
            vkey = sv_cust * (4 * days) + sv_t
            lo = np.searchsorted(vkey, audience * (4 * days) + sent_t - 30)
            hi = np.searchsorted(vkey, audience * (4 * days) + sent_t)
            live_recent = hi > lo
            is_control = rng.random(audience.size) < control_share
            active = dropout_t[audience] > sent_t
            prob = np.where(live_recent, u_live, u_base) * active
            extra = rng.random(audience.size) < prob
            delay = np.minimum(rng.exponential(1.2, audience.size), rng.uniform(0, 7, audience.size))
            # Natural (potential-outcome-0) orders inside the windows.
            k7 = sorted_cust * (4 * days) + sorted_t
            n7 = np.searchsorted(k7, audience * (4 * days) + sent_t + 7, side="right") - np.searchsorted(
                k7, audience * (4 * days) + sent_t, side="right"
            )
            n1 = np.searchsorted(k7, audience * (4 * days) + sent_t + 1, side="right") - np.searchsorted(
                k7, audience * (4 * days) + sent_t, side="right"
            )
            y0_7, y0_1 = n7 > 0, n1 > 0
            lift7 = extra & ~y0_7
            lift1 = extra & (delay <= 1) & ~y0_1
            for seg, mask in (("live_viewer_30d", live_recent), ("other", ~live_recent), ("all", np.ones_like(live_recent))):
                uplift_rows.append(
                    {
                        "campaign_id": cid,
                        "segment": seg,
                        "customers": int(mask.sum()),
                        "true_uplift_7d": float(lift7[mask].mean()) if mask.any() else np.nan,
                        "true_uplift_24h": float(lift1[mask].mean()) if mask.any() else np.nan,
                        "base_response_7d": float(y0_7[mask].mean()) if mask.any() else np.nan,
                        "extra_order_probability": u_live if seg == "live_viewer_30d" else (u_base if seg == "other" else np.nan),
                    }
                )
            segment_frames.append(pd.DataFrame({"campaign_id": cid, "customer_id": customer_ids[audience],
                                                "segment": np.where(live_recent, "live_viewer_30d", "other")}))
            responders = audience[extra & ~is_control]
            order_cust = np.concatenate([order_cust, responders])
            order_t = np.concatenate([order_t, sent_t + delay[extra & ~is_control]])
            order_src = np.concatenate([order_src, np.ones(responders.size, dtype=np.int8)])
            sent_at = t_start + pd.to_timedelta(sent_t, unit="D")
            touch_frames.append(
                pd.DataFrame(
                    {
                        "touch_id": np.char.add(f"T{k + 1}-", np.arange(audience.size).astype(str)),
                        "campaign_id": cid,
                        "customer_id": customer_ids[audience],
                        "channel": channel,
                        "sent_at": sent_at,
                        "group": np.where(is_control, "control", "treatment"),
                        "cost": np.where(is_control, 0.0, cost),
                    }
                )
            )
            campaign_rows.append(
                {"campaign_id": cid, "sent_at": sent_at, "channel": channel, "cost_per_touch": cost,
                 "control_share": control_share, "extra_order_probability_other": u_base,
                 "extra_order_probability_live_viewer": u_live, "audience": int(audience.size)}
            )
    bar.update()

    # Orders: sort, values (Gamma-Gamma), genres, influencers.
    order_rank = np.lexsort((order_t, order_cust))
    order_cust, order_t, order_src = order_cust[order_rank], order_t[order_rank], order_src[order_rank]
    n_orders = order_cust.size
    is_first = np.r_[True, order_cust[1:] != order_cust[:-1]]
    value = np.round(rng.gamma(gg["p"], 1.0 / nu[order_cust]), 2)
    value = np.maximum(value, 0.01)
    genres = np.array(list(GENRE_P))  # live, short_video, product_card, other
    genre_code = rng.choice(len(genres), n_orders, p=list(GENRE_P.values()))
    n_infl = len(INFLUENCER_NAMES)
    infl_w = 1.0 / np.arange(1, n_infl + 1) ** 0.9
    infl = np.where(
        (genre_code <= 1) & (rng.random(n_orders) < 0.6),
        rng.choice(n_infl, n_orders, p=infl_w / infl_w.sum()),
        -1,
    )
    high_refund = np.array([2, 6, 11])
    bar.update()

    # Catalogue.
    products = []
    pid = 0
    for (cat, cat_zh), names in CATALOGUE.items():
        for name in names:
            for ed in EDITIONS:
                pid += 1
                products.append({"product_id": f"P{pid:03d}", "name": f"{name}·{ed}", "category": cat,
                                 "category_zh": cat_zh, "listed_at": t_start - pd.Timedelta(days=365), "sample_of": None})
    n_regular = len(products)
    pop = 1.0 / np.arange(1, n_regular + 1) ** 0.8
    pop = pop[rng.permutation(n_regular)]
    skincare = [i for i, p in enumerate(products) if p["category"] == "skincare"]
    full_size = sorted(skincare, key=lambda i: -pop[i])[:4]
    for j, i in enumerate(full_size):
        products.append({"product_id": f"S{j + 1:02d}", "name": f"小样·{products[i]['name']}", "category": products[i]["category"],
                         "category_zh": products[i]["category_zh"], "listed_at": t_start - pd.Timedelta(days=365),
                         "sample_of": products[i]["product_id"]})
    launch_t = days * 0.55
    launch_at = (t_start + pd.Timedelta(days=launch_t)).normalize()
    new_names = [("焕颜精华·2.0", "skincare", "护肤"), ("丝绒唇釉·新色", "makeup", "彩妆"), ("玫瑰身体精油", "body", "身体护理")]
    partner_pool = sorted(range(n_regular), key=lambda i: -pop[i])
    partners = []
    for j, (name, cat, cat_zh) in enumerate(new_names):
        same = [i for i in partner_pool if products[i]["category"] == cat]
        partners.append(same[0])
        products.append({"product_id": f"N{j + 1:02d}", "name": name, "category": cat, "category_zh": cat_zh,
                         "listed_at": launch_at, "sample_of": None})
    pids = np.array([p["product_id"] for p in products])
    sample_idx = np.arange(n_regular, n_regular + 4)
    new_idx = np.arange(n_regular + 4, n_regular + 7)

    # Lines: 1 + Poisson(0.4) regular lines per order, new products after launch, planted pairs.
    n_lines = 1 + np.minimum(rng.poisson(0.4, n_orders), 3)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    line_prod = rng.choice(n_regular, line_order.size, p=pop / pop.sum())
    after = order_t[line_order] >= launch_t
    buy_new = after & (rng.random(line_order.size) < 0.02)
    line_prod = np.where(buy_new, rng.choice(new_idx, line_order.size), line_prod)
    extra_orders, extra_prods = [line_order[:0]], [line_prod[:0]]
    for partner, new in zip(partners, new_idx):
        has_partner = np.unique(line_order[(line_prod == partner) & after])
        planted = has_partner[rng.random(has_partner.size) < 0.4]
        extra_orders.append(planted)
        extra_prods.append(np.full(planted.size, new))
    line_order = np.concatenate([line_order, *extra_orders])
    line_prod = np.concatenate([line_prod, *extra_prods])
    bar.update()

    # Samples: 10% of first orders add a sample; 35% of those buyers convert in their next order,
    # the others never buy that full-size product.
    first_orders = np.flatnonzero(is_first & (order_src == 0))
    with_sample = first_orders[rng.random(first_orders.size) < 0.10]
    which = rng.integers(0, 4, with_sample.size)
    sample_cust = order_cust[with_sample]
    converts = rng.random(with_sample.size) < 0.35
    next_order = with_sample + 1
    has_next = (next_order < n_orders) & (order_cust[np.minimum(next_order, n_orders - 1)] == sample_cust)
    full_idx = np.array(full_size)[which]
    # Sample buyers get their full-size product only where a conversion is planted.
    full_of = np.full(n, -1)
    full_of[sample_cust] = full_idx
    hit = line_prod == full_of[order_cust[line_order]]
    substitute = np.setdiff1d(np.arange(n_regular), full_size)
    line_prod = np.where(hit, rng.choice(substitute, line_order.size), line_prod)
    conv_orders = next_order[converts & has_next]
    sorted_lines = np.argsort(line_order, kind="stable")
    line_order, line_prod = line_order[sorted_lines], line_prod[sorted_lines]
    first_line = np.searchsorted(line_order, conv_orders)
    line_prod[first_line] = full_idx[converts & has_next]

    # Split order values over lines; sample lines cost 9.9 on top.
    weight = rng.gamma(2.0, 1.0, line_order.size)
    total_w = np.bincount(line_order, weights=weight, minlength=n_orders)
    paid = np.round(value[line_order] * weight / total_w[line_order], 2)
    line_order = np.concatenate([line_order, with_sample])
    line_prod = np.concatenate([line_prod, sample_idx[which]])
    paid = np.concatenate([paid, np.full(with_sample.size, 9.9)])
    sorted_lines = np.argsort(line_order, kind="stable")
    line_order, line_prod, paid = line_order[sorted_lines], line_prod[sorted_lines], paid[sorted_lines]
    n_line = line_order.size
    quantity = np.where(rng.random(n_line) < 0.15, 2, 1)
    bar.update()

    # Refunds: influencer-specific rates, full or half; unknown yet if after the end.
    line_infl = infl[line_order]
    refund_rate = np.where(line_infl < 0, 0.05, np.where(np.isin(line_infl, high_refund), 0.35, 0.08))
    refunded = rng.random(n_line) < refund_rate
    refund_share = np.where(rng.random(n_line) < 0.8, 1.0, 0.5)
    paid_t = order_t[line_order]  # the lines of an order share its payment time
    refund_t = paid_t + rng.uniform(1, 10, n_line)
    refunded &= refund_t <= days
    refund_amount = np.where(refunded, np.round(paid * refund_share, 2), 0.0)
    rng.random(n_line)  # a retired draw, kept so that seeded shops (and the tests' truths) stay the same

    order_num = 6_900_000_000_000_000_000 + np.arange(n_orders, dtype=np.int64) * 1_000 + rng.integers(0, 1_000, n_orders)
    line_num = 6_800_000_000_000_000_000 + np.arange(n_line, dtype=np.int64) * 100 + rng.integers(0, 100, n_line)
    paid_at = (t_start + pd.to_timedelta(np.floor(paid_t * 86_400), unit="s")).astype("datetime64[us]")
    infl_ids = np.array([f"KOL{i + 1:03d}" for i in range(n_infl)])
    infl_names = np.array(INFLUENCER_NAMES)
    line_genre = genre_code[line_order]
    # Traffic source: 精选联盟 for influencer sales, else by genre (product cards by search / feed / shop page).
    sources = np.array(["精选联盟", "店铺自播", "短视频推荐", "商城推荐", "搜索", "店铺页", "其他"])
    source_code = np.select(
        [line_infl >= 0, line_genre == 0, line_genre == 1, line_genre == 3],
        [0, 1, 2, 6],
        default=3 + order_num[line_order] % 3,
    )
    sku_codes = np.where(line_prod < n_regular, np.where(rng.random(n_line) < 0.3, 1, 0), 0)
    sku_dictionary = np.array([f"{p}-01" for p in pids] + [f"{p}-02" for p in pids])
    has_infl = line_infl >= 0
    orders = pd.DataFrame(
        {
            "order_id": _digits(order_num[line_order]),
            "line_id": _digits(line_num),
            "customer_id": _take(customer_ids, order_cust[line_order]),
            "paid_at": paid_at,
            "product_id": _take(pids, line_prod),
            "sku_id": _take(sku_dictionary, line_prod + sku_codes * pids.size),
            "quantity": quantity.astype("int64"),
            "paid_amount": paid,
            "refund_amount": refund_amount,
            "refunded_at": pd.Series(t_start + pd.to_timedelta(np.floor(refund_t * 86_400), unit="s")).astype("datetime64[us]").where(refunded),
            "influencer_id": _take(infl_ids, np.maximum(line_infl, 0), has_infl),
            "influencer_name": _take(infl_names, np.maximum(line_infl, 0), has_infl),
            "traffic_source": _take(sources, source_code),
            "traffic_genre": _take(genres, line_genre),
            "channel": _take(["douyin"], np.zeros(n_line, dtype=np.int64)),
        }
    )
    bar.update()

    # Members.
    join_before = rng.random(n) < 0.5
    gap_after = rng.uniform(0, 1, n) * np.minimum(60, days - np.nan_to_num(first_t, nan=0.0))
    joined_t = np.where(
        buyer,
        np.where(join_before, np.maximum(first_t - rng.exponential(20, n), 0), first_t + gap_after),
        rng.uniform(0, days, n),
    )
    members_idx = np.flatnonzero(is_member)
    gross = np.bincount(order_cust[line_order], weights=paid, minlength=n)
    net = gross - np.bincount(order_cust[line_order], weights=refund_amount, minlength=n)
    tier = 1 + np.searchsorted(np.quantile(net[net > 0], [0.5, 0.75, 0.9, 0.97]) if (net > 0).any() else [1, 2, 3, 4], net, side="right")
    fake_phone = (13_000_000_000 + rng.integers(0, 999_999_999, n)).astype(str)
    phone_hash = np.array([hashlib.sha256(b"demo-salt" + p.encode()).hexdigest() for p in fake_phone[members_idx]])
    members = pd.DataFrame(
        {
            "customer_id": customer_ids[members_idx],
            "joined_at": (t_start + pd.to_timedelta(np.floor(joined_t[members_idx] * 86_400), unit="s")).astype("datetime64[us]"),
            "tier": tier[members_idx].astype("int64"),
            "points": np.floor(net[members_idx]),
            "phone_hash": phone_hash,
        }
    )
    members["customer_id"] = members["customer_id"].astype("str")
    members["phone_hash"] = members["phone_hash"].astype("str")

    # Events.
    cart_n = rng.poisson(np.where(buyer, 0.8, 0.3) * (act_end - act_start) / 180)
    cart_cust = np.repeat(np.arange(n), cart_n)
    cart_t = act_start[cart_cust] + rng.random(cart_cust.size) * (act_end - act_start)[cart_cust]
    pv_n = rng.poisson(2.0 * (act_end - act_start) / 180)
    pv_cust = np.repeat(np.arange(n), pv_n)
    pv_t = act_start[pv_cust] + rng.random(pv_cust.size) * (act_end - act_start)[pv_cust]
    follows = np.flatnonzero(rng.random(n) < 0.15)
    follow_t = act_start[follows] + rng.random(follows.size) * (act_end - act_start)[follows]
    ev_cust = np.concatenate([view_cust, cart_cust, pv_cust, follows])
    ev_t = np.concatenate([view_t, cart_t, pv_t, follow_t])
    # Event refs: which live room (shop or influencer), which product, or the shop for follows.
    ref_names = np.concatenate([["shop_live", "shop"], infl_ids, pids])
    ev_ref_code = (
        np.concatenate(
            [
                np.where(rng.random(view_cust.size) < 0.5, 0, 2 + rng.integers(0, n_infl, view_cust.size)),
                2 + n_infl + rng.choice(n_regular, cart_cust.size, p=pop / pop.sum()),
                2 + n_infl + rng.choice(n_regular, pv_cust.size, p=pop / pop.sum()),
                np.ones(follows.size, dtype=np.int64),
            ]
        )
    )
    keep = ev_t <= days
    ev_order = np.lexsort((ev_t[keep], ev_cust[keep]))
    kinds = np.array(["live_view", "add_to_cart", "product_view", "follow"])
    events = pd.DataFrame(
        {
            "customer_id": _take(customer_ids, ev_cust[keep][ev_order]),
            "event": _take(kinds, np.repeat(np.arange(4), [view_cust.size, cart_cust.size, pv_cust.size, follows.size])[keep][ev_order]),
            "at": (t_start + pd.to_timedelta(np.floor(ev_t[keep][ev_order] * 86_400), unit="s")).astype("datetime64[us]"),
            "ref": _take(ref_names, ev_ref_code[keep][ev_order]),
        }
    )

    # Unpaid orders (催付 population): about 6% extra order attempts never paid.
    n_unpaid = int(0.06 * n_orders)
    up_order = rng.integers(0, n_orders, n_unpaid)
    up_t = np.minimum(order_t[up_order] + rng.uniform(-20, 20, n_unpaid), days)
    up_t = np.maximum(up_t, 0)
    unpaid_orders = pd.DataFrame(
        {
            "order_id": (6_950_000_000_000_000_000 + np.arange(n_unpaid, dtype=np.int64) * 1_000).astype(str),
            "line_id": (6_850_000_000_000_000_000 + np.arange(n_unpaid, dtype=np.int64) * 100).astype(str),
            "customer_id": customer_ids[order_cust[up_order]],
            "created_at": (t_start + pd.to_timedelta(np.floor(up_t * 86_400), unit="s")).astype("datetime64[us]"),
            "product_id": pids[rng.choice(n_regular, n_unpaid, p=pop / pop.sum())],
            "sku_id": None,
            "quantity": np.ones(n_unpaid, dtype="int64"),
            "amount": np.round(value[up_order], 2),
            "status": np.where(days - up_t < 1, "待支付", "已关闭"),
            "channel": "douyin",
        }
    )
    for col in ("order_id", "line_id", "customer_id", "product_id", "sku_id", "status", "channel"):
        unpaid_orders[col] = unpaid_orders[col].astype("str").where(unpaid_orders[col].notna())

    # Products table: one row per SKU.
    prod = pd.DataFrame(products)
    skus = pd.concat(
        [prod.assign(sku_id=prod["product_id"] + "-01", spec="标准装"),
         prod[prod.index < n_regular].assign(sku_id=lambda d: d["product_id"] + "-02", spec="大容量")],
        ignore_index=True,
    ).sort_values(["product_id", "sku_id"], ignore_index=True)
    skus["status"] = "on_sale"
    skus["name"] = skus["name"] + " " + skus["spec"]
    products_df = skus[["product_id", "sku_id", "name", "category", "listed_at", "status", "sample_of"]].copy()
    products_df["listed_at"] = products_df["listed_at"].astype("datetime64[us]")
    for col in ("product_id", "sku_id", "name", "category", "status", "sample_of"):
        products_df[col] = products_df[col].astype("str").where(products_df[col].notna())
    touches = pd.concat(touch_frames, ignore_index=True) if touch_frames else pd.DataFrame(
        {c: pd.Series(dtype="str") for c in ("touch_id", "campaign_id", "customer_id", "channel", "group")}
    ).assign(sent_at=pd.Series(dtype="datetime64[us]"), cost=pd.Series(dtype="float64"))
    if len(touches):
        touches["sent_at"] = touches["sent_at"].astype("datetime64[us]")
        for col in ("touch_id", "campaign_id", "customer_id", "channel", "group"):
            touches[col] = touches[col].astype("str")
    bar.update()
    bar.close()

    def as_ts(t: np.ndarray) -> pd.Series:
        s = pd.Series(t_start + pd.to_timedelta(np.where(np.isfinite(t), t, 0) * 86_400, unit="s"))
        return s.astype("datetime64[us]").where(np.isfinite(t))

    truth_customers = pd.DataFrame(
        {
            "customer_id": customer_ids,
            "is_member": is_member,
            "never_buys": never_buys,
            "first_purchase_at": as_ts(np.where(buyer, first_t, np.nan)),
            "purchase_rate_per_day": lam,
            "dropout_probability": p_drop,
            "dropped_out_at": as_ts(dropout_t),
            "spend_nu": nu,
            "expected_order_value": gg["p"] / nu,
            "live_fan": live_fan,
        }
    )
    truth_customers["customer_id"] = truth_customers["customer_id"].astype("str")
    truth = {
        "bgnbd": bg,
        "gamma_gamma": gg,
        "time_unit": "days",
        "member_share": member_share,
        "never_buy_share": never_buy_share,
        "customers": truth_customers,
        "promotions": pd.DataFrame(
            [{"event": name, "start": t_start + pd.Timedelta(days=s), "end": t_start + pd.Timedelta(days=e),
              "intensity_lift": lift} for name, s, e, lift in promos],
            columns=["event", "start", "end", "intensity_lift"],
        ),
        "related_pairs": pd.DataFrame(
            {"new_product": pids[new_idx], "partner": pids[partners], "planted_probability": 0.4, "launched_at": launch_at}
        ),
        "samples": pd.DataFrame(
            {"sample_product": pids[sample_idx], "full_size_product": pids[full_size]}
        ),
        "sample_buyers": pd.DataFrame(
            {"customer_id": customer_ids[sample_cust], "sample_product": pids[sample_idx[which]],
             "full_size_product": pids[full_idx], "converted": converts & has_next}
        ),
        "influencers": pd.DataFrame(
            {"influencer_id": infl_ids, "influencer_name": infl_names,
             "refund_rate": np.where(np.isin(np.arange(n_infl), high_refund), 0.35, 0.08)}
        ),
        "campaigns": pd.DataFrame(campaign_rows),
        "uplift": pd.DataFrame(uplift_rows),
        # The segment each touched customer was in when the touch was sent (live view in the 30 days before).
        "touch_segments": pd.concat(segment_frames, ignore_index=True).astype({"customer_id": "str"}) if segment_frames
        else pd.DataFrame(columns=["campaign_id", "customer_id", "segment"]),
        "campaign_orders": pd.DataFrame({"order_id": order_num[order_src == 1].astype(str)}),
    }
    return Shop(
        orders=orders,
        members=members,
        products=products_df,
        touches=touches,
        events=events,
        unpaid_orders=unpaid_orders,
        truth=truth,
        as_of=t_end,
        name="sample_shop",
        # The shop's own promotion calendar (event -> first and last day), as a real shop knows it.
        calendar={row.event: (f"{row.start:%Y-%m-%d}", f"{row.end - pd.Timedelta(days=1):%Y-%m-%d}")
                  for row in truth["promotions"].itertuples()},
    )


# --------------------------------------------------------------------------------------------
# Public data


def _lifetimes_file(name: str) -> Path:
    try:
        root = resources.files("lifetimes") / "datasets" / name
    except ModuleNotFoundError as exc:  # pragma: no cover - lifetimes is a core dependency
        raise ModuleNotFoundError("CDNOW ships inside the 'lifetimes' package: pip install lifetimes") from exc
    return Path(str(root))


def load_cdnow_master() -> pd.DataFrame:
    """The full CDNOW transaction log (23,570 customers, 1997-01-01..1998-06-30) shipped in lifetimes.

    Returns
    -------
    pandas.DataFrame with ``customer_id`` (str), ``date`` (datetime), ``cds`` (int), ``amount`` (float).

    Examples
    --------
    >>> from crm_lab.datasets import load_cdnow_master
    >>> load_cdnow_master()["customer_id"].nunique()
    23570
    """
    df = pd.read_csv(_lifetimes_file("CDNOW_master.txt"), sep=r"\s+", dtype={"customer_id": "str", "date": "str"})
    return pd.DataFrame(
        {
            "customer_id": df["customer_id"].astype("str"),
            "date": pd.to_datetime(df["date"], format="%Y%m%d").astype("datetime64[us]"),
            "cds": df["number_of_cds"].astype("int64"),
            "amount": df["dollar_value"].astype("float64"),
        }
    )


def load_cdnow(kind: str = "sample") -> pd.DataFrame:
    """Real CDNOW data from lifetimes, in crm_lab's canonical ``orders`` form.

    Parameters
    ----------
    kind : {"sample", "master"}
        ``"sample"`` is the 1/10 cohort (2,357 customers) of Fader, Hardie and Lee (2005);
        ``"master"`` all 23,570 customers.

    Returns
    -------
    pandas.DataFrame of canonical orders: one line per transaction, ``paid_amount`` in dollars.

    Examples
    --------
    >>> from crm_lab.datasets import load_cdnow
    >>> load_cdnow()["customer_id"].nunique()
    2357
    """
    if kind == "master":
        raw = load_cdnow_master()
    elif kind == "sample":
        df = pd.read_csv(_lifetimes_file("CDNOW_sample.txt"), sep=r"\s+", header=None,
                         names=["master_id", "customer_id", "date", "cds", "amount"], dtype=str)
        raw = pd.DataFrame(
            {
                "customer_id": df["customer_id"].astype("str"),
                "date": pd.to_datetime(df["date"], format="%Y%m%d").astype("datetime64[us]"),
                "cds": df["cds"].astype("int64"),
                "amount": df["amount"].astype("float64"),
            }
        )
    else:
        raise ValueError("kind must be 'sample' or 'master'")
    n = len(raw)
    ids = pd.Series(np.arange(1, n + 1)).astype("str")
    return pd.DataFrame(
        {
            "order_id": ("cd" + ids).astype("str"),
            "line_id": ("cd" + ids).astype("str"),
            "customer_id": raw["customer_id"],
            "paid_at": raw["date"],
            "product_id": "cd",
            "quantity": raw["cds"].clip(lower=1),
            "paid_amount": raw["amount"],
            "refund_amount": 0.0,
            "channel": "cdnow",
        }
    )


def shared_data_path(name: str = "") -> Path:
    """Folder of the project's shared public data (``../shared/data`` beside the checkout).

    Set ``CRM_LAB_SHARED_DATA`` to point elsewhere.
    """
    import os

    env = os.environ.get("CRM_LAB_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[2] / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    base = next((c for c in candidates if c.is_dir()), candidates[0])
    return base / name if name else base


def load_groceries() -> list[list[str]]:
    """The Groceries baskets (9,835 baskets, 169 items; Hahsler et al., arules)."""
    text = shared_data_path("groceries.csv").read_text(encoding="utf-8")
    return [line.split(",") for line in text.splitlines() if line.strip()]


def load_hillstrom() -> pd.DataFrame:
    """Kevin Hillstrom's MineThatData e-mail experiment (64,000 customers, 2008)."""
    return pd.read_csv(shared_data_path("hillstrom.csv"))


def load_online_retail(customers_only: bool = True) -> pd.DataFrame:
    """UCI Online Retail (cleaned copy): invoices 2010-12..2011-12; rows with a customer by default."""
    df = pd.read_parquet(shared_data_path("online_retail_clean.parquet"))
    if customers_only:
        df = df[df["CustomerID"] != 0].reset_index(drop=True)
    return df
