"""The contacts table: per customer, the keys ad and SMS platforms match on, kept apart from analyses.

Platforms match audiences on *unsalted* hashes of the plain number: 巨量引擎 (Ocean Engine) DMP
audience packages on SHA-256 of the 11-digit phone, Tencent 广点通 (GDT) customer-file audiences
on MD5 of it (``HASH_MOBILE_PHONE``), both as lowercase hex; 抖店 in-shop SMS on
``doudian_open_id``. An unsalted phone hash can be reversed by trying all 10^10 numbers, so these
keys never enter a canonical table, a report or a log: :func:`contacts_from_export` builds them on
import into ``<shop>/contacts/contacts.parquet`` (owner-only permissions), and only
:meth:`crm_lab.audience.Audience.export` reads that file.

Examples
--------
>>> import pandas as pd
>>> from crm_lab.data.contacts import platform_hashes
>>> platform_hashes(pd.Series(["+86 138-0013-8000"]))["phone_md5"].iloc[0]
'7945bd83237335e5376ff44d62e4f0ae'
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

from crm_lab.data.pii import PLACEHOLDERS, _masked, normalise_phone
from crm_lab.data.raw import clean_id

#: Columns of the contacts table.
CONTACT_COLUMNS = ("customer_id", "phone_sha256", "phone_md5", "doudian_open_id")

#: Export formats and the contacts column each needs (``ids`` needs none).
PLATFORM_KEYS = {"oceanengine_dmp": "phone_sha256", "tencent_gdt": "phone_md5", "doudian_open_id": "doudian_open_id"}


def platform_hashes(phones: pd.Series) -> pd.DataFrame:
    """SHA-256 and MD5 (lowercase hex) of whole 11-digit mainland mobiles; masked or partial
    numbers give nulls, never a hash of a fragment.

    Parameters
    ----------
    phones : Series
        Phone numbers as exported (``+86 138-0013-8000``, ``'13800138000`` ...).
    """
    text = clean_id(phones)
    whole = normalise_phone(text.where(~_masked(text)).fillna(""))
    whole = whole.where(whole.str.fullmatch(r"1\d{10}").fillna(False).astype(bool))
    uniques = whole.dropna().unique()
    sha = {p: hashlib.sha256(p.encode()).hexdigest() for p in uniques}
    md5 = {p: hashlib.md5(p.encode()).hexdigest() for p in uniques}  # noqa: S324 - the platform's own key
    return pd.DataFrame({"phone_sha256": whole.map(sha), "phone_md5": whole.map(md5)}, index=phones.index)


def contacts_from_export(customer_ids: pd.Series, phones: pd.Series | None, open_ids: pd.Series | None) -> pd.DataFrame:
    """One row per distinct (customer, phone, open id) of an export, with the platform keys.

    Rows with no key at all are left out; a customer with two phones has two rows (both are
    uploaded, the platform matches either).
    """
    ids = customer_ids.astype("str").where(customer_ids.notna())
    frame = pd.DataFrame({"customer_id": ids.where(~ids.str.lower().isin(PLACEHOLDERS))})
    hashes = platform_hashes(phones) if phones is not None else pd.DataFrame(index=frame.index, columns=["phone_sha256", "phone_md5"])
    frame = frame.join(hashes)
    frame["doudian_open_id"] = clean_id(open_ids) if open_ids is not None else pd.NA
    keyed = frame.dropna(subset=["customer_id"]).dropna(subset=["phone_sha256", "doudian_open_id"], how="all")
    return keyed.drop_duplicates().astype("str").where(keyed.notna()).reset_index(drop=True)[list(CONTACT_COLUMNS)]


def merge_contacts(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """Contacts of an earlier import and this one, each distinct row once."""
    both = new if old is None else pd.concat([old, new], ignore_index=True)
    return both.drop_duplicates().reset_index(drop=True)


def read_contacts(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The contacts file of a shop folder (``Shop.source['contacts']``)."""
    return pd.read_parquet(Path(path)).reindex(columns=list(CONTACT_COLUMNS))


def keys_for(contacts: pd.DataFrame, customer_ids: pd.Series, key: str) -> tuple[pd.DataFrame, int]:
    """``customer_id, <key>`` for the audience (a customer may have several keys) and how many
    of the audience have none."""
    have = contacts.dropna(subset=[key])[["customer_id", key]].drop_duplicates()
    rows = pd.DataFrame({"customer_id": customer_ids.astype("str")}).merge(have, on="customer_id", how="inner")
    return rows, int((~customer_ids.astype("str").isin(have["customer_id"])).sum())


def restrict(path: Path) -> None:
    """Owner-only permissions on the contacts folder and file (best effort where chmod exists)."""
    try:
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    except OSError:
        pass
