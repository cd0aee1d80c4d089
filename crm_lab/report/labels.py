"""The words readers see for the codes analyses use: one registry for every report.

Examples
--------
>>> import pandas as pd
>>> from crm_lab.report.labels import genre_names
>>> genre_names(pd.Series(["live", None])).tolist()
['直播', '未知']
"""

from __future__ import annotations

import pandas as pd

__all__ = ["GENRE_ZH", "WAVE_ZH", "genre_names"]

#: 流量体裁: Chinese labels of the canonical traffic genres.
GENRE_ZH = {"live": "直播", "short_video": "短视频", "product_card": "商品卡", "other": "其他"}
#: The two waves of a promotion.
WAVE_ZH = {"wave1": "第一波", "wave2": "第二波"}


def genre_names(genres: pd.Series) -> pd.Series:
    """Chinese names of traffic genres (unknown or missing: 未知)."""
    return genres.map(GENRE_ZH).fillna("未知")
