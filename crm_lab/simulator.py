"""The sample shop's simulator: one frozen config of every rate, and stages that draw in order.

:class:`ShopConfig` holds every rate of the simulated Douyin-like shop (purchase and spend
processes, campaigns, refunds, catalogue, members, events); ``shop.truth`` is derived from it and
from the draws, never retyped. :func:`simulate` runs the :data:`STAGES` over one random
generator, each stage adding its draws to the shared state; :func:`crm_lab.datasets.make_shop` is
the public entry point. A shop of more than :data:`BLOCK_CUSTOMERS` is made of blocks of
customers (:func:`blocks`, :func:`simulate_block`), each on its own stream with its own id ranges,
whose truths :func:`combine_truths` adds up: :func:`crm_lab.datasets.write_sample_shop` writes
them one at a time, in worker processes, and gets the same shop.

Examples
--------
>>> from crm_lab.simulator import ShopConfig, simulate
>>> shop = simulate(500, "2024-01-01", "2025-11-30", seed=1, config=ShopConfig(member_share=0.5))
>>> round(shop.truth["member_share"], 1)
0.5
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from crm_lab.data import Shop
from crm_lab.splits import in_holdout

__all__ = ["ShopConfig", "Campaign", "simulate", "simulate_block", "blocks", "Block", "combine_truths", "assemble", "STAGES",
           "BGNBD", "GAMMA_GAMMA", "PROMOTIONS", "BLOCK_CUSTOMERS"]

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


@dataclass(frozen=True)
class Campaign:
    """One simulated SMS campaign: who is sent, when, at what cost, and its true effect."""

    campaign_id: str
    sent: str
    channel: str
    cost: float
    control_share: float
    #: Probability of an extra order for a treated, still-active customer (others / live viewers).
    extra_order_other: float
    extra_order_live_viewer: float


@dataclass(frozen=True)
class ShopConfig:
    """Every rate of the simulated shop, in one place; ``shop.truth`` is derived from it.

    Time unit: days. The defaults give the sample shop of the tests and the demo.
    """

    member_share: float = 0.6
    never_buy_share: float = 0.2
    bgnbd: dict[str, float] = field(default_factory=lambda: dict(BGNBD))
    gamma_gamma: dict[str, float] = field(default_factory=lambda: dict(GAMMA_GAMMA))
    promotions: bool = True
    campaigns: tuple[Campaign, ...] = (
        Campaign("618_2025_sms", "2025-06-05 10:00", "sms", 0.05, 0.10, 0.02, 0.08),
        Campaign("d11_2025_wave1", "2025-10-25 10:00", "rich_sms", 0.30, 0.20, 0.03, 0.10),
    )
    #: Live-stream fans watch every ~12 days, others every ~300.
    live_fan_share: float = 0.35
    live_view_days_fan: float = 12.0
    live_view_days_other: float = 300.0
    #: Campaign audience: bought within this many days before the send; "live viewer" lookback.
    campaign_audience_days: float = 365.0
    live_segment_days: float = 30.0
    #: Influencers sell a share of live and short-video orders; popularity ~ 1 / rank**exponent.
    influencer_share: float = 0.6
    influencer_exponent: float = 0.9
    high_refund_influencers: tuple[int, ...] = (2, 6, 11)
    refund_rate_own: float = 0.05
    refund_rate_high: float = 0.35
    refund_rate_influencer: float = 0.08
    full_refund_share: float = 0.8
    #: Catalogue popularity ~ 1 / rank**exponent; extra lines per order 1 + min(Poisson, 3).
    popularity_exponent: float = 0.8
    extra_lines_mean: float = 0.4
    launch_at_share: float = 0.55
    new_product_share: float = 0.02
    planted_pair_probability: float = 0.4
    sample_share: float = 0.10
    sample_conversion: float = 0.35
    sample_price: float = 9.9
    two_items_share: float = 0.15
    second_sku_share: float = 0.3
    #: Members join before their first purchase half the time.
    join_before_share: float = 0.5
    join_after_days_max: float = 60.0
    join_before_days_mean: float = 20.0
    add_to_cart_per_180d_buyer: float = 0.8
    add_to_cart_per_180d_other: float = 0.3
    product_views_per_180d: float = 2.0
    follow_share: float = 0.15
    shop_live_share: float = 0.5
    unpaid_share: float = 0.06
    #: A global holdout every campaign leaves out (0: none, as in the default sample shop).
    global_holdout_share: float = 0.0


#: A shop of more customers is simulated in blocks of at most this many (see :func:`blocks`).
BLOCK_CUSTOMERS = 100_000
#: Block ``b``'s touch numbers start at ``b * ID_STRIDE`` (its order and line numbers at multiples of 10**12 / 10**13).
ID_STRIDE = 10**9


@dataclass(frozen=True)
class Block:
    """One block of customers of a simulated shop: its number, first customer (0-based) and size."""

    index: int
    offset: int
    size: int


def blocks(n_customers: int, block_customers: int = BLOCK_CUSTOMERS) -> list[Block]:
    """The shop's customers split into near-equal blocks of at most ``block_customers``.

    Each block is simulated on its own random stream (block 0 on the seed's own, so a shop of up
    to ``block_customers`` is one block, the single-stream shop), with its own id ranges and the
    first block's catalogue: the blocks can be made one at a time, in any order or in parallel,
    and give the same shop.

    Examples
    --------
    >>> from crm_lab.simulator import blocks
    >>> [(b.offset, b.size) for b in blocks(2_500, block_customers=1_000)]
    [(0, 834), (834, 833), (1667, 833)]
    """
    k = -(-int(n_customers) // int(block_customers))
    sizes = np.full(k, n_customers // k) + (np.arange(k) < n_customers % k)
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    return [Block(i, int(o), int(z)) for i, (o, z) in enumerate(zip(offsets, sizes))]


class _World:
    """What the stages of :func:`simulate` draw, in order; each stage reads earlier draws and adds its own."""

    def __init__(self, cfg: ShopConfig, n: int, t_start: pd.Timestamp, t_end: pd.Timestamp, seed: int,
                 block: Block | None = None, id_width: int = 7, popularity: np.ndarray | None = None):
        self.block = block or Block(0, 0, n)
        self.cfg, self.n, self.t_start, self.t_end, self.seed = cfg, n, t_start, t_end, seed
        self.rng = self.stream()
        self.id_width, self.popularity = id_width, popularity
        self.days = float((t_end - t_start) / pd.Timedelta(days=1))
        self.bg = {**BGNBD, **cfg.bgnbd}
        self.gg = {**GAMMA_GAMMA, **cfg.gamma_gamma}

    def stream(self, *tag: int) -> np.random.Generator:
        """The block's random stream ``tag`` (none: the main one); block 0's are the seed's own."""
        key = [self.seed, *tag] if self.block.index == 0 else [self.seed, *tag, 2028, self.block.index]
        return np.random.default_rng(key if len(key) > 1 else self.seed)

    def stamp(self, t: np.ndarray) -> Any:
        """Days since the start as timestamps (to the second)."""
        return (self.t_start + pd.to_timedelta(np.floor(t * 86_400), unit="s")).astype("datetime64[us]")


def _people(w: _World) -> None:
    """Members, never-buying members and buyers, with their BG/NBD and Gamma-Gamma latent values."""
    cfg, rng, n = w.cfg, w.rng, w.n
    w.customer_ids = _ids("C", np.arange(1, n + 1) + w.block.offset, w.id_width)
    w.is_member = rng.random(n) < cfg.member_share
    w.never_buys = w.is_member & (rng.random(n) < cfg.never_buy_share)
    w.buyer = ~w.never_buys
    w.first_t = np.where(w.buyer, rng.uniform(0, w.days - 1, n), np.nan)
    w.lam = rng.gamma(w.bg["r"], 1.0 / w.bg["alpha"], n)
    w.p_drop = rng.beta(w.bg["a"], w.bg["b"], n)
    w.nu = rng.gamma(w.gg["q"], 1.0 / w.gg["gamma"], n)


def _purchases(w: _World) -> None:
    """Purchase times: BG/NBD in promotion-adjusted operational time."""
    rng = w.rng
    w.promos = []
    for name, s, e, lift in PROMOTIONS:
        s_t = (pd.Timestamp(s) - w.t_start) / pd.Timedelta(days=1)
        e_t = (pd.Timestamp(e) + pd.Timedelta(days=1) - w.t_start) / pd.Timedelta(days=1)
        if 0 <= s_t and e_t <= w.days:
            w.promos.append((name, float(s_t), float(e_t), lift if w.cfg.promotions else 1.0))
    knots_t, knots_u = _time_change(w.days, [(s, e, lift) for _, s, e, lift in w.promos])
    buyers = np.flatnonzero(w.buyer)
    u = np.interp(w.first_t[buyers], knots_t, knots_u)
    cust_list, time_list = [buyers], [w.first_t[buyers]]
    alive_idx, alive_u = buyers, u
    w.dropout_t = np.full(w.n, np.inf)
    while alive_idx.size:
        alive_u = alive_u + rng.exponential(1.0, alive_idx.size) / w.lam[alive_idx]
        t = _inverse_piecewise(alive_u, knots_t, knots_u)
        within = t <= w.days
        alive_idx, alive_u, t = alive_idx[within], alive_u[within], t[within]
        cust_list.append(alive_idx)
        time_list.append(t)
        drop = rng.random(alive_idx.size) < w.p_drop[alive_idx]
        w.dropout_t[alive_idx[drop]] = t[drop]
        alive_idx, alive_u = alive_idx[~drop], alive_u[~drop]
    w.order_cust = np.concatenate(cust_list)
    w.order_t = np.concatenate(time_list)
    w.order_src = np.zeros(w.order_cust.size, dtype=np.int8)  # 0 natural, 1 campaign response


def _live_views(w: _World) -> None:
    """Live views while the customer is around (its activity span feeds the other events too)."""
    cfg, rng, n = w.cfg, w.rng, w.n
    w.live_fan = rng.random(n) < cfg.live_fan_share
    w.act_start = np.where(w.buyer, np.maximum(w.first_t - 30, 0), rng.uniform(0, w.days, n))
    act_end = np.minimum(np.where(np.isfinite(w.dropout_t), w.dropout_t + 20, w.days), w.days)
    w.act_end = np.maximum(act_end, w.act_start)
    rate = np.where(w.live_fan, 1 / cfg.live_view_days_fan, 1 / cfg.live_view_days_other)
    n_views = rng.poisson(rate * (w.act_end - w.act_start))
    w.view_cust = np.repeat(np.arange(n), n_views)
    w.view_t = w.act_start[w.view_cust] + rng.random(w.view_cust.size) * (w.act_end - w.act_start)[w.view_cust]


def _campaigns(w: _World) -> None:
    """SMS campaigns: a treated customer still active responds with an extra order, more often after
    a recent live view; the potential outcomes are kept as truth."""
    w.touch_frames, w.uplift_rows, w.campaign_rows, w.segment_frames = [], [], [], []
    if not w.campaigns_on:
        return
    order_order = np.lexsort((w.order_t, w.order_cust))
    sorted_cust, sorted_t = w.order_cust[order_order], w.order_t[order_order]
    view_order = np.lexsort((w.view_t, w.view_cust))
    sv_cust, sv_t = w.view_cust[view_order], w.view_t[view_order]
    for k, spec in enumerate(w.cfg.campaigns):
        sent_t = (pd.Timestamp(spec.sent) - w.t_start) / pd.Timedelta(days=1)
        if not 0 < sent_t < w.days - 7:
            continue
        _one_campaign(w, k, spec, sent_t, sorted_cust, sorted_t, sv_cust, sv_t)


def _one_campaign(w: _World, k: int, spec: Campaign, sent_t: float, sorted_cust: np.ndarray, sorted_t: np.ndarray,
                  sv_cust: np.ndarray, sv_t: np.ndarray) -> None:
    rng, n, days, cfg = w.rng, w.n, w.days, w.cfg
    # Audience: bought within a year before the send.
    key = sorted_cust * (4 * days) + sorted_t
    before = np.searchsorted(key, np.arange(n) * (4 * days) + sent_t, side="right") - 1
    has_before = (before >= 0) & (sorted_cust[np.clip(before, 0, None)] == np.arange(n))
    last_before = np.where(has_before, sorted_t[np.clip(before, 0, None)], -np.inf)
    audience = np.flatnonzero(has_before & (sent_t - last_before <= cfg.campaign_audience_days))
    if cfg.global_holdout_share > 0:  # the shop's global holdout is never touched
        audience = audience[~in_holdout(pd.Series(w.customer_ids[audience]), cfg.global_holdout_share, w.holdout_key)]
    vkey = sv_cust * (4 * days) + sv_t
    lo = np.searchsorted(vkey, audience * (4 * days) + sent_t - cfg.live_segment_days)
    hi = np.searchsorted(vkey, audience * (4 * days) + sent_t)
    live_recent = hi > lo
    is_control = rng.random(audience.size) < spec.control_share
    active = w.dropout_t[audience] > sent_t
    prob = np.where(live_recent, spec.extra_order_live_viewer, spec.extra_order_other) * active
    extra = rng.random(audience.size) < prob
    delay = np.minimum(rng.exponential(1.2, audience.size), rng.uniform(0, 7, audience.size))
    # Natural (potential-outcome-0) orders inside the windows.
    k7 = sorted_cust * (4 * days) + sorted_t
    sent_key = audience * (4 * days) + sent_t
    n7 = np.searchsorted(k7, sent_key + 7, side="right") - np.searchsorted(k7, sent_key, side="right")
    n1 = np.searchsorted(k7, sent_key + 1, side="right") - np.searchsorted(k7, sent_key, side="right")
    y0_7, y0_1 = n7 > 0, n1 > 0
    lift7 = extra & ~y0_7
    lift1 = extra & (delay <= 1) & ~y0_1
    probabilities = {"live_viewer_30d": spec.extra_order_live_viewer, "other": spec.extra_order_other, "all": np.nan}
    for seg, mask in (("live_viewer_30d", live_recent), ("other", ~live_recent), ("all", np.ones_like(live_recent))):
        w.uplift_rows.append({
            "campaign_id": spec.campaign_id, "segment": seg, "customers": int(mask.sum()),
            "true_uplift_7d": float(lift7[mask].mean()) if mask.any() else np.nan,
            "true_uplift_24h": float(lift1[mask].mean()) if mask.any() else np.nan,
            "base_response_7d": float(y0_7[mask].mean()) if mask.any() else np.nan,
            "extra_order_probability": probabilities[seg],
        })
    w.segment_frames.append(pd.DataFrame({"campaign_id": spec.campaign_id, "customer_id": w.customer_ids[audience],
                                          "segment": np.where(live_recent, "live_viewer_30d", "other")}))
    responders = audience[extra & ~is_control]
    w.order_cust = np.concatenate([w.order_cust, responders])
    w.order_t = np.concatenate([w.order_t, sent_t + delay[extra & ~is_control]])
    w.order_src = np.concatenate([w.order_src, np.ones(responders.size, dtype=np.int8)])
    sent_at = w.t_start + pd.to_timedelta(sent_t, unit="D")
    w.touch_frames.append(pd.DataFrame({
        "touch_id": np.char.add(f"T{k + 1}-", (np.arange(audience.size) + w.block.index * ID_STRIDE).astype(str)),
        "campaign_id": spec.campaign_id, "customer_id": w.customer_ids[audience], "channel": spec.channel,
        "sent_at": sent_at, "group": np.where(is_control, "control", "treatment"),
        "cost": np.where(is_control, 0.0, spec.cost),
    }))
    w.campaign_rows.append({"campaign_id": spec.campaign_id, "sent_at": sent_at, "channel": spec.channel,
                            "cost_per_touch": spec.cost, "control_share": spec.control_share,
                            "extra_order_probability_other": spec.extra_order_other,
                            "extra_order_probability_live_viewer": spec.extra_order_live_viewer, "audience": int(audience.size)})


def _order_attributes(w: _World) -> None:
    """Orders sorted by customer and time; their value (Gamma-Gamma), genre and influencer."""
    cfg, rng = w.cfg, w.rng
    order_rank = np.lexsort((w.order_t, w.order_cust))
    w.order_cust, w.order_t, w.order_src = w.order_cust[order_rank], w.order_t[order_rank], w.order_src[order_rank]
    w.n_orders = n_orders = w.order_cust.size
    w.is_first = np.r_[True, w.order_cust[1:] != w.order_cust[:-1]]
    w.value = np.maximum(np.round(rng.gamma(w.gg["p"], 1.0 / w.nu[w.order_cust]), 2), 0.01)
    w.genres = np.array(list(GENRE_P))  # live, short_video, product_card, other
    w.genre_code = rng.choice(len(w.genres), n_orders, p=list(GENRE_P.values()))
    w.n_infl = len(INFLUENCER_NAMES)
    infl_w = 1.0 / np.arange(1, w.n_infl + 1) ** cfg.influencer_exponent
    w.infl = np.where((w.genre_code <= 1) & (rng.random(n_orders) < cfg.influencer_share),
                      rng.choice(w.n_infl, n_orders, p=infl_w / infl_w.sum()), -1)
    w.high_refund = np.array(cfg.high_refund_influencers)


def _catalogue(w: _World) -> None:
    """Regular products with popularity, trial-size samples of the top skincare, and new products
    launched mid-period, each with a planted partner."""
    listed = w.t_start - pd.Timedelta(days=365)
    products, pid = [], 0
    for (cat, cat_zh), names in CATALOGUE.items():
        for name in names:
            for ed in EDITIONS:
                pid += 1
                products.append({"product_id": f"P{pid:03d}", "name": f"{name}·{ed}", "category": cat,
                                 "category_zh": cat_zh, "listed_at": listed, "sample_of": None})
    w.n_regular = n_regular = len(products)
    pop = 1.0 / np.arange(1, n_regular + 1) ** w.cfg.popularity_exponent
    w.pop = pop[w.rng.permutation(n_regular)]
    if w.popularity is not None:  # a later block sells the first block's catalogue (its draw above keeps the stream's order)
        w.pop = w.popularity
    skincare = [i for i, p in enumerate(products) if p["category"] == "skincare"]
    w.full_size = sorted(skincare, key=lambda i: -w.pop[i])[:4]
    for j, i in enumerate(w.full_size):
        products.append({"product_id": f"S{j + 1:02d}", "name": f"小样·{products[i]['name']}", "category": products[i]["category"],
                         "category_zh": products[i]["category_zh"], "listed_at": listed, "sample_of": products[i]["product_id"]})
    w.launch_t = w.days * w.cfg.launch_at_share
    w.launch_at = (w.t_start + pd.Timedelta(days=w.launch_t)).normalize()
    new_names = [("焕颜精华·2.0", "skincare", "护肤"), ("丝绒唇釉·新色", "makeup", "彩妆"), ("玫瑰身体精油", "body", "身体护理")]
    partner_pool = sorted(range(n_regular), key=lambda i: -w.pop[i])
    w.partners = []
    for j, (name, cat, cat_zh) in enumerate(new_names):
        w.partners.append([i for i in partner_pool if products[i]["category"] == cat][0])
        products.append({"product_id": f"N{j + 1:02d}", "name": name, "category": cat, "category_zh": cat_zh,
                         "listed_at": w.launch_at, "sample_of": None})
    w.products = products
    w.pids = np.array([p["product_id"] for p in products])
    w.sample_idx = np.arange(n_regular, n_regular + 4)
    w.new_idx = np.arange(n_regular + 4, n_regular + 7)


def _lines(w: _World) -> None:
    """Order lines: 1 + Poisson regular lines, new products after launch, planted pairs."""
    cfg, rng = w.cfg, w.rng
    n_lines = 1 + np.minimum(rng.poisson(cfg.extra_lines_mean, w.n_orders), 3)
    line_order = np.repeat(np.arange(w.n_orders), n_lines)
    line_prod = rng.choice(w.n_regular, line_order.size, p=w.pop / w.pop.sum())
    after = w.order_t[line_order] >= w.launch_t
    buy_new = after & (rng.random(line_order.size) < cfg.new_product_share)
    line_prod = np.where(buy_new, rng.choice(w.new_idx, line_order.size), line_prod)
    extra_orders, extra_prods = [line_order[:0]], [line_prod[:0]]
    for partner, new in zip(w.partners, w.new_idx):
        has_partner = np.unique(line_order[(line_prod == partner) & after])
        planted = has_partner[rng.random(has_partner.size) < cfg.planted_pair_probability]
        extra_orders.append(planted)
        extra_prods.append(np.full(planted.size, new))
    w.line_order = np.concatenate([line_order, *extra_orders])
    w.line_prod = np.concatenate([line_prod, *extra_prods])


def _samples(w: _World) -> None:
    """Samples (派样): some first orders add one; a share of those buyers convert in their next order,
    the others never buy that full-size product."""
    cfg, rng, n_orders = w.cfg, w.rng, w.n_orders
    first_orders = np.flatnonzero(w.is_first & (w.order_src == 0))
    w.with_sample = first_orders[rng.random(first_orders.size) < cfg.sample_share]
    w.which = rng.integers(0, 4, w.with_sample.size)
    w.sample_cust = w.order_cust[w.with_sample]
    w.converts = rng.random(w.with_sample.size) < cfg.sample_conversion
    next_order = w.with_sample + 1
    w.has_next = (next_order < n_orders) & (w.order_cust[np.minimum(next_order, n_orders - 1)] == w.sample_cust)
    w.full_idx = np.array(w.full_size)[w.which]
    # Sample buyers get their full-size product only where a conversion is planted.
    full_of = np.full(w.n, -1)
    full_of[w.sample_cust] = w.full_idx
    hit = w.line_prod == full_of[w.order_cust[w.line_order]]
    substitute = np.setdiff1d(np.arange(w.n_regular), w.full_size)
    line_prod = np.where(hit, rng.choice(substitute, w.line_order.size), w.line_prod)
    conv_orders = next_order[w.converts & w.has_next]
    sorted_lines = np.argsort(w.line_order, kind="stable")
    w.line_order, line_prod = w.line_order[sorted_lines], line_prod[sorted_lines]
    line_prod[np.searchsorted(w.line_order, conv_orders)] = w.full_idx[w.converts & w.has_next]
    w.line_prod = line_prod


def _line_values(w: _World) -> None:
    """Each order's value split over its lines; sample lines at their own price; quantities."""
    rng = w.rng
    weight = rng.gamma(2.0, 1.0, w.line_order.size)
    total_w = np.bincount(w.line_order, weights=weight, minlength=w.n_orders)
    paid = np.round(w.value[w.line_order] * weight / total_w[w.line_order], 2)
    line_order = np.concatenate([w.line_order, w.with_sample])
    line_prod = np.concatenate([w.line_prod, w.sample_idx[w.which]])
    paid = np.concatenate([paid, np.full(w.with_sample.size, w.cfg.sample_price)])
    sorted_lines = np.argsort(line_order, kind="stable")
    w.line_order, w.line_prod, w.paid = line_order[sorted_lines], line_prod[sorted_lines], paid[sorted_lines]
    w.n_line = w.line_order.size
    w.quantity = np.where(rng.random(w.n_line) < w.cfg.two_items_share, 2, 1)


def _refunds(w: _World) -> None:
    """Refunds at influencer-specific rates, full or half; unknown yet if after the end."""
    cfg, rng, n_line = w.cfg, w.rng, w.n_line
    w.line_infl = w.infl[w.line_order]
    refund_rate = np.where(w.line_infl < 0, cfg.refund_rate_own,
                           np.where(np.isin(w.line_infl, w.high_refund), cfg.refund_rate_high, cfg.refund_rate_influencer))
    refunded = rng.random(n_line) < refund_rate
    refund_share = np.where(rng.random(n_line) < cfg.full_refund_share, 1.0, 0.5)
    w.paid_t = w.order_t[w.line_order]  # the lines of an order share its payment time
    w.refund_t = w.paid_t + rng.uniform(1, 10, n_line)
    w.refunded = refunded & (w.refund_t <= w.days)
    w.refund_amount = np.where(w.refunded, np.round(w.paid * refund_share, 2), 0.0)
    rng.random(n_line)  # a retired draw, kept so that seeded shops (and the tests' truths) stay the same


def _orders_table(w: _World) -> None:
    """The canonical orders table from the lines."""
    rng, n_line = w.rng, w.n_line
    b = w.block.index
    w.order_num = 6_900_000_000_000_000_000 + b * 10**12 + np.arange(w.n_orders, dtype=np.int64) * 1_000 + rng.integers(0, 1_000, w.n_orders)
    line_num = 6_800_000_000_000_000_000 + b * 10**13 + np.arange(n_line, dtype=np.int64) * 100 + rng.integers(0, 100, n_line)
    w.infl_ids = np.array([f"KOL{i + 1:03d}" for i in range(w.n_infl)])
    w.infl_names = np.array(INFLUENCER_NAMES)
    line_genre = w.genre_code[w.line_order]
    # Traffic source: 精选联盟 for influencer sales, else by genre (product cards by search / feed / shop page).
    sources = np.array(["精选联盟", "店铺自播", "短视频推荐", "商城推荐", "搜索", "店铺页", "其他"])
    source_code = np.select([w.line_infl >= 0, line_genre == 0, line_genre == 1, line_genre == 3], [0, 1, 2, 6],
                            default=3 + w.order_num[w.line_order] % 3)
    sku_codes = np.where(w.line_prod < w.n_regular, np.where(rng.random(n_line) < w.cfg.second_sku_share, 1, 0), 0)
    sku_dictionary = np.array([f"{p}-01" for p in w.pids] + [f"{p}-02" for p in w.pids])
    has_infl = w.line_infl >= 0
    w.orders = pd.DataFrame({
        "order_id": _digits(w.order_num[w.line_order]),
        "line_id": _digits(line_num),
        "customer_id": _take(w.customer_ids, w.order_cust[w.line_order]),
        "paid_at": w.stamp(w.paid_t),
        "product_id": _take(w.pids, w.line_prod),
        "sku_id": _take(sku_dictionary, w.line_prod + sku_codes * w.pids.size),
        "quantity": w.quantity.astype("int64"),
        "paid_amount": w.paid,
        "refund_amount": w.refund_amount,
        "refunded_at": pd.Series(w.stamp(w.refund_t)).where(w.refunded),
        "influencer_id": _take(w.infl_ids, np.maximum(w.line_infl, 0), has_infl),
        "influencer_name": _take(w.infl_names, np.maximum(w.line_infl, 0), has_infl),
        "traffic_source": _take(sources, source_code),
        "traffic_genre": _take(w.genres, line_genre),
        "channel": _take(["douyin"], np.zeros(n_line, dtype=np.int64)),
    })


def _members(w: _World) -> None:
    """Members: joined before or after their first purchase; tier and points from their net amount."""
    cfg, rng, n = w.cfg, w.rng, w.n
    join_before = rng.random(n) < cfg.join_before_share
    gap_after = rng.uniform(0, 1, n) * np.minimum(cfg.join_after_days_max, w.days - np.nan_to_num(w.first_t, nan=0.0))
    joined_t = np.where(w.buyer,
                        np.where(join_before, np.maximum(w.first_t - rng.exponential(cfg.join_before_days_mean, n), 0), w.first_t + gap_after),
                        rng.uniform(0, w.days, n))
    members_idx = np.flatnonzero(w.is_member)
    gross = np.bincount(w.order_cust[w.line_order], weights=w.paid, minlength=n)
    net = gross - np.bincount(w.order_cust[w.line_order], weights=w.refund_amount, minlength=n)
    tier = 1 + np.searchsorted(np.quantile(net[net > 0], [0.5, 0.75, 0.9, 0.97]) if (net > 0).any() else [1, 2, 3, 4], net, side="right")
    fake_phone = (13_000_000_000 + rng.integers(0, 999_999_999, n)).astype(str)
    phone_hash = np.array([hashlib.sha256(b"demo-salt" + p.encode()).hexdigest() for p in fake_phone[members_idx]])
    members = pd.DataFrame({
        "customer_id": w.customer_ids[members_idx],
        "joined_at": w.stamp(joined_t[members_idx]),
        "tier": tier[members_idx].astype("int64"),
        "points": np.floor(net[members_idx]),
        "phone_hash": phone_hash,
    })
    w.members = members.astype({"customer_id": "str", "phone_hash": "str"})


def _events(w: _World) -> None:
    """Behaviour events: the live views, add-to-cart, product views and follows, with their refs."""
    cfg, rng, n = w.cfg, w.rng, w.n
    span = w.act_end - w.act_start
    cart_n = rng.poisson(np.where(w.buyer, cfg.add_to_cart_per_180d_buyer, cfg.add_to_cart_per_180d_other) * span / 180)
    cart_cust = np.repeat(np.arange(n), cart_n)
    cart_t = w.act_start[cart_cust] + rng.random(cart_cust.size) * span[cart_cust]
    pv_n = rng.poisson(cfg.product_views_per_180d * span / 180)
    pv_cust = np.repeat(np.arange(n), pv_n)
    pv_t = w.act_start[pv_cust] + rng.random(pv_cust.size) * span[pv_cust]
    follows = np.flatnonzero(rng.random(n) < cfg.follow_share)
    follow_t = w.act_start[follows] + rng.random(follows.size) * span[follows]
    ev_cust = np.concatenate([w.view_cust, cart_cust, pv_cust, follows])
    ev_t = np.concatenate([w.view_t, cart_t, pv_t, follow_t])
    # Event refs: which live room (shop or influencer), which product, or the shop for follows.
    ref_names = np.concatenate([["shop_live", "shop"], w.infl_ids, w.pids])
    popular = w.pop / w.pop.sum()
    ev_ref_code = np.concatenate([
        np.where(rng.random(w.view_cust.size) < cfg.shop_live_share, 0, 2 + rng.integers(0, w.n_infl, w.view_cust.size)),
        2 + w.n_infl + rng.choice(w.n_regular, cart_cust.size, p=popular),
        2 + w.n_infl + rng.choice(w.n_regular, pv_cust.size, p=popular),
        np.ones(follows.size, dtype=np.int64),
    ])
    keep = ev_t <= w.days
    ev_order = np.lexsort((ev_t[keep], ev_cust[keep]))
    kinds = np.array(["live_view", "add_to_cart", "product_view", "follow"])
    kind_code = np.repeat(np.arange(4), [w.view_cust.size, cart_cust.size, pv_cust.size, follows.size])
    w.events = pd.DataFrame({
        "customer_id": _take(w.customer_ids, ev_cust[keep][ev_order]),
        "event": _take(kinds, kind_code[keep][ev_order]),
        "at": w.stamp(ev_t[keep][ev_order]),
        "ref": _take(ref_names, ev_ref_code[keep][ev_order]),
    })


def _unpaid(w: _World) -> None:
    """Unpaid order attempts (the 催付 population)."""
    rng = w.rng
    n_unpaid = int(w.cfg.unpaid_share * w.n_orders)
    up_order = rng.integers(0, w.n_orders, n_unpaid)
    up_t = w.order_t[up_order] + rng.uniform(-20, 20, n_unpaid)
    # Folded back inside the period (not clipped: a pile of attempts at the very end is no shop's).
    up_t = np.abs(np.where(up_t > w.days, 2 * w.days - up_t, up_t))
    unpaid = pd.DataFrame({
        "order_id": (6_950_000_000_000_000_000 + w.block.index * 10**12 + np.arange(n_unpaid, dtype=np.int64) * 1_000).astype(str),
        "line_id": (6_850_000_000_000_000_000 + w.block.index * 10**13 + np.arange(n_unpaid, dtype=np.int64) * 100).astype(str),
        "customer_id": w.customer_ids[w.order_cust[up_order]],
        "created_at": w.stamp(up_t),
        "product_id": w.pids[rng.choice(w.n_regular, n_unpaid, p=w.pop / w.pop.sum())],
        "sku_id": None,
        "quantity": np.ones(n_unpaid, dtype="int64"),
        "amount": np.round(w.value[up_order], 2),
        "status": np.where(w.days - up_t < 1, "待支付", "已关闭"),
        "channel": "douyin",
    })
    for col in ("order_id", "line_id", "customer_id", "product_id", "sku_id", "status", "channel"):
        unpaid[col] = unpaid[col].astype("str").where(unpaid[col].notna())
    w.unpaid_orders = unpaid


def _products_table(w: _World) -> pd.DataFrame:
    """The canonical products table: one row per SKU (regular products come in two sizes)."""
    prod = pd.DataFrame(w.products)
    prod["category"] = prod["category_zh"]  # the shop's own category names, as a 抖店 export has them
    skus = pd.concat(
        [prod.assign(sku_id=prod["product_id"] + "-01", spec="标准装"),
         prod[prod.index < w.n_regular].assign(sku_id=lambda d: d["product_id"] + "-02", spec="大容量")],
        ignore_index=True,
    ).sort_values(["product_id", "sku_id"], ignore_index=True)
    skus["status"] = "on_sale"
    skus["name"] = skus["name"] + " " + skus["spec"]
    products = skus[["product_id", "sku_id", "name", "category", "listed_at", "status", "sample_of"]].copy()
    products["listed_at"] = products["listed_at"].astype("datetime64[us]")
    for col in ("product_id", "sku_id", "name", "category", "status", "sample_of"):
        products[col] = products[col].astype("str").where(products[col].notna())
    return products


def _touches_table(w: _World) -> pd.DataFrame:
    touches = pd.concat(w.touch_frames, ignore_index=True) if w.touch_frames else pd.DataFrame(
        {c: pd.Series(dtype="str") for c in ("touch_id", "campaign_id", "customer_id", "channel", "group")}
    ).assign(sent_at=pd.Series(dtype="datetime64[us]"), cost=pd.Series(dtype="float64"))
    if len(touches):
        touches["sent_at"] = touches["sent_at"].astype("datetime64[us]")
        for col in ("touch_id", "campaign_id", "customer_id", "channel", "group"):
            touches[col] = touches[col].astype("str")
    return touches


def _truth(w: _World) -> dict[str, Any]:
    """What the simulation planted, derived from the config and the draws (never retyped)."""
    def as_ts(t: np.ndarray) -> pd.Series:
        s = pd.Series(w.t_start + pd.to_timedelta(np.where(np.isfinite(t), t, 0) * 86_400, unit="s"))
        return s.astype("datetime64[us]").where(np.isfinite(t))

    customers = pd.DataFrame({
        "customer_id": w.customer_ids, "is_member": w.is_member, "never_buys": w.never_buys,
        "first_purchase_at": as_ts(np.where(w.buyer, w.first_t, np.nan)), "purchase_rate_per_day": w.lam,
        "dropout_probability": w.p_drop, "dropped_out_at": as_ts(w.dropout_t), "spend_nu": w.nu,
        "expected_order_value": w.gg["p"] / w.nu, "live_fan": w.live_fan,
    }).astype({"customer_id": "str"})
    cfg, pids = w.cfg, w.pids
    return {
        "bgnbd": w.bg,
        "gamma_gamma": w.gg,
        "time_unit": "days",
        "member_share": cfg.member_share,
        "never_buy_share": cfg.never_buy_share,
        "customers": customers,
        "promotions": pd.DataFrame(
            [{"event": name, "start": w.t_start + pd.Timedelta(days=s), "end": w.t_start + pd.Timedelta(days=e),
              "intensity_lift": lift} for name, s, e, lift in w.promos],
            columns=["event", "start", "end", "intensity_lift"],
        ),
        "related_pairs": pd.DataFrame({"new_product": pids[w.new_idx], "partner": pids[w.partners],
                                       "planted_probability": cfg.planted_pair_probability, "launched_at": w.launch_at}),
        "samples": pd.DataFrame({"sample_product": pids[w.sample_idx], "full_size_product": pids[w.full_size]}),
        "sample_buyers": pd.DataFrame({"customer_id": w.customer_ids[w.sample_cust], "sample_product": pids[w.sample_idx[w.which]],
                                       "full_size_product": pids[w.full_idx], "converted": w.converts & w.has_next}),
        "influencers": pd.DataFrame({"influencer_id": w.infl_ids, "influencer_name": w.infl_names,
                                     "refund_rate": np.where(np.isin(np.arange(w.n_infl), w.high_refund),
                                                             cfg.refund_rate_high, cfg.refund_rate_influencer)}),
        "campaigns": pd.DataFrame(w.campaign_rows),
        "uplift": pd.DataFrame(w.uplift_rows),
        # The segment each touched customer was in when the touch was sent (live view in the 30 days before).
        "touch_segments": pd.concat(w.segment_frames, ignore_index=True).astype({"customer_id": "str"}) if w.segment_frames
        else pd.DataFrame(columns=["campaign_id", "customer_id", "segment"]),
        "campaign_orders": pd.DataFrame({"order_id": w.order_num[w.order_src == 1].astype(str)}),
    }


#: The stages in the order their random draws are made (the order is part of the seeded shop).
STAGES = (_people, _purchases, _live_views, _campaigns, _order_attributes, _catalogue, _lines, _samples,
          _line_values, _refunds, _orders_table, _members, _events, _unpaid)


def _member_programme(w: _World, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """会员权益 and coupons that keep the platform's rules: a members-only benefit every 30-50 days,
    lasting 14-30; for each promotion a store coupon and a member coupon worth more at the same
    threshold. Drawn from their own stream, so the rest of the seeded shop is unchanged."""
    rng = np.random.default_rng([seed, 2025])
    days = (w.t_end - w.t_start).days
    starts = np.cumsum(rng.integers(30, 51, size=days // 30 + 1))
    starts = starts[starts < days]
    benefits = pd.DataFrame({
        "benefit_id": [f"B{i + 1:03d}" for i in range(starts.size)],
        "kind": rng.choice(["gift", "points", "member_price"], size=starts.size),
        "starts_at": w.t_start + pd.to_timedelta(starts, unit="D"),
        "ends_at": w.t_start + pd.to_timedelta(starts + rng.integers(14, 31, size=starts.size), unit="D"),
        "members_only": 1,
    })
    rows = []
    for k, (name, s_t, e_t, _lift) in enumerate(w.promos):
        store = float(rng.choice([10.0, 20.0, 30.0]))
        begin, stop = w.t_start + pd.Timedelta(days=s_t), w.t_start + pd.Timedelta(days=e_t)
        rows += [{"coupon_id": f"S{k + 1:02d}", "audience": "store", "discount": store, "threshold": 199.0, "starts_at": begin, "ends_at": stop},
                 {"coupon_id": f"M{k + 1:02d}", "audience": "member", "discount": store + float(rng.choice([10.0, 20.0])),
                  "threshold": 199.0, "starts_at": begin, "ends_at": stop}]
    coupons = pd.DataFrame(rows, columns=["coupon_id", "audience", "discount", "threshold", "starts_at", "ends_at"])
    gaps = np.diff(np.r_[0, starts]) if starts.size else np.array([days])
    return benefits, coupons, {"member_benefit_every_days": [30, 50], "coupon_violations": 0, "longest_benefit_start_gap": int(gaps.max())}


#: 催付 in the simulated shop: unpaid orders of the last ``REMINDER_DAYS`` get an SMS 30-60 minutes
#: after creation (a share held out); the chance to pay within 24 hours with and without it.
REMINDER_DAYS = 90
REMINDER = {"campaign_id": "payment_reminder", "control_share": 0.2, "cost": 0.05,
            "pay_probability_reminded": 0.25, "pay_probability_control": 0.10}


def _ship_times(paid_at: pd.Series, rng: np.random.Generator, end: pd.Timestamp) -> pd.Series:
    """Shipping 4 hours + Gamma(2, 12 h) after payment; none yet for those later than the data end."""
    shipped = paid_at + pd.to_timedelta(4 + rng.gamma(2.0, 12.0, len(paid_at)), unit="h")
    return shipped.where(shipped <= end)


def _shipping(w: _World, rng: np.random.Generator, end: pd.Timestamp) -> None:
    """One shipping time per order (drawn per line, the first line's kept), so the last days' orders are unshipped."""
    orders = w.orders
    first_line = ~orders["order_id"].duplicated()
    shipped = _ship_times(orders["paid_at"], rng, end)
    per_order = pd.Series(shipped.to_numpy(), index=orders["order_id"])[first_line.to_numpy()]
    orders["shipped_at"] = orders["order_id"].map(per_order).astype("datetime64[us]")


def _reminder_sends(w: _World, rng: np.random.Generator, end: pd.Timestamp) -> tuple[pd.Index, np.ndarray, np.ndarray, pd.Series]:
    """催付 of the unpaid orders of the last ``REMINDER_DAYS``, 30-60 minutes after creation, a share
    held out; the touches are added. Returns the unpaid rows reminded, who was held out, who paid
    and when they paid (or would have)."""
    up = w.unpaid_orders
    # Reminded up to the day before the data end: the last day's unpaid orders are the next run's to do.
    window = (up["created_at"] > end - pd.Timedelta(days=REMINDER_DAYS)) & (up["created_at"] <= end - pd.Timedelta(days=1))
    if w.cfg.global_holdout_share > 0:  # no touch at all for the global holdout
        window &= ~in_holdout(up["customer_id"], w.cfg.global_holdout_share, w.holdout_key)
    recent = up.index[window.to_numpy()]
    sent = up.loc[recent, "created_at"] + pd.to_timedelta(rng.uniform(30, 60, recent.size), unit="min")
    recent, sent = recent[(sent < end).to_numpy()], sent[(sent < end).to_numpy()]
    control = rng.random(recent.size) < REMINDER["control_share"]
    pays = rng.random(recent.size) < np.where(control, REMINDER["pay_probability_control"], REMINDER["pay_probability_reminded"])
    paid_at = sent + pd.to_timedelta(np.minimum(rng.exponential(3.0, recent.size), 23.9), unit="h")
    pays &= (paid_at < end).to_numpy()
    w.touch_frames.append(pd.DataFrame({
        "touch_id": np.char.add("R-", (np.arange(recent.size) + w.block.index * ID_STRIDE).astype(str)), "campaign_id": REMINDER["campaign_id"],
        "customer_id": up.loc[recent, "customer_id"].to_numpy(), "channel": "sms", "sent_at": sent.to_numpy(),
        "group": np.where(control, "control", "treatment"), "cost": np.where(control, 0.0, REMINDER["cost"]),
    }))
    return recent, control, pays, paid_at


def _paid_after_reminders(w: _World, rng: np.random.Generator, end: pd.Timestamp, paid: pd.Index, paid_at: pd.Series) -> None:
    """The reminded orders that were paid join the orders (the same order ids) and leave 待支付."""
    up, orders = w.unpaid_orders, w.orders
    rows = up.loc[paid]
    late = pd.DataFrame({
        "order_id": rows["order_id"], "line_id": rows["line_id"], "customer_id": rows["customer_id"],
        "paid_at": paid_at.astype("datetime64[us]").to_numpy(), "product_id": rows["product_id"],
        "sku_id": rows["product_id"] + "-01", "quantity": rows["quantity"], "paid_amount": rows["amount"],
        "refund_amount": 0.0, "traffic_genre": "other", "traffic_source": "其他", "channel": "douyin",
    })
    late["shipped_at"] = _ship_times(late["paid_at"], rng, end)
    late = late.reindex(columns=orders.columns).astype(orders.dtypes.to_dict())
    w.orders = pd.concat([orders, late], ignore_index=True)
    # A sample buyer who paid a reminded order of the full size has converted too: the truth follows the orders.
    bought = pd.MultiIndex.from_arrays([late["customer_id"], late["product_id"]])
    converted = pd.MultiIndex.from_arrays([w.customer_ids[w.sample_cust], w.pids[w.full_idx]]).isin(bought)
    w.converts, w.has_next = w.converts | converted, w.has_next | converted
    up.loc[paid, "status"] = "已支付"


def _operations(w: _World) -> dict[str, Any]:
    """What the daily event care works on: each order's shipping time and 催付 with its response.
    Drawn from their own stream, so the rest of the seeded shop is unchanged."""
    rng = w.stream(2026)
    end = w.t_start + pd.Timedelta(days=w.days)
    _shipping(w, rng, end)
    recent, control, pays, paid_at = _reminder_sends(w, rng, end)
    _paid_after_reminders(w, rng, end, recent[pays], paid_at[pays])
    return {**REMINDER, "reminded": int((~control).sum()), "held_out": int(control.sum()),
            "paid_reminded": int((pays & ~control).sum()), "paid_control": int((pays & control).sum()),
            "unshipped_orders": int(w.orders.loc[w.orders["shipped_at"].isna(), "order_id"].nunique())}


#: 裂变 in the simulated shop: this share of new members was brought by a member who joined in the days before.
REFERRED_SHARE, REFERRAL_DAYS = 0.12, 90


def _referrals(w: _World) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Who brought whom: a share of members, each referred by a member who joined up to
    ``REFERRAL_DAYS`` before them (drawn uniformly). From its own stream, so the shop is unchanged."""
    rng = w.stream(2027)
    members = w.members.sort_values(["joined_at", "customer_id"], ignore_index=True)
    joined = members["joined_at"].to_numpy()
    first = np.searchsorted(joined, joined - np.timedelta64(REFERRAL_DAYS, "D"))
    before = np.searchsorted(joined, joined, side="left")  # members who joined strictly earlier
    referred = (rng.random(len(members)) < REFERRED_SHARE) & (before > first)
    who = rng.integers(first[referred], before[referred])
    out = pd.DataFrame({"referrer_id": members["customer_id"].to_numpy()[who], "referred_id": members.loc[referred, "customer_id"].to_numpy(),
                        "referred_at": joined[referred]}).astype({"referrer_id": "str", "referred_id": "str"})
    return out, {"referred_share": REFERRED_SHARE, "window_days": REFERRAL_DAYS, "referrals": int(len(out))}


def simulate(n_customers: int, start: str, end: str, seed: int, config: ShopConfig, *, campaigns: bool = True,
             progress: bool = False, block_customers: int = BLOCK_CUSTOMERS) -> Shop:
    """Run the stages for ``n_customers`` people over ``[start, end]`` and assemble the shop (see
    :func:`crm_lab.datasets.make_shop`); a shop of more than ``block_customers`` in blocks (:func:`blocks`)."""
    parts, first = [], None
    for block in tqdm(blocks(check_arguments(n_customers, start, end), block_customers), desc="make_shop", disable=not progress):
        tables, truth, world = simulate_block(block, n_customers, start, end, seed, config, campaigns=campaigns,
                                              popularity=None if first is None else first.pop)
        first = first or world
        parts.append((tables, truth))
    tables = {name: pd.concat([t[name] for t, _ in parts], ignore_index=True) if name in BLOCK_TABLES else parts[0][0][name]
              for name in parts[0][0]}
    return assemble(tables, combine_truths([truth for _, truth in parts]), config, seed, first.t_end)


def check_arguments(n_customers: int, start: str, end: str) -> int:
    """The number of customers, if it and the period can make a shop (else ValueError)."""
    if n_customers < 10:
        raise ValueError("n_customers must be at least 10")
    if pd.Timestamp(end) <= pd.Timestamp(start):
        raise ValueError(f"end ({end}) must be after start ({start})")
    return int(n_customers)


#: The tables with rows per customer: a block has its own rows (the others are the shop's, from block 0).
BLOCK_TABLES = ("orders", "members", "touches", "events", "unpaid_orders", "referrals")


def simulate_block(block: Block, n_customers: int, start: str, end: str, seed: int, config: ShopConfig, *,
                   campaigns: bool = True, popularity: np.ndarray | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, Any], _World]:
    """One block of a shop of ``n_customers``: its tables, its truth (see :func:`combine_truths`) and
    its world (``world.pop`` is the catalogue's popularity to give the later blocks)."""
    w = _World(config, block.size, pd.Timestamp(start), pd.Timestamp(end), seed, block=block,
               id_width=max(7, len(str(n_customers))), popularity=popularity)
    w.campaigns_on = campaigns
    w.holdout_key = f"sample-shop-{seed}"
    for stage in STAGES:
        stage(w)
    operations = _operations(w)
    truth = _truth(w)
    truth["operations"] = operations
    benefits, coupons, truth["member_programme"] = _member_programme(w, seed)
    referrals, truth["referrals"] = _referrals(w)
    tables = {"orders": w.orders, "members": w.members, "products": _products_table(w), "touches": _touches_table(w),
              "events": w.events, "unpaid_orders": w.unpaid_orders, "benefits": benefits, "coupons": coupons, "referrals": referrals}
    return tables, truth, w


#: Truth tables with rows per customer (or order), stacked over blocks; the others are the shop's.
TRUTH_ROWS = ("customers", "sample_buyers", "touch_segments", "campaign_orders")


def combine_truths(truths: list[dict[str, Any]]) -> dict[str, Any]:
    """The shop's truth from its blocks': per-customer tables stacked, counts added, true uplifts
    and base rates averaged over the blocks weighted by their customers (one block: itself).

    Examples
    --------
    >>> from crm_lab.simulator import ShopConfig, blocks, combine_truths, simulate_block
    >>> parts = [simulate_block(b, 600, "2024-01-01", "2025-11-30", 1, ShopConfig())[1] for b in blocks(600, 300)]
    >>> len(combine_truths(parts)["customers"])
    600
    """
    if len(truths) == 1:
        return truths[0]
    out = dict(truths[0])
    for key in TRUTH_ROWS:
        if key in out:  # (a block written to disk has written these already)
            out[key] = pd.concat([t[key] for t in truths], ignore_index=True)
    campaigns = pd.concat([t["campaigns"] for t in truths], ignore_index=True)
    if len(campaigns):
        audience = campaigns.groupby("campaign_id", sort=False)["audience"].sum()
        out["campaigns"] = truths[0]["campaigns"].assign(audience=lambda d: d["campaign_id"].map(audience).astype("int64"))
    uplift = pd.concat([t["uplift"] for t in truths], ignore_index=True)
    if len(uplift):
        rates = ["true_uplift_7d", "true_uplift_24h", "base_response_7d"]
        weighted = uplift[rates].mul(uplift["customers"], axis=0).fillna(0.0).assign(customers=uplift["customers"])
        sums = weighted.groupby([uplift["campaign_id"], uplift["segment"]], sort=False).sum()
        first = truths[0]["uplift"].set_index(["campaign_id", "segment"])
        first["customers"] = sums["customers"].astype("int64")
        first[rates] = sums[rates].div(sums["customers"].where(sums["customers"] > 0), axis=0)
        out["uplift"] = first.reset_index()[truths[0]["uplift"].columns]
    counts = ("reminded", "held_out", "paid_reminded", "paid_control", "unshipped_orders")
    out["operations"] = {**truths[0]["operations"], **{k: sum(t["operations"][k] for t in truths) for k in counts}}
    out["referrals"] = {**truths[0]["referrals"], "referrals": sum(t["referrals"]["referrals"] for t in truths)}
    return out


def assemble(tables: dict[str, pd.DataFrame], truth: dict[str, Any], config: ShopConfig, seed: int, t_end: pd.Timestamp) -> Shop:
    """The :class:`~crm_lab.data.Shop` of a simulation's tables and truth."""
    return Shop(
        **tables, truth=truth, as_of=t_end, name="示例店铺",
        holdout={"share": config.global_holdout_share, "key": f"sample-shop-{seed}"} if config.global_holdout_share > 0 else None,
        calendar=calendar(truth),
    )


def calendar(truth: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The shop's own promotion calendar (event -> first and last day), as a real shop knows it."""
    return {row.event: (f"{row.start:%Y-%m-%d}", f"{row.end - pd.Timedelta(days=1):%Y-%m-%d}")
            for row in truth["promotions"].itertuples()}
