"""Canonical tables, shop-export readers, validation and personal-data hashing.

Every analysis in crm_lab reads the same canonical tables (``orders``, ``unpaid_orders``,
``members``, ``products``, ``touches``, ``events``; see :data:`SCHEMA`). This module maps real
exports onto them:

* :func:`read_orders` reads a Douyin (抖店) or Tmall order export (CSV in UTF-8, UTF-8 with BOM or
  GBK; xlsx; Parquet) or a frame, maps its headers, keeps every id as text, hashes the phone with a
  salt the user sets, drops names and addresses, and validates;
* :func:`read_refunds` reads the Douyin after-sales export (售后表) whose refunded amounts
  :func:`read_orders` merges in;
* :func:`read_table` / :func:`read_shop` open canonical Parquet/CSV files lazily in DuckDB;
* :func:`validate` checks a canonical table and either raises a :class:`DataValidationError`
  naming the table, column, rows and fix, or sets the bad rows aside in a quarantine file.

Nothing is dropped silently and no input file is ever written to.

Examples
--------
>>> import crm_lab as cl
>>> orders = cl.data.read_orders("ExportOrderList.csv", preset="douyin", salt="s3cret")  # doctest: +SKIP
>>> shop = cl.data.read_shop("data/demo")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import engine
from crm_lab.files import atomic_frame, atomic_text

__all__ = [
    "SCHEMA",
    "REQUIRED",
    "GENRES",
    "PRESETS",
    "DataValidationError",
    "Shop",
    "hash_phone",
    "read_orders",
    "read_unpaid_orders",
    "read_refunds",
    "read_table",
    "read_shop",
    "write_shop",
    "validate",
    "atomic_write",
    "snapshot_key",
    "observation_end",
    "window_length",
    "product_names",
    "orders_of",
    "net_amount",
    "OWN_SALES",
]

log = logging.getLogger(__name__)

SALT_ENV = "CRM_LAB_SALT"
TIMEZONE = "Asia/Shanghai"

#: Canonical tables: column -> logical type (``str``, ``datetime``, ``int``, ``float``).
SCHEMA: dict[str, dict[str, str]] = {
    "orders": {
        "order_id": "str",
        "line_id": "str",
        "customer_id": "str",
        "paid_at": "datetime",
        "product_id": "str",
        "sku_id": "str",
        "quantity": "int",
        "paid_amount": "float",
        "refund_amount": "float",
        "refunded_at": "datetime",
        "influencer_id": "str",
        "influencer_name": "str",
        "traffic_source": "str",
        "traffic_genre": "str",
        "channel": "str",
    },
    "unpaid_orders": {
        "order_id": "str",
        "line_id": "str",
        "customer_id": "str",
        "created_at": "datetime",
        "product_id": "str",
        "sku_id": "str",
        "quantity": "int",
        "amount": "float",
        "status": "str",
        "channel": "str",
    },
    "members": {
        "customer_id": "str",
        "joined_at": "datetime",
        "tier": "int",
        "points": "float",
        "phone_hash": "str",
    },
    "products": {
        "product_id": "str",
        "sku_id": "str",
        "name": "str",
        "category": "str",
        "listed_at": "datetime",
        "status": "str",
        "sample_of": "str",
    },
    "touches": {
        "touch_id": "str",
        "campaign_id": "str",
        "customer_id": "str",
        "channel": "str",
        "sent_at": "datetime",
        "group": "str",
        "cost": "float",
    },
    "events": {"customer_id": "str", "event": "str", "at": "datetime", "ref": "str"},
}

#: Columns a table cannot do without; the others are filled with nulls (or 0 for refunds).
REQUIRED: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "line_id", "customer_id", "paid_at", "product_id", "quantity", "paid_amount"),
    "unpaid_orders": ("order_id", "customer_id", "created_at"),
    "members": ("customer_id", "joined_at"),
    "products": ("product_id",),
    "touches": ("touch_id", "campaign_id", "customer_id", "sent_at", "group"),
    "events": ("customer_id", "event", "at"),
}

#: Natural key of each table: duplicates of it are errors.
KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("line_id",),
    "unpaid_orders": (),
    "members": ("customer_id",),
    "products": ("product_id", "sku_id"),
    "touches": ("touch_id",),
    "events": (),
}

GENRES = ("live", "short_video", "product_card", "other")
TOUCH_GROUPS = ("treatment", "control")
EVENTS = ("live_view", "add_to_cart", "product_view", "follow")

#: Douyin's 流量体裁 values; "数据将于第二天更新" (filled in tomorrow) is not known yet -> null.
GENRE_MAP = {
    "直播": "live",
    "直播间": "live",
    "短视频": "short_video",
    "视频": "short_video",
    "商品卡": "product_card",
    "其他": "other",
    "其它": "other",
    "live": "live",
    "short_video": "short_video",
    "product_card": "product_card",
    "other": "other",
}
GENRE_PENDING = ("数据将于第二天更新",)
#: Chinese labels of the canonical genres, for reports.
GENRE_ZH = {"live": "直播", "short_video": "短视频", "product_card": "商品卡", "other": "其他"}

# Header aliases per preset, canonical (or helper) column -> headers as they appear in exports.
# First match wins; headers are compared after Unicode normalisation and removal of spaces.
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "douyin": {
        "order_id": ("主订单编号", "订单编号", "订单号"),
        "line_id": ("子订单编号", "商品单号"),
        "customer_id": ("用户ID", "买家ID", "open_id", "openid", "union_id", "会员ID"),
        "product_id": ("商品ID",),
        "sku_id": ("商家编码", "货号", "商家编码(货号)", "SKU编码"),
        "product_name": ("选购商品", "商品名称"),
        "spec": ("商品规格",),
        "quantity": ("商品数量",),
        "unit_price": ("商品金额", "商品单价"),
        "paid_amount": ("订单应付金额", "实付金额"),
        "created_at": ("订单提交时间",),
        "paid_at": ("支付完成时间", "支付时间"),
        "completed_at": ("订单完成时间",),
        "status": ("订单状态",),
        "refund_status": ("售后状态",),
        "refund_amount": ("退款金额", "退商品金额(元)"),
        "cancel_reason": ("取消原因",),
        "influencer_id": ("达人ID",),
        "influencer_name": ("达人昵称",),
        "traffic_source": ("流量来源",),
        "traffic_type": ("流量类型",),
        "traffic_channel": ("流量渠道",),
        "ad_channel": ("广告渠道",),
        "traffic_genre": ("流量体裁",),
        "province": ("省",),
        "city": ("市",),
        "discount_total": ("优惠总金额",),
    },
    "tmall": {
        "order_id": ("主订单编号", "订单编号"),
        "line_id": ("子订单编号",),
        "customer_id": ("买家ID", "买家会员ID"),
        "buyer_nick": ("买家会员名", "买家昵称"),
        "product_id": ("商品ID", "宝贝ID"),
        "sku_id": ("商家编码",),
        "product_name": ("商品标题", "宝贝标题"),
        "spec": ("商品属性",),
        "quantity": ("购买数量", "宝贝总数量"),
        "unit_price": ("商品价格",),
        "paid_amount": ("买家实付金额", "买家实际支付金额"),
        "payable_amount": ("买家应付货款",),
        "created_at": ("订单创建时间",),
        "paid_at": ("订单付款时间",),
        "status": ("订单状态",),
        "refund_status": ("退款状态",),
        "refund_amount": ("退款金额",),
        "cancel_reason": ("订单关闭原因",),
        "shop_id": ("店铺Id", "店铺ID"),
        "shop_name": ("店铺名称",),
    },
}

# Personal data in exports: the phone is hashed (salted), the rest is dropped on read.
PHONE_HEADERS = ("收件人手机号", "联系手机", "手机号", "手机", "收货人手机", "phone", "mobile")
DROP_HEADERS = (
    "收件人",
    "收货人姓名",
    "收货人",
    "区",
    "街道",
    "详细地址",
    "收货地址",
    "收件地址",
    "name",
    "address",
)
UNPAID_STATUS = ("待支付", "待付款", "等待买家付款")

# Douyin after-sales export (售后表).
REFUND_HEADERS: dict[str, tuple[str, ...]] = {
    "refund_id": ("售后单号",),
    "order_id": ("订单号", "主订单编号"),
    "line_id": ("商品单号", "子订单编号"),
    "refund_type": ("售后类型",),
    "refund_status": ("售后状态",),
    "refunded_at": ("售后申请时间", "退款时间"),
    "refund_amount": ("退商品金额(元)", "退款金额"),
}
REFUND_SUCCESS = ("退款成功",)


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


#: The influencer label of orders that came through no influencer (the shop's own sales).
OWN_SALES = "自营"


def net_amount() -> nw.Expr:
    """有效金额 of an order line: the paid amount less its refund (no refund: 0), as a narwhals expression.

    The one definition every analysis uses, wherever the orders live.

    Examples
    --------
    >>> import narwhals as nw, pandas as pd
    >>> from crm_lab.data import net_amount
    >>> lines = nw.from_native(pd.DataFrame({"paid_amount": [100.0, 50.0], "refund_amount": [30.0, None]}))
    >>> lines.select(net_amount()).to_native()["paid_amount"].tolist()
    [70.0, 50.0]
    """
    return nw.col("paid_amount") - nw.col("refund_amount").fill_null(0.0)


def orders_of(source: Any) -> tuple[Any, pd.Timestamp | None]:
    """The orders of a Shop (and its ``as_of``), or ``source`` itself if it is already orders.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.datasets.make_shop(300, seed=1)
    >>> orders, as_of = cl.data.orders_of(shop)
    >>> as_of == shop.as_of
    True
    """
    if isinstance(source, Shop):
        return source.orders, source.as_of
    return source, None


def product_names(shop: Shop) -> pd.Series:
    """Product id -> name from the shop's products table (empty without one).

    Examples
    --------
    >>> import crm_lab as cl
    >>> cl.data.product_names(cl.datasets.make_shop(300, seed=1)).get("N01")
    '焕颜精华·2.0 标准装'
    """
    from crm_lab import engine

    if shop.products is None:
        return pd.Series(dtype="object", name="name")
    products = engine.collect(engine.lazy(shop.products).select("product_id", "name"))
    return products.drop_duplicates("product_id").set_index("product_id")["name"]


class DataValidationError(ValueError):
    """A canonical table breaks a rule.

    Attributes
    ----------
    table, column : str
        Where the problem is.
    rows : pandas.DataFrame
        Up to ten offending rows (no personal data: canonical tables hold none).
    count : int
        How many rows break the rule.
    fix : str
        What to do about it.
    """

    def __init__(self, table: str, column: str, problem: str, count: int, rows: pd.DataFrame, fix: str):
        self.table, self.column, self.problem = table, column, problem
        self.count, self.rows, self.fix = count, rows, fix
        shown = _describe_rows(rows)
        msg = f"{table}.{column}: {count} row(s) {problem}"
        if shown:
            msg += f" ({shown})"
        msg += f". Fix: {fix}"
        super().__init__(msg)


def _describe_rows(rows: pd.DataFrame) -> str:
    if rows is None or rows.empty:
        return ""
    key = next((c for c in ("line_id", "touch_id", "customer_id", "order_id", "product_id") if c in rows), None)
    where = ", ".join(str(v) for v in rows["_row"].head(5)) if "_row" in rows else ""
    text = f"rows {where}" if where else ""
    if key is not None:
        ids = ", ".join(str(v) for v in rows[key].head(5))
        text = f"{text}; {key} {ids}" if text else f"{key} {ids}"
    return text


@dataclass
class Shop:
    """A shop's canonical tables, each a pandas, Polars, DuckDB or PySpark frame.

    Attributes
    ----------
    orders, unpaid_orders, members, products, touches, events : frame or None
    truth : dict
        Ground truth when the shop was simulated (:func:`crm_lab.datasets.make_shop`), else empty.
    as_of : pandas.Timestamp or None
        When the data was extracted; analyses default to it.
    name : str
    source : dict
        Where the tables came from (:func:`read_shop`: the folder, its extraction time and a
        fingerprint of its files), recorded in every export's manifest; empty for frames in memory.
    """

    orders: Any
    members: Any = None
    products: Any = None
    touches: Any = None
    events: Any = None
    unpaid_orders: Any = None
    truth: dict[str, Any] = field(default_factory=dict)
    as_of: pd.Timestamp | None = None
    name: str = "shop"
    source: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, Any]:
        """The tables present, by name."""
        return {name: getattr(self, name) for name in SCHEMA if getattr(self, name) is not None}

    def __repr__(self) -> str:
        parts = []
        for name, frame in self.tables().items():
            # Count rows of in-memory frames only: a lazy table would run a query to be printed.
            in_memory = isinstance(frame, pd.DataFrame) or type(frame).__module__.startswith("polars.dataframe")
            parts.append(f"{name}={len(frame)}" if in_memory else f"{name}=<{engine.backend_name(frame)}>")
        as_of = self.as_of.date() if self.as_of is not None else None
        return f"Shop({self.name!r}, as_of={as_of}, " + ", ".join(parts) + ")"


# --------------------------------------------------------------------------------------------
# Personal data


def _salt(salt: str | None) -> str:
    salt = salt if salt is not None else os.environ.get(SALT_ENV)
    if not salt:
        raise ValueError(
            "A phone number must be hashed with a secret salt, and none is set. Fix: pass salt='...' "
            f"or set the environment variable {SALT_ENV}; keep the same salt for every file of the shop "
            "so that hashes match across files. Or pass pii='drop' to discard phone numbers unhashed."
        )
    return salt


def normalise_phone(values: pd.Series) -> pd.Series:
    """Digits only, without a +86/0086 country prefix; empty -> null."""
    digits = values.astype("str").str.replace(r"\D", "", regex=True)
    digits = digits.str.replace(r"^(0086|86)(?=1\d{10}$)", "", regex=True)
    return digits.where(digits.str.len() > 0)


def hash_phone(values: pd.Series | list[str], salt: str | None = None) -> pd.Series:
    """Salted SHA-256 of normalised phone numbers (hex); nulls stay null.

    Parameters
    ----------
    values : Series or list of str
        Phone numbers as exported (``'13800138000``, ``+86 138-0013-8000`` ...).
    salt : str, optional
        The shop's secret; defaults to the ``CRM_LAB_SALT`` environment variable.

    Examples
    --------
    >>> from crm_lab.data import hash_phone
    >>> h = hash_phone(["+86 138 0013 8000", "13800138000"], salt="s")
    >>> bool(h[0] == h[1]), len(h[0])
    (True, 64)
    """
    key = _salt(salt).encode("utf-8")
    series = pd.Series(values, dtype="object") if not isinstance(values, pd.Series) else values
    phones = normalise_phone(series.where(series.notna(), ""))
    uniques = phones.dropna().unique()
    table = {p: hashlib.sha256(key + p.encode("utf-8")).hexdigest() for p in uniques}
    return phones.map(table).astype("str").where(phones.notna())


# --------------------------------------------------------------------------------------------
# Reading raw files


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


# --------------------------------------------------------------------------------------------
# Coercion to canonical types (pandas path), with parse errors recorded per row


def _coerce(df: pd.DataFrame, table: str, tz: str) -> pd.DataFrame:
    """Canonical columns and types; a ``_reason`` column names values that did not parse."""
    schema = SCHEMA[table]
    out = pd.DataFrame(index=df.index)
    reason = pd.Series(pd.NA, index=df.index, dtype="object")
    for col, kind in schema.items():
        if col not in df:
            if col == "refund_amount":
                out[col] = 0.0
            elif kind == "datetime":
                out[col] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[us]")
            elif kind in ("float", "int"):
                out[col] = np.nan
            else:
                out[col] = pd.Series(pd.NA, index=df.index, dtype="str")
            continue
        raw = df[col]
        if kind == "str":
            if col in engine.ID_COLUMNS:
                out[col] = clean_id(raw)
            else:
                text = raw.astype("str").str.strip().where(raw.notna())
                out[col] = text.where(text != "")
            continue
        parsed = _to_datetime(raw, tz) if kind == "datetime" else _to_number(raw)
        bad = raw.notna() & (raw.astype("str").str.strip() != "") & parsed.isna()
        reason = reason.mask(bad & reason.isna(), f"unparseable {col}")
        if kind == "int":
            whole = parsed.notna() & (parsed != np.floor(parsed.fillna(0)))
            reason = reason.mask(whole & reason.isna(), f"non-integer {col}")
        out[col] = parsed
    if "refund_amount" in out:
        out["refund_amount"] = out["refund_amount"].fillna(0.0)
    for col, kind in schema.items():
        if kind == "float":
            out[col] = out[col].astype("float64")
        elif kind == "int":
            out[col] = out[col].astype("Int64")
        elif kind == "str":
            out[col] = out[col].astype("str").where(out[col].notna())
    out["_reason"] = reason
    return out


# --------------------------------------------------------------------------------------------
# Validation (any backend, through narwhals)


def _rules(table: str, cols: list[str], as_of: pd.Timestamp | None, frame: nw.LazyFrame) -> list[tuple[str, str, nw.Expr, str]]:
    """(column, problem, expression true on bad rows, fix) for the table's columns present."""
    rules: list[tuple[str, str, nw.Expr, str]] = []
    for col in REQUIRED[table]:
        if col in cols:
            rules.append(
                (col, f"have no {col}", nw.col(col).is_null(), f"fill {col} in the source, or quarantine these rows")
            )
    if table in ("orders", "unpaid_orders") and "quantity" in cols:
        rules.append(("quantity", "have quantity <= 0", nw.col("quantity") <= 0, "quantities must be positive; returns belong in refund_amount"))
    for col in ("paid_amount", "refund_amount", "amount", "cost", "points"):
        if col in cols and table in ("orders", "unpaid_orders", "touches", "members"):
            rules.append((col, f"have a negative {col}", nw.col(col) < 0, f"{col} must be >= 0 (refunds go in refund_amount)"))
    if table == "orders" and {"refund_amount", "paid_amount"} <= set(cols):
        rules.append(
            (
                "refund_amount",
                "have refund_amount > paid_amount",
                nw.col("refund_amount") > nw.col("paid_amount") + 0.005,
                "a line cannot refund more than was paid for it; check the after-sales join (one refund per line)",
            )
        )
    if table == "orders" and "traffic_genre" in cols:
        rules.append(
            (
                "traffic_genre",
                f"have a traffic_genre outside {GENRES}",
                ~nw.col("traffic_genre").is_in(GENRES) & ~nw.col("traffic_genre").is_null(),
                "map genres to live / short_video / product_card / other (null when unknown)",
            )
        )
    if table == "touches" and "group" in cols:
        rules.append(("group", f"have a group outside {TOUCH_GROUPS}", ~nw.col("group").is_in(TOUCH_GROUPS), "group must be 'treatment' or 'control'"))
    if table == "events" and "event" in cols:
        rules.append(("event", f"have an event outside {EVENTS}", ~nw.col("event").is_in(EVENTS), f"event must be one of {EVENTS}"))
    time_col = {"orders": "paid_at", "unpaid_orders": "created_at", "members": "joined_at", "touches": "sent_at", "events": "at"}.get(table)
    if as_of is not None and time_col in cols:
        rules.append(
            (
                time_col,
                f"have {time_col} after as_of {as_of}",
                nw.col(time_col) >= engine.timestamp(observation_end(as_of), frame),
                "check the export's time zone and as_of; data from the future means a clock or extraction problem",
            )
        )
    key = KEYS[table]
    if key and set(key) <= set(cols):
        rules.append(
            (
                "+".join(key),
                f"share their {'+'.join(key)} with another row (duplicates)",
                nw.len().over(*key) > 1,
                f"{'+'.join(key)} must be unique: de-duplicate the export (the same file read twice?)",
            )
        )
    return rules


def _check_required(cols: list[str], table: str) -> None:
    missing = [c for c in REQUIRED[table] if c not in cols]
    if missing:
        raise DataValidationError(
            table,
            ", ".join(missing),
            "— required column missing (all rows)",
            -1,
            pd.DataFrame(),
            f"the table has {cols}; rename the source columns to the canonical names, "
            "or read the export with read_orders(path, preset='douyin' | 'tmall')",
        )


def validate(
    frame: Any,
    table: str,
    *,
    as_of: Any = None,
    errors: Literal["raise", "quarantine"] = "raise",
    quarantine: str | os.PathLike[str] | None = None,
) -> Any:
    """Check a canonical table; raise on bad rows or set them aside.

    Parameters
    ----------
    frame : pandas / Polars / DuckDB / PySpark frame or path
        The table, with canonical column names and types.
    table : str
        One of :data:`SCHEMA`'s names.
    as_of : date-like, optional
        Extraction time: rows dated after it are errors (a date includes its whole day).
    errors : {"raise", "quarantine"}
        ``"raise"``: the first broken rule raises :class:`DataValidationError` (all counts logged).
        ``"quarantine"``: bad rows are written, with a ``reason`` per row, to ``quarantine``
        (default ``quarantine/<table>.csv``), counted in the log and a warning, and the rest returned.
    quarantine : path, optional
        Where quarantined rows go (CSV or Parquet by suffix).

    Returns
    -------
    The valid rows, same kind of frame as given.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.data import validate
    >>> df = pd.DataFrame({"customer_id": ["a"], "joined_at": pd.to_datetime(["2025-01-01"])})
    >>> len(validate(df, "members"))
    1
    """
    if table not in SCHEMA:
        raise ValueError(f"Unknown table {table!r}; expected one of {sorted(SCHEMA)}")
    if errors not in ("raise", "quarantine"):
        raise ValueError("errors must be 'raise' or 'quarantine'")
    lf = engine.lazy(frame)
    cols = list(lf.collect_schema().names())
    _check_required(cols, table)
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else None
    rules = _rules(table, cols, as_of_ts, lf)
    has_reason = "_reason" in cols
    # First matching rule names the row's problem. A flat coalesce keeps the expression linear
    # in the number of rules (nesting when/otherwise on the running result doubles it per rule).
    candidates = [nw.col("_reason")] if has_reason else []
    candidates += [nw.when(bad).then(nw.lit(f"{col}: {problem}")) for col, problem, bad, _fix in rules]
    candidates.append(nw.lit(None, dtype=nw.String()))
    reason = nw.coalesce(*candidates) if len(candidates) > 1 else candidates[0]
    checked = lf.with_columns(_reason=reason)
    flagged = checked.filter(~nw.col("_reason").is_null())
    counts = engine.collect(flagged.group_by("_reason").agg(nw.len().alias("n")))
    counts = counts.sort_values("_reason").reset_index(drop=True)
    if counts.empty:
        return frame if not has_reason else engine.to_native(lf.drop("_reason"))
    summary = "; ".join(f"{r} ({n})" for r, n in zip(counts["_reason"], counts["n"]))
    if errors == "raise":
        first = str(counts["_reason"].iloc[0])
        col, _, problem = first.partition(": ")
        fix = next((f for c, p, _b, f in rules if c == col and p == problem), "correct the values in the source")
        if first.startswith("unparseable") or first.startswith("non-integer"):
            col = first.split(" ", 1)[1]
            problem, fix = first.split(" ", 1)[0] + " values", "correct the values (dates as YYYY-MM-DD HH:MM:SS, amounts as numbers)"
        rows = engine.collect(flagged.filter(nw.col("_reason") == first).head(10))
        count = int(counts["n"].iloc[0])
        log.error("%s: %s", table, summary)
        raise DataValidationError(
            table, col, problem, count, rows, f"{fix}; or pass errors='quarantine' to set bad rows aside (all problems: {summary})"
        )
    bad_rows = engine.collect(flagged).rename(columns={"_reason": "reason"})
    target = Path(quarantine) if quarantine is not None else Path("quarantine") / f"{table}.csv"
    atomic_write(bad_rows, target)
    n_bad = int(counts["n"].sum())
    message = f"{table}: {n_bad} row(s) quarantined to {target} ({summary})"
    log.warning(message)
    warnings.warn(message, stacklevel=2)
    good = checked.filter(nw.col("_reason").is_null()).drop("_reason")
    return engine.to_native(good)


# --------------------------------------------------------------------------------------------
# Writing


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


# --------------------------------------------------------------------------------------------
# Export readers


def _pii(raw: pd.DataFrame, pii: str, salt: str | None) -> pd.Series | None:
    phone_cols = _find(raw, PHONE_HEADERS)
    if not phone_cols:
        return None
    if pii == "drop":
        return None
    return hash_phone(raw[phone_cols[0]], salt)


def read_refunds(source: Any, preset: str = "douyin", *, encoding: str | None = None) -> pd.DataFrame:
    """Read the Douyin after-sales export (售后表): refunded amount per order line.

    Only successful refunds (售后状态 containing 退款成功) count; exchanges and closed requests do
    not. Several refunds of one line are summed; ``refunded_at`` is the latest.

    Parameters
    ----------
    source : path or DataFrame
        The after-sales export (售后单号, 订单号, 商品单号, 售后类型, 售后状态, 售后申请时间, 退商品金额（元）).
    preset : str
        Only ``"douyin"`` has a separate after-sales export.

    Returns
    -------
    pandas.DataFrame with ``line_id, order_id, refund_amount, refunded_at``.

    Examples
    --------
    >>> from crm_lab.data import read_refunds
    >>> refunds = read_refunds("aftersales.csv")  # doctest: +SKIP
    """
    raw = _read_raw(source, encoding)
    mapped, _ = _map_headers(raw, REFUND_HEADERS)
    for col in ("line_id", "refund_amount", "refund_status"):
        if col not in mapped:
            raise DataValidationError(
                "refunds", col, "— required column missing (all rows)", -1, pd.DataFrame(),
                f"the after-sales export needs {REFUND_HEADERS[col]}; it has {list(raw.columns)}",
            )
    ok = mapped["refund_status"].astype("str").str.contains("|".join(REFUND_SUCCESS), na=False)
    refunds = pd.DataFrame(
        {
            "line_id": clean_id(mapped["line_id"]),
            "order_id": clean_id(mapped["order_id"]) if "order_id" in mapped else pd.NA,
            "refund_amount": _to_number(mapped["refund_amount"]),
            "refunded_at": _to_datetime(mapped["refunded_at"], TIMEZONE) if "refunded_at" in mapped else pd.NaT,
        }
    )[ok]
    bad = refunds["refund_amount"].isna() | refunds["line_id"].isna()
    if bad.any():
        rows = refunds[bad].head(10).assign(_row=np.flatnonzero(ok.to_numpy())[bad.to_numpy()][:10] + 2)
        raise DataValidationError(
            "refunds", "refund_amount", "have a successful refund with no line id or amount", int(bad.sum()), rows,
            "complete 商品单号 and 退商品金额（元） in the after-sales export",
        )
    return (
        refunds.groupby("line_id", as_index=False)
        .agg(order_id=("order_id", "first"), refund_amount=("refund_amount", "sum"), refunded_at=("refunded_at", "max"))
        .astype({"line_id": "str"})
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
    phone_hash = _pii(raw, pii, salt)
    if "customer_id" not in df:
        if "buyer_nick" in df:
            # A buyer nick is an account name: keep only its salted hash.
            df["customer_id"] = "tb_" + hash_phone(df["buyer_nick"].astype("str"), salt).str[:20]
            df.loc[df["buyer_nick"].isna(), "customer_id"] = pd.NA
        elif phone_hash is not None:
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


def _coerce_duckdb(rel: Any, table: str) -> Any:
    """Cast a DuckDB relation's columns to canonical types; unparseable values flagged in _reason."""
    types = dict(zip(rel.columns, (str(t).upper() for t in rel.types)))
    want = {"str": "VARCHAR", "datetime": "TIMESTAMP", "int": "BIGINT", "float": "DOUBLE"}
    selects, reasons = [], []
    for col in rel.columns:
        kind = SCHEMA[table].get(col)
        quoted = '"' + col.replace('"', '""') + '"'
        if kind is None or types[col].startswith(want[kind]) or (kind == "int" and types[col] in ("INTEGER", "SMALLINT", "TINYINT", "HUGEINT")):
            selects.append(quoted)
            continue
        if kind == "str":
            selects.append(f"CAST({quoted} AS VARCHAR) AS {quoted}")
            continue
        selects.append(f"TRY_CAST({quoted} AS {want[kind]}) AS {quoted}")
        reasons.append(f"WHEN {quoted} IS NOT NULL AND TRY_CAST({quoted} AS {want[kind]}) IS NULL THEN 'unparseable {col}'")
    if not reasons:
        return rel
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
) -> Any:
    """Open a canonical table (Parquet/CSV path or frame) and validate it, without collecting it.

    Parameters
    ----------
    source : path or frame
    table : str
        Name in :data:`SCHEMA`.
    validated : bool
        Run :func:`validate` (one pass over the data).

    Returns
    -------
    A lazy DuckDB relation for paths; the same kind of frame as given otherwise.

    Examples
    --------
    >>> import crm_lab as cl
    >>> members = cl.data.read_table("data/demo/members.parquet", "members")  # doctest: +SKIP
    """
    if isinstance(source, (str, os.PathLike)):
        frame = _coerce_duckdb(engine.open_file(source), table)
    elif isinstance(source, pd.DataFrame) and _needs_coerce(source, table):
        coerced = _coerce(source, table, TIMEZONE)
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
        if kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(dtype):
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
                    tables[t] = read_table(candidate, t, validated=False)
                    break
    if "orders" not in tables:
        raise FileNotFoundError(f"{path}: no orders table (orders.parquet, orders.csv or orders/)")
    extracted = pd.Timestamp(meta["as_of"]) if meta.get("as_of") else None
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else extracted
    if as_of_ts is not None and extracted is not None and as_of_ts.normalize() > extracted.normalize():
        raise ValueError(f"{path}: as_of {as_of_ts:%Y-%m-%d} is after the data's extraction at {extracted} (shop.json): "
                         f"nothing after it is known, and audiences would come out empty. Fix: an as_of up to {extracted:%Y-%m-%d}")
    if validated:
        # Rows after the extraction are errors; rows after an earlier as_of (a backfill, a
        # backtest) are data the analyses leave out, not bad data.
        check = max(as_of_ts, extracted) if as_of_ts is not None and extracted is not None else as_of_ts
        tables = {t: validate(f, t, as_of=check) for t, f in tables.items()}
    source = {"path": str(path), "extracted_at": None if extracted is None else str(extracted), "fingerprint": snapshot_key(path)}
    return Shop(**tables, as_of=as_of_ts, name=name or meta.get("name", path.stem), source=source)


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
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.relative_to(root) if root.is_dir() else f.name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def write_shop(shop: Shop, folder: str | os.PathLike[str]) -> Path:
    """Write a shop's tables as Parquet files plus ``shop.json`` (name, as_of); atomic per file.

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
    meta = {"name": shop.name, "as_of": None if shop.as_of is None else str(shop.as_of)}
    atomic_text(out / "shop.json", json.dumps(meta, ensure_ascii=False, indent=1))
    return out
