"""Personal data in exports: phones hashed with a secret salt, names and addresses dropped.

Examples
--------
>>> from crm_lab.data import hash_phone
>>> len(hash_phone(["13800138000"], salt="a-long-shop-secret").iloc[0])
64
"""

from __future__ import annotations

import hashlib
import os
import warnings

import pandas as pd

from crm_lab.data.raw import _find, clean_id


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


#: Columns that hold personal data in clear text: never in a canonical table, quarantine file or log.
PERSONAL_HEADERS = PHONE_HEADERS + DROP_HEADERS + ("receiver", "receiver_name", "receiver_phone", "receiver_address",
                                                  "post_tel", "post_receiver", "post_addr", "mask_post_tel", "mask_post_receiver")


#: The shortest salt accepted: 11-digit phones are a space of 10^10, so a short salt can be
#: guessed together with every phone behind its hashes.
MIN_SALT = 16


def _salt(salt: str | None) -> str:
    salt = salt if salt is not None else os.environ.get(SALT_ENV)
    if not salt:
        raise ValueError(
            "A phone number must be hashed with a secret salt, and none is set. Fix: pass salt='...' "
            f"or set the environment variable {SALT_ENV}; keep the same salt for every file of the shop "
            "so that hashes match across files. Or pass pii='drop' to discard phone numbers unhashed."
        )
    if len(salt) < MIN_SALT:
        raise ValueError(
            f"The salt has {len(salt)} characters; at least {MIN_SALT} are needed. Phones are only 10^10 "
            "numbers: with a short salt, whoever has the hashes can try every salt and phone and read the "
            "numbers back. Fix: a random secret, e.g. python -c \"import secrets; print(secrets.token_urlsafe(24))\""
        )
    return salt


def normalise_phone(values: pd.Series) -> pd.Series:
    """Digits only, without a +86/0086 country prefix; empty -> null."""
    digits = values.astype("str").str.replace(r"\D", "", regex=True)
    digits = digits.str.replace(r"^(0086|86)(?=1\d{10}$)", "", regex=True)
    return digits.where(digits.str.len() > 0)


#: Placeholders that mean "no value" in exports, never an identity.
PLACEHOLDERS = frozenset({"", "-", "--", "—", "0", "null", "none", "nan", "n/a", "na", "无", "未知"})


def masked_phones(values: pd.Series) -> pd.Series:
    """True where a phone is present but not a whole mainland mobile number: masked (``138****5678``),
    encrypted, or of the wrong length. Such a value is not an identity: different buyers share it.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.data.pii import masked_phones
    >>> masked_phones(pd.Series(["138****5678", "+86 138 0013 8000", "#A1b2C3==", None])).tolist()
    [True, False, True, False]
    """
    return _masked(clean_id(values))  # Excel's ="…" and leading apostrophe are not masks


def _masked(text: pd.Series) -> pd.Series:
    """:func:`masked_phones` of values already through :func:`~crm_lab.data.raw.clean_id`."""
    present = text.notna() & ~text.str.lower().isin(PLACEHOLDERS)
    whole = normalise_phone(text.fillna("")).str.fullmatch(r"1\d{10}").fillna(False)
    # Separators (spaces, dashes, a +86 prefix) are fine; anything else (*, letters) is a mask or a cipher.
    clean = text.str.fullmatch(r"[+\d\s().-]+").fillna(False)
    return (present & ~(whole & clean)).astype(bool)


def hash_text(values: pd.Series, salt: str | None = None) -> pd.Series:
    """Salted SHA-256 of text ids (buyer nicks, open ids), NFKC-normalised and stripped; nulls and
    placeholders (``-``, ``NULL`` ...) become null. Unlike :func:`hash_phone` nothing is dropped:
    ``tb1234_alice`` and ``tb1234_bob`` stay two people, ``小明`` gets an id.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.data.pii import hash_text
    >>> h = hash_text(pd.Series(["tb1234_alice", "tb1234_bob", "小明", "-"]), salt="s" * 16)
    >>> h.iloc[0] != h.iloc[1], h.iloc[2] is not None, h.iloc[3] is pd.NA
    (True, True, True)
    """
    import unicodedata

    key = _salt(salt).encode("utf-8")
    raw = values.astype("str").where(values.notna())
    # Each distinct id is normalised and hashed once; placeholders map to nothing.
    normal = {v: unicodedata.normalize("NFKC", v).strip() for v in raw.dropna().unique()}
    table = {v: hashlib.sha256(key + b"text:" + n.encode("utf-8")).hexdigest()
             for v, n in normal.items() if n.lower() not in PLACEHOLDERS}
    return raw.map(table).astype("string")


def hash_phone(values: pd.Series | list[str], salt: str | None = None) -> pd.Series:
    """Salted SHA-256 of normalised phone numbers (hex); nulls, and masked or partial numbers
    (:func:`masked_phones`), stay null: a part of a number is never hashed as if it were whole.

    Parameters
    ----------
    values : Series or list of str
        Phone numbers as exported (``'13800138000``, ``+86 138-0013-8000`` ...).
    salt : str, optional
        The shop's secret; defaults to the ``CRM_LAB_SALT`` environment variable.

    Examples
    --------
    >>> from crm_lab.data import hash_phone
    >>> h = hash_phone(["+86 138 0013 8000", "13800138000"], salt="a-long-shop-secret")
    >>> bool(h[0] == h[1]), len(h[0])
    (True, 64)
    """
    series = pd.Series(values, dtype="object") if not isinstance(values, pd.Series) else values
    text = clean_id(series)
    return _hash_whole(text.where(~_masked(text)), salt)


def _hash_whole(text: pd.Series, salt: str | None) -> pd.Series:
    """:func:`hash_phone` of cleaned values whose masked ones are already null."""
    key = _salt(salt).encode("utf-8")
    phones = normalise_phone(text.where(text.notna(), ""))
    uniques = phones.dropna().unique()
    table = {p: hashlib.sha256(key + p.encode("utf-8")).hexdigest() for p in uniques}
    return phones.map(table).astype("str").where(phones.notna())


def _pii(raw: pd.DataFrame, pii: str, salt: str | None) -> tuple[pd.Series | None, str | None, pd.Series | None]:
    """The salted phone hash of an export, the phone column's name and which of its rows are masked."""
    phone_cols = _find(raw, PHONE_HEADERS)
    if not phone_cols or pii == "drop":
        return None, None, None
    column = phone_cols[0]
    text = clean_id(raw[column])
    masked = _masked(text)
    if masked.any():
        warnings.warn(f"column {column!r}: {int(masked.sum())} phone(s) masked, encrypted or not a whole mobile number "
                      "(e.g. 138****5678); they are not hashed (a masked phone is no identity: buyers share it)", stacklevel=4)
    return _hash_whole(text.where(~masked), salt), column, masked
