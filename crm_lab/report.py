"""Reports people read: papermill runs, HTML without code, the reports index.

In a notebook, :func:`header`, :func:`verdict`, :func:`kpi_cards` and :func:`table` display the
parts of the house look (title with provenance, one-line conclusion, KPI cards, compact tables).
:func:`run_params` executes the notebooks a params file names with papermill and publishes
self-contained HTML (no code cells, no external scripts, figures inline) under
``reports/<campaign>/``, then refreshes ``reports/index.html``.

Scheduled-run safety: a failing notebook raises :class:`ReportError` (the CLI exits non-zero),
its executed notebook is kept beside the report path as ``<name>.failed.ipynb``, and no
half-made HTML is published: files are written to a temporary name and renamed.

Examples
--------
>>> import crm_lab as cl
>>> cl.report.run_params("params/demo_overview.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import platform
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import crm_lab

__all__ = [
    "ReportError",
    "RunParams",
    "NotebookRun",
    "header",
    "verdict",
    "kpi_cards",
    "table",
    "as_table",
    "fmt_yuan",
    "fmt_pct",
    "load_params",
    "check_parameters",
    "run_notebook",
    "run_params",
    "write_index",
]

log = logging.getLogger(__name__)

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"

CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei","DejaVu Sans",sans-serif;
 color:#1f2328;max-width:960px;margin:32px auto;padding:0 24px;line-height:1.55;background:#fff}
h1{font-weight:500;font-size:30px;border-bottom:3px solid #e6456a;padding-bottom:8px;margin-bottom:10px}
h2{font-weight:500;font-size:22px;margin-top:30px}
.crm-meta{font-size:14px;color:#333;margin-bottom:18px}.crm-meta code{background:#f0f0f0;padding:1px 4px}
.crm-verdict{border-left:4px solid #d0d4da;margin:12px 0 18px;padding:4px 16px;font-size:15px}
.crm-kpis{display:flex;gap:16px;flex-wrap:wrap;margin:12px 0 18px}
.crm-kpi{flex:1 1 180px;background:#f5f6f8;border-left:4px solid #2de0e6;border-radius:8px;padding:12px 18px}
.crm-kpi .label{font-size:13px;color:#555}.crm-kpi .value{font-size:26px;font-weight:700;margin:2px 0}
.crm-kpi .note{font-size:12px;color:#666}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th{font-weight:600;text-align:right;padding:6px 10px;border-bottom:1px solid #ccc}
td{text-align:right;padding:5px 10px}tr:nth-child(even) td{background:#f6f6f6}
th:first-child,td:first-child{text-align:left}
img{max-width:100%}
.jp-OutputPrompt,.jp-InputPrompt,.prompt{display:none}
.jp-RenderedText pre,.output_stderr{display:none}
.anchor-link{display:none}
.crm-footer{margin-top:40px;font-size:12px;color:#888;border-top:1px solid #eee;padding-top:8px}
.crm-failed{color:#c0392b;font-weight:600}
"""


class ReportError(RuntimeError):
    """A report notebook failed; ``failed_notebook`` is the kept executed copy."""

    def __init__(self, message: str, failed_notebook: Path | None = None):
        super().__init__(message)
        self.failed_notebook = failed_notebook


# --------------------------------------------------------------------------------------------
# Display helpers used inside notebooks


class _HTML:
    """Minimal rich-display object (IPython renders ``_repr_html_``)."""

    def __init__(self, markup: str):
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return re.sub(r"<[^>]+>", "", self.markup)


def fmt_yuan(value: float, decimals: int = 0) -> str:
    """¥12,345 (negative as -¥12,345).

    Examples
    --------
    >>> from crm_lab.report import fmt_yuan
    >>> fmt_yuan(44002.4)
    '¥44,002'
    """
    if pd.isna(value):
        return "–"
    sign = "-" if value < 0 else ""
    return f"{sign}¥{abs(value):,.{decimals}f}"


def fmt_pct(value: float, decimals: int = 1, signed: bool = False) -> str:
    """12.3% (``signed=True``: +12.3%).

    Examples
    --------
    >>> from crm_lab.report import fmt_pct
    >>> fmt_pct(0.058, signed=True)
    '+5.8%'
    """
    if pd.isna(value):
        return "–"
    return f"{value * 100:{'+' if signed else ''}.{decimals}f}%"


def header(title: str, **meta: Any) -> _HTML:
    """Report title and a provenance line (``Campaign x · Window a → b · Generated t``).

    Examples
    --------
    >>> from crm_lab.report import header
    >>> "店铺概览" in header("店铺概览", as_of="2025-11-30")._repr_html_()
    True
    """
    parts = [f"<b>{html.escape(k.replace('_', ' ').title())}</b> {html.escape(str(v))}" for k, v in meta.items() if v is not None]
    parts.append(f"<b>Generated</b> {dt.datetime.now():%Y-%m-%d %H:%M}")
    return _HTML(f'<h1>{html.escape(title)}</h1><div class="crm-meta">{" · ".join(parts)}</div>')


def verdict(text: str, heading: str = "核心结论") -> _HTML:
    """The one-line conclusion under a heading; ``**bold**`` marks the key number.

    Examples
    --------
    >>> from crm_lab.report import verdict
    >>> "<b>+5.8%</b>" in verdict("响应率提升 **+5.8%**")._repr_html_()
    True
    """
    body = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))
    return _HTML(f'<h2>{html.escape(heading)}</h2><div class="crm-verdict">{body}</div>')


def kpi_cards(cards: list[tuple[str, str] | tuple[str, str, str]]) -> _HTML:
    """KPI cards: a list of ``(label, value)`` or ``(label, value, note)``.

    Examples
    --------
    >>> from crm_lab.report import kpi_cards
    >>> "crm-kpi" in kpi_cards([("客户数", "4,783", "累计")])._repr_html_()
    True
    """
    items = []
    for card in cards:
        label, value, note = (*card, "")[:3]
        items.append(
            f'<div class="crm-kpi"><div class="label">{html.escape(str(label))}</div>'
            f'<div class="value">{html.escape(str(value))}</div><div class="note">{html.escape(str(note))}</div></div>'
        )
    return _HTML('<div class="crm-kpis">' + "".join(items) + "</div>")


def table(df: pd.DataFrame, formats: dict[str, Any] | None = None, index: bool = False, rename: dict[str, str] | None = None) -> _HTML:
    """A compact HTML table; ``formats`` maps a column to ``"yuan"``, ``"pct"``, ``"int"`` or a callable.

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.report import table
    >>> "¥1,234" in table(pd.DataFrame({"GMV": [1234.0]}), {"GMV": "yuan"})._repr_html_()
    True
    """
    shown = df.copy()
    named = {"yuan": fmt_yuan, "pct": fmt_pct, "int": lambda v: f"{int(v):,}" if pd.notna(v) else "–",
             "float": lambda v: f"{v:,.2f}" if pd.notna(v) else "–"}
    for col, spec in (formats or {}).items():
        if col in shown:
            func = named[spec] if isinstance(spec, str) else spec
            shown[col] = shown[col].map(func)
    if rename:
        shown = shown.rename(columns=rename)
    return _HTML(shown.to_html(index=index, border=0, classes="crm-table", na_rep="–", escape=True))


def as_table(items: dict[str, Any], columns: tuple[str, str] = ("项目", "数值")) -> pd.DataFrame:
    """A two-column table (label, value) from a dict, for :func:`table`.

    Examples
    --------
    >>> from crm_lab.report import as_table
    >>> as_table({"回测人群": "1,024"}).values.tolist()
    [['回测人群', '1,024']]
    """
    return pd.DataFrame({columns[0]: list(items), columns[1]: [str(v) for v in items.values()]})


# --------------------------------------------------------------------------------------------
# Parameter files


class NotebookRun(BaseModel):
    """One notebook of a params file."""

    model_config = ConfigDict(extra="forbid")
    notebook: str = Field(description="template name in notebooks/ (without .ipynb) or a path")
    name: str | None = Field(default=None, description="report file name (default: the notebook's)")
    parameters: dict[str, Any] = Field(default_factory=dict)


class RunParams(BaseModel):
    """A params file: one campaign or scheduled report (``params/<campaign>.yaml``)."""

    model_config = ConfigDict(extra="forbid")
    campaign: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", description="folder name under reports/")
    title: str | None = None
    data: str | None = Field(default=None, description="shop folder passed to every notebook as `data`")
    as_of: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict, description="shared by every notebook")
    notebooks: list[NotebookRun] = Field(min_length=1)


def load_params(path: str | os.PathLike[str]) -> RunParams:
    """Read and check a params YAML file; a wrong key or type is a clear error before any run.

    Examples
    --------
    >>> from crm_lab.report import load_params
    >>> load_params("params/demo_overview.yaml").campaign  # doctest: +SKIP
    'demo'
    """
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: not valid YAML: {exc}") from exc
    try:
        return RunParams.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{p}: {problems}") from None


# --------------------------------------------------------------------------------------------
# Running notebooks


def _resolve_notebook(name: str) -> Path:
    candidates = [Path(name), Path(f"{name}.ipynb"), Path("notebooks") / f"{name}.ipynb", NOTEBOOK_DIR / f"{name}.ipynb"]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        available = sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb"))
        raise ValueError(f"No notebook {name!r}; templates: {available}")
    return found


#: Injected into every notebook by :func:`run_params`; a template need not declare them.
INJECTED = ("data", "as_of", "title", "report_dir")


def check_parameters(notebook: str, parameters: dict[str, Any], where: str | None = None) -> None:
    """Check parameter names and types against a template's ``parameters`` cell, before any run.

    A name the template does not declare would be injected and silently ignored, so it is an
    error listing the names it does declare. A value whose type does not match the default's
    (text for a number, a number for text ...) is an error too; defaults of None accept anything.

    Raises
    ------
    ValueError
        Unknown notebook, unknown parameter name, or a value of the wrong type.

    Examples
    --------
    >>> from crm_lab.report import check_parameters
    >>> check_parameters("sample_to_full_size", {"sample_product": "S02"})
    >>> check_parameters("sample_to_full_size", {"sampel_product": "S02"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: sample_to_full_size: unknown parameter 'sampel_product' ...
    """
    import ast

    import papermill

    path = _resolve_notebook(notebook)
    declared = papermill.inspect_notebook(str(path))
    where = where or notebook
    for key, value in parameters.items():
        if key not in declared:
            if key in INJECTED:
                continue
            raise ValueError(f"{where}: unknown parameter {key!r} (a typo would be ignored silently). "
                             f"{Path(path).stem} declares: {', '.join(declared)}")
        try:
            default = ast.literal_eval(declared[key]["default"])
        except (ValueError, SyntaxError):
            continue
        if default is not None and value is not None and not _same_kind(value, default):
            raise ValueError(f"{where}: parameter {key!r} should be like its default {declared[key]['default']} "
                             f"({type(default).__name__}), got {value!r} ({type(value).__name__})")


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _to_html(executed: Any, title: str, footer: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(executed)
    # The basic template carries no <script src=...>; make sure no output smuggles one in.
    body = re.sub(r"<script[^>]*\bsrc=[\"']https?:[^>]*>\s*</script>", "", body)
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{body}<div class=\"crm-footer\">{footer}</div></body></html>\n"
    )


def run_notebook(
    notebook: str | os.PathLike[str],
    output_html: str | os.PathLike[str],
    parameters: dict[str, Any] | None = None,
    *,
    title: str | None = None,
    kernel_name: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Path:
    """Execute a notebook with papermill and publish it as HTML without code.

    Parameters
    ----------
    notebook : path or template name
    output_html : path
        The report; the executed ``.ipynb`` is written beside it.
    parameters : dict
        Injected after the cell tagged ``parameters``.
    title : str, optional
        HTML ``<title>`` (default: the ``title`` parameter or the notebook name).
    kernel_name : str, optional
        Jupyter kernel (default: the current Python's ``python3`` kernel).
    cwd : path, optional
        Working directory of the kernel (default: the current one).

    Returns
    -------
    Path of the HTML report.

    Raises
    ------
    ReportError
        The notebook failed; the executed copy is kept as ``<name>.failed.ipynb``.

    Examples
    --------
    >>> from crm_lab.report import run_notebook
    >>> run_notebook("shop_overview", "reports/demo/shop_overview.html", {"data": "data/demo"})  # doctest: +SKIP
    """
    import nbformat
    import papermill as pm

    source = _resolve_notebook(str(notebook))
    out_html = Path(output_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    executed_path = out_html.with_suffix(".ipynb")
    failed_path = out_html.with_suffix(".failed.ipynb")
    tmp_nb = out_html.with_name(f".{out_html.stem}.{os.getpid()}.running.ipynb")
    params = dict(parameters or {})
    started = time.time()
    try:
        pm.execute_notebook(
            str(source),
            str(tmp_nb),
            parameters=params,
            kernel_name=kernel_name,
            progress_bar=False,
            cwd=str(cwd) if cwd else None,
            log_output=False,
        )
    except Exception as exc:
        if tmp_nb.exists():
            os.replace(tmp_nb, failed_path)
        reason = str(exc).strip().splitlines()
        short = next((line for line in reversed(reason) if line.strip()), type(exc).__name__)
        raise ReportError(f"{source.name} failed: {short} (executed notebook kept at {failed_path})", failed_path) from exc
    executed = nbformat.read(str(tmp_nb), as_version=4)
    shown_params = ", ".join(f"{k}={v}" for k, v in params.items())
    footer = (
        f"Generated by crm_lab {html.escape(crm_lab.__version__)} · papermill · input notebooks/{html.escape(source.name)}"
        f" · parameters: {html.escape(shown_params)} · {dt.datetime.now():%Y-%m-%d %H:%M} · {time.time() - started:.1f}s"
    )
    page = _to_html(executed, title or str(params.get("title") or source.stem), footer)
    os.replace(tmp_nb, executed_path)
    _atomic_text(out_html, page)
    if failed_path.exists():
        failed_path.unlink()
    return out_html


def _same_kind(value: Any, default: Any) -> bool:
    """Whether a parameter value can stand where the template's default stands."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):  # 600000 for 600000.0 and back; True is no number here
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):  # a list, or a name in its place (an event in the calendar)
        return isinstance(value, (list, tuple, str))
    return isinstance(value, type(default))


def _plain(value: Any) -> Any:
    """Parameters as papermill can pass them: YAML dates (unquoted 2025-10-20) become ISO strings."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def run_params(
    params_path: str | os.PathLike[str],
    out: str | os.PathLike[str] = "reports",
    *,
    parallel: int = 1,
    kernel_name: str | None = None,
    data: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Run every notebook of a params file; write reports, a run log, the manifest and the index.

    ``data`` replaces the file's ``data`` (the same params on another shop folder).

    Returns
    -------
    list of dict: one per notebook with ``notebook, report, status, seconds, error``.

    Raises
    ------
    ReportError
        After all notebooks ran, if any failed (the others are still published).

    Examples
    --------
    >>> import crm_lab as cl
    >>> cl.report.run_params("params/demo_overview.yaml", out="reports")  # doctest: +SKIP
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    spec = load_params(params_path)
    folder = Path(out) / spec.campaign
    shared = {**spec.parameters}
    if data is not None:
        shared["data"] = str(data)
    elif spec.data is not None:
        shared["data"] = spec.data
    if spec.as_of is not None:
        shared["as_of"] = spec.as_of
    for nb in spec.notebooks:  # fail before running anything
        check_parameters(nb.notebook, _plain({**spec.parameters, **nb.parameters}), where=f"{params_path}: {nb.notebook}")

    def one(nb: NotebookRun) -> dict[str, Any]:
        name = nb.name or Path(nb.notebook).stem
        params = _plain({**shared, **nb.parameters})
        if spec.title and "title" not in params:
            params["title"] = spec.title
        params.setdefault("report_dir", str(folder))
        started = time.time()
        record = {"notebook": nb.notebook, "name": name, "report": f"{name}.html", "title": params.get("title", name),
                  "parameters": params, "status": "ok", "error": None}
        try:
            run_notebook(nb.notebook, folder / f"{name}.html", params, kernel_name=kernel_name)
        except ReportError as exc:
            record.update(status="failed", error=str(exc), report=f"{name}.failed.ipynb")
        record["seconds"] = round(time.time() - started, 2)
        return record

    with ThreadPoolExecutor(max_workers=max(1, int(parallel))) as pool:
        records = list(tqdm(pool.map(one, spec.notebooks), total=len(spec.notebooks), desc=spec.campaign, disable=None))
    manifest = {"campaign": spec.campaign, "title": spec.title, "params_file": str(params_path),
                "finished_at": dt.datetime.now().isoformat(timespec="seconds"), "crm_lab": crm_lab.__version__,
                "python": platform.python_version(), "reports": records}
    _atomic_text(folder / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1, default=str))
    log_lines = [f"{r['status']:6} {r['seconds']:7.1f}s {r['name']}" + (f"  {r['error']}" if r["error"] else "") for r in records]
    with open(folder / "run.log", "a", encoding="utf-8") as fh:
        fh.write(f"# {manifest['finished_at']} {params_path}\n" + "\n".join(log_lines) + "\n")
    write_index(out)
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        raise ReportError("; ".join(r["error"] for r in failed))
    return records


def write_index(out: str | os.PathLike[str] = "reports") -> Path:
    """Write ``<out>/index.html`` listing every campaign's reports and their status.

    Examples
    --------
    >>> from crm_lab.report import write_index
    >>> write_index("reports")  # doctest: +SKIP
    """
    root = Path(out)
    rows = []
    for manifest_path in sorted(root.glob("*/manifest.json")):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for r in manifest["reports"]:
            link = f"{manifest['campaign']}/{r['report']}"
            status = "ok" if r["status"] == "ok" else '<span class="crm-failed">failed</span>'
            rows.append(
                f"<tr><td>{html.escape(manifest['campaign'])}</td><td><a href=\"{html.escape(link)}\">"
                f"{html.escape(str(r.get('title') or r['name']))}</a></td><td>{status}</td>"
                f"<td>{html.escape(manifest['finished_at'])}</td><td>{r.get('seconds', '')}</td></tr>"
            )
    page = (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>crm_lab reports</title>"
        f"<style>{CSS}</style></head><body><h1>报告目录 · Reports</h1>"
        "<table><tr><th>Campaign</th><th>Report</th><th>Status</th><th>Finished</th><th>Seconds</th></tr>"
        + "".join(rows)
        + f"</table><div class=\"crm-footer\">crm_lab {html.escape(crm_lab.__version__)}</div></body></html>\n"
    )
    target = root / "index.html"
    _atomic_text(target, page)
    return target
