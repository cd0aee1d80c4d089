"""Column mappings: how any export's columns become canonical ones, kept as a small YAML file.

A mapping names, per canonical table, which source column fills each canonical column (and a few
helpers the readers derive from: ``unit_price``, ``phone``, ``buyer_nick``, ``open_id``), plus the
file's conventions. It is data, read with ``yaml.safe_load`` and checked key by key: never code.

.. code-block:: yaml

    # mappings/online_retail.yaml
    name: online_retail
    currency: GBP
    tz: Europe/London
    orders:
      order_id: InvoiceNo
      customer_id: CustomerID
      paid_at: InvoiceDate
      product_id: StockCode
      product_name: Description
      quantity: Quantity
      unit_price: UnitPrice      # paid_amount = unit_price x quantity

Examples
--------
>>> from crm_lab.data.mapping import Mapping
>>> m = Mapping.from_dict({"orders": {"order_id": "InvoiceNo", "customer_id": "CustomerID"}})
>>> m.columns("orders")
{'order_id': 'InvoiceNo', 'customer_id': 'CustomerID'}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crm_lab.data.raw import _norm_header
from crm_lab.data.schema import SCHEMA

#: Source columns a reader derives canonical ones from, by table (besides the table's own columns).
HELPERS: dict[str, tuple[str, ...]] = {
    "orders": ("unit_price", "product_name", "phone", "buyer_nick", "open_id", "status", "province", "city"),
    "members": ("phone", "buyer_nick", "open_id"),
    "products": (),
    "touches": (),
    "events": (),
}

#: File conventions a mapping may set, with their types.
OPTIONS: dict[str, type] = {"name": str, "currency": str, "tz": str, "dayfirst": bool, "channel": str, "encoding": str}


@dataclass(frozen=True)
class Mapping:
    """Canonical column -> source column, per table, and the file's conventions.

    Attributes
    ----------
    tables : dict
        Table name -> {canonical or helper column: source column}.
    options : dict
        ``name``, ``currency`` (ISO code, default CNY), ``tz`` (the timestamps' zone when they
        carry none), ``dayfirst``, ``channel`` (written to ``orders.channel``), ``encoding``.
    """

    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, spec: dict[str, Any], where: str = "mapping") -> "Mapping":
        """Check a mapping given as a dict (as YAML reads it): known tables, columns and options."""
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: a mapping is a dict of tables and options, not {type(spec).__name__}")
        tables, options = {}, {}
        for key, value in spec.items():
            if key in SCHEMA:
                tables[key] = _check_columns(key, value, where)
            elif key in OPTIONS:
                if not isinstance(value, OPTIONS[key]):
                    raise ValueError(f"{where}: {key} must be a {OPTIONS[key].__name__}, not {value!r}")
                options[key] = value
            else:
                raise ValueError(f"{where}: unknown key {key!r}; expected tables {sorted(SCHEMA)} or options {sorted(OPTIONS)}")
        return cls(tables, options)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> "Mapping":
        """Read a mapping YAML file (``yaml.safe_load``: data only, no tags, no code)."""
        import yaml

        text = Path(path).read_text(encoding="utf-8")
        try:
            spec = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not a YAML mapping ({exc})") from None
        return cls.from_dict(spec, where=str(path))

    def columns(self, table: str) -> dict[str, str]:
        """The mapping of one table ({} when it maps none)."""
        return dict(self.tables.get(table, {}))


def _check_columns(table: str, columns: Any, where: str) -> dict[str, str]:
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise ValueError(f"{where}: {table} maps canonical columns to source column names (text), e.g. order_id: 订单号")
    allowed = set(SCHEMA[table]) | set(HELPERS.get(table, ()))
    unknown = sorted(set(columns) - allowed)
    if unknown:
        raise ValueError(f"{where}: {table} has no column(s) {unknown}; it takes {sorted(allowed)}")
    return {str(k): v for k, v in columns.items()}


def apply_columns(raw: pd.DataFrame, columns: dict[str, str], table: str, source: Any) -> pd.DataFrame:
    """The mapped columns of ``raw`` under their canonical names; a source column the file lacks
    is an error naming the file and the columns it has."""
    by_norm = {_norm_header(c): c for c in raw.columns}
    missing = [src for src in columns.values() if _norm_header(src) not in by_norm]
    if missing:
        name = source if isinstance(source, (str, os.PathLike)) else "the frame"
        raise ValueError(f"{name}: {table} mapping names column(s) {missing} that are not there; it has "
                         f"{[str(c) for c in raw.columns]}. Fix: correct the mapping (names are compared without spaces)")
    return pd.DataFrame({canonical: raw[by_norm[_norm_header(src)]] for canonical, src in columns.items()}, index=raw.index)
