"""An executed notebook as the HTML page a reader gets: no code, nothing hidden.

What a reader is not meant to see is left out of the page, never hidden with CSS: code cells'
inputs, plain-text outputs (reprs, prints, progress bars). Warnings raised while the report ran
(a sample-ratio mismatch, a model at a boundary) are shown as visible note boxes in words; the
noise of library deprecations is left out of the page and returned for the run log.

Examples
--------
>>> import nbformat
>>> from crm_lab.report.page import reader_outputs
>>> cell = nbformat.v4.new_code_cell("x")
>>> cell.outputs = [nbformat.v4.new_output("stream", name="stderr",
...     text="/x.py:3: UserWarning: sample ratio mismatch\\n  warnings.warn(msg)\\n")]
>>> nb = nbformat.v4.new_notebook(cells=[cell])
>>> shown, logged = reader_outputs(nb)
>>> "sample ratio mismatch" in shown.cells[0].outputs[0]["data"]["text/html"], logged
(True, [])
"""

from __future__ import annotations

import copy
import html
import re
import threading
from functools import lru_cache
from typing import Any

from crm_lab.report.display import FACTS_MIME, TABLE_MIME, note

__all__ = ["CSS", "reader_outputs", "page_facts", "to_html", "page", "warm_up"]

CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei","DejaVu Sans",sans-serif;
 color:#1f2328;max-width:960px;margin:32px auto;padding:0 24px;line-height:1.55;background:#fff}
h1{font-weight:500;font-size:30px;border-bottom:3px solid #e6456a;padding-bottom:8px;margin-bottom:10px}
h2{font-weight:500;font-size:22px;margin-top:30px}
.crm-meta{font-size:14px;color:#333;margin-bottom:18px;overflow-wrap:anywhere}.crm-meta code{background:#f0f0f0;padding:1px 4px}
.crm-verdict{border-left:4px solid #d0d4da;margin:12px 0 18px;padding:4px 16px;font-size:15px}
.crm-kpis{display:flex;gap:16px;flex-wrap:wrap;margin:12px 0 18px}
.crm-kpi{flex:1 1 180px;background:#f5f6f8;border-left:4px solid #2de0e6;border-radius:8px;padding:12px 18px}
.crm-kpi .label{font-size:13px;color:#555}.crm-kpi .value{font-size:26px;font-weight:700;margin:2px 0}
.crm-kpi .note{font-size:12px;color:#666}
.crm-note{border-left:4px solid #e6a23c;background:#fdf6ec;margin:10px 0;padding:8px 14px;font-size:14px;overflow-wrap:anywhere}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th{font-weight:600;text-align:right;padding:6px 10px;border-bottom:1px solid #ccc}
td{text-align:right;padding:5px 10px}tr:nth-child(even) td{background:#f6f6f6}
th:first-child,td:first-child{text-align:left}
img{max-width:100%}
.crm-scroll,.output_subarea,div:has(> table){overflow-x:auto;max-width:100%;-webkit-overflow-scrolling:touch}
.crm-more{color:#666;font-size:.85em;margin:.2em 0 1em}
th,td{white-space:nowrap}td small{display:block;min-width:14em;white-space:normal}
.crm-scroll th:first-child,.crm-scroll td:first-child{position:sticky;left:0;background:#fff;z-index:1}
.crm-scroll tr:nth-child(even) td:first-child{background:#f6f6f6}
@media (max-width:600px){body{margin:16px auto;padding:0 14px}h1{font-size:24px}h2{font-size:19px}
 .crm-kpis{display:grid;grid-template-columns:1fr 1fr;gap:10px}.crm-kpi{padding:10px 12px;min-width:0}
 .crm-kpi .value{font-size:20px;overflow-wrap:anywhere}table{font-size:12px}th,td{padding:5px 7px}}
.anchor-link{display:none}
.crm-footer{margin-top:40px;font-size:12px;color:#888;border-top:1px solid #eee;padding-top:8px}
.crm-failed{color:#c0392b;font-weight:600}
.crm-verdict p{margin:6px 0}
.crm-badge{display:inline-block;padding:1px 12px;border-radius:12px;font-size:14px;font-weight:600;margin:6px 0 0}
.crm-badge.good{background:#e3f6ea;color:#1a7f37}.crm-badge.bad{background:#fde8e8;color:#c0392b}
.crm-badge.warn{background:#fdf3e1;color:#a35f00}.crm-badge.neutral{background:#eef0f3;color:#4a4f57}
.crm-stale{border-left:4px solid #c0392b;background:#fdecea;margin:8px 0 14px;padding:8px 14px;font-size:14px}
details.crm-appendix{margin-top:28px;font-size:13px;color:#555}details.crm-appendix summary{cursor:pointer;font-weight:600}
.crm-footer p{margin:4px 0}
.crm-download{font-size:14px;margin:0 0 14px}.crm-text td,.crm-text th{text-align:left}.crm-text td{white-space:normal;min-width:8em}
"""

#: Categories that speak to developers (library upgrades), not to the reader of a report.
DEVELOPER_WARNINGS = ("DeprecationWarning", "PendingDeprecationWarning", "FutureWarning", "ImportWarning", "ResourceWarning")
_WARNING_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<category>\w+(?:Warning|Error|Mismatch)\w*): (?P<message>.*)$")
_RICH = ("text/html", "image/png", "image/jpeg", "image/svg+xml", "text/markdown", "text/latex")


def _warnings_in(text: str) -> list[tuple[str, str]]:
    """``(category, message)`` of each warning in a stderr text (``warnings.formatwarning`` lines)."""
    found = []
    for line in text.splitlines():
        match = _WARNING_LINE.match(line)
        if match:
            found.append((match["category"], match["message"].strip()))
    return found


def _rich(output: Any) -> bool:
    return output.get("output_type") in ("display_data", "execute_result") and any(m in output.get("data", {}) for m in _RICH)


def page_facts(nb: Any) -> dict[str, Any]:
    """The facts an executed notebook stated (:func:`crm_lab.report.facts`, titles, verdicts), later ones winning."""
    stated: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            found = output.get("data", {}).get(FACTS_MIME)
            if isinstance(found, dict):
                stated.update(found)
    return stated


def reader_outputs(nb: Any) -> tuple[Any, list[str]]:
    """A copy of an executed notebook with only what a reader should see, and the lines for the log.

    Kept: rich outputs (HTML, figures, Markdown). Warnings on stderr become visible note boxes
    (library deprecations go to the log instead). Left out: plain-text reprs, prints, progress
    bars and other stderr text.
    """
    import nbformat  # 1.6 s to import (its JSON-schema checks): only when a page is built, not in every kernel

    shown = copy.deepcopy(nb)
    logged: list[str] = []
    for cell in shown.cells:
        if cell.get("cell_type") != "code":
            continue
        outputs, seen = [], set()
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                for category, message in _warnings_in(output.get("text", "")):
                    if category in DEVELOPER_WARNINGS:
                        logged.append(f"{category}: {message}")
                    elif message not in seen:
                        seen.add(message)
                        outputs.append(nbformat.v4.new_output("display_data", data={"text/html": note(message)._repr_html_()}))
            elif _rich(output):
                output.get("data", {}).pop(FACTS_MIME, None)  # for the manifest (page_facts), not the page
                output.get("data", {}).pop(TABLE_MIME, None)  # for the xlsx beside the page (report.workbook)
                outputs.append(output)
        cell["outputs"] = outputs
    return shown, logged


def to_html(executed: Any, title: str, footer: str, banner: str = "") -> tuple[str, list[str]]:
    """The self-contained page of an executed notebook (no code, no external scripts) and the log lines.

    ``banner`` (HTML) goes right under the page's title: the freshness warning of a scheduled report.
    """
    shown, logged = reader_outputs(executed)
    with _EXPORTING:  # one exporter for every page of the process, its templates compiled once
        body, _ = _exporter().from_notebook_node(shown)
    # The basic template carries no <script src=...>; make sure no output smuggles one in.
    body = re.sub(r"<script[^>]*\bsrc=[\"']https?:[^>]*>\s*</script>", "", body)
    if banner:
        body = re.sub(r"(</h1>)", lambda m: m.group(1) + banner, body, count=1) if "</h1>" in body else banner + body
    return page(title, body, footer), logged


_EXPORTING = threading.Lock()


@lru_cache(maxsize=1)
def _exporter() -> Any:
    """nbconvert's HTML exporter without code or prompts (0.6 s to import and build the first time)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    return exporter


def warm_up() -> None:
    """Import and build what turning a notebook into a page needs, ahead of the first page (a
    run does it while its kernels start)."""
    import nbformat  # noqa: F401 - imported for its cost, here rather than at the first page

    with _EXPORTING:
        _exporter()


def page(title: str, body: str, footer: str) -> str:
    """The house page around an HTML body: viewport for phones, inline CSS, footer."""
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{body}<div class=\"crm-footer\">{footer}</div></body></html>\n"
    )
