"""Personal data in exports: phones hashed with a secret salt, names and addresses dropped.

Examples
--------
>>> from crm_lab.data import hash_phone
>>> len(hash_phone(["13800138000"], salt="s3cret").iloc[0])
64
"""

from __future__ import annotations

import hashlib
import os

import pandas as pd

from crm_lab.data.raw import _find


SALT_ENV = "CRM_LAB_SALT"


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


def _pii(raw: pd.DataFrame, pii: str, salt: str | None) -> pd.Series | None:
    phone_cols = _find(raw, PHONE_HEADERS)
    if not phone_cols:
        return None
    if pii == "drop":
        return None
    return hash_phone(raw[phone_cols[0]], salt)
