"""Data in: canonical tables, the readers of each source, validation and personal-data hashing.

The layer is a package, one module per job:

* :mod:`~crm_lab.data.schema` — the canonical tables (:data:`SCHEMA`), :class:`Shop`, :func:`validate`;
* :mod:`~crm_lab.data.canonical` — canonical Parquet / CSV / DuckDB files and frames, shop folders;
* :mod:`~crm_lab.data.exports` — shop exports by preset or column mapping (:func:`read_orders`);
* :mod:`~crm_lab.data.mapping` — column mappings kept as YAML; :mod:`~crm_lab.data.credits` —
  negative-quantity credit lines as refunds;
* :mod:`~crm_lab.data.importer` — ``crm-lab import``: exports into a shop folder, merged, with a quality report;
* :mod:`~crm_lab.data.contacts` — platform keys (DMP / GDT hashes, open ids), kept apart;
* :mod:`~crm_lab.data.douyin`, :mod:`~crm_lab.data.tmall` — each platform's headers and quirks;
* :mod:`~crm_lab.data.raw` — encodings, xlsx, header normalisation, ids as text;
* :mod:`~crm_lab.data.pii` — salted phone hashes; names and addresses dropped;
* :mod:`~crm_lab.data.tables` — small shared lookups (a line's net amount, product names).

To add a reader for a new source: a module beside ``douyin.py`` with its headers, registered in
``exports.PRESETS`` (or a function that returns canonical frames and ends in :func:`validate`).


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
>>> orders = cl.data.read_orders("ExportOrderList.csv", preset="douyin", salt="a-long-shop-secret")  # doctest: +SKIP
>>> shop = cl.data.read_shop("data/demo")  # doctest: +SKIP
"""

from __future__ import annotations

from crm_lab.data.canonical import atomic_write, read_shop, read_table, snapshot_key, write_shop
from crm_lab.data.douyin import read_refunds
from crm_lab.data.exports import PRESETS, read_export_table, read_orders, read_unpaid_orders
from crm_lab.data.importer import ImportReport, import_shop
from crm_lab.data.mapping import Mapping
from crm_lab.data.pii import hash_phone, normalise_phone
from crm_lab.data.raw import clean_id
from crm_lab.data.schema import (
    EVENTS,
    GENRES,
    KEYS,
    REQUIRED,
    SCHEMA,
    TIMEZONE,
    TOUCH_GROUPS,
    DataValidationError,
    Shop,
    validate,
)
from crm_lab.data.tables import OWN_SALES, PRODUCT_COLUMNS, kept_orders, net_amount, orders_of, product_names, products, required_table
from crm_lab.periods import observation_end, window_length

__all__ = [
    "SCHEMA",
    "REQUIRED",
    "KEYS",
    "GENRES",
    "EVENTS",
    "TOUCH_GROUPS",
    "TIMEZONE",
    "PRESETS",
    "DataValidationError",
    "Shop",
    "hash_phone",
    "normalise_phone",
    "clean_id",
    "read_orders",
    "read_export_table",
    "import_shop",
    "ImportReport",
    "Mapping",
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
    "products",
    "PRODUCT_COLUMNS",
    "orders_of",
    "net_amount",
    "kept_orders",
    "required_table",
    "OWN_SALES",
]
