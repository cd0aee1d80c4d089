"""The time vocabulary every module shares: what ``as_of`` includes and how long a window is.

``as_of`` is the moment of observation (a date includes its whole day); ``within`` is a length
('90D', '24h', a number of days, a Timedelta) counted back from ``as_of``, calendar months or
years ('3mo', '1y'), or an explicit ``(start, end)`` pair of days (both included). One parser,
:func:`window`, turns any of them into the half-open ``[start, end)`` every query uses;
:func:`window_length` gives the length of the fixed-length ones.

Examples
--------
>>> from crm_lab.periods import observation_end, window_length
>>> str(observation_end("2025-11-30")), window_length("7D").days
('2025-12-01 00:00:00', 7)
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

__all__ = ["observation_end", "window_length", "window"]


def observation_end(as_of: Any) -> pd.Timestamp:
    """Exclusive upper bound of the data observed "as of" a moment.

    A date (midnight) includes its whole day, as ``lifetimes``' ``observation_period_end`` does;
    a timestamp with a time of day includes everything up to and including that moment.

    Examples
    --------
    >>> from crm_lab.data import observation_end
    >>> str(observation_end("2025-11-30")), str(observation_end("2025-11-30 12:00"))
    ('2025-12-01 00:00:00', '2025-11-30 12:00:00.000001')
    """
    ts = pd.Timestamp(as_of)
    return ts + pd.Timedelta(days=1) if ts == ts.normalize() else ts + pd.Timedelta(microseconds=1)


def window_length(window: str | int | float | pd.Timedelta) -> pd.Timedelta:
    """A window's length from '90D', '24h', a number of days or a Timedelta.

    Examples
    --------
    >>> from crm_lab.data import window_length
    >>> window_length("7D") == window_length(7) == window_length("168h")
    True
    """
    if isinstance(window, pd.Timedelta):
        return window
    if isinstance(window, (int, float)):
        return pd.Timedelta(days=window)
    text = str(window).strip()
    if _CALENDAR.fullmatch(text):
        raise ValueError(f"window {window!r}: months and years have no fixed length; "
                         "give days ('90D') here, or use crm_lab.periods.window(within, as_of=...)")
    try:
        if text[-1:] in ("D", "d") and text[:-1].lstrip("-").replace(".", "", 1).isdigit():
            return pd.Timedelta(days=float(text[:-1]))
        return pd.Timedelta(text)
    except ValueError:
        raise ValueError(f"window {window!r}: use e.g. '90D', '14D', '24h' or a number of days") from None




_CALENDAR = re.compile(r"(\d+)\s*(mo|y)")


def window(within: Any, *, as_of: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The half-open ``[start, end)`` of a window, the one parser of the vocabulary.

    Parameters
    ----------
    within : '90D', '24h', number of days, Timedelta, '3mo', '1y', or (start, end)
        A length counted back from the end of ``as_of``; calendar months or years counted back
        the same way; or a ``(start, end)`` pair of days, both included (``as_of`` is then unused).
    as_of : date-like
        The moment of observation (a date includes its whole day).

    Examples
    --------
    >>> from crm_lab.periods import window
    >>> [str(t.date()) for t in window("7D", as_of="2025-11-30")]
    ['2025-11-24', '2025-12-01']
    >>> [str(t.date()) for t in window("1mo", as_of="2025-03-31")]
    ['2025-03-01', '2025-04-01']
    >>> [str(t.date()) for t in window(("2025-10-20", "2025-11-11"), as_of=None)]
    ['2025-10-20', '2025-11-12']
    """
    if isinstance(within, (tuple, list)):
        if len(within) != 2:
            raise ValueError(f"window {within!r}: a (start, end) pair has two dates")
        start, end = pd.Timestamp(within[0]).normalize(), observation_end(pd.Timestamp(within[1]).normalize())
        if end <= start:
            raise ValueError(f"window {within!r}: the end is before the start")
        return start, end
    end = observation_end(as_of)
    match = _CALENDAR.fullmatch(str(within).strip()) if isinstance(within, str) else None
    if match:
        n = int(match[1])
        return end - (pd.DateOffset(months=n) if match[2] == "mo" else pd.DateOffset(years=n)), end
    return end - window_length(within), end
