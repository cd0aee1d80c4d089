"""Douyin 抖店: the order export's headers, 流量体裁 values and the after-sales export (售后表).

Examples
--------
>>> from crm_lab.data.douyin import HEADERS
>>> HEADERS["line_id"]
('子订单编号', '商品单号')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crm_lab.data.raw import _map_headers, _read_raw, _to_datetime, _to_number, clean_id
from crm_lab.data.schema import TIMEZONE, DataValidationError


#: Headers of the 抖店 order export, canonical (or helper) column -> headers as they appear.
#: First match wins; headers are compared after Unicode normalisation and removal of spaces.
HEADERS: dict[str, tuple[str, ...]] = {
    "order_id": ("主订单编号", "订单编号", "订单号"),
    "line_id": ("子订单编号", "商品单号"),
    "customer_id": ("用户ID", "买家ID", "doudian_open_id", "open_id", "openid", "union_id", "会员ID"),
    "product_id": ("商品ID",),
    "sku_id": ("商家编码", "货号", "商家编码(货号)", "SKU编码"),
    "product_name": ("选购商品", "商品名称"),
    "spec": ("商品规格",),
    "quantity": ("商品数量",),
    "unit_price": ("商品金额", "商品单价"),
    "paid_amount": ("订单应付金额", "实付金额"),
    "created_at": ("订单提交时间",),
    "paid_at": ("支付完成时间", "支付时间"),
    "completed_at": ("订单完成时间",),
    "shipped_at": ("发货时间",),
    "status": ("订单状态",),
    "refund_status": ("售后状态",),
    "refund_amount": ("退款金额", "退商品金额(元)"),
    "cancel_reason": ("取消原因",),
    "influencer_id": ("达人ID",),
    "influencer_name": ("达人昵称",),
    "traffic_source": ("流量来源",),
    "traffic_type": ("流量类型",),
    "traffic_channel": ("流量渠道",),
    "ad_channel": ("广告渠道",),
    "traffic_genre": ("流量体裁",),
    "province": ("省",),
    "city": ("市",),
    "discount_total": ("优惠总金额",),
}


#: Douyin's 流量体裁 values; "数据将于第二天更新" (filled in tomorrow) is not known yet -> null.
GENRE_MAP = {
    "直播": "live",
    "直播间": "live",
    "短视频": "short_video",
    "视频": "short_video",
    "商品卡": "product_card",
    "其他": "other",
    "其它": "other",
    "live": "live",
    "short_video": "short_video",
    "product_card": "product_card",
    "other": "other",
}


GENRE_PENDING = ("数据将于第二天更新",)


# Douyin after-sales export (售后表).
REFUND_HEADERS: dict[str, tuple[str, ...]] = {
    "refund_id": ("售后单号",),
    "order_id": ("订单号", "主订单编号"),
    "line_id": ("商品单号", "子订单编号"),
    "refund_type": ("售后类型",),
    "refund_status": ("售后状态",),
    "refunded_at": ("售后申请时间", "退款时间"),
    "refund_amount": ("退商品金额(元)", "退款金额"),
}


REFUND_SUCCESS = ("退款成功",)


def read_refunds(source: Any, preset: str = "douyin", *, encoding: str | None = None) -> pd.DataFrame:
    """Read the Douyin after-sales export (售后表): refunded amount per order line.

    Only successful refunds (售后状态 containing 退款成功) count; exchanges and closed requests do
    not. Several refunds of one line are summed; ``refunded_at`` is the latest.

    Parameters
    ----------
    source : path or DataFrame
        The after-sales export (售后单号, 订单号, 商品单号, 售后类型, 售后状态, 售后申请时间, 退商品金额（元）).
    preset : str
        Only ``"douyin"`` has a separate after-sales export.

    Returns
    -------
    pandas.DataFrame with ``line_id, order_id, refund_amount, refunded_at``.

    Examples
    --------
    >>> from crm_lab.data import read_refunds
    >>> refunds = read_refunds("aftersales.csv")  # doctest: +SKIP
    """
    raw = _read_raw(source, encoding)
    mapped, _ = _map_headers(raw, REFUND_HEADERS)
    for col in ("line_id", "refund_amount", "refund_status"):
        if col not in mapped:
            raise DataValidationError(
                "refunds", col, "— required column missing (all rows)", -1, pd.DataFrame(),
                f"the after-sales export needs {REFUND_HEADERS[col]}; it has {list(raw.columns)}",
            )
    ok = mapped["refund_status"].astype("str").str.contains("|".join(REFUND_SUCCESS), na=False)
    refunds = pd.DataFrame(
        {
            "line_id": clean_id(mapped["line_id"]),
            "order_id": clean_id(mapped["order_id"]) if "order_id" in mapped else pd.NA,
            "refund_amount": _to_number(mapped["refund_amount"]),
            "refunded_at": _to_datetime(mapped["refunded_at"], TIMEZONE) if "refunded_at" in mapped else pd.NaT,
        }
    )[ok]
    bad = refunds["refund_amount"].isna() | refunds["line_id"].isna()
    if bad.any():
        rows = refunds[bad].head(10).assign(_row=np.flatnonzero(ok.to_numpy())[bad.to_numpy()][:10] + 2)
        raise DataValidationError(
            "refunds", "refund_amount", "have a successful refund with no line id or amount", int(bad.sum()), rows,
            "complete 商品单号 and 退商品金额（元） in the after-sales export",
        )
    return (
        refunds.groupby("line_id", as_index=False)
        .agg(order_id=("order_id", "first"), refund_amount=("refund_amount", "sum"), refunded_at=("refunded_at", "max"))
        .astype({"line_id": "str"})
    )


