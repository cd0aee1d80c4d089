"""The protocol every analysis result follows (statsmodels' result objects, seaborn's Axes).

A result is a frozen dataclass with documented fields and:

* ``summary()`` — a DataFrame of the headline numbers;
* ``to_frame()`` — the main table behind them (by default the summary);
* ``plot(ax=None)`` — its figure on a matplotlib Axes, returned (where it has one).

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.datasets.make_shop(1_000, seed=1)
>>> out = cl.audience.Audience(shop, as_of="2025-09-30").event("live_view", within="30D").outcome(horizon="30D")
>>> isinstance(out, cl.results.Result), list(out.summary().columns)[:3]
(True, ['customers', 'buyers', 'rate'])
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["Result"]


class Result:
    """Base of the analysis results: ``summary()``, ``to_frame()``, ``plot()``."""

    def summary(self) -> pd.DataFrame:
        """The headline numbers as a DataFrame."""
        raise NotImplementedError

    def to_frame(self) -> pd.DataFrame:
        """The main table of the result (by default :meth:`summary`)."""
        return self.summary()

    def plot(self, ax: Any = None) -> Any:
        """The result's figure on ``ax`` (a new one by default); returns the Axes."""
        raise NotImplementedError(f"{type(self).__name__} has no figure; see its summary()")
