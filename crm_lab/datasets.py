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

import json
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from crm_lab.data import Shop
from crm_lab.files import atomic_frame, atomic_text
from crm_lab.simulator import (
    BGNBD,
    BLOCK_CUSTOMERS,
    BLOCK_TABLES,
    GAMMA_GAMMA,
    ShopConfig,
    simulate,
)

__all__ = ["make_shop", "write_sample_shop", "read_truth", "load_cdnow", "load_cdnow_master", "shared_data_path", "load_groceries", "load_hillstrom", "load_online_retail"]

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
    block_customers: int = BLOCK_CUSTOMERS,
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
    block_customers : int
        A shop of more customers is simulated in blocks of at most this many, each on its own
        random stream (see :func:`crm_lab.simulator.blocks`); :func:`write_sample_shop` writes the
        same shop block by block without holding it in memory.

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
    return simulate(n_customers, start, end, seed, config, campaigns=campaigns, progress=progress, block_customers=block_customers)


def write_sample_shop(
    folder: str | os.PathLike[str],
    n_customers: int = 20_000,
    start: str = "2024-01-01",
    end: str = "2025-11-30",
    seed: int = 7,
    *,
    global_holdout_share: float = 0.0,
    workers: int = 2,
    block_customers: int = BLOCK_CUSTOMERS,
    progress: bool = False,
) -> Path:
    """Write :func:`make_shop`'s shop to a folder block by block, validated, with its truth.

    The same tables and truth as ``make_shop(n_customers, start, end, seed,
    block_customers=block_customers)``, but only a block of customers is in memory at a time (in
    each of ``workers`` processes), so the size is bounded by the disk, not the memory: 10M
    customers in about 3.7 GB of Parquet (bench/RESULTS.md). Each block's tables are validated
    before they are written; ids are unique across blocks by construction. The folder is built
    aside and put in place whole, then marked validated (reports skip validating it again).

    Layout: a one-block shop writes ``<table>.parquet`` as :func:`crm_lab.data.write_shop`; a larger
    one ``<table>/part-NNNNN.parquet`` per block for the tables with rows per customer. The truth
    goes to ``truth/`` (read it with :func:`read_truth`).

    Examples
    --------
    >>> import crm_lab as cl
    >>> folder = cl.datasets.write_sample_shop("data/sample", 2_000, workers=1)  # doctest: +SKIP
    >>> cl.datasets.read_truth(folder)["bgnbd"]  # doctest: +SKIP
    {'r': 0.25, 'alpha': 40.0, 'a': 0.8, 'b': 2.5}
    """
    from crm_lab.data.canonical import mark_validated, shop_meta
    from crm_lab.files import replace_dir, temp_path
    from crm_lab.simulator import assemble, blocks, check_arguments, combine_truths

    target = Path(folder)
    _refuse_other_files(target)
    parts = blocks(check_arguments(n_customers, start, end), block_customers)
    build = temp_path(target, "building")
    job = _BlockJob(str(build), int(n_customers), start, end, seed, ShopConfig(global_holdout_share=global_holdout_share), len(parts) > 1)
    try:
        with tqdm(total=len(parts), desc="simulate", unit="block", disable=not progress) as bar:
            truths = _write_blocks(job, parts, workers, bar)
        truth = combine_truths(truths)
        _write_truth(build / "truth", truth)
        shop = assemble({"orders": None}, truth, job.config, seed, pd.Timestamp(end))  # for shop.json only
        atomic_text(build / "shop.json", json.dumps(shop_meta(shop), ensure_ascii=False, indent=1))
        replace_dir(build, target)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    mark_validated(target, pd.Timestamp(end))
    return target


def _refuse_other_files(target: Path) -> None:
    """The folder is replaced whole: refuse one that holds anything but an earlier simulated shop."""
    from crm_lab.data import SCHEMA
    from crm_lab.data.canonical import VALIDATED_MARKER

    if not target.exists():
        return
    ours = {"shop.json", VALIDATED_MARKER, "truth", *(f"{t}.parquet" for t in SCHEMA), *SCHEMA}
    other = sorted(p.name for p in target.iterdir() if p.name not in ours) if target.is_dir() else [target.name]
    if other:
        raise FileExistsError(f"{target}: holds {', '.join(other[:5])}{' ...' if len(other) > 5 else ''}, which is not a simulated "
                              "shop's; the folder would be replaced whole. Fix: give a new or empty folder")


@dataclass(frozen=True)
class _BlockJob:
    """What every block of a :func:`write_sample_shop` run shares (sent to the worker processes)."""

    folder: str
    n_customers: int
    start: str
    end: str
    seed: int
    config: ShopConfig
    parted: bool


def _write_blocks(job: _BlockJob, parts: list[Any], workers: int, bar: Any) -> list[dict[str, Any]]:
    """Every block, block 0 first (its catalogue is every block's), the others in ``workers``
    processes (spawned: no forked DuckDB or thread state), or here one after another, stopping at
    the first that fails, when there is one worker or one block; their truths in block order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if workers <= 1 or len(parts) == 1:
        truth, popularity = _write_block(job, parts[0], None)
        bar.update()
        truths = [truth]
        for block in parts[1:]:
            truths.append(_write_block(job, block, popularity)[0])
            bar.update()
        return truths
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        truth, popularity = pool.submit(_write_block, job, parts[0], None).result()
        bar.update()
        futures = [pool.submit(_write_block, job, block, popularity) for block in parts[1:]]
        truths = [truth]
        try:
            for future in futures:
                truths.append(future.result()[0])
                bar.update()
        except BaseException:
            pool.shutdown(cancel_futures=True)  # the blocks not started yet would be for nothing
            raise
    return truths


def _write_block(job: _BlockJob, block: Any, popularity: np.ndarray | None) -> tuple[dict[str, Any], np.ndarray]:
    """Simulate one block, validate its tables, write them and its per-customer truth; return the
    rest of its truth (small) and the catalogue's popularity."""
    from crm_lab.data import validate
    from crm_lab.simulator import TRUTH_ROWS, simulate_block

    tables, truth, world = simulate_block(block, job.n_customers, job.start, job.end, job.seed, job.config, popularity=popularity)
    out = Path(job.folder)
    for name, frame in tables.items():
        if block.index > 0 and name not in BLOCK_TABLES:
            continue  # the shop's own tables (products, benefits, coupons) come from block 0
        frame = validate(frame, name, as_of=pd.Timestamp(job.end))
        atomic_frame(frame, _part(out, name, block.index, job.parted and name in BLOCK_TABLES))
    for name in TRUTH_ROWS:
        atomic_frame(truth.pop(name), _part(out / "truth", name, block.index, job.parted))
    return truth, world.pop


def _part(folder: Path, name: str, index: int, parted: bool) -> Path:
    return folder / name / f"part-{index:05d}.parquet" if parted else folder / f"{name}.parquet"


def _write_truth(folder: Path, truth: dict[str, Any]) -> None:
    """Truth tables as Parquet, the rest (parameters, counts) as JSON; per-customer tables are there already."""
    scalars = {}
    for key, value in truth.items():
        if isinstance(value, pd.DataFrame):
            atomic_frame(value, folder / f"{key}.parquet")
        else:
            scalars[key] = value
    atomic_text(folder / "truth.json", json.dumps(scalars, ensure_ascii=False, indent=1))


def read_truth(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The truth :func:`write_sample_shop` wrote into ``folder/truth``: the same keys and values as
    ``make_shop(...).truth`` of the same arguments (parameters and counts from ``truth.json``,
    tables from Parquet, the per-block parts in block order).

    Examples
    --------
    >>> import crm_lab as cl
    >>> truth = cl.datasets.read_truth("data/demo")  # doctest: +SKIP
    """
    root = Path(folder) / "truth"
    if not (root / "truth.json").exists():
        raise FileNotFoundError(f"{root / 'truth.json'}: no truth here. Fix: write the folder with crm-lab simulate "
                                "(or crm_lab.datasets.write_sample_shop)")
    truth: dict[str, Any] = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    for path in sorted(root.iterdir()):
        if path.suffix == ".parquet":
            truth[path.stem] = pd.read_parquet(path)
        elif path.is_dir():
            truth[path.name] = pd.concat([pd.read_parquet(part) for part in sorted(path.glob("part-*.parquet"))], ignore_index=True)
    return truth


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
