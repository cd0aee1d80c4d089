"""The report layer: what readers see, and the scheduled runs that publish it.

* :mod:`~crm_lab.report.display` — inside a notebook: :func:`header`, :func:`verdict`,
  :func:`kpi_cards`, :func:`table`, :func:`note` and the formatters (the house look).
* :mod:`~crm_lab.report.params` — params files read as plain data and checked before any run.
* :mod:`~crm_lab.report.runner` — :func:`run_params` / :func:`run_many` / :func:`run_notebook`: papermill runs with a
  time limit, staged exports, atomic publishing.
* :mod:`~crm_lab.report.page` — an executed notebook as a page without code or hidden markup.
* :mod:`~crm_lab.report.verdicts` — the words on top: verdicts, decisions and KPI cards from an analysis' result.
* :mod:`~crm_lab.report.campaign_page` — the campaign overview: planned vs selected vs sent, named alike on every page.
* :mod:`~crm_lab.report.labels` — the one registry of labels readers see for codes.
* :mod:`~crm_lab.report.index` — ``index.html`` rebuilt from every manifest under a lock.
* :mod:`~crm_lab.report.workbook` — every table of a page in one xlsx beside it, linked from the page.

Examples
--------
>>> import crm_lab as cl
>>> cl.report.run_params("params/demo_overview.yaml")  # doctest: +SKIP
"""

from crm_lab.report.campaign_page import (
    campaign_cards,
    campaign_facts,
    campaign_notes,
    campaign_waves_table,
    plan_table,
)
from crm_lab.report.display import (
    appendix,
    as_table,
    facts,
    fmt_p,
    fmt_pct,
    fmt_pp,
    fmt_yuan,
    header,
    kpi_cards,
    note,
    report_title,
    table,
    verdict,
)
from crm_lab.report.index import write_index
from crm_lab.report.params import (
    NotebookRun,
    ParamsError,
    RunParams,
    check_parameters,
    load_params,
)
from crm_lab.report.runner import DEFAULT_TIMEOUT, ReportError, RunOutcome, run_many, run_notebook, run_params
from crm_lab.report.verdicts import (
    audience_decision,
    campaign_decision,
    clv_cards,
    clv_decision,
    clv_notes,
    clv_verdict,
    gap_decision,
    lifecycle_decision,
    care_decision,
    pivot_decision,
    overview_cards,
    overview_decision,
    overview_verdict,
    response_decision,
    response_verdict,
    wave_plan_cards,
    wave_plan_verdict,
    waves_decision,
    window_text,
)

__all__ = [
    "ReportError",
    "ParamsError",
    "RunParams",
    "NotebookRun",
    "DEFAULT_TIMEOUT",
    "header",
    "verdict",
    "kpi_cards",
    "table",
    "as_table",
    "note",
    "fmt_yuan",
    "fmt_pct",
    "fmt_pp",
    "fmt_p",
    "load_params",
    "check_parameters",
    "run_notebook",
    "run_params",
    "run_many",
    "RunOutcome",
    "write_index",
    "overview_verdict",
    "overview_cards",
    "clv_verdict",
    "clv_cards",
    "clv_notes",
    "response_verdict",
    "wave_plan_verdict",
    "wave_plan_cards",
    "window_text",
    "facts",
    "appendix",
    "report_title",
    "audience_decision",
    "campaign_decision",
    "clv_decision",
    "gap_decision",
    "lifecycle_decision",
    "care_decision",
    "pivot_decision",
    "overview_decision",
    "response_decision",
    "waves_decision",
    "campaign_cards",
    "campaign_facts",
    "campaign_notes",
    "campaign_waves_table",
    "plan_table",
]
