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

__all__ = ["header", "verdict", "kpi_cards", "table", "as_table", "note", "facts", "report_title", "fmt_yuan", "fmt_pct",
           "fmt_pp", "fmt_p", "FACTS_MIME", "TABLE_MIME", "appendix"]

#: The mimetype of the facts a page states (title, conclusion, key numbers): kept out of the page,
#: read by the runner into the manifest and the index (:func:`facts`).
FACTS_MIME = "application/vnd.crm-lab.facts+json"
#: The mimetype of a table's numbers (unformatted, columns as the reader sees them): the runner
#: writes every table of a page into one xlsx beside it (:mod:`crm_lab.report.workbook`).
TABLE_MIME = "application/vnd.crm-lab.table+json"


class _HTML:
    """Minimal rich-display object (IPython renders ``_repr_html_``), with the facts it states."""

    def __init__(self, markup: str, stated: dict[str, Any] | None = None, data: dict[str, Any] | None = None):
        self.markup = markup
        self.stated = stated or {}
        self.data = data

    def _repr_html_(self) -> str:
        return self.markup

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/html": self.markup}
        if self.stated:
            bundle[FACTS_MIME] = self.stated
        if self.data is not None:
            bundle[TABLE_MIME] = self.data
        return bundle

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


def facts(**stated: Any) -> _HTML:
    """State a page's key numbers by name, for the manifest (not shown on the page).

    A campaign's pages state the same quantity under the same name (``wave1_selected``,
    ``target``, ...), so a test, or a reader of the manifests, can check that every page of the
    campaign says the same; values are plain numbers or text.

    Examples
    --------
    >>> from crm_lab.report import facts
    >>> facts(wave1_selected=4438)._repr_mimebundle_()["application/vnd.crm-lab.facts+json"]
    {'wave1_selected': 4438}
    """
    plain = {k: (v.item() if hasattr(v, "item") else v) for k, v in stated.items()}
    return _HTML("", plain)


def report_title(report: str, period: str | None, as_of: Any, shop: str | None) -> str:
    """``<报告> · <活动或周期> · 数据截至 <日期> · <店铺>``: a title that says which page this is.

    ``report`` is a template name (its Chinese name from :data:`crm_lab.report.labels.REPORT_NAMES`)
    or a name already in words.

    Examples
    --------
    >>> from crm_lab.report import report_title
    >>> report_title("campaign_gap", "双11 2025", "2025-11-30", "示例店铺")
    '大促 Gap 分析 · 双11 2025 · 数据截至 2025-11-30 · 示例店铺'
    """
    from crm_lab.report.labels import REPORT_NAMES

    parts = [REPORT_NAMES.get(report, report), period, f"数据截至 {pd.Timestamp(as_of):%Y-%m-%d}" if as_of is not None else None, shop]
    return " · ".join(str(p) for p in parts if p)


def fmt_p(value: float) -> str:
    """A p-value as readers take it: p<0.001 below a thousandth, else three decimals.

    Examples
    --------
    >>> from crm_lab.report import fmt_p
    >>> fmt_p(4e-09), fmt_p(0.0412)
    ('p<0.001', 'p=0.041')
    """
    if pd.isna(value):
        return "p=–"
    return "p<0.001" if value < 0.001 else f"p={value:.3f}"


def header(report: str, shop: Any = None, *, period: str | None = None, **meta: Any) -> _HTML:
    """The page's title (:func:`report_title`) and a provenance line in words.

    Parameters
    ----------
    report : str
        Template name (``"campaign_gap"``) or the report's name in words.
    shop : Shop, optional
        Gives the shop's name and the data's end (``as_of``).
    period : str, optional
        The campaign or period the page is about (the params file's ``title``).
    **meta
        More provenance (``event=``, ``baselines=``, ``data=`` ...), labelled in Chinese by
        :data:`crm_lab.report.labels.META_ZH`.

    Examples
    --------
    >>> import crm_lab as cl
    >>> shop = cl.datasets.make_shop(300, seed=1)
    >>> "<h1>店铺概览 · 近12个月 · 数据截至 2025-11-30 · 示例店铺</h1>" in cl.report.header("shop_overview", shop, period="近12个月")._repr_html_()
    True
    """
    from crm_lab.report.labels import META_ZH

    as_of = getattr(shop, "as_of", None)
    name = getattr(shop, "name", None)
    title = report_title(report, period, as_of, name)
    parts = [f"<b>{html.escape(META_ZH.get(k, k))}</b> {html.escape(str(v))}" for k, v in meta.items() if v is not None]
    parts.append(f"<b>生成于</b> {dt.datetime.now():%Y-%m-%d %H:%M}")
    stated = {"title": title, "as_of": f"{pd.Timestamp(as_of):%Y-%m-%d}" if as_of is not None else None, "shop": name, "period": period}
    return _HTML(f'<h1>{html.escape(title)}</h1><div class="crm-meta">{" · ".join(parts)}</div>', stated)


#: Status badges and their tone (good / bad / warn / neutral): the verdict's first word.
BADGES = {"显著": "good", "达标": "good", "预计达标": "good", "可信": "good", "可投放": "good", "增长": "good",
          "不显著": "neutral", "进行中": "neutral", "中期结果": "neutral", "待圈选": "neutral", "已圈选": "neutral",
          "有缺口": "warn", "样本不足": "warn", "人群过小": "warn", "数据不足": "warn", "下滑": "warn",
          "未达标": "bad", "负向显著": "bad", "模型不可信": "bad", "无法补足": "bad",
          "规则达标": "good", "规则预警": "warn", "规则违规": "bad"}


def _marked(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def verdict(text: str, heading: str = "核心结论", *, status: str | None = None, advice: str | None = None) -> _HTML:
    """The top box: a status badge, the conclusion (结论) and what to do (建议); ``**bold**`` marks key numbers.

    Parameters
    ----------
    text : str
        The conclusion, computed from the analysis (:mod:`crm_lab.report.verdicts`).
    status : str, optional
        A badge from :data:`BADGES` (显著 / 不显著 / 样本不足, 达标 / 未达标 ...).
    advice : str, optional
        The recommendation (建议).

    Examples
    --------
    >>> from crm_lab.report import verdict
    >>> box = verdict("响应率提升 **+5.8%**", status="显著", advice="第二波扩大人群")._repr_html_()
    >>> "<b>+5.8%</b>" in box and "crm-badge good" in box and "建议" in box
    True
    """
    if status is not None and status not in BADGES:
        raise ValueError(f"verdict: unknown status {status!r}; one of {', '.join(BADGES)}")
    badge = f'<span class="crm-badge {BADGES[status]}">{html.escape(status)}</span>' if status else ""
    body = f'<div class="crm-verdict">{badge}<p><b>结论</b> {_marked(text)}</p>'
    if advice:
        body += f'<p><b>建议</b> {_marked(advice)}</p>'
    plain = re.sub(r"\*\*", "", text)
    stated = {"conclusion": plain, "status": status, "advice": re.sub(r"\*\*", "", advice) if advice else None}
    return _HTML(f"<h2>{html.escape(heading)}</h2>{body}</div>", stated)


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


def table(df: pd.DataFrame, formats: dict[str, Any] | None = None, index: bool = False, rename: dict[str, str] | None = None,
          align: str = "right", max_rows: int | None = None) -> _HTML:
    """A compact HTML table; ``formats`` maps a column to ``"yuan"``, ``"pct"``, ``"pp"`` (a difference of shares), ``"int"`` or a callable.

    ``align="left"`` for tables of words (a plan, a list of settings) rather than numbers.
    ``max_rows``: the page shows the first rows only and says how many there are; the page's xlsx
    keeps them all (a phone cannot scroll through 3,000 products).

    Examples
    --------
    >>> import pandas as pd
    >>> from crm_lab.report import table
    >>> "¥1,234" in table(pd.DataFrame({"GMV": [1234.0]}), {"GMV": "yuan"})._repr_html_()
    True
    """
    data = _table_data(df, formats or {}, index, rename or {})
    cut = max_rows is not None and len(df) > max_rows
    shown = (df.head(max_rows) if cut else df).copy()
    named = {"yuan": fmt_yuan, "pct": fmt_pct, "pp": fmt_pp, "int": lambda v: f"{int(v):,}" if pd.notna(v) else "–",
             "float": lambda v: f"{v:,.2f}" if pd.notna(v) else "–"}
    for col, spec in (formats or {}).items():
        if col in shown:
            func = named[spec] if isinstance(spec, str) else spec
            shown[col] = shown[col].map(func)
    if rename:
        shown = shown.rename(columns=rename)
    # In a scroll box with a sticky first column: a wide table scrolls on a phone, the page does not.
    words = " crm-text" if align == "left" else ""
    more = f'<p class="crm-more">共 {len(df):,} 行，这里显示前 {max_rows:,} 行；全部见本页的 Excel</p>' if cut else ""
    return _HTML(f'<div class="crm-scroll{words}">' + shown.to_html(index=index, border=0, classes="crm-table", na_rep="–", escape=True) + "</div>"
                 + more, data=data)


def _table_data(df: pd.DataFrame, formats: dict[str, Any], index: bool, rename: dict[str, str]) -> dict[str, Any]:
    """A table's numbers for the page's xlsx: unformatted values, the reader's column names, and
    the number format of each column shown as money, a share or a count."""
    import json

    raw = (df.reset_index() if index else df).rename(columns=rename)
    kinds = {rename.get(c, c): spec for c, spec in formats.items() if isinstance(spec, str)}
    split = json.loads(raw.to_json(orient="split", index=False, date_format="iso", default_handler=str, force_ascii=False))
    return {"columns": [str(c) for c in split["columns"]], "data": split["data"], "formats": kinds}


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


def appendix(title: str, *parts: Any) -> _HTML:
    """A collapsed 技术附录 (model parameters, diagnostics in the fitters' words): there for whoever
    checks the model, out of the way of the reader who decides.

    ``parts`` are display objects (:func:`table`, :func:`note`) or text.

    Examples
    --------
    >>> from crm_lab.report import appendix, note
    >>> "<details" in appendix("模型参数", note("converged")).markup
    True
    """
    inner = "".join(p._repr_html_() if hasattr(p, "_repr_html_") else f"<p>{html.escape(str(p))}</p>" for p in parts)
    return _HTML(f'<details class="crm-appendix"><summary>技术附录：{html.escape(title)}</summary>{inner}</details>')
