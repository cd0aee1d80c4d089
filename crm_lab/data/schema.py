"""The canonical schema and its validation: tables, columns, types, keys and the rules rows obey.

Every analysis reads the same canonical tables (:data:`SCHEMA`); a reader of any source ends in
:func:`validate`, which either raises a :class:`DataValidationError` naming the table, column,
rows and fix, or sets the bad rows aside in a quarantine file. :class:`Shop` holds a shop's tables.

Examples
--------
>>> from crm_lab.data import SCHEMA
>>> sorted(SCHEMA)
['events', 'members', 'orders', 'products', 'touches', 'unpaid_orders']
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
from crm_lab.data.raw import _to_datetime, _to_number, clean_id
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
    calendar : dict
        The shop's promotions: event name -> (first day, last day), e.g. ``{"d11_2025":
        ("2025-10-20", "2025-11-11")}``; kept in ``shop.json``. Planning functions accept these
        names for events and baselines.
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
    calendar: dict[str, tuple[str, str]] = field(default_factory=dict)
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
