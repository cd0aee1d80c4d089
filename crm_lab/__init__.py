"""crm_lab: member operations (会员运营) analytics for e-commerce shops.

Import it as ``import crm_lab as cl``; the submodules (``cl.data``, ``cl.datasets``,
``cl.summary`` ...) load on first use, so ``import crm_lab`` stays quick and prints nothing.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(n_customers=500, seed=7)
>>> s = cl.summary.customer_summary(shop)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = ("data", "engine", "datasets", "summary", "identity", "rfm", "audience", "conversion", "assoc", "clv", "uplift", "campaign", "campaign_plan", "response", "planning", "recipes", "lifecycle", "predict", "care", "program", "periods", "currency", "plots", "report", "files", "results", "rules", "simulator", "cli")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    # Lazy submodules: plotting and papermill are heavy and not every user needs them.
    if name in _SUBMODULES:
        module = importlib.import_module(f"crm_lab.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'crm_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
