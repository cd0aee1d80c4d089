"""What a report shows, inside its notebook: title, conclusion, KPI cards, tables, notes.

These are the parts of the house look (``shared/examples/report_look.png``); a template calls
them and IPython renders their HTML. Every text is escaped: a product name from the data can
never inject markup.

Examples
--------
>>> from crm_lab.report import kpi_cards, verdict
>>> "crm-kpi" in kpi_cards([("客户数", "4,783")])._repr_html_()
True
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pandas as pd

from crm_lab import currency

__all__ = ["header", "verdict", "kpi_cards", "table", "as_table", "note", "fmt_yuan", "fmt_pct", "fmt_pp"]


class _HTML:
    """Minimal rich-display object (IPython renders ``_repr_html_``)."""

    def __init__(self, markup: str):
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return re.sub(r"<[^>]+>", "", self.markup)


def fmt_yuan(value: float, decimals: int = 0) -> str:
    """¥12,345 (negative as -¥12,345), in the shop's currency (:func:`crm_lab.currency.use`: £12,345).

    Examples
    --------
    >>> from crm_lab.report import fmt_yuan
    >>> fmt_yuan(44002.4)
    '¥44,002'
    """
    if pd.isna(value):
        return "–"
    sign = "-" if value < 0 else ""
    return f"{sign}{currency.symbol()}{abs(value):,.{decimals}f}"


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


def fmt_pp(value: float, decimals: int = 1) -> str:
    """A difference of two rates in percentage points, signed: +4.1 个百分点.

    Examples
    --------
    >>> from crm_lab.report import fmt_pp
    >>> fmt_pp(0.041), fmt_pp(-0.0025)
    ('+4.1 个百分点', '-0.2 个百分点')
    """
    if pd.isna(value):
        return "–"
    return f"{value * 100:+.{decimals}f} 个百分点"


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
    # In a scroll box with a sticky first column: a wide table scrolls on a phone, the page does not.
    return _HTML('<div class="crm-scroll">' + shown.to_html(index=index, border=0, classes="crm-table", na_rep="–", escape=True) + "</div>")


def as_table(items: dict[str, Any], columns: tuple[str, str] = ("项目", "数值")) -> pd.DataFrame:
    """A two-column table (label, value) from a dict, for :func:`table`.

    Examples
    --------
    >>> from crm_lab.report import as_table
    >>> as_table({"回测人群": "1,024"}).values.tolist()
    [['回测人群', '1,024']]
    """
    return pd.DataFrame({columns[0]: list(items), columns[1]: [str(v) for v in items.values()]})


def note(text: str, heading: str = "注意") -> _HTML:
    """A visible note box for the reader (a caveat, a warning raised while the report ran).

    Examples
    --------
    >>> from crm_lab.report import note
    >>> "crm-note" in note("样本比例异常")._repr_html_()
    True
    """
    return _HTML(f'<div class="crm-note"><b>{html.escape(heading)}</b> {html.escape(text)}</div>')
