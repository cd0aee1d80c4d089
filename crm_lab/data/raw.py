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

import numpy as np
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
    """Read an export as text columns (pandas). Frames are copied, never modified.

    A CSV whose lines do not all have the header's number of fields (a download cut off, an
    unquoted comma) or whose header repeats a column is an error naming the file and lines.
    """
    if isinstance(source, pd.DataFrame):
        return source.copy()
    if not isinstance(source, (str, os.PathLike)):
        return engine.collect(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return _read_excel(path, sheet)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return _read_csv(path, encoding or _detect_encoding(path), "\t" if suffix == ".tsv" else ",")


def _check_header(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        key = _norm_header(name)
        if key in seen:
            raise ValueError(f"{path}: column {name!r} appears twice in the header (columns {seen[key]} and {position}); "
                             "a reader could take either. Fix: delete or rename one of them in the export")
        seen[key] = position


def _read_csv(path: Path, encoding: str, sep: str) -> pd.DataFrame:
    """Every field as text (blank -> null); lines with the wrong number of fields are an error."""
    import csv
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(path, encoding=encoding, newline="") as handle:
        header = next(csv.reader(io.StringIO(handle.readline()), delimiter=sep), [])
    _check_header(path, header)
    bad: list[tuple[int | None, int, int]] = []

    def _bad_line(row: Any) -> str:
        bad.append((row.number, row.actual_columns, row.expected_columns))
        return "skip"

    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=encoding, use_threads=False),
        parse_options=pacsv.ParseOptions(delimiter=sep, invalid_row_handler=_bad_line, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                             strings_can_be_null=True, null_values=[""]),
    )
    if bad:
        lines = ", ".join(str(n) for n, _a, _e in bad[:10])
        raise ValueError(f"{path}: {len(bad)} line(s) do not have the header's {bad[0][2]} fields (lines {lines}; "
                         f"line {bad[0][0]} has {bad[0][1]}): the download was cut off, or a field holds an unquoted "
                         f"separator. Fix: download the export again (and check its size), or quote the field")
    frame = table.to_pandas()
    return frame.astype({c: "str" for c in frame.columns})


def _read_excel(path: Path, sheet: int | str) -> pd.DataFrame:
    """Cells as text. A number cell is written out exactly; one of 16 digits or more is left in
    scientific notation (Excel has already rounded it to 15 digits, so an id in it is lost)."""
    frame = pd.read_excel(path, dtype=object, sheet_name=sheet)
    _check_header(path, [str(c) for c in frame.columns])
    return frame.apply(_excel_text).astype("str")


def _excel_text(values: pd.Series) -> pd.Series:
    numbers = values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
    if not numbers.any():
        return values
    out = values.copy()
    as_float = pd.to_numeric(values.where(numbers), errors="coerce")
    whole = numbers & (as_float == np.floor(as_float)) & (as_float.abs() < 1e15)
    lossy = numbers & (as_float.abs() >= 1e15)
    out[whole] = as_float[whole].astype("int64").astype("str")
    out[lossy] = as_float[lossy].map("{:.15E}".format)
    rest = numbers & ~whole & ~lossy
    out[rest] = as_float[rest].map(repr)
    return out


def clean_id(values: pd.Series) -> pd.Series:
    """Ids as text: NFKC-normalised (full-width digits are digits), without ``="…"`` wrappers, a
    leading apostrophe, spaces or a float's ``.0``.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.data import clean_id
    >>> clean_id(pd.Series(['="6912345678901234567"', "'6912345678901234568", " 42 ", "１２３"])).tolist()
    ['6912345678901234567', '6912345678901234568', '42', '123']
    """
    text = values.astype("str").where(values.notna())
    wide = text.str.contains(r"[^\x00-\x7f]", regex=True).fillna(False).astype(bool)
    if wide.any():  # NFKC runs per value: only on the few that are not plain ASCII
        text = text.mask(wide, text[wide].str.normalize("NFKC"))
    text = text.str.strip().str.replace(r'^="?(.*?)"?$', r"\1", regex=True)
    text = text.str.replace(r"^'", "", regex=True).str.strip()
    text = text.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    return text.where(text.notna() & (text != "") & (text.str.lower() != "nan"))


#: An id Excel (or a float column) turned into scientific notation: its digits are gone.
SCIENTIFIC_ID = r"[+-]?\d+(\.\d+)?[eE][+-]?\d+"


def scientific_ids(ids: pd.Series) -> pd.Series:
    """True where a cleaned id is in scientific notation (``6.91235E+18``): not an id any more.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.data.raw import scientific_ids
    >>> scientific_ids(pd.Series(["6.91235E+18", "6912345678901234567", None])).tolist()
    [True, False, False]
    """
    return ids.str.fullmatch(SCIENTIFIC_ID).fillna(False).astype(bool)


#: Numbers as shops write them: ``1,234.50`` (thousands commas), ``¥12``; ``12,5`` is no number here.
_THOUSANDS = r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?"


def _to_number(values: pd.Series) -> pd.Series:
    """Numbers from text; a decimal comma (``12,5``), ``inf`` or anything else unreadable -> NaN
    (the caller names those rows)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.astype("float64")
        return numbers.where(np.isfinite(numbers))
    text = values.astype("str").str.replace(r"[¥￥\s]", "", regex=True).str.replace(r"^'", "", regex=True)
    text = text.where(values.notna() & (text != "") & (text != "-"))
    thousands = text.str.fullmatch(_THOUSANDS).fillna(False).astype(bool)
    text = text.mask(thousands, text.str.replace(",", "", regex=False))
    numbers = pd.to_numeric(text.where(~text.str.contains(",", regex=False).fillna(False)), errors="coerce")
    return numbers.where(np.isfinite(numbers))


#: A timestamp that carries its offset: ``...Z``, ``...+08:00``, ``...+0800``.
_OFFSET = r".*\d(Z|[+-]\d{2}:?\d{2})"


def _to_datetime(values: pd.Series, tz: str, dayfirst: bool | None = None, where: str = "") -> pd.Series:
    """Timestamps as the shop's naive local time: aware values (a dtype or a ``+08:00`` suffix,
    mixed with naive ones or not) are converted to ``tz``; ``a/b/yyyy`` needs ``dayfirst`` unless
    the values decide it."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values
        if isinstance(out.dtype, pd.DatetimeTZDtype):
            out = out.dt.tz_convert(tz).dt.tz_localize(None)
        return out.astype("datetime64[us]")
    text = values.astype("str").str.strip().str.replace(r"^'", "", regex=True)
    text = text.where(values.notna() & (text != "") & (text != "-"))
    aware = text.str.fullmatch(_OFFSET).fillna(False).astype(bool)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    naive = text[~aware]
    if naive.notna().any():
        iso = pd.to_datetime(naive, errors="coerce", format="ISO8601")
        rest = iso.isna() & naive.notna()  # only these can be a/b/yyyy: the day-first question is theirs
        if rest.any():
            iso[rest] = pd.to_datetime(naive[rest], errors="coerce", format="mixed", dayfirst=_dayfirst(naive[rest], dayfirst, where))
        out[~aware] = iso.astype("datetime64[us]")
    if aware.any():
        stamped = pd.to_datetime(text[aware], errors="coerce", format="mixed", utc=True)
        out[aware] = stamped.dt.tz_convert(tz).dt.tz_localize(None).astype("datetime64[us]")
    return out


_SLASHED = r"(\d{1,2})[/.](\d{1,2})[/.]\d{4}.*"


def _dayfirst(text: pd.Series, dayfirst: bool | None, where: str) -> bool:
    """Whether ``a/b/yyyy`` dates put the day first: as given, or as the values prove it."""
    parts = text.str.extract("^" + _SLASHED + "$").dropna().astype(int)
    if parts.empty:
        return bool(dayfirst)
    day_first_seen, month_first_seen = bool((parts[0] > 12).any()), bool((parts[1] > 12).any())
    if dayfirst is not None:
        contradicted = month_first_seen if dayfirst else day_first_seen
        if contradicted:
            raise ValueError(f"{where}: dayfirst={dayfirst} but some dates only read the other way "
                             f"({', '.join(text[text.notna()].head(3))}). Fix: check the export's date format")
        return dayfirst
    if day_first_seen and month_first_seen:
        raise ValueError(f"{where}: dates in both day/month/year and month/day/year order. Fix: export dates as YYYY-MM-DD")
    if not day_first_seen and not month_first_seen:
        examples = ", ".join(text[text.notna()].head(3))
        raise ValueError(f"{where}: dates like {examples} read as day/month or month/day alike (01/10/2025 is 1 October "
                         "or 10 January). Fix: pass dayfirst=True (day/month/year) or dayfirst=False (month/day/year)")
    return day_first_seen


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
