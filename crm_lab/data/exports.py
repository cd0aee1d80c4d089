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

from crm_lab.data import douyin, douyin_api, tmall
from crm_lab.data.canonical import read_table
from crm_lab.data.douyin import GENRE_MAP, GENRE_PENDING, read_refunds
from crm_lab.data.pii import PHONE_HEADERS, _pii, hash_text
from crm_lab.data.credits import apply_credits
from crm_lab.data.mapping import Mapping, apply_columns
from crm_lab.data.contacts import contacts_from_export
from crm_lab.data.raw import _find, _map_headers, _read_raw, _to_number, clean_id
from crm_lab.data.schema import TIMEZONE, DataValidationError, _check_required, _coerce, validate

log = logging.getLogger("crm_lab.data")

#: Header sets of the exports crm_lab reads, by preset.
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {"douyin": douyin.HEADERS, "tmall": tmall.HEADERS}



UNPAID_STATUS = ("待支付", "待付款", "等待买家付款")


#: Statuses that say a line was paid: such a line with no payment time is bad data, not unpaid.
PAID_STATUS = ("已完成", "已发货", "待发货", "备货中", "部分发货", "已支付", "交易成功", "买家已付款", "卖家已发货",
               "等待卖家发货", "等待买家确认收货", "待收货")


#: The product of every line when an export has no product column.
PSEUDO_PRODUCT = "ALL"


def _refuse_masked_identity(preset: str | None, column: str | None, masked: pd.Series | None, source: Any = None) -> None:
    """Customers cannot be keyed on a phone column with masked values: 4 buyers of 138****5678 in
    4 provinces would become one customer."""
    if masked is None or not masked.any():
        return
    where, numbers = _row_numbers(masked.index[masked], source)
    lines = pd.DataFrame({where: numbers})
    ids = PRESETS[preset]["customer_id"] if preset else ("customer_id", "open_id", "buyer_nick")
    raise DataValidationError(
        "orders", "customer_id", f"have a masked or encrypted phone in {column!r} and the export has no buyer id column", int(masked.sum()),
        lines.head(10),
        f"a masked phone is not an identity (different buyers share 138****5678). Export a buyer id column "
        f"({', '.join(ids)}), e.g. doudian_open_id from the open platform, or pass pii='drop' and map customers with crm_lab.identity",
    )


def _map_source(raw: pd.DataFrame, preset: str | None, columns: dict[str, str] | None, source: Any) -> tuple[pd.DataFrame, dict[str, str], pd.DataFrame]:
    """Canonical-named columns of an export, the source column of each, and the columns holding
    personal data (phones) to hash."""
    if columns is not None:
        df = apply_columns(raw, columns, "orders", source)
        personal = df[["phone"]] if "phone" in df else pd.DataFrame(index=df.index)
        return df.drop(columns=["phone"], errors="ignore"), dict(columns), personal
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; expected one of {sorted(PRESETS)}, columns={{...}} or None for canonical columns")
    df, used = _map_headers(raw, PRESETS[preset])
    return df, used, raw


#: Columns that hold a Douyin / Tmall open id (the key in-shop SMS targets).
OPEN_ID_HEADERS = ("doudian_open_id", "open_id", "openid", "买家openuid", "openuid")


def _open_ids(df: pd.DataFrame, raw: pd.DataFrame, preset: str | None) -> pd.Series | None:
    if "open_id" in df:
        return df["open_id"]
    found = _find(raw, OPEN_ID_HEADERS) if preset is not None else []
    return raw[found[0]] if found else None


def _customer_ids(df: pd.DataFrame, phone_hash: pd.Series | None, phone_column: str | None, masked: pd.Series | None,
                  preset: str | None, salt: str | None, source: Any = None) -> pd.DataFrame:
    """Fill ``customer_id`` from the buyer id, else a hashed nick or open id, else a whole phone."""
    if "customer_id" in df:
        return df.drop(columns=["buyer_nick", "open_id"], errors="ignore")
    if "open_id" in df:
        df["customer_id"] = df["open_id"]  # an open id is already an account id, text as it is
    elif "buyer_nick" in df:
        # A buyer nick is an account name, hashed as text (digits alone would merge tb1234_alice and tb1234_bob).
        df["customer_id"] = "tb_" + hash_text(df["buyer_nick"], salt).str[:20]
    elif phone_hash is not None:
        _refuse_masked_identity(preset, phone_column, masked, source)
        df["customer_id"] = "ph_" + phone_hash.str[:20]
    else:
        tried = (PRESETS[preset]["customer_id"] + PRESETS[preset].get("buyer_nick", ()) + PHONE_HEADERS) if preset else \
            ("customer_id", "buyer_nick", "open_id", "phone")
        raise DataValidationError(
            "orders", "customer_id", "— no customer column in the export (all rows)", -1, pd.DataFrame(),
            f"the export needs one of {tried}; add the buyer column to the export template (or the mapping), or "
            "map customers with crm_lab.identity",
        )
    return df.drop(columns=["buyer_nick", "open_id"], errors="ignore")


def _products_and_lines(df: pd.DataFrame, preset: str | None, used: dict[str, str]) -> pd.DataFrame:
    """A product id when the export has none, the paid amount from unit price x quantity, a line id."""
    if "product_id" not in df:
        # The classic Tmall report has no product id: the merchant code, else the title, stands in.
        fallback = next((c for c in ("sku_id", "product_name") if c in df), None)
        if fallback is not None:
            df["product_id"] = df[fallback]
            warnings.warn(f"orders: the export has no product id column; product_id is taken from {used.get(fallback, fallback)}", stacklevel=4)
        else:
            df["product_id"] = PSEUDO_PRODUCT
            warnings.warn(f"orders: the export has no product column; every line is one pseudo-product {PSEUDO_PRODUCT!r} "
                          "(product analyses, related products and product rules have nothing to work on)", stacklevel=4)
    if "quantity" not in df and ("unit_price" in df or preset is None):
        df["quantity"] = "1"
    if "paid_amount" not in df and "unit_price" in df:
        price, quantity = _to_number(df["unit_price"]), _to_number(df["quantity"])
        amount = (price * quantity).astype("str").where(price.notna() & quantity.notna())
        df["paid_amount"] = amount.fillna(df["unit_price"].where(price.isna()))  # the raw price stays visible when it is bad
    if "line_id" not in df and "order_id" in df:
        if preset is None:
            # Lines of an order, numbered in file order: stable as long as the export lists them alike.
            orders = clean_id(df["order_id"])
            position = df.groupby(orders, sort=False, dropna=False).cumcount() + 1
            df["line_id"] = orders + "-" + position.astype("str")
        else:
            df["line_id"] = df["order_id"]  # order-level exports: one line per order
    return df


def _genres(df: pd.DataFrame) -> pd.DataFrame:
    if "traffic_genre" not in df:
        return df
    genre = df["traffic_genre"].astype("str").str.strip()
    pending = genre.isin(GENRE_PENDING)
    mapped = genre.map(GENRE_MAP)
    unknown = df["traffic_genre"].notna() & ~pending & mapped.isna()
    if unknown.any():
        values = sorted(genre[unknown].unique())[:5]
        warnings.warn(f"orders.traffic_genre: {int(unknown.sum())} row(s) with unknown genre {values} read as 'other'", stacklevel=4)
        mapped = mapped.mask(unknown, "other")
    df["traffic_genre"] = mapped.where(~pending)
    return df


def _merge_refunds(df: pd.DataFrame, refunds: Any, encoding: str | None) -> pd.DataFrame:
    extra = refunds if isinstance(refunds, pd.DataFrame) and "refund_amount" in refunds else read_refunds(refunds, encoding=encoding)
    line_ids = clean_id(df["line_id"])
    known = extra["line_id"].isin(line_ids)
    if (~known).any():
        warnings.warn(
            f"refunds: {int((~known).sum())} refunded line(s) are not in this order export "
            f"(line_id {', '.join(extra.loc[~known, 'line_id'].head(3))}); they are ignored here",
            stacklevel=4,
        )
    by_line = extra.set_index("line_id")
    df["refund_amount"] = line_ids.map(by_line["refund_amount"]).fillna(0.0).astype("str")
    df["refunded_at"] = line_ids.map(by_line["refunded_at"])
    return df


def _row_numbers(index: pd.Index, source: Any) -> tuple[str, pd.Index]:
    """How to point at rows of ``source``: ``("_row", file line numbers)`` for CSV and xlsx files
    (the header is line 1), ``("_pos", 1-based positions)`` for Parquet, JSON and frames, which
    have no lines to point at."""
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() in (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls"):
        return "_row", index + 2
    return "_pos", index + 1


def _split_unpaid(df: pd.DataFrame, preset: str | None, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(paid lines, unpaid lines). A line is unpaid by its status (待支付, closed before payment) or,
    when its status does not say it was paid, by a blank payment time. A line whose status says it
    was paid (已完成, 已发货 ...) but has no payment time stays an order line, and validation names it."""
    status = df["status"].astype("str").str.strip() if "status" in df else pd.Series("", index=df.index)
    paid_at_raw = df["paid_at"] if "paid_at" in df else pd.Series(pd.NA, index=df.index)
    no_payment = paid_at_raw.isna() | paid_at_raw.astype("str").str.strip().isin(["", "-"])
    says_paid = status.isin(PAID_STATUS)
    unpaid = status.isin(UNPAID_STATUS) | (no_payment & ~says_paid)
    if preset is None and "status" not in df:
        unpaid = pd.Series(False, index=df.index)  # a generic file without status: every line is an order line
    unpaid_df = df[unpaid].rename(columns={"paid_amount": "amount"})
    if "amount" not in unpaid_df and "payable_amount" in unpaid_df:
        unpaid_df = unpaid_df.rename(columns={"payable_amount": "amount"})
    paid = df[~unpaid].copy()
    where, numbers = _row_numbers(paid.index, source)
    paid[where] = numbers
    if unpaid.any():
        name = Path(source).name if isinstance(source, (str, os.PathLike)) else "orders"
        warnings.warn(f"{name}: {int(unpaid.sum())} unpaid line(s) (待支付 or closed before payment, no payment time) are "
                      "not orders and are left out; read them with read_unpaid_orders()", stacklevel=4)
    return paid, unpaid_df


def _prepare_export(
    source: Any,
    preset: str | None,
    *,
    columns: dict[str, str] | None = None,
    salt: str | None,
    pii: str,
    encoding: str | None,
    tz: str,
    refunds: Any,
    check_refunds: bool = True,
    channel: str | None = None,
    contacts: list[pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map an export to canonical columns; return (paid lines, unpaid lines) in pandas. With a
    ``contacts`` list, the export's platform keys (:mod:`~crm_lab.data.contacts`) are appended to it."""
    raw = _read_raw(source, encoding).reset_index(drop=True)
    df, used, personal = _map_source(raw, preset, columns, source)
    phone_hash, phone_column, masked = _pii(personal, pii, salt)
    open_ids = _open_ids(df, raw, preset)
    df = _customer_ids(df, phone_hash, phone_column, masked, preset, salt, source)
    if contacts is not None:
        phones = personal[phone_column] if phone_column is not None else None
        contacts.append(contacts_from_export(clean_id(df["customer_id"]), phones, open_ids))
    if phone_hash is not None:
        df["phone_hash"] = phone_hash
    df = _genres(_products_and_lines(df, preset, used))
    df["channel"] = channel if channel is not None else (preset or pd.NA)
    if refunds is not None:
        df = _merge_refunds(df, refunds, encoding)
    elif check_refunds and preset == "douyin" and "refund_status" in df and "refund_amount" not in df:
        refunded = df["refund_status"].astype("str").str.contains("退款成功", na=False)
        if refunded.any():
            warnings.warn(
                f"orders: {int(refunded.sum())} line(s) have 售后状态 退款成功 but no refund amount; net amounts "
                "will overstate them. Fix: pass refunds='<after-sales export>' (售后表).",
                stacklevel=3,
            )
    paid, unpaid = _split_unpaid(df, preset, source)
    log.info("%s export: %d paid line(s), %d unpaid line(s); columns used: %s", preset or "mapped", len(paid), len(unpaid), used)
    return paid, unpaid


def _finish(df: pd.DataFrame, table: str, tz: str, *, as_of: Any, errors: str, quarantine: Any,
            source: Any = None, dayfirst: bool | None = None) -> pd.DataFrame:
    _check_required(list(df.columns), table)
    keep_extra = [c for c in ("phone_hash", "product_name", "province", "city", "status", "refund_status") if c in df]
    typed = _coerce(df, table, tz, dayfirst)
    for col in keep_extra:
        typed[col] = df[col].astype("str").where(df[col].notna())
    for col in ("_row", "_pos"):
        if col in df:
            typed[col] = df[col].to_numpy()
    if table == "orders":
        typed = apply_credits(typed, source)
    path = source if isinstance(source, (str, os.PathLike)) else None
    out = validate(typed, table, as_of=as_of, errors=errors, quarantine=quarantine, source=path)
    return out.drop(columns=["_row", "_pos"], errors="ignore").reset_index(drop=True)


def read_orders(
    source: Any,
    preset: Literal["douyin", "tmall", "douyin_api"] | None = None,
    *,
    columns: dict[str, str] | None = None,
    mapping: "Mapping | str | os.PathLike[str] | None" = None,
    salt: str | None = None,
    pii: Literal["hash", "drop"] = "hash",
    refunds: Any = None,
    as_of: Any = None,
    errors: Literal["raise", "quarantine"] = "raise",
    quarantine: str | os.PathLike[str] | None = None,
    encoding: str | None = None,
    tz: str = TIMEZONE,
    dayfirst: bool | None = None,
    contacts: list[pd.DataFrame] | None = None,
) -> Any:
    """Read order lines into the canonical ``orders`` table, validated.

    Parameters
    ----------
    source : path or frame
        A shop export (CSV in UTF-8 / UTF-8-BOM / GBK, xlsx, Parquet) or a pandas / Polars /
        DuckDB / PySpark frame. Without a preset, canonical Parquet/CSV files open lazily in DuckDB
        and frames stay in their own engine.
    preset : {"douyin", "tmall", "douyin_api"}, optional
        Header set of the export (see ``PRESETS``). Exports are read into pandas: they are files
        people download, not warehouses. ``"douyin_api"``: the open platform's order JSON
        (``order.searchList`` pages or ``order.orderDetail`` responses; see
        :mod:`~crm_lab.data.douyin_api`): fen become yuan, Unix times local time,
        ``doudian_open_id`` the customer; receiver fields are never read.
    columns : dict, optional
        Any other export: canonical column -> source column, e.g. ``{"order_id": "InvoiceNo",
        "customer_id": "CustomerID", "paid_at": "InvoiceDate", "quantity": "Quantity",
        "unit_price": "UnitPrice"}``. Derived when absent: ``paid_amount`` = ``unit_price`` x
        ``quantity``; ``line_id`` = order id + position in the order (``536365-1``, stable);
        ``product_id`` = one pseudo-product ``"ALL"`` (with a warning); ``quantity`` = 1.
        Negative-quantity credit lines become refunds of the matching earlier lines
        (:mod:`~crm_lab.data.credits`). ``customer_id`` may come from ``open_id``, ``buyer_nick``
        (hashed as text) or a whole ``phone`` (hashed; masked phones are refused).
    mapping : Mapping or path, optional
        A mapping file (:class:`~crm_lab.data.mapping.Mapping`): its ``orders`` columns and its
        ``tz``, ``dayfirst``, ``channel`` and ``encoding``.
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
        The shop's time zone: aware timestamps (a tz dtype, or text ending in ``+08:00`` / ``Z``,
        mixed with naive ones or not) are converted to it and made naive.
    dayfirst : bool, optional
        How to read ``01/10/2025``: required when the values do not decide it (an error otherwise).
    contacts : list, optional
        For the importer: the export's platform keys (:mod:`~crm_lab.data.contacts`) are appended
        to this list, apart from the returned table.

    Returns
    -------
    Canonical orders (pandas for exports; the source's own kind of frame otherwise). Unpaid lines
    (待支付, no payment time) are not orders: they are counted in the log and read with
    :func:`read_unpaid_orders`.

    Examples
    --------
    >>> import crm_lab as cl
    >>> orders = cl.data.read_orders("douyin_orders.csv", preset="douyin", salt="a-long-shop-secret",
    ...                              refunds="douyin_aftersales.csv")  # doctest: +SKIP
    """
    if mapping is not None:
        spec = mapping if isinstance(mapping, Mapping) else Mapping.read(mapping)
        columns = {**spec.columns("orders"), **(columns or {})}
        opts = spec.options
        tz = opts.get("tz", tz) if tz == TIMEZONE else tz
        dayfirst = opts.get("dayfirst", dayfirst) if dayfirst is None else dayfirst
        encoding = encoding or opts.get("encoding")
        channel = opts.get("channel")
    else:
        channel = None
    frame_source = source
    if preset == "douyin_api":
        frame_source, columns, preset, channel = douyin_api.flatten(source, tz), {**douyin_api.COLUMNS, **(columns or {})}, None, "douyin"
    if preset is None and columns is None:
        frame = source
        if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() in (".xlsx", ".xls", ".xlsm"):
            frame = _read_raw(source)
        if isinstance(frame, pd.DataFrame):
            return _finish(frame.copy(), "orders", tz, as_of=as_of, errors=errors, quarantine=quarantine, source=source, dayfirst=dayfirst)
        return read_table(frame, "orders", as_of=as_of, errors=errors, quarantine=quarantine)
    paid, _unpaid = _prepare_export(frame_source, preset, columns=columns, salt=salt, pii=pii, encoding=encoding, tz=tz,
                                    refunds=refunds, channel=channel, contacts=contacts)
    return _finish(paid, "orders", tz, as_of=as_of, errors=errors, quarantine=quarantine, source=source, dayfirst=dayfirst)


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
    >>> unpaid = cl.data.read_unpaid_orders("douyin_orders.csv", preset="douyin", salt="a-long-shop-secret")  # doctest: +SKIP
    """
    with warnings.catch_warnings():  # the unpaid-lines warning is about the orders, not this table
        warnings.filterwarnings("ignore", message=".*unpaid line")
        _, unpaid = _prepare_export(source, preset, salt=salt, pii=pii, encoding=encoding, tz=tz, refunds=None, check_refunds=False)
    typed = _coerce(unpaid, "unpaid_orders", tz)
    return validate(typed, "unpaid_orders").reset_index(drop=True)


def read_export_table(
    source: Any,
    table: str,
    *,
    columns: dict[str, str] | None = None,
    salt: str | None = None,
    as_of: Any = None,
    errors: Literal["raise", "quarantine"] = "raise",
    quarantine: str | os.PathLike[str] | None = None,
    encoding: str | None = None,
    tz: str = TIMEZONE,
    dayfirst: bool | None = None,
    contacts: list[pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Read a members, products, touches or events file (any columns, by ``columns``) into its
    canonical table, validated; as :func:`read_orders` does for orders.

    ``columns`` maps canonical columns to source ones (none: the file has canonical names).
    Members may give ``phone`` (kept as the salted ``phone_hash``; masked phones stay null),
    ``buyer_nick`` (hashed as text into ``customer_id``) or ``open_id``.

    Examples
    --------
    >>> import crm_lab as cl
    >>> members = cl.data.read_export_table("members.csv", "members",
    ...     columns={"customer_id": "会员ID", "joined_at": "入会时间"})  # doctest: +SKIP
    """
    if table == "orders":
        raise ValueError("orders are read with read_orders (refunds, unpaid lines and line ids need it)")
    raw = _read_raw(source, encoding).reset_index(drop=True)
    df = apply_columns(raw, columns, table, source) if columns else raw.copy()
    personal = df[["phone"]] if "phone" in df else pd.DataFrame(index=df.index)
    phone_hash, phone_column, masked = _pii(personal, "hash", salt)
    open_ids = df.get("open_id")
    if "customer_id" not in df and table == "members":
        df = _customer_ids(df, phone_hash, phone_column, masked, None, salt, source)
    if contacts is not None and "customer_id" in df:
        contacts.append(contacts_from_export(clean_id(df["customer_id"]), personal.get("phone"), open_ids))
    df = df.drop(columns=["phone", "buyer_nick", "open_id"], errors="ignore")
    if phone_hash is not None and table == "members":
        df["phone_hash"] = phone_hash
    where, numbers = _row_numbers(df.index, source)
    df[where] = numbers
    return _finish(df, table, tz, as_of=as_of, errors=errors, quarantine=quarantine, source=source, dayfirst=dayfirst)
