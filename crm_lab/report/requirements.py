"""What each report template needs from a shop, checked before it runs: a shop without it gets one line, not a traceback.

A real shop often has only orders (UCI Online Retail, a new Tmall store): a template that needs
members, touches, events or a products column it lacks is refused in one line naming the table,
what it is for and how to get it, recorded as failed in the index, while the others run.

Examples
--------
>>> from crm_lab.report.requirements import NEEDS
>>> NEEDS["response_report"][0].table
'touches'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import narwhals as nw

from crm_lab import engine

__all__ = ["Need", "NEEDS", "PARAMETER_NEEDS", "missing", "missing_parameters"]


@dataclass(frozen=True)
class Need:
    """A table (and optionally a column with at least one value) a template cannot do without.

    Attributes
    ----------
    table : str
    column : str or None
        A column that must exist and hold at least one value; a tuple: at least one of them.
    why : str
        What the report uses it for, in the reader's words.
    """

    table: str
    column: str | tuple[str, ...] | None
    why: str


#: Template -> what it needs beyond orders.
NEEDS: dict[str, tuple[Need, ...]] = {
    "response_report": (Need("touches", None, "触达记录（谁在何时收到了哪次活动、实验组或对照组）"),),
    "high_potential": (Need("events", None, "行为事件（看直播、加购等）"),),
    "new_member_first_purchase": (Need("members", None, "会员表（入会时间）"),),
    "member_lifecycle": (Need("members", None, "会员表（入会时间：入会→首购→复购）"),),
    "sample_to_full_size": (Need("products", "sample_of", "商品表的 sample_of（哪个小样对应哪个正装）"),),
    "audience_builder": (Need("products", "sample_of", "商品表的 sample_of（派样→正装人群）"),
                         Need("orders", "influencer_id", "订单的达人 ID（达人新客人群）")),
    "influencer_repurchase": (Need("orders", "influencer_id", "订单的达人 ID（达人带来的新客）"),),
}
NEEDS["event_care"] = (Need("orders", ("shipped_at", "status"), "订单的发货时间或订单状态（哪些已付款订单尚未发货）"),)


def _columns(need: Need) -> tuple[str, ...]:
    return (need.column,) if isinstance(need.column, str) else tuple(need.column or ())


def _has_values(frame: Any, column: str) -> bool:
    lazy = engine.lazy(frame)
    if column not in lazy.collect_schema().names():
        return False
    found = engine.collect(lazy.select((~nw.col(column).is_null()).sum().alias("n")))
    return int(found["n"].iloc[0]) > 0


def missing(template: str, shop: Any) -> list[str]:
    """One line per need of ``template`` that ``shop`` does not meet (empty: it can run)."""
    lines = []
    for need in NEEDS.get(template, ()):
        frame = getattr(shop, need.table, None)
        if frame is None:
            lines.append(f"{template} needs the {need.table} table — {need.why}; the shop has none "
                         f"(add {need.table}.parquet to the folder, or import it with crm-lab import --{need.table})")
        elif need.column is not None and not any(_has_values(frame, c) for c in _columns(need)):
            columns = " or ".join(f"{need.table}.{c}" for c in _columns(need))
            lines.append(f"{template} needs {columns} with values — {need.why}; the shop's {need.table} has none")
    return lines


#: Template -> parameters its params file must give (a template default would be another
#: campaign's: the demo plan stands in the template only so the notebook runs as it is shipped).
PARAMETER_NEEDS: dict[str, dict[str, str]] = {
    "campaign_overview": {"plan": "活动计划（参数文件的 plan:：活动期、目标、各波次的人群、圈选日、发送时间、对照组、成本）"},
    "event_care": {"care": "事件关怀规则（参数文件的 care:：包裹卡规则、催付、优惠券和积分到期提醒）"},
}


#: The shipped params file that shows each needed block.
EXAMPLES = {"plan": "demo_d11_2025.yaml", "care": "demo_care.yaml"}


def missing_parameters(template: str, given: dict[str, Any]) -> list[str]:
    """One line per parameter ``template`` needs that the params file does not give.

    Examples
    --------
    >>> from crm_lab.report.requirements import missing_parameters
    >>> missing_parameters("campaign_overview", {"data": "data/demo"})[0].startswith("campaign_overview needs `plan:`")
    True
    """
    return [f"{template} needs `{name}:` in the params file — {why}; see params/{EXAMPLES.get(name, 'demo_d11_2025.yaml')}"
            for name, why in PARAMETER_NEEDS.get(template, {}).items() if given.get(name) is None]
