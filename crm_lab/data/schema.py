"""The canonical schema and its validation: tables, columns, types, keys and the rules rows obey.

Every analysis reads the same canonical tables (:data:`SCHEMA`); a reader of any source ends in
:func:`validate`, which either raises a :class:`DataValidationError` naming the table, column,
rows and fix, or sets the bad rows aside in a quarantine file. :class:`Shop` holds a shop's tables.

Examples
--------
>>> from crm_lab.data import SCHEMA
>>> sorted(SCHEMA)
['benefits', 'coupons', 'events', 'members', 'orders', 'products', 'referrals', 'touches', 'unpaid_orders']
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import narwhals as nw
import numpy as np
import pandas as pd

from crm_lab import engine
from crm_lab.data.pii import PERSONAL_HEADERS, PLACEHOLDERS
from crm_lab.data.raw import _norm_header, _to_datetime, _to_number, clean_id, scientific_ids
from crm_lab.files import atomic_frame as atomic_write
from crm_lab.periods import observation_end

log = logging.getLogger("crm_lab.data")


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
        "shipped_at": "datetime",
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
    # 会员权益 and 优惠券: what the platform's member-system rules are checked on (crm_lab.lifecycle).
    "benefits": {"benefit_id": "str", "kind": "str", "starts_at": "datetime", "ends_at": "datetime", "members_only": "int"},
    "coupons": {"coupon_id": "str", "audience": "str", "discount": "float", "threshold": "float", "starts_at": "datetime",
                "ends_at": "datetime"},
    # 裂变: who brought whom into the membership (crm_lab.lifecycle.funnel).
    "referrals": {"referrer_id": "str", "referred_id": "str", "referred_at": "datetime"},
}


#: Columns a table cannot do without; the others are filled with nulls (or 0 for refunds).
REQUIRED: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "line_id", "customer_id", "paid_at", "product_id", "quantity", "paid_amount"),
    "unpaid_orders": ("order_id", "customer_id", "created_at"),
    "members": ("customer_id", "joined_at"),
    "products": ("product_id",),
    "touches": ("touch_id", "campaign_id", "customer_id", "sent_at", "group"),
    "events": ("customer_id", "event", "at"),
    "benefits": ("benefit_id", "starts_at", "members_only"),
    "coupons": ("coupon_id", "audience", "discount", "starts_at"),
    "referrals": ("referrer_id", "referred_id", "referred_at"),
}


#: Natural key of each table: duplicates of it are errors.
KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("line_id",),
    "unpaid_orders": (),
    "members": ("customer_id",),
    "products": ("product_id", "sku_id"),
    "touches": ("touch_id",),
    "events": (),
    "benefits": ("benefit_id",),
    "coupons": ("coupon_id",),
    "referrals": ("referred_id",),
}


GENRES = ("live", "short_video", "product_card", "other")


TOUCH_GROUPS = ("treatment", "control")


#: Who a coupon is for: members only (会员券) or every buyer of the store (店铺券).
COUPON_AUDIENCES = ("member", "store")


EVENTS = ("live_view", "add_to_cart", "product_view", "follow")



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
    text = ""
    for col, label in (("_row", "file lines"), ("_pos", "rows")):
        if col in rows:
            text = f"{label} " + ", ".join(str(v) for v in rows[col].head(5))
    if "_raw" in rows and rows["_raw"].notna().any():
        text += ("; " if text else "") + "values " + ", ".join(repr(v) for v in rows["_raw"].dropna().head(5))
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
    calendar : dict
        The shop's promotions: event name -> (first day, last day), e.g. ``{"d11_2025":
        ("2025-10-20", "2025-11-11")}``; kept in ``shop.json``. Planning functions accept these
        names for events and baselines.
    source : dict
        Where the tables came from (:func:`read_shop`: the folder, its extraction time and a
        fingerprint of its files), recorded in every export's manifest; empty for frames in memory.
    currency : str
        ISO code of the shop's money (``CNY``, ``GBP``, ``USD`` ...), kept in ``shop.json``; every
        amount a report prints carries its sign.
    tz : str
        The shop's time zone: its naive timestamps are local time there.
    holdout : dict or None
        The shop's global holdout, ``{"share": 0.05, "key": "..."}``, kept in ``shop.json``: a stable
        share of customers (keyed hash, :func:`crm_lab.splits.in_holdout`) every audience leaves out
        by default, so that :func:`crm_lab.program.program_report` can measure the whole CRM
        programme. None: no global holdout.
    """

    orders: Any
    members: Any = None
    products: Any = None
    touches: Any = None
    events: Any = None
    unpaid_orders: Any = None
    benefits: Any = None
    coupons: Any = None
    referrals: Any = None
    truth: dict[str, Any] = field(default_factory=dict)
    as_of: pd.Timestamp | None = None
    name: str = "shop"
    calendar: dict[str, tuple[str, str]] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    currency: str = "CNY"
    tz: str = TIMEZONE
    holdout: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.currency, str) and len(self.currency) == 3 and self.currency.isalpha()):
            raise ValueError(f"currency={self.currency!r}: give an ISO 4217 code such as 'CNY', 'GBP' or 'USD'")
        self.currency = self.currency.upper()
        if self.holdout is not None:
            share, key = self.holdout.get("share"), self.holdout.get("key")
            if not (isinstance(share, (int, float)) and 0 < share < 0.5 and isinstance(key, str) and key):
                raise ValueError(f"holdout={self.holdout!r}: give {{'share': a share in (0, 0.5), 'key': the shop's fixed text key}}")

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


#: Id columns that identify a row or a person: a placeholder in them is an error, not a null.
KEY_IDS = ("customer_id", "order_id", "line_id", "touch_id")


#: The placeholders as written (NULL, Null, null ...): matched as they are, with no lower-casing
#: of every id on every validation.
PLACEHOLDER_FORMS = sorted({form for p in PLACEHOLDERS for form in (p, p.upper(), p.title(), p.capitalize())})


#: Problems :func:`_coerce` finds in values, with their fix.
PARSE_FIXES: dict[str, str] = {
    "have an unreadable date": "write dates as YYYY-MM-DD HH:MM:SS (an offset such as +08:00 is converted to the shop's time zone)",
    "have an unreadable number": "write amounts with a decimal point (12.5, not 12,5), no inf or text",
    "have a non-integer quantity": "quantities are whole units; a fractional one is a unit or weight column mapped by mistake",
    "have an id in scientific notation": "the id lost its digits in Excel or a float column: export the file again with "
                                         "ids as text (CSV, or format the column as Text in Excel), or read it with dtype=str",
    "have a placeholder id": "0, -, NULL, None and blanks mean 'no id': keep those rows out, or quarantine them",
}


def _coerce(df: pd.DataFrame, table: str, tz: str, dayfirst: bool | None = None) -> pd.DataFrame:
    """Canonical columns and types; ``_reason`` names the first value that did not parse
    (``"<column>: <problem>"``, see :data:`PARSE_FIXES`) and ``_raw`` keeps that value as read."""
    schema = SCHEMA[table]
    out = pd.DataFrame(index=df.index)
    reason = pd.Series(pd.NA, index=df.index, dtype="object")
    raw_value = pd.Series(pd.NA, index=df.index, dtype="object")

    def flag(bad: pd.Series, col: str, problem: str) -> None:
        nonlocal reason, raw_value
        new = bad & reason.isna()
        if new.any():  # most columns have nothing to flag: no text copy of them
            reason = reason.mask(new, f"{col}: {problem}")
            raw_value = raw_value.mask(new, df[col].astype("str"))

    for col, kind in schema.items():
        if col not in df:
            out[col] = _empty(col, kind, df.index)
            continue
        raw = df[col]
        if kind == "str":
            if col in engine.ID_COLUMNS:
                ids = clean_id(raw)
                flag(scientific_ids(ids), col, "have an id in scientific notation")
                placeholder = ids.str.lower().isin(PLACEHOLDERS).fillna(False).astype(bool)
                if col in KEY_IDS and col in REQUIRED[table]:
                    flag(placeholder, col, "have a placeholder id")  # 0 / - as a customer is no customer
                out[col] = ids.where(~placeholder)  # elsewhere (influencer 0, sku -) it means none
            else:
                text = raw.astype("str").str.strip().where(raw.notna())
                out[col] = text.where(text != "")
            continue
        where = f"{table}.{col}"
        parsed = _to_datetime(raw, tz, dayfirst, where) if kind == "datetime" else _to_number(raw)
        present = raw.notna() & (raw.astype("str").str.strip() != "")
        flag(present & parsed.isna(), col, "have an unreadable date" if kind == "datetime" else "have an unreadable number")
        if kind == "int":
            fractional = parsed.notna() & (parsed != np.floor(parsed.fillna(0)))
            flag(fractional, col, "have a non-integer quantity" if col == "quantity" else "have an unreadable number")
            parsed = parsed.where(~fractional)
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
    out["_raw"] = raw_value.astype("str").where(raw_value.notna())
    return out


def _empty(col: str, kind: str, index: pd.Index) -> pd.Series:
    """A column the source lacks: nulls (refunds: 0)."""
    if col == "refund_amount":
        return pd.Series(0.0, index=index)
    if kind == "datetime":
        return pd.Series(pd.NaT, index=index, dtype="datetime64[us]")
    if kind in ("float", "int"):
        return pd.Series(np.nan, index=index)
    return pd.Series(pd.NA, index=index, dtype="str")


def _rules(table: str, cols: list[str], as_of: pd.Timestamp | None, frame: nw.LazyFrame) -> list[tuple[str, str, nw.Expr, str]]:
    """(column, problem, expression true on bad rows, fix) for the table's columns present."""
    rules: list[tuple[str, str, nw.Expr, str]] = []
    for col in REQUIRED[table]:
        if col in cols:
            rules.append(
                (col, f"have no {col}", nw.col(col).is_null(), f"fill {col} in the source, or quarantine these rows")
            )
    # On canonical files only the customer is checked for placeholders (one pass over one column):
    # a 0 customer merges buyers, while a placeholder order or line id repeats and fails the key check.
    for col in ("customer_id",):
        if col in REQUIRED[table] and col in cols:
            rules.append((col, "have a placeholder id", nw.col(col).is_in(PLACEHOLDER_FORMS), PARSE_FIXES["have a placeholder id"]))
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
    if table == "coupons" and "audience" in cols:
        rules.append(("audience", f"have an audience outside {COUPON_AUDIENCES}", ~nw.col("audience").is_in(COUPON_AUDIENCES),
                      "audience must be 'member' (会员券) or 'store' (店铺券)"))
    if table in ("benefits", "coupons") and {"starts_at", "ends_at"} <= set(cols):
        rules.append(("ends_at", "end before they start", nw.col("ends_at") < nw.col("starts_at"), "check starts_at and ends_at"))
    if table == "events" and "event" in cols:
        rules.append(("event", f"have an event outside {EVENTS}", ~nw.col("event").is_in(EVENTS), f"event must be one of {EVENTS}"))
    time_col = {"orders": "paid_at", "unpaid_orders": "created_at", "members": "joined_at", "touches": "sent_at", "events": "at",
                "benefits": "starts_at", "coupons": "starts_at", "referrals": "referred_at"}.get(table)
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


def _refuse_personal(cols: list[str], table: str) -> None:
    personal = {_norm_header(h).lower() for h in PERSONAL_HEADERS}
    found = [c for c in cols if c not in SCHEMA[table] and _norm_header(c).lower() in personal]
    if found:
        raise DataValidationError(
            table, ", ".join(found), "— personal data in clear text (all rows)", -1, pd.DataFrame(),
            "a canonical table holds no phone, name or address: hash phones with crm_lab.data.hash_phone into "
            "phone_hash (or keep them in the contacts table of crm-lab import) and drop the clear columns",
        )


def _quarantine_file(table: str, quarantine: Any, source: Any) -> Path:
    """The file quarantined rows go to: the caller's, else a new one per source file and run."""
    if quarantine is not None:
        target = Path(quarantine)
    else:
        stem = f".{Path(source).stem}" if source is not None else ""
        stamp = pd.Timestamp.now().strftime("%Y%m%dT%H%M%S")
        target = Path("quarantine") / f"{table}{stem}.{stamp}-{os.getpid()}.csv"
    if source is not None and Path(source).exists() and target.exists() and target.resolve() == Path(source).resolve():
        raise ValueError(f"quarantine={target}: that is the input file; quarantine writes beside it, never over it")
    if target.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"quarantine={target}: give a .csv or .parquet file")
    return target


def _read_quarantine(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path, dtype=str)


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
    source: str | os.PathLike[str] | None = None,
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
        ``"quarantine"``: bad rows are written, with their ``source`` file, the time, a ``reason``
        and the ``raw_value`` that failed, to a new file per run (``quarantine/<table>.<source>.<time>.csv``)
        or appended to ``quarantine``; counted in the log and a warning; the rest is returned.
    quarantine : path, optional
        A quarantine file to append to (CSV or Parquet by suffix); never an input file.
    source : path, optional
        The file the table was read from: named in quarantine files, which may never replace it.

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
    _refuse_personal(cols, table)
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else None
    rules = _rules(table, cols, as_of_ts, lf)
    has_reason = "_reason" in cols
    helpers = [c for c in ("_reason", "_raw") if c in cols]  # _coerce's columns, never in what is returned
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
        return frame if not has_reason else engine.to_native(lf.drop(*helpers))
    summary = "; ".join(f"{r} ({n})" for r, n in zip(counts["_reason"], counts["n"]))
    if errors == "raise":
        first = str(counts["_reason"].iloc[0])
        col, _, problem = first.partition(": ")
        fix = PARSE_FIXES.get(problem) or next((f for c, p, _b, f in rules if c == col and p == problem), "correct the values in the source")
        rows = engine.collect(flagged.filter(nw.col("_reason") == first).head(10))
        count = int(counts["n"].iloc[0])
        log.error("%s: %s", table, summary)
        raise DataValidationError(
            table, col, problem, count, rows, f"{fix}; or pass errors='quarantine' to set bad rows aside (all problems: {summary})"
        )
    bad_rows = engine.collect(flagged).rename(columns={"_reason": "reason", "_raw": "raw_value"})
    target = _quarantine_file(table, quarantine, source)
    bad_rows.insert(0, "quarantined_at", pd.Timestamp.now().floor("s"))
    bad_rows.insert(0, "source", "" if source is None else Path(source).name)
    if target.exists():  # a file the caller named: appended to, never replaced
        bad_rows = pd.concat([_read_quarantine(target), bad_rows], ignore_index=True)
    atomic_write(bad_rows, target)
    n_bad = int(counts["n"].sum())
    message = f"{table}: {n_bad} row(s) quarantined to {target} ({summary})"
    log.warning(message)
    warnings.warn(message, stacklevel=2)
    good = checked.filter(nw.col("_reason").is_null()).drop("_reason", *[c for c in helpers if c != "_reason"])
    return engine.to_native(good)
