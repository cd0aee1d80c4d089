"""Docstring fragments for the parameters every module shares (as seaborn's ``_docstrings.py``).

One wording per word of the vocabulary, so that ``as_of`` or ``within`` reads the same in every
function. A docstring names a fragment as ``{as_of}`` on a line of its own, indented like the
other parameters; :func:`share_docs` puts the text in.

Examples
--------
>>> from crm_lab._docs import share_docs
>>> @share_docs
... def f(shop, *, as_of=None):
...     '''Example.
...
...     Parameters
...     ----------
...     {shop}
...     {as_of}
...     '''
>>> "moment of observation" in f.__doc__
True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["PARAMETERS", "share_docs"]

#: name -> (type line, description lines); the description is indented one level under its name.
PARAMETERS: dict[str, tuple[str, str]] = {
    "shop": ("shop : Shop", "The shop's canonical tables (:func:`crm_lab.data.read_shop`, :func:`crm_lab.datasets.make_shop`)."),
    "source": ("source : Shop or orders frame", "A Shop, or its orders alone (a pandas, Polars, DuckDB or PySpark frame)."),
    "as_of": ("as_of : date-like, optional",
              "The moment of observation: a date includes its whole day, a timestamp cuts at its time. Default:\n"
              "the shop's extraction time (``shop.as_of``)."),
    "since": ("since : date-like, optional", "Only what happened after this moment (its day excluded): ``since = as_of - 365 days``\n"
              "is exactly 365 days."),
    "within": ("within : window, optional", "A length counted back from ``as_of``: '90D', '24h', a number of days or a Timedelta."),
    "horizon": ("horizon : window", "A length counted forward from ``as_of``: '30D', '90D', a number of days or a Timedelta."),
    "days": ("days : number or list of numbers", "Horizons in days after each customer's start; a customer counts at a horizon only\n"
             "once observed that long (right-censoring)."),
    "freq": ("freq : str", "Period of the cohorts or trend: '1mo' (months), '1w' (weeks), '1d' (days)."),
}


def _fragment(name: str, indent: str) -> str:
    head, body = PARAMETERS[name]
    lines = [indent + head] + [indent + "    " + line for line in body.splitlines()]
    return "\n".join(lines)


def share_docs(func: Callable[..., Any]) -> Callable[..., Any]:
    """Fill ``{name}`` lines of ``func``'s docstring with the shared parameter fragments."""
    if func.__doc__:
        func.__doc__ = re.sub(r"^([ \t]*)\{(\w+)\}[ \t]*$",
                              lambda m: _fragment(m[2], m[1]) if m[2] in PARAMETERS else m[0], func.__doc__, flags=re.M)
    return func
