"""The shop's currency in what readers see: one setting read by every amount a report or a figure prints.

A shop's currency (:attr:`crm_lab.data.Shop.currency`, kept in ``shop.json``) is set for the
report being made with :func:`use`; :func:`symbol` gives its sign. The default is CNY (¥).

Examples
--------
>>> from crm_lab import currency
>>> with currency.use("GBP"):
...     currency.symbol()
'£'
>>> currency.symbol()
'¥'
"""

from __future__ import annotations

from typing import Any

__all__ = ["SYMBOLS", "symbol", "use", "current"]

#: Signs of the currencies shops sell in; any other ISO code is printed as the code and a space.
SYMBOLS = {"CNY": "¥", "GBP": "£", "USD": "$", "EUR": "€", "JPY": "JP¥", "HKD": "HK$", "TWD": "NT$", "SGD": "S$",
           "KRW": "₩", "AUD": "A$", "CAD": "C$"}

# A plain module setting, not a context variable: a notebook sets it in one cell and every later
# cell (each run in a fresh context by IPython) must see it.
_CURRENT = ["CNY"]


def current() -> str:
    """The ISO code amounts are printed in now."""
    return _CURRENT[0]


def symbol(code: str | None = None) -> str:
    """The sign of ``code`` (default: the current currency)."""
    code = (code or current()).upper()
    return SYMBOLS.get(code, f"{code} ")


class use:
    """Print amounts in ``code`` (a shop's currency): for the rest of the notebook, or inside a
    ``with`` block only.

    Parameters
    ----------
    code : str or Shop
        An ISO 4217 code, or a shop (its ``currency``).
    """

    def __init__(self, code: Any):
        code = getattr(code, "currency", code)
        if not (isinstance(code, str) and len(code) == 3 and code.isalpha()):
            raise ValueError(f"currency {code!r}: give an ISO 4217 code such as 'CNY', 'GBP' or 'USD'")
        self._before = _CURRENT[0]
        _CURRENT[0] = code.upper()

    def __enter__(self) -> "use":
        return self

    def __exit__(self, *exc: Any) -> None:
        _CURRENT[0] = self._before
