"""Scheduled runs: execute a params file's notebooks with papermill and publish what succeeded.

The guarantees a scheduler (cron, Airflow) and an SMS pickup job rely on:

* **Checked first.** The whole params file and every parameter are checked before any notebook
  starts (:mod:`crm_lab.report.params`); so is ``as_of`` against the data's extraction time, and
  the campaign folder's owner (another params file with the same ``campaign`` is an error).
* **Bounded.** Each notebook has a time limit (``timeout:`` in the params file, per notebook or
  for all, or ``--timeout``; default :data:`DEFAULT_TIMEOUT`); a notebook over it is stopped and
  fails like any other.
* **Staged.** A notebook writes its audience exports into its own staging folder (its
  ``report_dir``). Only when it succeeds are they published, as a whole folder
  ``<out>/<campaign>/audiences/<as_of>/<report>/`` (a later run for the same day replaces it
  whole), each manifest stamped with the run that made it; then its HTML. A failed notebook
  publishes nothing: its exports are withdrawn, the previous HTML stays, and the executed copy is
  kept as ``<report>.failed.ipynb``.
* **Never half-made.** Every file is written under a temporary name and renamed into place; the
  leftovers of a killed run are removed by the next one (:func:`crm_lab.files.clean_stale`).

Examples
--------
>>> import crm_lab as cl
>>> cl.report.run_params("params/demo_overview.yaml", out="reports")  # doctest: +SKIP
"""

from __future__ import annotations

import ast
import datetime as dt
import html
import json
import logging
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import crm_lab
from crm_lab.files import (
    atomic_text,
    clean_stale,
    inside,
    replace_dir,
    run_id,
    temp_path,
)
from crm_lab.report.index import write_index
from crm_lab.report.kernels import KernelPool, register_engine
from crm_lab.report.page import page_facts, to_html, warm_up
from crm_lab.report.params import (
    NotebookRun,
    ParamsError,
    RunParams,
    check_parameters,
    check_value,
    declared_parameters,
    load_params,
    parse_date,
    resolve_notebook,
)

__all__ = ["ReportError", "DEFAULT_TIMEOUT", "RunOutcome", "run_many", "run_notebook", "run_params"]

log = logging.getLogger(__name__)

#: Seconds a notebook may run by default: the largest demo report takes about 10 s on the 20k
#: sample shop and a few minutes on a shop of millions; 20 minutes leaves a wide margin and still
#: tells a scheduler of a hung run the same morning.
DEFAULT_TIMEOUT = 1200.0


class ReportError(RuntimeError):
    """A report notebook failed; ``failed_notebook`` is the kept executed copy."""

    def __init__(self, message: str, failed_notebook: Path | None = None):
        super().__init__(message)
        self.failed_notebook = failed_notebook


def _literal_parameters(params: dict[str, Any], where: str) -> None:
    """Each value as papermill writes it into the notebook must read back as the same literal."""
    from papermill.translators import PythonTranslator

    for key, value in params.items():
        check_value(value, f"{where}: {key}")
        text = PythonTranslator.translate(value)
        try:
            same = ast.literal_eval(text) == value
        except (ValueError, SyntaxError):
            same = False
        if not same:
            raise ParamsError(f"{where}: parameter {key!r} would not be injected as a plain literal; refused")


def _short_reason(exc: BaseException, timeout: float) -> str:
    if "timed out" in str(exc).lower() or type(exc).__name__ in ("CellTimeoutError", "TimeoutError"):
        return (f"stopped after its time limit of {timeout:.0f} s (raise it with `timeout:` in the params file "
                "or --timeout if the report needs longer)")
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _execute(source: Path, tmp_nb: Path, params: dict[str, Any], *, kernel_name: str | None, cwd: Any, timeout: float,
             km: Any = None) -> Any:
    """Run the notebook into ``tmp_nb`` (in the kernel ``km`` if given, else a new one); return the
    executed notebook or raise :class:`ReportError`."""
    import nbformat
    import papermill as pm

    deadline = time.monotonic() + timeout
    try:
        pm.execute_notebook(
            str(source), str(tmp_nb), parameters=params, kernel_name=kernel_name, progress_bar=False,
            cwd=str(cwd) if cwd else None, log_output=False,
            # One limit for the whole notebook: each cell may take what is left of it.
            timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
            **({"km": km, "engine_name": register_engine()} if km is not None else {}),
        )
    except Exception as exc:
        raise ReportError(f"{source.name} failed: {_short_reason(exc, timeout)}") from exc
    return nbformat.read(str(tmp_nb), as_version=4)


def _execute_warm(warm: KernelPool | Literal[False], source: Path, tmp_nb: Path, params: dict[str, Any], *,
                  kernel_name: str | None, timeout: float) -> Any:
    """:func:`_execute` in a kernel of ``warm`` (a new kernel without one, or for a template of another kernel)."""
    if not warm or _notebook_kernel(source) not in (None, warm.kernel_name):
        return _execute(source, tmp_nb, params, kernel_name=kernel_name, cwd=None, timeout=timeout)
    with warm.kernel() as km:
        return _execute(source, tmp_nb, params, kernel_name=kernel_name, cwd=None, timeout=timeout, km=km)


def _notebook_kernel(source: Path) -> str | None:
    """The kernel a notebook declares (``metadata.kernelspec.name``), if any."""
    return ((json.loads(source.read_text(encoding="utf-8")).get("metadata") or {}).get("kernelspec") or {}).get("name")


def _footer(source: Path, params: dict[str, Any], seconds: float) -> str:
    """The one-line 口径说明, the provenance line, and the run's parameters in a collapsed 技术附录."""
    from crm_lab.report.labels import definitions_line

    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(json.dumps(v, ensure_ascii=False, default=str))}</td></tr>"
                   for k, v in params.items() if k != "report_dir")
    return (f"<p>{html.escape(definitions_line(source.stem))}</p>"
            f"<p>crm_lab {html.escape(crm_lab.__version__)} · 模板 {html.escape(source.stem)} · 生成于 {dt.datetime.now():%Y-%m-%d %H:%M}"
            f" · 用时 {seconds:.1f} 秒</p>"
            f'<details class="crm-appendix"><summary>技术附录：运行参数</summary><div class="crm-scroll"><table>{rows}</table></div></details>')


#: Days a scheduled report's data may lag behind the day it is read.
SCHEDULE_LAG = {"daily": 1, "weekly": 7, "monthly": 31}


def freshness_banner(schedule: str | None, as_of: Any, today: Any = None) -> str:
    """A red banner when the data is older than the report's schedule implies (a daily report on old data).

    Examples
    --------
    >>> from crm_lab.report.runner import freshness_banner
    >>> "2 天前" in freshness_banner("daily", "2025-11-28", today="2025-11-30")
    True
    >>> freshness_banner("daily", "2025-11-29", today="2025-11-30")
    ''
    """
    import pandas as pd

    if schedule is None or as_of is None:
        return ""
    today = pd.Timestamp(today or dt.date.today()).normalize()
    lag = (today - pd.Timestamp(as_of).normalize()).days
    if lag <= SCHEDULE_LAG[schedule]:
        return ""
    every = {"daily": "每日", "weekly": "每周", "monthly": "每月"}[schedule]
    return (f'<div class="crm-stale"><b>数据不是最新的</b> 数据截至 {pd.Timestamp(as_of):%Y-%m-%d}，已是 {lag} 天前；'
            f"这是一份{every}报告，应使用不早于 {SCHEDULE_LAG[schedule]} 天前的数据。请先检查数据导入。</div>")


def _keep_failed(tmp_nb: Path, failed_path: Path, exc: ReportError) -> ReportError:
    if tmp_nb.exists():
        os.replace(tmp_nb, failed_path)
    return ReportError(f"{exc} (executed notebook kept at {failed_path})", failed_path)


def _publish_page(executed: Any, tmp_nb: Path, out_html: Path, title: str, footer: str, schedule: str | None = None) -> dict[str, Any]:
    """Publish the page, its tables as ``<report>.xlsx`` and its executed notebook; return the facts
    it stated (its title wins over ``title``)."""
    from crm_lab.report.workbook import page_tables, write_workbook

    stated = page_facts(executed)
    tables = page_tables(executed)
    banner = freshness_banner(schedule, stated.get("as_of"))
    if write_workbook(tables, out_html.with_suffix(".xlsx")) is not None:  # before the page that links to it
        banner += (f'<div class="crm-download"><a href="{html.escape(out_html.with_suffix(".xlsx").name)}">下载本页数据'
                   f"（Excel，{len(tables)} 张表）</a></div>")
    page, developer_warnings = to_html(executed, stated.get("title") or title, footer, banner)
    for line in developer_warnings:
        log.info("%s: %s", out_html.name, line)
    os.replace(tmp_nb, out_html.with_suffix(".ipynb"))
    atomic_text(out_html, page)
    out_html.with_suffix(".failed.ipynb").unlink(missing_ok=True)
    return stated


def run_notebook(
    notebook: str | os.PathLike[str],
    output_html: str | os.PathLike[str],
    parameters: dict[str, Any] | None = None,
    *,
    title: str | None = None,
    kernel_name: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    templates: list[str | os.PathLike[str]] | tuple = (),
) -> Path:
    """Execute a notebook with papermill and publish it as HTML without code.

    Parameters
    ----------
    notebook : path or template name
        A template name (looked up in ``templates`` folders, then crm_lab's) or, from Python, a path.
    output_html : path
        The report; the executed ``.ipynb`` is written beside it.
    parameters : dict
        Plain values (see :func:`crm_lab.report.params.check_value`), injected after the cell
        tagged ``parameters``.
    title : str, optional
        HTML ``<title>`` (default: the ``title`` parameter or the notebook name).
    kernel_name : str, optional
        Jupyter kernel (default: the current Python's ``python3`` kernel).
    cwd : path, optional
        Working directory of the kernel (default: the current one).
    timeout : float
        Seconds the whole notebook may run; then it is stopped and fails.

    Returns
    -------
    Path of the HTML report.

    Raises
    ------
    ReportError
        The notebook failed or ran out of time; the executed copy is kept as ``<name>.failed.ipynb``.

    Examples
    --------
    >>> from crm_lab.report import run_notebook
    >>> run_notebook("shop_overview", "reports/demo/shop_overview.html", {"data": "data/demo"})  # doctest: +SKIP
    """
    source = Path(notebook) if Path(notebook).suffix == ".ipynb" and Path(notebook).is_file() else resolve_notebook(str(notebook), templates)
    out_html = Path(output_html)
    params = dict(parameters or {})
    _literal_parameters(params, source.stem)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    tmp_nb = temp_path(out_html.with_suffix(".ipynb"), "running.ipynb")
    started = time.time()
    try:
        executed = _execute(source, tmp_nb, params, kernel_name=kernel_name, cwd=cwd, timeout=timeout)
    except ReportError as exc:
        raise _keep_failed(tmp_nb, out_html.with_suffix(".failed.ipynb"), exc) from exc.__cause__
    _publish_page(executed, tmp_nb, out_html, title or str(params.get("title") or source.stem), _footer(source, params, time.time() - started))
    return out_html


# --------------------------------------------------------------------------------------------
# A params file's run


def _shop_meta(data: Any) -> dict[str, Any]:
    """A shop folder's ``shop.json``, or {} (not a folder, none, unreadable)."""
    meta = Path(str(data)) / "shop.json" if data is not None else None
    if meta is None or not meta.is_file():
        return {}
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _extraction_time(data: Any) -> Any:
    """The extraction time in a shop folder's ``shop.json``, or None."""
    import pandas as pd

    value = _shop_meta(data).get("as_of")
    return pd.Timestamp(value) if value else None


def _check_as_of(params: dict[str, Any], where: str) -> None:
    """``as_of`` after the data's extraction is an error before anything runs (as in the API)."""
    extracted = _extraction_time(params.get("data"))
    if extracted is None or params.get("as_of") is None:
        return
    if parse_date(params["as_of"], f"{where}: as_of").normalize() > extracted:
        raise ParamsError(f"{where}: as_of {params['as_of']} is after the data's extraction at {extracted} "
                          f"({params['data']}/shop.json): nothing after it is known. Fix: an as_of up to {extracted:%Y-%m-%d}")


def _check_owner(folder: Path, params_path: Path) -> None:
    """A campaign folder belongs to one params file: a second one would drop the first's reports."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return
    try:
        owner = json.loads(manifest.read_text(encoding="utf-8")).get("params_file")
    except (OSError, ValueError, AttributeError):
        log.warning("%s is unreadable; this run replaces it", manifest)
        return
    if owner and Path(owner).name != params_path.name:
        raise ParamsError(f"{params_path}: campaign folder {folder} already holds the reports of {owner}; a second "
                          "params file there would drop them from the index. Fix: give this file its own `campaign:` "
                          "(or remove the folder to hand the campaign over)")


def _stamp_manifests(stage: Path, run: dict[str, Any]) -> list[dict[str, Any]]:
    """Add the run to every export manifest in ``stage``; return the exports' summaries."""
    exports = []
    for meta_path in sorted(stage.glob("*.manifest.json")):
        manifest = json.loads(meta_path.read_text(encoding="utf-8"))
        manifest["run"] = run
        atomic_text(meta_path, json.dumps(manifest, ensure_ascii=False, indent=1, default=str))
        exports.append({"file": meta_path.name.removesuffix(".manifest.json"), "customers": manifest.get("customers"),
                        "as_of": manifest.get("as_of")})
    return exports


def _publish_exports(stage: Path, folder: Path, run: dict[str, Any]) -> dict[str, Any] | None:
    """Publish a succeeded notebook's staged exports as ``audiences/<as_of>/<report>/``, whole."""
    exports = _stamp_manifests(stage, run)
    if not exports:
        return None
    import pandas as pd

    days = [pd.Timestamp(e["as_of"]).strftime("%Y-%m-%d") for e in exports if e["as_of"] not in (None, "None")]
    day = min(days) if days else "undated"
    target = folder / "audiences" / day / run["report"]
    replace_dir(stage, target)
    return {"folder": target.relative_to(folder).as_posix(), "files": exports}


def _unmet_needs(template: str, params: dict[str, Any]) -> list[str]:
    """What ``template`` needs that its params file or the shop folder lacks (:mod:`crm_lab.report.requirements`)."""
    from crm_lab import data as cl_data
    from crm_lab.report.requirements import NEEDS, missing, missing_parameters

    unmet, data = missing_parameters(template, params), params.get("data")
    if unmet or template not in NEEDS or data is None:
        return unmet
    try:
        shop = cl_data.read_shop(data, validated=False)
    except (FileNotFoundError, ValueError):
        return []  # the notebook itself says what is wrong with the folder
    return missing(template, shop)


def _shared_parameters(spec: RunParams, data: Any) -> dict[str, Any]:
    shared = {**spec.parameters}
    if data is not None:
        shared["data"] = str(data)
    elif spec.data is not None:
        shared["data"] = spec.data
    if spec.as_of is not None:
        shared["as_of"] = spec.as_of
    if spec.title:
        shared.setdefault("title", spec.title)
    if spec.plan is not None:
        shared["plan"] = {**spec.plan, "id": spec.campaign}
    if spec.care is not None:
        shared["care"] = spec.care
    return shared


def _check_run(spec: RunParams, params_path: Path, shared: dict[str, Any], templates: Any) -> None:
    for nb in spec.notebooks:
        where = f"{params_path}: {nb.notebook}"
        merged = {**shared, **nb.parameters}
        check_parameters(nb.notebook, merged, where=where, templates=templates)
        _check_as_of(merged, where)


@dataclass
class _Run:
    """One params file's run, checked and staged: its notebooks run by :meth:`notebook` (from any
    worker thread), its manifest and index written by :meth:`finish`."""

    params_path: Path
    spec: RunParams
    root: Path
    folder: Path
    shared: dict[str, Any]
    work: Path
    id: str
    templates: Any
    timeout: float | None
    kernel_name: str | None

    @classmethod
    def start(cls, params_path: str | os.PathLike[str], out: Any, *, data: Any, timeout: float | None, templates: Any,
              kernel_name: str | None, taken: dict[Path, Path] | None = None) -> _Run:
        """Check everything (raise :class:`ParamsError`), then make the staging folder.
        ``taken``: campaign folders already claimed by other params files of the same batch."""
        params_path = Path(params_path)
        spec = load_params(params_path)
        root = Path(out)
        folder = inside(root, spec.campaign)
        shared = _shared_parameters(spec, data)
        _check_run(spec, params_path, shared, templates)
        _check_owner(folder, params_path)
        if taken is not None:
            owner = taken.setdefault(folder.resolve(), params_path)
            if owner != params_path:
                raise ParamsError(f"{params_path}: campaign {spec.campaign!r} is also the campaign of {owner} in this run; "
                                  "two params files in one folder would drop each other's reports. Fix: give each its own `campaign:`")
        folder.mkdir(parents=True, exist_ok=True)
        for path in clean_stale(root):
            log.warning("removed %s, left by a run that died", path)
        work = temp_path(root / f"run-{spec.campaign}", "staging")
        work.mkdir()
        return cls(params_path, spec, root, folder, shared, work, run_id(), templates, timeout, kernel_name)

    def notebook(self, nb: NotebookRun, warm: KernelPool | Literal[False]) -> dict[str, Any]:
        """Run one notebook and publish it if it succeeds; its record (status ``ok``, ``refused``
        or ``failed``)."""
        name = nb.report_name
        stage = self.work / name
        stage.mkdir()
        source = resolve_notebook(nb.notebook, self.templates)
        params = self._parameters(nb, stage, source)
        record = {"notebook": nb.notebook, "name": name, "report": f"{name}.html", "title": params.get("title", name),
                  "parameters": {k: v for k, v in params.items() if k != "report_dir"}, "status": "ok", "error": None,
                  "exports": None}
        unmet = _unmet_needs(nb.notebook, params)
        if unmet:  # refused in one line each, before a kernel starts: the shop lacks what it needs
            record.update(status="refused", error="; ".join(unmet), report=None, seconds=0.0)
            return record
        started = time.time()
        out_html = self.folder / f"{name}.html"
        tmp_nb = temp_path(out_html.with_suffix(".ipynb"), "running.ipynb")
        limit = float(self.timeout or nb.timeout or self.spec.timeout or DEFAULT_TIMEOUT)
        try:
            executed = _execute_warm(warm, source, tmp_nb, params, kernel_name=self.kernel_name, timeout=limit)
            record["exports"] = _publish_exports(stage, self.folder, {"id": self.id, "params_file": self.params_path.name, "report": name})
            stated = _publish_page(executed, tmp_nb, out_html, str(params.get("title") or name),
                                   _footer(source, params, time.time() - started), self.spec.schedule)
            record.update(title=stated.get("title") or record["title"], as_of=stated.get("as_of"), facts=stated)
        except ReportError as exc:
            kept = _keep_failed(tmp_nb, out_html.with_suffix(".failed.ipynb"), exc)
            record.update(status="failed", error=str(kept), report=f"{name}.failed.ipynb")
        record["seconds"] = round(time.time() - started, 2)
        return record

    def _parameters(self, nb: NotebookRun, stage: Path, source: Path) -> dict[str, Any]:
        params = {**self.shared, **nb.parameters, "report_dir": str(stage.resolve())}
        declared = declared_parameters(source)
        for block in ("plan", "care"):  # the campaign's other pages (clv) do not read them
            if block in params and block not in declared:
                del params[block]
        return params

    def finish(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write the manifest and the index; raise :class:`ReportError` naming the notebooks that failed."""
        self.discard()
        _write_manifest(self.folder, self.spec, self.params_path, self.id, records, _shop_meta(self.shared.get("data")).get("holdout"))
        write_index(self.root)
        failed = [r for r in records if r["status"] != "ok"]
        if failed:
            raise ReportError("; ".join(r["error"] for r in failed))
        return records

    def discard(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)  # staged exports of failed notebooks: withdrawn


@dataclass(frozen=True)
class RunOutcome:
    """What became of one params file in :func:`run_many`.

    Attributes
    ----------
    params_path : Path
        The params file.
    campaign : str or None
        Its campaign (None when the file could not be read).
    records : list of dict
        One per notebook run (see :func:`run_params`); empty when the file was refused before running.
    error : Exception or None
        The :class:`ParamsError` (or ValueError / FileNotFoundError) that stopped it before anything ran,
        or the :class:`ReportError` naming its notebooks that failed; None when all succeeded.
    """

    params_path: Path
    campaign: str | None
    records: list[dict[str, Any]]
    error: Exception | None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_many(
    params_paths: list[str | os.PathLike[str]] | tuple,
    out: str | os.PathLike[str] = "reports",
    *,
    parallel: int = 1,
    kernel_name: str | None = None,
    data: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    templates: list[str | os.PathLike[str]] | tuple = (),
    kernels: KernelPool | None | Literal[False] = None,
) -> list[RunOutcome]:
    """Run several params files' notebooks in one queue of ``parallel`` workers (see :func:`run_params`).

    Every file is checked first; a file refused there does not stop the others. The notebooks of
    all files then share the workers, so a file with one notebook does not leave a core idle
    (``crm-lab demo``: 16 pages of 8 files). Each file is published as by :func:`run_params`:
    its own campaign folder, manifest and staged exports; the index after each.

    Returns
    -------
    list of :class:`RunOutcome`, in the order of ``params_paths``.

    Examples
    --------
    >>> import crm_lab as cl
    >>> outcomes = cl.report.run_many(["params/demo_overview.yaml", "params/demo_daily.yaml"], parallel=2)  # doctest: +SKIP
    >>> [o.ok for o in outcomes]  # doctest: +SKIP
    [True, True]
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    runs: dict[int, _Run] = {}
    warm = kernels
    try:
        outcomes = _start_runs(params_paths, out, runs, data=data, timeout=timeout, templates=templates, kernel_name=kernel_name)
        if warm is None:  # kernels start once something passed the checks (a refused file starts none)
            warm = KernelPool(kernel_name or "python3").prestart(min(max(1, int(parallel)), len(runs)))
        if runs:  # while the kernels start: papermill and the page exporter, paid once and early
            import papermill  # noqa: F401

            warm_up()
        jobs = _longest_first([(run, nb) for run in runs.values() for nb in run.spec.notebooks])
        with ThreadPoolExecutor(max_workers=max(1, int(parallel))) as pool, \
                tqdm(total=len(jobs), desc="reports", unit="page", disable=None) as bar:
            futures = {(id(run), nb.report_name): pool.submit(run.notebook, nb, warm) for run, nb in jobs}
            for f in futures.values():
                f.add_done_callback(lambda _: bar.update())
            for i, run in runs.items():
                records = [futures[id(run), nb.report_name].result() for nb in run.spec.notebooks]
                try:
                    outcomes[i] = RunOutcome(run.params_path, run.spec.campaign, run.finish(records), None)
                except ReportError as exc:
                    outcomes[i] = RunOutcome(run.params_path, run.spec.campaign, records, exc)
    finally:
        for run in runs.values():
            run.discard()
        if kernels is None and warm is not None:
            warm.close()
    return [outcomes[i] for i in range(len(params_paths))]


def _longest_first(jobs: list[tuple[_Run, NotebookRun]]) -> list[tuple[_Run, NotebookRun]]:
    """The notebooks in the order to start them: those never run before first (their time is not
    known), then by the seconds their last run took, longest first, so that a long page does not
    start last and keep one worker busy alone (the demo: CLV 8 s of 26)."""
    last = {}
    for run in {id(run): run for run, _ in jobs}.values():
        for record in _last_records(run.folder):
            last[id(run), record.get("name")] = float(record.get("seconds") or 0.0)
    return sorted(jobs, key=lambda job: -last.get((id(job[0]), job[1].report_name), float("inf")))


def _last_records(folder: Path) -> list[dict[str, Any]]:
    """The notebook records of the last run published in ``folder`` (none if unreadable)."""
    try:
        reports = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("reports")
    except (OSError, ValueError, AttributeError):
        return []
    return [r for r in reports if isinstance(r, dict)] if isinstance(reports, list) else []


def _start_runs(params_paths: Any, out: Any, runs: dict[int, _Run], **options: Any) -> dict[int, RunOutcome]:
    """Check and stage each params file: the runs that may go ahead into ``runs``; the outcomes of those refused."""
    refused: dict[int, RunOutcome] = {}
    taken: dict[Path, Path] = {}
    for i, path in enumerate(params_paths):
        try:
            runs[i] = _Run.start(path, out, taken=taken, **options)
        except (ParamsError, ValueError, FileNotFoundError) as exc:
            refused[i] = RunOutcome(Path(path), None, [], exc)
    return refused


def run_params(
    params_path: str | os.PathLike[str],
    out: str | os.PathLike[str] = "reports",
    *,
    parallel: int = 1,
    kernel_name: str | None = None,
    data: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    templates: list[str | os.PathLike[str]] | tuple = (),
    kernels: KernelPool | None | Literal[False] = None,
) -> list[dict[str, Any]]:
    """Run every notebook of a params file; publish reports and exports, the manifest and the index.

    Parameters
    ----------
    params_path : path
        The params file (see :mod:`crm_lab.report.params`).
    out : path
        The output folder: reports go to ``<out>/<campaign>/``, exports to
        ``<out>/<campaign>/audiences/<as_of>/<report>/``, the index to ``<out>/index.html``.
    parallel : int
        Notebooks run at once.
    data : path, optional
        Replaces the file's ``data`` (the same params on another shop folder).
    timeout : float, optional
        Seconds each notebook may run, over the file's ``timeout:`` (default :data:`DEFAULT_TIMEOUT`).
    templates : list of paths
        Folders searched for notebook templates before crm_lab's own.
    kernels : KernelPool or False, optional
        Warm kernels to run the notebooks in (:class:`~crm_lab.report.kernels.KernelPool`: each
        notebook finds crm_lab and its libraries imported, its namespace cleared); default one pool
        for this run, its kernels started while the params are checked, closed at its end. Pass one
        to share it across runs; False starts a new kernel for every notebook.

    Returns
    -------
    list of dict: one per notebook with ``notebook, name, report, status, seconds, error, exports``.

    Raises
    ------
    ParamsError
        Before anything runs: the params file, a parameter, ``as_of`` or the campaign folder.
    ReportError
        After all notebooks ran, if any failed (the others are still published).

    See Also
    --------
    run_many : several params files in one queue of workers.

    Examples
    --------
    >>> import crm_lab as cl
    >>> cl.report.run_params("params/demo_overview.yaml", out="reports")  # doctest: +SKIP
    """
    (outcome,) = run_many([params_path], out, parallel=parallel, kernel_name=kernel_name, data=data, timeout=timeout,
                          templates=templates, kernels=kernels)
    if outcome.error is not None:
        raise outcome.error
    return outcome.records


def _write_manifest(folder: Path, spec: RunParams, params_path: Path, run_id: str, records: list[dict[str, Any]],
                    holdout: dict[str, Any] | None = None) -> None:
    finished = dt.datetime.now().isoformat(timespec="seconds")
    manifest = {"campaign": spec.campaign, "title": spec.title, "params_file": params_path.name, "run_id": run_id,
                "finished_at": finished, "crm_lab": crm_lab.__version__, "python": platform.python_version(),
                # The shop's global holdout, which every audience of the run left out (its share; the key stays in shop.json).
                "global_holdout": {"share": holdout["share"]} if holdout else None,
                "reports": records}
    atomic_text(folder / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1, default=str))
    lines = [f"{r['status']:6} {r['seconds']:7.1f}s {r['name']}" + (f"  {r['error']}" if r["error"] else "") for r in records]
    with open(folder / "run.log", "a", encoding="utf-8") as fh:
        fh.write(f"# {finished} {params_path} run {run_id}\n" + "\n".join(lines) + "\n")
