"""Stable splits of customers by a keyed hash: audiences' control groups and the shop's global holdout.

A customer's place depends only on its id and the key, never on who else is in the list, so a
split is the same whichever day or audience it is made on, and grows without reshuffling.

Examples
--------
>>> import pandas as pd
>>> from crm_lab.splits import control_groups, in_holdout
>>> ids = pd.Series([f"C{i:05d}" for i in range(10_000)])
>>> round(float((control_groups(ids, 0.1, seed=0) == "control").mean()), 2)
0.1
>>> bool((in_holdout(ids, 0.05, "my-shop") == in_holdout(ids[::-1], 0.05, "my-shop")[::-1]).all())
True
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

__all__ = ["uniform", "control_groups", "in_holdout"]


def uniform(ids: pd.Series, key: str) -> np.ndarray:
    """A number in [0, 1) per id, from a keyed 64-bit hash of the id (pandas' SipHash with a 16-byte key)."""
    hashed = pd.util.hash_pandas_object(pd.Series(ids).astype("str"), index=False, hash_key=key[:16].ljust(16, "0")).to_numpy()
    return hashed / float(2**64)


def control_groups(ids: pd.Series, share: float, seed: int) -> np.ndarray:
    """``"control"`` for about ``share`` of the ids, else ``"treatment"``, keyed by ``seed``."""
    return np.where(uniform(ids, f"crm_lab{int(seed):09d}") < share, "control", "treatment")


def in_holdout(ids: pd.Series, share: float, key: str) -> np.ndarray:
    """Whether each id is in the global holdout of ``share`` keyed by the shop's ``key`` (its own
    hash key, apart from every control group's: a customer's holdout place and control place are independent)."""
    digest = hashlib.sha256(f"crm_lab global holdout:{key}".encode()).hexdigest()
    return uniform(ids, digest) < share
