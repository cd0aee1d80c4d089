"""The data-quality page of an import (``quality.html``): what was read, kept and set aside, in words.

Examples
--------
>>> from crm_lab.data.importer import ImportReport
>>> from crm_lab.report.quality import quality_page
>>> "数据质量" in quality_page(ImportReport("data/shop", "2025-11-30 00:00:00", "CNY"))
True
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from crm_lab.data.importer import ImportReport
from crm_lab.report.display import as_table, header, kpi_cards, note, table, verdict
from crm_lab.report.page import page

__all__ = ["quality_page", "quality_verdict"]

#: Chinese names of the canonical tables.
TABLE_ZH = {"orders": "订单明细", "members": "会员", "products": "商品", "touches": "触达记录", "events": "行为事件",
            "unpaid_orders": "未支付订单"}


def quality_verdict(report: ImportReport) -> str:
    """The one line on top: how much was kept, and what needs a look."""
    read = sum(f.rows_read for f in report.files)
    kept = sum(f.rows_kept for f in report.files)
    quarantined = sum(f.rows_quarantined for f in report.files)
    if not read:
        return "没有读到任何数据行。"
    text = f"读取 {read:,} 行，保留 **{kept / read:.1%}**（{kept:,} 行）"
    if quarantined:
        text += f"；{quarantined:,} 行有问题已隔离，请按下表原因修正导出后重新导入"
    else:
        text += "；没有被隔离的行"
    return text + "。"


#: Chinese names of the canonical columns a quality report names.
COLUMN_ZH = {"order_id": "订单号", "line_id": "子订单号", "customer_id": "客户ID", "paid_at": "支付时间",
             "product_id": "商品ID", "quantity": "数量", "paid_amount": "实付金额", "refund_amount": "退款金额",
             "joined_at": "入会时间", "touch_id": "触达ID", "sent_at": "发送时间", "at": "时间", "event": "事件"}

#: Chinese wording of validation problems (:data:`crm_lab.data.schema.PARSE_FIXES` and the rules).
PROBLEM_ZH = {"have a placeholder id": "占位值（0、-、NULL 等），不是真实 ID", "have an unreadable date": "日期无法识别",
              "have an unreadable number": "数字无法识别（如小数逗号 12,5 或 inf）", "have a non-integer quantity": "数量不是整数",
              "have an id in scientific notation": "ID 被 Excel 写成科学计数法，位数已丢失",
              "have a negative paid_amount": "实付金额为负", "have quantity <= 0": "数量不为正"}


def reason_zh(reason: str) -> str:
    """``customer_id: have a placeholder id`` -> ``客户ID：占位值…``; unknown wording is kept."""
    col, _, problem = reason.partition(": ")
    if problem.startswith("have no "):
        return f"{COLUMN_ZH.get(col, col)}：缺失"
    if "duplicates" in problem:
        return f"{COLUMN_ZH.get(col, col)}：重复"
    return f"{COLUMN_ZH.get(col, col)}：{PROBLEM_ZH.get(problem, problem)}"


def _file_rows(f: Any) -> pd.DataFrame:
    items = {"表": TABLE_ZH.get(f.table, f.table), "读取": f"{f.rows_read:,} 行", "保留": f"{f.rows_kept:,} 行",
             "隔离": f"{f.rows_quarantined:,} 行", "未计入（未支付、退货行等）": f"{f.left_out:,} 行"}
    items.update({f"隔离：{reason_zh(r)}": f"{n:,} 行" for r, n in f.quarantined.items()})
    return as_table(items)


def _table_rows(t: Any) -> pd.DataFrame:
    span = f"{(t.first or '–')[:10]} 至 {(t.last or '–')[:10]}"
    items = {"行数": f"{t.rows:,}", "本次新增": f"{t.added:,}", "本次更新": f"{t.updated:,}", "未变": f"{t.unchanged:,}",
             "日期范围": span}
    if t.customers is not None:
        items["客户数"] = f"{t.customers:,}"
    items.update({f"空值：{COLUMN_ZH.get(c, c)}": f"{share:.1%}" for c, share in t.null_share.items()
                  if share > 0 and c in COLUMN_ZH})
    return as_table(items)


def quality_page(report: ImportReport) -> str:
    """The self-contained HTML page of an import's quality report (phone-width first)."""
    orders = next((t for t in report.tables if t.table == "orders"), None)
    parts: list[Any] = [
        header("数据质量 · 导入报告", 店铺文件夹=report.folder, 数据提取时间=report.as_of[:16], 货币=report.currency),
        verdict(quality_verdict(report)),
        kpi_cards([("订单行", f"{orders.rows:,}" if orders else "–"),
                   ("客户", f"{orders.customers:,}" if orders and orders.customers is not None else "–"),
                   ("可触达联系人", f"{report.contacts:,}", "平台匹配用的手机号哈希与 open id，单独存放")]),
    ]
    parts += [note(text, "提醒") for text in report.notes]
    for f in report.files:
        parts += [f"<h2>文件 {html.escape(f.file)}</h2>", table(_file_rows(f))]
        parts += [note(message) for message in f.warnings]
    if any(f.rows_quarantined for f in report.files):
        parts.append(note("被隔离的行在 quarantine/ 文件夹，含原始值与原因；手机号、姓名、地址不会写入。", "说明"))
    for t in report.tables:
        parts += [f"<h2>导入后：{TABLE_ZH.get(t.table, t.table)}</h2>", table(_table_rows(t))]
    body = "".join(p if isinstance(p, str) else p._repr_html_() for p in parts)
    return page("数据质量 · 导入报告", body, "crm_lab import")
