"""The time vocabulary every module shares: what ``as_of`` includes and how long a window is.

``as_of`` is the moment of observation (a date includes its whole day); ``within`` is a length
('90D', '24h', a number of days, a Timedelta) counted back from ``as_of``.

Examples
--------
>>> from crm_lab.periods import observation_end, window_length
>>> str(observation_end("2025-11-30")), window_length("7D").days
('2025-12-01 00:00:00', 7)
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["observation_end", "window_length"]


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
    try:
        if text[-1:] in ("D", "d") and text[:-1].lstrip("-").replace(".", "", 1).isdigit():
            return pd.Timedelta(days=float(text[:-1]))
        return pd.Timedelta(text)
    except ValueError:
        raise ValueError(f"window {window!r}: use e.g. '90D', '14D', '24h' or a number of days") from None


