"""Canonical files and frames: Parquet / CSV / DuckDB tables opened lazily, shop folders read and written.

Examples
--------
>>> import crm_lab as cl
>>> shop = cl.data.read_shop("data/demo")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from crm_lab import engine
from crm_lab.data.schema import SCHEMA, TIMEZONE, Shop, _coerce, validate
from crm_lab.files import atomic_frame, atomic_text


def atomic_write(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame to CSV or Parquet (by suffix) atomically: a reader never sees half a file.

    The same as :func:`crm_lab.files.atomic_frame` (the one atomic writer).

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from crm_lab.data import atomic_write
    >>> p = atomic_write(pd.DataFrame({"a": [1]}), os.path.join(tempfile.mkdtemp(), "x.csv"))
    """
    return atomic_frame(df, path)


def _coerce_duckdb(rel: Any, table: str, tz: str = TIMEZONE) -> Any:
    """Cast a DuckDB relation's columns to canonical types; unparseable values flagged in _reason.
    Aware timestamps (``TIMESTAMP WITH TIME ZONE``) become the shop's naive local time."""
    types = dict(zip(rel.columns, (str(t).upper() for t in rel.types)))
    want = {"str": "VARCHAR", "datetime": "TIMESTAMP", "int": "BIGINT", "float": "DOUBLE"}
    selects, reasons = [], []
    for col in rel.columns:
        kind = SCHEMA[table].get(col)
        quoted = '"' + col.replace('"', '""') + '"'
        if kind == "datetime" and types[col] == "TIMESTAMP WITH TIME ZONE":
            zone = tz.replace("'", "")
            selects.append(f"timezone('{zone}', {quoted}) AS {quoted}")
            continue
        if kind is None or types[col].startswith(want[kind]) or (kind == "int" and types[col] in ("INTEGER", "SMALLINT", "TINYINT", "HUGEINT")):
            selects.append(quoted)
            continue
        if kind == "str":
            selects.append(f"CAST({quoted} AS VARCHAR) AS {quoted}")
            continue
        selects.append(f"TRY_CAST({quoted} AS {want[kind]}) AS {quoted}")
        reasons.append(f"WHEN {quoted} IS NOT NULL AND TRY_CAST({quoted} AS {want[kind]}) IS NULL THEN 'unparseable {col}'")
    if not reasons:
        untouched = ['"' + c.replace('"', '""') + '"' for c in rel.columns]
        return rel if selects == untouched else rel.select(", ".join(selects))
    reason = "CASE " + " ".join(reasons) + " END AS _reason"
    return rel.select(", ".join(selects + [reason]))


def read_table(
    source: Any,
    table: str,
    *,
    as_of: Any = None,
    errors: Literal["raise", "quarantine"] = "raise",
    quarantine: str | os.PathLike[str] | None = None,
    validated: bool = True,
    tz: str = TIMEZONE,
) -> Any:
    """Open a canonical table (Parquet/CSV path or frame) and validate it, without collecting it.

    Parameters
    ----------
    source : path or frame
    table : str
        Name in :data:`SCHEMA`.
    validated : bool
        Run :func:`validate` (one pass over the data).
    tz : str
        The shop's time zone: aware timestamps are converted to it (then naive local time).

    Returns
    -------
    A lazy DuckDB relation for paths; the same kind of frame as given otherwise.

    Examples
    --------
    >>> import crm_lab as cl
    >>> members = cl.data.read_table("data/demo/members.parquet", "members")  # doctest: +SKIP
    """
    if isinstance(source, (str, os.PathLike)):
        frame = _coerce_duckdb(engine.open_file(source), table, tz)
    elif isinstance(source, pd.DataFrame) and _needs_coerce(source, table):
        coerced = _coerce(source, table, tz)
        extra = [c for c in source.columns if c not in coerced]
        frame = pd.concat([coerced, source[extra]], axis=1)
    else:
        frame = source
    return validate(frame, table, as_of=as_of, errors=errors, quarantine=quarantine) if validated else frame


def _needs_coerce(df: pd.DataFrame, table: str) -> bool:
    for col, kind in SCHEMA[table].items():
        if col not in df:
            continue
        dtype = df[col].dtype
        if kind == "datetime" and (not pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.DatetimeTZDtype)):
            return True
        if kind in ("int", "float") and not pd.api.types.is_numeric_dtype(dtype):
            return True
        if col in engine.ID_COLUMNS and not (pd.api.types.is_string_dtype(dtype) or dtype == object):
            return True
    return False


def read_shop(folder: str | os.PathLike[str], *, as_of: Any = None, validated: bool = True, name: str | None = None) -> Shop:
    """Open a folder of canonical tables (``orders.parquet``, ``members.csv`` ...) or a DuckDB file.

    Tables open lazily in DuckDB; nothing is loaded into memory until an analysis asks for a
    result. ``orders`` is required, the other tables optional.

    Parameters
    ----------
    folder : path
        A folder holding ``<table>.parquet`` or ``<table>.csv`` files (or ``<table>/`` folders of
        Parquet parts), or a ``.duckdb`` database file with tables of those names.
    as_of : date-like, optional
        The moment analyses look from; defaults to the extraction time in the folder's
        ``shop.json`` if any. An earlier ``as_of`` (a daily report run again for a past day)
        leaves later rows out of every analysis; rows after the extraction time are errors.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.data.read_shop("data/demo")  # doctest: +SKIP
    """
    import json

    path = Path(folder)
    if path.is_file() and path.suffix == ".duckdb":
        import duckdb

        con = duckdb.connect(str(path), read_only=True)
        names = {r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()}
        tables = {t: con.table(t) for t in SCHEMA if t in names}
        meta: dict[str, Any] = {}
    else:
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: not a folder of tables nor a .duckdb file")
        meta_path = path / "shop.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        tables = {}
        for t in SCHEMA:
            for candidate in (path / f"{t}.parquet", path / f"{t}.csv", path / t):
                if candidate.exists():
                    tables[t] = read_table(candidate, t, validated=False, tz=meta.get("tz", TIMEZONE))
                    break
    if "orders" not in tables:
        raise FileNotFoundError(f"{path}: no orders table (orders.parquet, orders.csv or orders/)")
    extracted = pd.Timestamp(meta["as_of"]) if meta.get("as_of") else None
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else extracted
    if as_of_ts is not None and extracted is not None and as_of_ts.normalize() > extracted.normalize():
        raise ValueError(f"{path}: as_of {as_of_ts:%Y-%m-%d} is after the data's extraction at {extracted} (shop.json): "
                         f"nothing after it is known, and audiences would come out empty. Fix: an as_of up to {extracted:%Y-%m-%d}")
    if validated and not _marked_valid(path, meta):
        # Rows after the extraction are errors; rows after an earlier as_of (a backfill, a
        # backtest) are data the analyses leave out, not bad data.
        check = max(as_of_ts, extracted) if as_of_ts is not None and extracted is not None else as_of_ts
        tables = {t: validate(f, t, as_of=check) for t, f in tables.items()}
    source = {"path": str(path), "extracted_at": None if extracted is None else str(extracted), "fingerprint": snapshot_key(path)}
    calendar = {event: tuple(days) for event, days in (meta.get("calendar") or {}).items()}
    contacts = path / "contacts" / "contacts.parquet"
    if contacts.exists():
        source["contacts"] = str(contacts)  # read by Audience.export only, never joined into a table here
    return Shop(**tables, as_of=as_of_ts, name=name or meta.get("name", path.stem), calendar=calendar, source=source,
                currency=meta.get("currency", "CNY"), tz=meta.get("tz", TIMEZONE), holdout=meta.get("holdout"))


#: The file in a shop folder that records which table files were validated (by ``crm-lab import``).
VALIDATED_MARKER = "validated.json"


def tables_key(folder: str | os.PathLike[str]) -> str:
    """A fingerprint of a shop folder's table files only (names, sizes, modification times):
    what a validation marker vouches for. ``shop.json``, reports and quarantine files are not in it.

    Examples
    --------
    >>> import tempfile
    >>> from crm_lab.data.canonical import tables_key
    >>> folder = tempfile.mkdtemp()
    >>> tables_key(folder) == tables_key(folder)
    True
    """
    root = Path(folder)
    candidates = [f for t in SCHEMA for f in (root / f"{t}.parquet", root / f"{t}.csv", *sorted((root / t).glob("*")))]
    return _files_digest(root, [f for f in candidates if f.is_file()])


def _files_digest(root: Path, files: list[Path]) -> str:
    """16 hex digits over the files' names (relative to ``root``), sizes and modification times."""
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.relative_to(root) if root.is_dir() else f.name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def mark_validated(folder: str | os.PathLike[str], as_of: Any) -> Path:
    """Record that the folder's tables, as they are now, passed :func:`validate` up to ``as_of``:
    :func:`read_shop` then skips validating them again until a table file changes."""
    import json

    marker = {"tables_key": tables_key(folder), "as_of": None if as_of is None else str(pd.Timestamp(as_of))}
    return atomic_text(Path(folder) / VALIDATED_MARKER, json.dumps(marker))


def _marked_valid(path: Path, meta: dict[str, Any]) -> bool:
    """Whether a validation marker vouches for these very table files and this extraction time."""
    import json

    marker_path = path / VALIDATED_MARKER
    if not path.is_dir() or not marker_path.exists():
        return False
    try:
        marker = json.loads(marker_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("tables_key") == tables_key(path) and marker.get("as_of") == (
        None if not meta.get("as_of") else str(pd.Timestamp(meta["as_of"])))


def snapshot_key(path: str | os.PathLike[str]) -> str:
    """A short fingerprint of a shop folder's (or file's) contents as of now: names, sizes and
    modification times of its files. Two reads give the same key while no file has changed.

    Examples
    --------
    >>> import tempfile
    >>> from crm_lab.data import snapshot_key
    >>> folder = tempfile.mkdtemp()
    >>> snapshot_key(folder) == snapshot_key(folder)
    True
    """
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    return _files_digest(root, files)


def write_shop(shop: Shop, folder: str | os.PathLike[str]) -> Path:
    """Write a shop's tables as Parquet files plus ``shop.json`` (name, as_of, calendar); atomic per file.

    Examples
    --------
    >>> import crm_lab as cl
    >>> cl.data.write_shop(cl.datasets.make_shop(200, seed=1), "data/small")  # doctest: +SKIP
    """
    import json

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in shop.tables().items():
        df = frame if isinstance(frame, pd.DataFrame) else engine.collect(frame)
        atomic_write(df, out / f"{name}.parquet")
    atomic_text(out / "shop.json", json.dumps(shop_meta(shop), ensure_ascii=False, indent=1))
    return out


def shop_meta(shop: Shop) -> dict[str, Any]:
    """What ``shop.json`` records of a shop besides its tables: name, as_of, calendar, currency, time zone, holdout."""
    return {"name": shop.name, "as_of": None if shop.as_of is None else str(shop.as_of),
            "calendar": {event: list(days) for event, days in shop.calendar.items()},
            "currency": shop.currency, "tz": shop.tz, **({"holdout": shop.holdout} if shop.holdout else {})}
