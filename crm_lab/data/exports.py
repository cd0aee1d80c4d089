"""Shop exports into canonical orders: the preset pipeline shared by the Douyin and Tmall readers.

:func:`read_orders` maps an export's headers (:data:`PRESETS`), keeps ids as text, hashes the
phone, drops names and addresses, merges refunds and validates; unpaid lines are left to
:func:`read_unpaid_orders`.

Examples
--------
>>> from crm_lab.data import PRESETS
>>> sorted(PRESETS)
['douyin', 'tmall']
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from crm_lab.data import douyin, tmall
from crm_lab.data.canonical import read_table
from crm_lab.data.douyin import GENRE_MAP, GENRE_PENDING, read_refunds
from crm_lab.data.pii import PHONE_HEADERS, _pii, hash_text
from crm_lab.data.raw import _map_headers, _read_raw, clean_id
from crm_lab.data.schema import TIMEZONE, DataValidationError, _check_required, _coerce, validate

log = logging.getLogger("crm_lab.data")

#: Header sets of the exports crm_lab reads, by preset.
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {"douyin": douyin.HEADERS, "tmall": tmall.HEADERS}



UNPAID_STATUS = ("待支付", "待付款", "等待买家付款")


def _refuse_masked_identity(preset: str, column: str | None, masked: pd.Series | None) -> None:
    """Customers cannot be keyed on a phone column with masked values: 4 buyers of 138****5678 in
    4 provinces would become one customer."""
    if masked is None or not masked.any():
        return
    lines = pd.DataFrame({"_row": masked.index[masked] + 2})
    ids = PRESETS[preset]["customer_id"]
    raise DataValidationError(
        "orders", "customer_id", f"have a masked or encrypted phone in {column!r} and the export has no buyer id column", int(masked.sum()),
        lines.head(10),
        f"a masked phone is not an identity (different buyers share 138****5678). Export a buyer id column "
        f"({', '.join(ids)}), e.g. doudian_open_id from the open platform, or pass pii='drop' and map customers with crm_lab.identity",
    )


def _prepare_export(
    source: Any,
    preset: str,
    *,
    salt: str | None,
    pii: str,
    encoding: str | None,
    tz: str,
    refunds: Any,
    check_refunds: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map an export to canonical columns; return (paid lines, unpaid lines) in pandas."""
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; expected one of {sorted(PRESETS)} or None for canonical columns")
    raw = _read_raw(source, encoding)
    raw = raw.reset_index(drop=True)
    df, used = _map_headers(raw, PRESETS[preset])
    phone_hash, phone_column, masked = _pii(raw, pii, salt)
    if "customer_id" not in df:
        if "buyer_nick" in df:
            # A buyer nick is an account name, hashed as text (digits alone would merge tb1234_alice and tb1234_bob).
            df["customer_id"] = "tb_" + hash_text(df["buyer_nick"], salt).str[:20]
        elif phone_hash is not None:
            _refuse_masked_identity(preset, phone_column, masked)
            df["customer_id"] = "ph_" + phone_hash.str[:20]
        else:
            tried = PRESETS[preset]["customer_id"] + PRESETS[preset].get("buyer_nick", ()) + PHONE_HEADERS
            raise DataValidationError(
                "orders", "customer_id", "— no customer column in the export (all rows)", -1, pd.DataFrame(),
                f"the export needs one of {tried}; add the buyer column to the export template, or map "
                "customers with crm_lab.identity",
            )
    if phone_hash is not None:
        df["phone_hash"] = phone_hash
    df = df.drop(columns=["buyer_nick"], errors="ignore")
    if "product_id" not in df:
        # The classic Tmall report has no product id: the merchant code, else the title, stands in.
        fallback = next((c for c in ("sku_id", "product_name") if c in df), None)
        if fallback is not None:
            df["product_id"] = df[fallback]
            log.warning("%s export has no product id column; product_id is taken from %s", preset, used.get(fallback, fallback))
    if "line_id" not in df and "order_id" in df:
        df["line_id"] = df["order_id"]  # order-level exports: one line per order
    if "traffic_genre" in df:
        genre = df["traffic_genre"].astype("str").str.strip()
        pending = genre.isin(GENRE_PENDING)
        mapped = genre.map(GENRE_MAP)
        unknown = df["traffic_genre"].notna() & ~pending & mapped.isna()
        if unknown.any():
            values = sorted(genre[unknown].unique())[:5]
            warnings.warn(
                f"orders.traffic_genre: {int(unknown.sum())} row(s) with unknown genre {values} read as 'other'",
                stacklevel=3,
            )
            mapped = mapped.mask(unknown, "other")
        df["traffic_genre"] = mapped.where(~pending)
    if "quantity" not in df and "unit_price" in df and "paid_amount" in df:
        df["quantity"] = "1"
    df["channel"] = preset
    if refunds is not None:
        extra = refunds if isinstance(refunds, pd.DataFrame) and "refund_amount" in refunds else read_refunds(refunds, encoding=encoding)
        line_ids = clean_id(df["line_id"])
        known = extra["line_id"].isin(line_ids)
        if (~known).any():
            warnings.warn(
                f"refunds: {int((~known).sum())} refunded line(s) are not in this order export "
                f"(line_id {', '.join(extra.loc[~known, 'line_id'].head(3))}); they are ignored here",
                stacklevel=3,
            )
        by_line = extra.set_index("line_id")
        df["refund_amount"] = line_ids.map(by_line["refund_amount"]).fillna(0.0).astype("str")
        df["refunded_at"] = line_ids.map(by_line["refunded_at"])
    elif check_refunds and preset == "douyin" and "refund_status" in df and "refund_amount" not in df:
        refunded = df["refund_status"].astype("str").str.contains("退款成功", na=False)
        if refunded.any():
            warnings.warn(
                f"orders: {int(refunded.sum())} line(s) have 售后状态 退款成功 but no refund amount; net amounts "
                "will overstate them. Fix: pass refunds='<after-sales export>' (售后表).",
                stacklevel=3,
            )
    status = df["status"].astype("str") if "status" in df else pd.Series("", index=df.index)
    paid_at_raw = df["paid_at"] if "paid_at" in df else pd.Series(pd.NA, index=df.index)
    unpaid = paid_at_raw.isna() | (paid_at_raw.astype("str").str.strip().isin(["", "-"])) | status.isin(UNPAID_STATUS)
    unpaid_df = df[unpaid].rename(columns={"paid_amount": "amount"})
    if "amount" not in unpaid_df and "payable_amount" in unpaid_df:
        unpaid_df = unpaid_df.rename(columns={"payable_amount": "amount"})
    paid = df[~unpaid].copy()
    paid["_row"] = paid.index + 2  # the file's line number (header is line 1)
    log.info("%s export: %d paid line(s), %d unpaid line(s); columns used: %s", preset, len(paid), int(unpaid.sum()), used)
    return paid, unpaid_df


def _finish(df: pd.DataFrame, table: str, tz: str, *, as_of: Any, errors: str, quarantine: Any) -> pd.DataFrame:
    _check_required(list(df.columns), table)
    keep_extra = [c for c in ("phone_hash", "product_name", "province", "city", "status", "refund_status") if c in df]
    typed = _coerce(df, table, tz)
    for col in keep_extra:
        typed[col] = df[col].astype("str").where(df[col].notna())
    if "_row" in df:
        typed["_row"] = df["_row"].to_numpy()
    out = validate(typed, table, as_of=as_of, errors=errors, quarantine=quarantine)
    return out.drop(columns=["_row"], errors="ignore").reset_index(drop=True)


def read_orders(
    source: Any,
    preset: Literal["douyin", "tmall"] | None = None,
    *,
    salt: str | None = None,
    pii: Literal["hash", "drop"] = "hash",
    refunds: Any = None,
    as_of: Any = None,
    errors: Literal["raise", "quarantine"] = "raise",
    quarantine: str | os.PathLike[str] | None = None,
    encoding: str | None = None,
    tz: str = TIMEZONE,
) -> Any:
    """Read order lines into the canonical ``orders`` table, validated.

    Parameters
    ----------
    source : path or frame
        A shop export (CSV in UTF-8 / UTF-8-BOM / GBK, xlsx, Parquet) or a pandas / Polars /
        DuckDB / PySpark frame. Without a preset, canonical Parquet/CSV files open lazily in DuckDB
        and frames stay in their own engine.
    preset : {"douyin", "tmall"}, optional
        Header set of the export (see ``PRESETS``). Exports are read into pandas: they are files
        people download, not warehouses.
    salt : str, optional
        Secret for hashing phone numbers (default: ``CRM_LAB_SALT``). Required when the export has
        a phone column and ``pii="hash"``.
    pii : {"hash", "drop"}
        ``"hash"`` keeps a salted ``phone_hash``; ``"drop"`` discards the phone. Names and addresses
        are always dropped; province and city are kept.
    refunds : path or DataFrame, optional
        Douyin after-sales export (or :func:`read_refunds` output) to fill ``refund_amount``.
    as_of : date-like, optional
        Extraction time: a line paid after it is an error.
    errors : {"raise", "quarantine"}
        See :func:`validate`.
    quarantine : path, optional
        Where quarantined rows go.
    encoding : str, optional
        Force a CSV encoding instead of detecting UTF-8 / GBK.
    tz : str
        The shop's time zone: aware timestamps are converted to it and made naive.

    Returns
    -------
    Canonical orders (pandas for exports; the source's own kind of frame otherwise). Unpaid lines
    (待支付, no payment time) are not orders: they are counted in the log and read with
    :func:`read_unpaid_orders`.

    Examples
    --------
    >>> import crm_lab as cl
    >>> orders = cl.data.read_orders("douyin_orders.csv", preset="douyin", salt="s3cret",
    ...                              refunds="douyin_aftersales.csv")  # doctest: +SKIP
    """
    if preset is None:
        frame = source
        if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() in (".xlsx", ".xls", ".xlsm"):
            frame = _read_raw(source)
        if isinstance(frame, pd.DataFrame):
            return _finish(frame.copy(), "orders", tz, as_of=as_of, errors=errors, quarantine=quarantine)
        return read_table(frame, "orders", as_of=as_of, errors=errors, quarantine=quarantine)
    paid, unpaid = _prepare_export(source, preset, salt=salt, pii=pii, encoding=encoding, tz=tz, refunds=refunds)
    if len(unpaid):
        log.info("orders: %d unpaid line(s) left out; read them with read_unpaid_orders()", len(unpaid))
    return _finish(paid, "orders", tz, as_of=as_of, errors=errors, quarantine=quarantine)


def read_unpaid_orders(
    source: Any,
    preset: Literal["douyin", "tmall"],
    *,
    salt: str | None = None,
    pii: Literal["hash", "drop"] = "hash",
    encoding: str | None = None,
    tz: str = TIMEZONE,
) -> pd.DataFrame:
    """Read the unpaid lines (待支付 / closed before payment) of an export: the 催付 population.

    Examples
    --------
    >>> import crm_lab as cl
    >>> unpaid = cl.data.read_unpaid_orders("douyin_orders.csv", preset="douyin", salt="s")  # doctest: +SKIP
    """
    _, unpaid = _prepare_export(source, preset, salt=salt, pii=pii, encoding=encoding, tz=tz, refunds=None, check_refunds=False)
    typed = _coerce(unpaid, "unpaid_orders", tz)
    return validate(typed, "unpaid_orders").reset_index(drop=True)
