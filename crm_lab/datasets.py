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

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from crm_lab.data import Shop
from crm_lab.simulator import BGNBD, GAMMA_GAMMA, ShopConfig, simulate

__all__ = ["make_shop", "load_cdnow", "load_cdnow_master", "shared_data_path", "load_groceries", "load_hillstrom", "load_online_retail"]

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
    global_holdout_share: float = 0.0,
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
    global_holdout_share : float
        A share of customers no campaign touches, as ``shop.holdout`` (0: none): the shop of
        :func:`crm_lab.program.program_report`. Another share gives another shop (the campaigns'
        audiences change).
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
    config = ShopConfig(member_share=member_share, never_buy_share=never_buy_share, bgnbd={**BGNBD, **(bgnbd or {})},
                        gamma_gamma={**GAMMA_GAMMA, **(gamma_gamma or {})}, promotions=promotions,
                        global_holdout_share=global_holdout_share)
    return simulate(n_customers, start, end, seed, config, campaigns=campaigns, progress=progress)


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
