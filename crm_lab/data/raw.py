"""Reading raw export files: encodings (UTF-8, BOM, GBK), xlsx, header normalisation, ids as text.

Examples
--------
>>> import pandas as pd
>>> from crm_lab.data.raw import clean_id
>>> clean_id(pd.Series(['="6912345678901234567"', "'123"])).tolist()
['6912345678901234567', '123']
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd

from crm_lab import engine


def _norm_header(name: Any) -> str:
    text = unicodedata.normalize("NFKC", str(name)).replace("\ufeff", "")
    return re.sub(r"\s+", "", text).strip()


def _detect_encoding(path: Path) -> str:
    raw = path.read_bytes()[: 1 << 20]
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the sample's end is still UTF-8.
        if exc.start >= len(raw) - 4:
            return "utf-8"
    try:
        raw.decode("gb18030")
        return "gb18030"  # a superset of GBK and GB2312
    except UnicodeDecodeError:
        raise ValueError(
            f"{path}: neither UTF-8 nor GBK. Fix: save the export as UTF-8 CSV or xlsx, or pass encoding=..."
        ) from None


def _read_raw(source: Any, encoding: str | None = None, sheet: int | str = 0) -> pd.DataFrame:
    """Read an export as text columns (pandas). Frames are copied, never modified."""
    if isinstance(source, pd.DataFrame):
        return source.copy()
    if not isinstance(source, (str, os.PathLike)):
        return engine.collect(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return pd.read_excel(path, dtype=str, sheet_name=sheet)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    enc = encoding or _detect_encoding(path)
    sep = "\t" if suffix == ".tsv" else ","
    return pd.read_csv(path, dtype=str, encoding=enc, sep=sep, keep_default_na=False, na_values=[""])


def clean_id(values: pd.Series) -> pd.Series:
    """Ids as text: strip ``="…"`` wrappers, a leading apostrophe, spaces and a float's ``.0``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.data import clean_id
    >>> clean_id(pd.Series(['="6912345678901234567"', "'6912345678901234568", " 42 "])).tolist()
    ['6912345678901234567', '6912345678901234568', '42']
    """
    text = values.astype("str").where(values.notna())
    text = text.str.strip().str.replace(r'^="?(.*?)"?$', r"\1", regex=True)
    text = text.str.replace(r"^'", "", regex=True).str.strip()
    text = text.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    return text.where(text.notna() & (text != "") & (text.str.lower() != "nan"))


def _to_number(values: pd.Series) -> pd.Series:
    text = values.astype("str").str.replace(r"[¥￥,\s]", "", regex=True).str.replace(r"^'", "", regex=True)
    text = text.where(values.notna() & (text != "") & (text != "-"))
    return pd.to_numeric(text, errors="coerce")


def _to_datetime(values: pd.Series, tz: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values
    else:
        text = values.astype("str").str.strip().str.replace(r"^'", "", regex=True)
        text = text.where(values.notna() & (text != "") & (text != "-"))
        out = pd.to_datetime(text, errors="coerce", format="mixed")
    if isinstance(out.dtype, pd.DatetimeTZDtype):
        out = out.dt.tz_convert(tz).dt.tz_localize(None)
    return out.astype("datetime64[us]")


def _map_headers(raw: pd.DataFrame, aliases: dict[str, tuple[str, ...]]) -> tuple[pd.DataFrame, dict[str, str]]:
    by_norm = {_norm_header(c): c for c in raw.columns}
    out, used = {}, {}
    for target, names in aliases.items():
        for name in (target, *names):
            original = by_norm.get(_norm_header(name))
            if original is not None:
                out[target] = raw[original]
                used[target] = original
                break
    return pd.DataFrame(out, index=raw.index), used


def _find(raw: pd.DataFrame, names: tuple[str, ...]) -> list[str]:
    wanted = {_norm_header(n) for n in names}
    return [c for c in raw.columns if _norm_header(c) in wanted]
