"""Importing exports into a canonical shop folder: validated, merged with earlier days, with a quality report.

:func:`import_shop` reads a shop's export files (orders, after-sales, members, products,
touches, events) with a preset or a :class:`~crm_lab.data.mapping.Mapping`, and writes a shop
folder :func:`~crm_lab.data.read_shop` opens:

* ``<table>.parquet`` for each table, merged with the folder's earlier import: a line seen before
  is replaced by today's (a refund that arrived later), a new one added, none duplicated;
* ``contacts/contacts.parquet``: platform keys (:mod:`~crm_lab.data.contacts`), owner-only;
* ``quarantine/<table>.<file>.<time>.csv``: rows set aside, with the reason and the raw value;
* ``quality.json`` (and ``quality.html`` by the CLI): what was read, kept and set aside.

Everything is written into a staging folder first and moved in only when all of it is ready: a
failed import leaves the folder as it was.

Examples
--------
>>> import crm_lab as cl
>>> report = cl.data.import_shop("data/retail", orders=["online_retail.parquet"],
...                              mapping="mappings/online_retail.yaml")  # doctest: +SKIP
>>> report.summary()  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from crm_lab.data.canonical import mark_validated, read_table, write_shop
from crm_lab.data.contacts import merge_contacts, restrict
from crm_lab.data.exports import read_export_table, read_orders
from crm_lab.data.mapping import Mapping
from crm_lab.data.pii import SALT_ENV
from crm_lab.data.raw import _read_raw
from crm_lab.data.schema import KEYS, SCHEMA, TIMEZONE, Shop, validate
from crm_lab.files import atomic_text, clean_stale, temp_path
from crm_lab.results import Result

#: The time column of each table (its date range goes into the quality report).
TIME_COLUMNS = {"orders": "paid_at", "members": "joined_at", "touches": "sent_at", "events": "at", "products": "listed_at"}


@dataclass(frozen=True)
class FileQuality:
    """What became of one input file.

    Attributes
    ----------
    file : str
        The file's name (never its full path).
    table : str
    rows_read, rows_kept, rows_quarantined : int
    quarantined : dict
        Reason -> rows.
    left_out : int
        Rows read that are neither kept nor quarantined (unpaid lines, credit lines turned into
        refunds); ``warnings`` says which.
    warnings : list of str
        Every warning the reader raised for this file.
    """

    file: str
    table: str
    rows_read: int
    rows_kept: int
    rows_quarantined: int
    quarantined: dict[str, int]
    left_out: int
    warnings: list[str]


@dataclass(frozen=True)
class TableQuality:
    """A table of the shop after the import.

    Attributes
    ----------
    table : str
    rows : int
    added, updated, unchanged : int
        Rows new to the folder, rows replacing a different earlier version, rows as before.
    null_share : dict
        Column -> share of nulls.
    first, last : str or None
        Date range of the table's time column.
    customers : int or None
    """

    table: str
    rows: int
    added: int
    updated: int
    unchanged: int
    null_share: dict[str, float]
    first: str | None
    last: str | None
    customers: int | None


@dataclass(frozen=True)
class ImportReport(Result):
    """The data-quality report of an import (:func:`import_shop`), also kept as ``quality.json``.

    Attributes
    ----------
    folder : str
    as_of : str
        The extraction time written to ``shop.json``.
    currency : str
    files : list of FileQuality
    tables : list of TableQuality
    contacts : int
        Rows in the contacts table (platform keys), 0 without one.
    notes : list of str
        What a reader should check (e.g. the newest order long before ``as_of``).
    """

    folder: str
    as_of: str
    currency: str
    files: list[FileQuality] = field(default_factory=list)
    tables: list[TableQuality] = field(default_factory=list)
    contacts: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """One row per input file: rows read, kept, quarantined, left out."""
        return pd.DataFrame([{k: v for k, v in asdict(f).items() if k not in ("quarantined", "warnings")} for f in self.files])

    def to_frame(self) -> pd.DataFrame:
        """One row per table: rows, added, updated, unchanged, date range."""
        return pd.DataFrame([{k: v for k, v in asdict(t).items() if k != "null_share"} for t in self.tables])

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (``quality.json``)."""
        return asdict(self)


def import_shop(
    folder: str | os.PathLike[str],
    *,
    orders: list[str | os.PathLike[str]],
    refunds: str | os.PathLike[str] | None = None,
    members: list[str | os.PathLike[str]] | None = None,
    products: list[str | os.PathLike[str]] | None = None,
    touches: list[str | os.PathLike[str]] | None = None,
    events: list[str | os.PathLike[str]] | None = None,
    benefits: list[str | os.PathLike[str]] | None = None,
    coupons: list[str | os.PathLike[str]] | None = None,
    referrals: list[str | os.PathLike[str]] | None = None,
    preset: str | None = None,
    mapping: Mapping | str | os.PathLike[str] | None = None,
    salt: str | None = None,
    as_of: Any = None,
    name: str | None = None,
    currency: str | None = None,
    errors: str = "quarantine",
    holdout_share: float | None = None,
) -> ImportReport:
    """Import export files into a canonical shop folder (atomically), merging with an earlier import.

    Parameters
    ----------
    folder : path
        The shop folder; created if needed. An earlier import there is merged with, key by key.
    orders : list of paths
        Order exports (a preset's, or any file the mapping describes).
    refunds : path, optional
        The Douyin after-sales export (售后表) for ``preset="douyin"``.
    members, products, touches, events, benefits, coupons, referrals : list of paths, optional
        Files of the other tables: canonical columns, or mapped by the mapping's table of that name.
    preset : {"douyin", "tmall"}, optional
    mapping : Mapping or path, optional
        A mapping file (see :mod:`~crm_lab.data.mapping`); one of ``preset`` or ``mapping``.
    salt : str, optional
        The shop's secret for hashed phones and nicks (default ``CRM_LAB_SALT``); the folder
        remembers a fingerprint of it and refuses a different salt on the next import.
    as_of : date-like, optional
        The extraction time; default: the newest input file's modification time.
    currency : str, optional
        ISO code; default the mapping's, else the folder's, else CNY.
    errors : {"quarantine", "raise"}
        Bad rows set aside in ``quarantine/`` (default) or an error.
    holdout_share : float, optional
        Start the shop's global holdout (:attr:`crm_lab.data.Shop.holdout`) with this share; later
        imports keep it (another share is refused).

    Returns
    -------
    ImportReport
    """
    if (preset is None) == (mapping is None):
        raise ValueError("give either preset= ('douyin', 'tmall') or mapping= (a mapping YAML) for the export files")
    spec = mapping if isinstance(mapping, Mapping) or mapping is None else Mapping.read(mapping)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    meta = _read_meta(out)
    _check_salt(meta, salt)
    inputs = [Path(p) for p in [*orders, *(members or []), *(products or []), *(touches or []), *(events or []), *(benefits or []),
                                *(coupons or []), *(referrals or [])]]
    stamp = pd.Timestamp(as_of) if as_of is not None else _newest_file_time(inputs, _tz(spec))
    stage = temp_path(out / "import", "staging")
    (stage / "quarantine").mkdir(parents=True)
    try:
        read = _read_all(stage, spec, preset, salt, stamp, errors, orders=orders, refunds=refunds, members=members,
                         products=products, touches=touches, events=events, benefits=benefits, coupons=coupons,
                         referrals=referrals)
        files_per_table = pd.Series([f.table for f in read["files"]]).value_counts().to_dict()
        tables, table_quality = _merge(out, read["tables"], stamp, files_per_table)
        shop = Shop(**tables, as_of=stamp, name=name or (spec.options.get("name") if spec else None) or meta.get("name") or out.name,
                    currency=currency or (spec.options.get("currency") if spec else None) or meta.get("currency", "CNY"),
                    tz=_tz(spec), calendar={k: tuple(v) for k, v in (meta.get("calendar") or {}).items()},
                    holdout=_holdout(meta, holdout_share))
        write_shop(shop, stage)
        n_contacts = _stage_contacts(out, stage, read["contacts"], _customers(tables))
        _stamp_salt(stage, salt)
        files = [_unstaged(f, stage, out) for f in read["files"]]
        report = ImportReport(str(out), str(stamp), shop.currency, files, table_quality, n_contacts, _notes(table_quality, stamp, as_of))
        atomic_text(stage / "quality.json", json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str))
        _publish(stage, out)
        # Every table was validated above, up to this as_of: reports need not validate them again.
        mark_validated(out, stamp)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return report


def _unstaged(f: FileQuality, stage: Path, out: Path) -> FileQuality:
    return replace(f, warnings=[m.replace(str(stage), str(out)) for m in f.warnings])


#: How long before ``as_of`` the newest order may be before the report asks whether ``as_of`` is right.
QUIET_DAYS = 30


def _notes(tables: list[TableQuality], stamp: pd.Timestamp, given: Any) -> list[str]:
    orders = next((t for t in tables if t.table == "orders"), None)
    if orders is None or orders.last is None or given is not None:
        return []
    gap = (stamp - pd.Timestamp(orders.last)).days
    if gap <= QUIET_DAYS:
        return []
    return [f"最新一笔订单在数据提取时间（取自文件修改时间 {stamp:%Y-%m-%d}）之前 {gap:,} 天。若这是历史数据，请用 --as-of "
            f"指定真实的提取日期（如 {pd.Timestamp(orders.last):%Y-%m-%d} 次日），否则最近购买、流失等指标都会偏大。"]


def _newest_file_time(files: list[Path], tz: str) -> pd.Timestamp:
    """The newest file's modification time in the shop's local time: the default extraction time."""
    newest = pd.Timestamp(max(p.stat().st_mtime for p in files), unit="s", tz="UTC")
    return newest.tz_convert(tz).tz_localize(None).floor("s")


def _holdout(meta: dict[str, Any], share: float | None) -> dict[str, Any] | None:
    """The folder's global holdout: kept as it is; a first ``share`` creates it with a random key
    that stays in shop.json, so the same customers are held out at every later import."""
    before = meta.get("holdout")
    if share is None or (before and before["share"] == share):
        return before
    if before:
        raise ValueError(f"this shop folder holds out {before['share']:.0%} of its customers; changing the share to {share:.0%} "
                         "would move customers in or out of the holdout and break program_report's comparison. "
                         "Fix: import without --holdout-share (keep it), or into a new folder")
    import secrets

    return {"share": float(share), "key": secrets.token_hex(8)}


def _tz(spec: Mapping | None) -> str:
    return (spec.options.get("tz") if spec else None) or TIMEZONE


def _read_meta(out: Path) -> dict[str, Any]:
    path = out / "shop.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _salt_fingerprint(salt: str | None) -> str | None:
    salt = salt if salt is not None else os.environ.get(SALT_ENV)
    return hashlib.sha256(b"crm_lab salt check:" + salt.encode()).hexdigest()[:12] if salt else None


def _check_salt(meta: dict[str, Any], salt: str | None) -> None:
    before, now = meta.get("salt_check"), _salt_fingerprint(salt)
    if before and now and before != now:
        raise ValueError("this shop folder was imported with a different salt: its hashed phones and nicks would not "
                         "match today's, and one buyer would become two customers. Fix: use the shop's salt "
                         f"(the same {SALT_ENV}) or import into a new folder")


def _stamp_salt(stage: Path, salt: str | None) -> None:
    fingerprint = _salt_fingerprint(salt)
    if fingerprint:
        meta = json.loads((stage / "shop.json").read_text(encoding="utf-8"))
        meta["salt_check"] = fingerprint
        atomic_text(stage / "shop.json", json.dumps(meta, ensure_ascii=False, indent=1))


def _read_all(stage: Path, spec: Mapping | None, preset: str | None, salt: str | None, stamp: pd.Timestamp,
              errors: str, **files: Any) -> dict[str, Any]:
    """Every input file read, validated and accounted for."""
    contacts: list[pd.DataFrame] = []
    tables: dict[str, list[pd.DataFrame]] = {}
    quality: list[FileQuality] = []
    for table in SCHEMA:
        for path in map(Path, files.get(table) or []):
            quarantine = stage / "quarantine" / f"{table}.{path.stem}.{stamp:%Y%m%dT%H%M%S}.csv"
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                frame = _read_one(path, table, spec, preset, salt, stamp, errors, quarantine, files.get("refunds"), contacts)
            for w in caught:  # shown as well as recorded, naming the final folder: an import hides nothing
                warnings.warn_explicit(str(w.message).replace(str(stage), str(stage.parent)), w.category, w.filename, w.lineno)
            tables.setdefault(table, []).append(frame)
            quality.append(_file_quality(path, table, frame, quarantine, [str(w.message) for w in caught]))
    return {"tables": {t: pd.concat(fs, ignore_index=True) for t, fs in tables.items()}, "contacts": contacts, "files": quality}


def _read_one(path: Path, table: str, spec: Mapping | None, preset: str | None, salt: str | None, stamp: pd.Timestamp,
              errors: str, quarantine: Path, refunds: Any, contacts: list[pd.DataFrame]) -> pd.DataFrame:
    options = spec.options if spec else {}
    common = {"salt": salt, "as_of": stamp, "errors": errors, "quarantine": quarantine, "tz": _tz(spec),
              "dayfirst": options.get("dayfirst"), "encoding": options.get("encoding"), "contacts": contacts}
    if table == "orders":
        if preset is not None:
            return read_orders(path, preset, refunds=refunds, **common)
        return read_orders(path, mapping=spec, **{k: v for k, v in common.items() if k not in ("tz", "dayfirst", "encoding")})
    return read_export_table(path, table, columns=spec.columns(table) if spec else None, **common)


def _file_quality(path: Path, table: str, frame: pd.DataFrame, quarantine: Path, messages: list[str]) -> FileQuality:
    read = len(_read_raw(path))
    reasons: dict[str, int] = {}
    if quarantine.exists():
        reasons = pd.read_csv(quarantine, dtype=str)["reason"].value_counts().to_dict()
    n_quarantined = int(sum(reasons.values()))
    return FileQuality(path.name, table, read, len(frame), n_quarantined, {str(k): int(v) for k, v in reasons.items()},
                       read - len(frame) - n_quarantined, messages)


def _merge(out: Path, new: dict[str, pd.DataFrame], stamp: pd.Timestamp,
           new_files: dict[str, int]) -> tuple[dict[str, pd.DataFrame], list[TableQuality]]:
    """Each table merged with the folder's earlier version by its key: today's row wins."""
    tables, quality = {}, []
    for table in SCHEMA:
        earlier = out / f"{table}.parquet"
        old = pd.read_parquet(earlier) if earlier.exists() else None
        if table not in new and old is None:
            continue
        today = new.get(table, pd.DataFrame(columns=list(SCHEMA[table])))
        merged, counts = _merge_table(old, today, table)
        if old is None and new_files.get(table, 0) <= 1:
            tables[table] = merged  # one file, nothing earlier: validated as it was read
        else:  # several files or an earlier import: duplicates across them, rows after as_of
            tables[table] = validate(read_table(merged, table, validated=False), table, as_of=stamp)
        quality.append(_table_quality(table, tables[table], counts))
    return tables, quality


def _merge_table(old: pd.DataFrame | None, new: pd.DataFrame, table: str) -> tuple[pd.DataFrame, tuple[int, int, int]]:
    if old is None or old.empty:
        return new.reset_index(drop=True), (len(new), 0, 0)
    key = list(KEYS[table]) or list(new.columns)
    new = new.astype({c: old[c].dtype for c in new.columns if c in old.columns and str(old[c].dtype) != str(new[c].dtype)}, errors="ignore")
    seen = old.set_index(key)
    today = new.set_index(key)
    known = today.index.isin(seen.index)
    common = [c for c in today.columns if c in seen.columns]
    before = seen.loc[today.index[known], common]
    after = today.loc[known, common]
    same = (before.astype("str").where(before.notna(), "") == after.astype("str").where(after.notna(), "")).all(axis=1)
    kept_old = old[~seen.index.isin(today.index)]
    merged = pd.concat([kept_old, new], ignore_index=True)
    return merged, (int((~known).sum()), int((~same).sum()), int(same.sum()))


def _table_quality(table: str, frame: pd.DataFrame, counts: tuple[int, int, int]) -> TableQuality:
    time_col = TIME_COLUMNS.get(table)
    times = frame[time_col].dropna() if time_col in frame else pd.Series(dtype="datetime64[us]")
    nulls = {c: round(float(frame[c].isna().mean()), 4) for c in frame.columns} if len(frame) else {}
    customers = int(frame["customer_id"].nunique()) if "customer_id" in frame else None
    return TableQuality(table, len(frame), *counts, nulls, None if times.empty else str(times.min()),
                        None if times.empty else str(times.max()), customers)


def _customers(tables: dict[str, pd.DataFrame]) -> set[str]:
    """Customers the shop's tables know: contacts of anyone else (a quarantined line's) are not kept."""
    return {str(c) for t in ("orders", "members") if t in tables for c in tables[t]["customer_id"].dropna().unique()}


def _stage_contacts(out: Path, stage: Path, found: list[pd.DataFrame], customers: set[str]) -> int:
    earlier = out / "contacts" / "contacts.parquet"
    old = pd.read_parquet(earlier) if earlier.exists() else None
    new = pd.concat(found, ignore_index=True) if found else None
    if new is not None:
        new = new[new["customer_id"].isin(customers)]
    if (new is None or new.empty) and old is None:
        return 0
    table = merge_contacts(old, new if new is not None else old.iloc[:0])
    folder = stage / "contacts"
    folder.mkdir()
    table.to_parquet(folder / "contacts.parquet", index=False)
    restrict(folder)
    restrict(folder / "contacts.parquet")
    return len(table)


def _publish(stage: Path, out: Path) -> None:
    """Move every staged file into the folder (each rename atomic); quarantine files are added, never replaced."""
    for item in sorted(stage.rglob("*")):
        if item.is_dir():
            continue
        target = out / item.relative_to(stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.parent.name == "contacts":
            restrict(target.parent)
        os.replace(item, target)
