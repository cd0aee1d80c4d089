"""The reports index: ``<out>/index.html`` rebuilt from every campaign's manifest.

Grouped by campaign, the latest run first; per report its name, campaign, the data's date, its
status (the page's badge, or failed / refused with the reason) and its one-line conclusion.

Rebuilt whole under a file lock by every run (so two runs finishing together both list each
other's reports; the last one to take the lock has read every manifest written before it) and
renamed into place. A manifest that cannot be read is a visible line in the index and a warning
in the log, never a failure of the run that found it.

Examples
--------
>>> from crm_lab.report import write_index
>>> write_index("reports")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import logging
import os
from pathlib import Path
from typing import Any

from filelock import FileLock

import crm_lab
from crm_lab.files import atomic_text
from crm_lab.report.display import note
from crm_lab.report.page import page

__all__ = ["write_index", "read_manifests"]

log = logging.getLogger(__name__)

_STATUS = {"ok": "已发布", "failed": '<span class="crm-failed">失败</span>',
           "refused": '<span class="crm-failed">未运行（缺少数据）</span>'}


def read_manifests(out: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every readable campaign manifest under ``out``, and one line per unreadable one."""
    manifests, problems = [], []
    for path in sorted(Path(out).glob("*/manifest.json")):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(manifest.get("reports"), list) or not isinstance(manifest.get("campaign"), str):
                raise ValueError("no campaign or reports list")
            manifests.append(manifest)
        except (OSError, ValueError, AttributeError) as exc:
            problems.append(f"{path.parent.name}/manifest.json 无法读取（{type(exc).__name__}），该活动的报告未列出")
            log.warning("index: skipped unreadable %s (%s)", path, exc)
    return manifests, problems


def _first_sentence(text: Any) -> str:
    text = str(text or "")
    cut = min((i for i in (text.find("。"), text.find("；")) if i >= 0), default=-1)
    return text[: cut + 1] if cut >= 0 else text


def _row(manifest: dict[str, Any], record: dict[str, Any]) -> str:
    """One report: name (linked), campaign, data as of, status (with the reason of a failure), the one-line conclusion."""
    from crm_lab.report.labels import REPORT_NAMES

    from crm_lab.report.display import BADGES

    facts = record.get("facts") or {}
    link = f"{manifest['campaign']}/{record.get('report', '')}"
    status = _STATUS.get(record.get("status"), html.escape(str(record.get("status"))))
    if record.get("status") == "ok" and facts.get("status") in BADGES:
        status = f'<span class="crm-badge {BADGES[facts["status"]]}">{html.escape(facts["status"])}</span>'
    reason = f"<br><small>{html.escape(str(record['error']))[:300]}</small>" if record.get("error") else ""
    name = REPORT_NAMES.get(record.get("notebook"), str(record.get("name")))
    twins = [r for r in manifest.get("reports", []) if r.get("notebook") == record.get("notebook")]
    own = (record.get("parameters") or {}).get("title")
    if len(twins) > 1 and own:  # one template twice in a campaign: its pages by their own titles (the params' title)
        name = f"{name} · {own}"
    name = html.escape(name)
    shown = f"<a href=\"{html.escape(link)}\">{name}</a>" if record.get("report") else name
    conclusion = html.escape(_first_sentence(facts.get("conclusion")))
    # Name, status and conclusion first: on a phone they are what shows without scrolling sideways.
    return (f"<tr><td style=\"white-space:nowrap\">{shown}</td><td style=\"white-space:nowrap\">{status}</td>"
            f"<td><small>{conclusion}{reason}</small></td><td style=\"white-space:nowrap\">{html.escape(str(record.get('as_of') or '–'))}</td>"
            f"<td>{html.escape(str(manifest.get('title') or manifest['campaign']))}</td></tr>")


def _section(manifest: dict[str, Any]) -> str:
    rows = "".join(_row(manifest, r) for r in manifest["reports"] if isinstance(r, dict))
    finished = html.escape(str(manifest.get("finished_at", "")).replace("T", " ")[:16])
    return (f"<h2>{html.escape(str(manifest.get('title') or manifest['campaign']))}</h2><div class=\"crm-meta\">运行于 {finished}</div>"
            "<div class=\"crm-scroll crm-text\"><table><tr><th>报告</th><th>状态</th><th>一句话结论</th><th>数据截至</th><th>活动</th></tr>"
            + rows + "</table></div>")


def write_index(out: str | os.PathLike[str] = "reports") -> Path:
    """Write ``<out>/index.html`` listing every campaign's reports and their status.

    Examples
    --------
    >>> import tempfile
    >>> from crm_lab.report import write_index
    >>> write_index(tempfile.mkdtemp()).name
    'index.html'
    """
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".index.lock")):
        manifests, problems = read_manifests(root)
        newest_first = sorted(manifests, key=lambda m: str(m.get("finished_at", "")), reverse=True)
        notes = "".join(note(p)._repr_html_() for p in problems)
        body = f"<h1>报告目录</h1>{notes}" + "".join(_section(m) for m in newest_first)
        return atomic_text(root / "index.html", page("报告目录 · crm_lab", body, f"crm_lab {html.escape(crm_lab.__version__)}"))
