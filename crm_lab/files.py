"""Files a scheduled run writes: atomic writes, safe names, staging folders and stale leftovers.

Every file crm_lab publishes goes through here, so that a reader (an SMS pickup job, a browser,
the next run) never sees half a file and no name from a params file or the command line can
point outside the folder it is meant for.

* :func:`atomic_text`, :func:`atomic_frame`: write to a temporary name beside the target, then
  rename it into place (a rename within one folder is atomic).
* :func:`file_token`: a report, campaign or prefix name is one plain file-name token.
* :func:`inside`: join names under a folder and refuse any result outside it.
* :func:`replace_dir`: publish a fully built folder in place of an older one.
* :func:`clean_stale`: remove the temporary files of runs that died (SIGKILL, power cut).

Temporary names carry the writing process id (``.<name>.<pid>.<random>.tmp``), so that two
writers never share one and a later run can tell a dead writer's leftovers from a live one's.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from crm_lab.files import atomic_text, file_token, inside
>>> folder = Path(tempfile.mkdtemp())
>>> atomic_text(inside(folder, file_token("d11_2025", "campaign"), "a.txt"), "hello").read_text()
'hello'
>>> file_token("../x", "name")
Traceback (most recent call last):
...
ValueError: name '../x' is not a plain name: use letters, digits, '_' and '-' only (no '/', '\\', '..' or leading '.')
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["atomic_text", "atomic_frame", "file_token", "inside", "replace_dir", "clean_stale", "temp_path", "run_id"]

#: A plain file-name token: letters (Chinese too), digits, ``_`` and ``-``; not starting with ``-``.
_TOKEN = re.compile(r"^[^\W][\w\-]*$")
_TEMP = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.(tmp|running\.ipynb|staging)$")


def file_token(value: Any, what: str) -> str:
    """Check that ``value`` is one plain file-name token and return it.

    A name from a params file or the command line (campaign, report name, file prefix) becomes
    part of a path: separators, ``..``, absolute paths and leading dots are refused so that it
    can never point outside the output folder or hide a file.

    Raises
    ------
    ValueError
        Naming ``what`` and the value, with the characters allowed.

    Examples
    --------
    >>> from crm_lab.files import file_token
    >>> file_token("新会员_daily-1", "campaign")
    '新会员_daily-1'
    """
    text = str(value) if value is not None else ""
    if not isinstance(value, str) or not _TOKEN.match(text) or len(text) > 120:
        raise ValueError(f"{what} {text!r} is not a plain name: use letters, digits, '_' and '-' only "
                         r"(no '/', '\', '..' or leading '.')")
    return text


def inside(folder: str | os.PathLike[str], *parts: str) -> Path:
    """``folder / parts...``, refused when the result would lie outside ``folder``.

    Raises
    ------
    ValueError
        A part is absolute or climbs out with ``..`` (directly or through a link).

    Examples
    --------
    >>> from crm_lab.files import inside
    >>> inside("reports", "demo", "a.html").as_posix()
    'reports/demo/a.html'
    >>> inside("reports", "../etc/passwd")
    Traceback (most recent call last):
    ...
    ValueError: '../etc/passwd' points outside reports: give a name inside the folder
    """
    root = Path(folder)
    target = root.joinpath(*parts)
    resolved_root = root.resolve()
    resolved = target.resolve()
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise ValueError(f"{'/'.join(parts)!r} points outside {root}: give a name inside the folder")
    return target


def run_id() -> str:
    """An id for one run, recorded in what it publishes: start time, process id and a random part.

    Examples
    --------
    >>> from crm_lab.files import run_id
    >>> len(run_id().split("-"))
    3
    """
    import datetime as dt

    return f"{dt.datetime.now():%Y%m%dT%H%M%S}-{os.getpid()}-{secrets.token_hex(3)}"


def temp_path(target: str | os.PathLike[str], kind: str = "tmp") -> Path:
    """A temporary name beside ``target``, unique to this process and call: ``.<name>.<pid>.<hex>.<kind>``."""
    target = Path(target)
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.{kind}")


def _publish(tmp: Path, target: Path) -> Path:
    try:
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def atomic_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically (a reader sees the old file or the new one, never half).

    Examples
    --------
    >>> import os, tempfile
    >>> from crm_lab.files import atomic_text
    >>> atomic_text(os.path.join(tempfile.mkdtemp(), "x.json"), "{}").name
    'x.json'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        tmp.write_text(text, encoding="utf-8")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _publish(tmp, target)


def atomic_frame(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame to CSV (UTF-8) or Parquet, by suffix, atomically.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from crm_lab.files import atomic_frame
    >>> atomic_frame(pd.DataFrame({"a": [1]}), os.path.join(tempfile.mkdtemp(), "x.csv")).suffix
    '.csv'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        if target.suffix.lower() in (".parquet", ".pq"):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, encoding="utf-8")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _publish(tmp, target)


def replace_dir(built: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Put the fully built folder ``built`` in place of ``target`` (which may exist).

    The old folder is first renamed aside and removed only after the new one is in place, so a
    reader sees the old set or the new set; a kill between the two renames leaves no target for
    an instant, never a mixed one (and :func:`clean_stale` removes the renamed-aside copy).
    """
    built, target = Path(built), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = temp_path(target, "staging") if target.exists() else None
    if old is not None:
        os.replace(target, old)
    os.replace(built, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_stale(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files and staging folders left under ``folder`` by processes that died.

    Returns the paths removed. Leftovers of a live process (another run writing now) are kept.

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> from crm_lab.files import clean_stale
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / ".a.html.999999999.0123abcd.tmp").write_text("half")
    >>> [p.name for p in clean_stale(folder)]
    ['.a.html.999999999.0123abcd.tmp']
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    removed = []
    for path in sorted(root.rglob(".*")):
        match = _TEMP.match(path.name)
        if not match or _alive(int(match.group(1))) or not path.exists():
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
