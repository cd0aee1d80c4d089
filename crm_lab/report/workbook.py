"""Downloadable numbers: every table of a report in one xlsx beside its HTML (stakeholders work in Excel).

A template shows tables with :func:`crm_lab.report.table`; each carries its unformatted numbers
and the reader's column names. When the page is published, :func:`page_tables` collects them, one
sheet per table named after the section heading above it, and :func:`write_workbook` writes them
with money, shares and counts formatted as Excel numbers (so they can still be summed), atomically.

Examples
--------
>>> import nbformat, pandas as pd, crm_lab as cl
>>> from crm_lab.report.workbook import page_tables
>>> cell = nbformat.v4.new_code_cell("x")
>>> bundle = cl.report.table(pd.DataFrame({"GMV": [1234.0]}), {"GMV": "yuan"}, rename={"GMV": "有效金额"})._repr_mimebundle_()
>>> cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
>>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## 月度"), cell])
>>> [(name, t["columns"]) for name, t in page_tables(nb)]
[('月度', ['有效金额'])]
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from crm_lab.files import temp_path
from crm_lab.report.display import TABLE_MIME

__all__ = ["page_tables", "write_workbook", "EXCEL_FORMATS"]

#: Excel number formats of the columns a page shows as money, shares and counts.
EXCEL_FORMATS = {"yuan": "#,##0", "pct": "0.0%", "pp": "+0.0%;-0.0%", "int": "#,##0", "float": "#,##0.00"}
_HEADING = re.compile(r"^#{1,3}\s+(.+)$", re.M)
_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(heading: str, taken: set[str]) -> str:
    base = _NOT_IN_SHEET_NAMES.sub(" ", heading).strip()[:28] or "表"
    name, n = base, 2
    while name in taken:
        name, n = f"{base[:26]}_{n}", n + 1
    taken.add(name)
    return name


def page_tables(nb: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(sheet name, table)`` for every table an executed notebook showed, in page order."""
    found, taken, heading = [], set(), "概要"
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            headings = _HEADING.findall(cell.get("source", ""))
            heading = headings[-1].strip() if headings else heading
            continue
        for output in cell.get("outputs", []):
            table = output.get("data", {}).get(TABLE_MIME)
            if isinstance(table, dict) and table.get("columns"):
                found.append((_sheet_name(heading, taken), table))
    return found


def write_workbook(tables: list[tuple[str, dict[str, Any]]], path: str | os.PathLike[str]) -> Path | None:
    """Write the tables as sheets of one xlsx at ``path`` (renamed into place); None when there are none."""
    if not tables:
        return None
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, table in tables:
        sheet = book.create_sheet(name)
        sheet.append(table["columns"])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table["data"]:
            sheet.append([v if v is None or isinstance(v, (int, float, str)) else str(v) for v in row])
        for i, column in enumerate(table["columns"], start=1):
            fmt = EXCEL_FORMATS.get(table.get("formats", {}).get(column))
            letter = sheet.cell(row=1, column=i).column_letter
            sheet.column_dimensions[letter].width = max(10, min(40, 2 * len(str(column)) + 2))
            if fmt:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                    cell.number_format = fmt
        sheet.freeze_panes = "B2"
    target = Path(path)
    tmp = temp_path(target, "xlsx")
    try:
        book.save(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
