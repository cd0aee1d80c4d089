"""The Douyin open platform's order shape (抖店开放平台 ``order.searchList`` / ``order.orderDetail``).

The official SDKs return a shop order (店铺单, ``shop_order_list[]`` in a search page, or
``shop_order_detail`` in a detail response) with its SKU orders (``sku_order_list[]``, the lines).
:func:`flatten` turns that JSON into one row per line, in the column names
:func:`crm_lab.data.read_orders` maps (``preset="douyin_api"``):

============================  ======================================================================
field                          becomes
============================  ======================================================================
shop ``order_id``              ``order_id``
sku ``order_id``               ``line_id`` (the 子订单号)
``doudian_open_id``            ``customer_id`` (and the contacts table's open id)
``product_id``, ``sku_id``     ``product_id``, ``sku_id``; ``code`` (商家编码) is not used
``product_name``, ``item_num`` ``product_name``, ``quantity``
``pay_amount``                 ``paid_amount``, **fen -> yuan** (divided by 100)
``pay_time``                   ``paid_at`` (Unix seconds -> the shop's local time; 0: unpaid)
``order_status`` (+ ``_desc``) ``status`` in words (the description when given, else the code:
                               1 待支付, 2 备货中, 101 部分发货, 105 已支付, 3 已发货, 4 已取消, 5 已完成)
``c_biz`` (+ ``_desc``)        ``traffic_source`` (the description, else 2 精选联盟, 8 小店自卖)
``author_id``, ``author_name`` ``influencer_id``, ``influencer_name`` (0 / empty: none)
``room_id``, ``video_id``      ``traffic_genre``: ``live`` with a room, ``short_video`` with a video
``given_product_type``         a gift line (``FREE`` ...) is not a purchase: left out, counted in a warning
receiver fields                ``post_tel``, ``encrypt_post_tel``, ``mask_post_tel``, ``post_receiver``,
                               ``post_addr`` ... are never read
============================  ======================================================================

Examples
--------
>>> from crm_lab.data.douyin_api import flatten
>>> page = {"code": 10000, "data": {"shop_order_list": [{"order_id": "1", "doudian_open_id": "o1",
...     "pay_time": 1727750400, "order_status": 5, "sku_order_list": [{"order_id": "11", "product_id": "p",
...     "item_num": 1, "pay_amount": 9900}]}]}}
>>> flatten(page)[["line_id", "paid_amount", "paid_at", "status"]].values.tolist()
[['11', '99.0', '2024-10-01 10:40:00', '已完成']]
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from crm_lab.data.schema import TIMEZONE

#: Shop-order status codes in words (used when ``order_status_desc`` is absent).
ORDER_STATUS = {1: "待支付", 2: "备货中", 101: "部分发货", 105: "已支付", 3: "已发货", 4: "已取消", 5: "已完成"}

#: ``c_biz`` codes in words (used when ``c_biz_desc`` is absent); other codes are kept as ``c_biz <n>``.
C_BIZ = {2: "精选联盟", 8: "小店自卖"}

#: SKU-order fields read, and the column each becomes.
SKU_FIELDS = {"order_id": "line_id", "product_id": "product_id", "sku_id": "sku_id", "product_name": "product_name",
              "item_num": "quantity", "pay_amount": "pay_amount", "author_id": "influencer_id",
              "author_name": "influencer_name", "room_id": "room_id", "video_id": "video_id", "c_biz": "c_biz",
              "c_biz_desc": "c_biz_desc", "given_product_type": "given_product_type", "pay_time": "sku_pay_time"}

#: Shop-order fields read (everything else, the receiver's encrypted and masked fields included, is not).
SHOP_FIELDS = {"order_id": "order_id", "doudian_open_id": "open_id", "pay_time": "pay_time",
               "order_status": "order_status", "order_status_desc": "order_status_desc"}


def _shop_orders(payload: Any) -> list[dict[str, Any]]:
    """The shop orders of a search page, a detail response, a list of either, or a list of shop orders."""
    if isinstance(payload, list):
        return [order for item in payload for order in _shop_orders(item)]
    if not isinstance(payload, dict):
        raise ValueError(f"douyin_api: expected the JSON of order.searchList or order.orderDetail, not {type(payload).__name__}")
    data = payload.get("data", payload)
    if "shop_order_list" in data:
        return list(data["shop_order_list"] or [])
    if "shop_order_detail" in data:
        return [data["shop_order_detail"]]
    if "sku_order_list" in data:
        return [data]
    raise ValueError("douyin_api: no shop_order_list, shop_order_detail or sku_order_list in the JSON "
                     f"(keys {sorted(data)[:8]}); give the response of order.searchList or order.orderDetail")


def _load(source: Any) -> Any:
    if not isinstance(source, (str, os.PathLike)):
        return source
    path = Path(source)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def _local_time(seconds: pd.Series, tz: str) -> pd.Series:
    stamps = pd.to_numeric(seconds, errors="coerce")
    stamps = stamps.where(stamps > 0)
    local = pd.to_datetime(stamps, unit="s", utc=True).dt.tz_convert(tz).dt.tz_localize(None)
    return local.dt.strftime("%Y-%m-%d %H:%M:%S").where(local.notna())


def _text(values: pd.Series) -> pd.Series:
    """Ids as text; 0 and empty mean none."""
    text = values.astype("str").where(values.notna())
    return text.where(~text.isin(["0", "", "None", "nan"]))


def flatten(source: Any, tz: str = TIMEZONE) -> pd.DataFrame:
    """One text row per SKU order (line) of open-platform order JSON; see the module's table.

    Parameters
    ----------
    source : path, dict or list
        A ``.json`` file (one response or a list of them), a ``.jsonl`` file (one per line), or
        the parsed JSON.
    tz : str
        The shop's time zone for ``pay_time``.
    """
    shops = _shop_orders(_load(source))
    shop_frame = pd.DataFrame([{new: order.get(old) for old, new in SHOP_FIELDS.items()} for order in shops])
    lines = [dict({new: sku.get(old) for old, new in SKU_FIELDS.items()}, _shop=i)
             for i, order in enumerate(shops) for sku in (order.get("sku_order_list") or [])]
    frame = pd.DataFrame(lines, columns=[*SKU_FIELDS.values(), "_shop"])
    shop = shop_frame.reindex(frame["_shop"]).reset_index(drop=True) if len(shop_frame) else pd.DataFrame(index=frame.index)
    gift = frame["given_product_type"].notna() & ~frame["given_product_type"].astype("str").isin(["", "NORMAL", "0"])
    if gift.any():
        warnings.warn(f"douyin_api: {int(gift.sum())} gift line(s) (given_product_type) are not purchases and are left out",
                      UserWarning, stacklevel=3)
    frame, shop = frame[~gift].reset_index(drop=True), shop[~gift.to_numpy()].reset_index(drop=True)
    status = shop["order_status_desc"].where(shop["order_status_desc"].notna(), shop["order_status"].map(ORDER_STATUS))
    paid = shop["pay_time"].where(pd.to_numeric(shop["pay_time"], errors="coerce") > 0, frame["sku_pay_time"])
    source_desc = frame["c_biz_desc"].where(frame["c_biz_desc"].notna(), frame["c_biz"].map(C_BIZ))
    genre = pd.Series(pd.NA, index=frame.index, dtype="object")
    genre = genre.mask(_text(frame["video_id"]).notna(), "short_video").mask(_text(frame["room_id"]).notna(), "live")
    out = pd.DataFrame({
        "order_id": _text(shop["order_id"]), "line_id": _text(frame["line_id"]), "open_id": _text(shop["open_id"]),
        "product_id": _text(frame["product_id"]), "sku_id": _text(frame["sku_id"]), "product_name": frame["product_name"],
        "quantity": frame["quantity"].astype("str").where(frame["quantity"].notna()),
        "paid_amount": (pd.to_numeric(frame["pay_amount"], errors="coerce") / 100).astype("str").where(frame["pay_amount"].notna()),
        "paid_at": _local_time(paid, tz), "status": status.astype("str").where(status.notna()),
        "influencer_id": _text(frame["influencer_id"]), "influencer_name": frame["influencer_name"].where(frame["influencer_name"] != ""),
        "traffic_source": source_desc.where(source_desc.notna(), "c_biz " + frame["c_biz"].astype("str")).where(frame["c_biz"].notna() | source_desc.notna()),
        "traffic_genre": genre,
    })
    return out.astype("str").where(out.notna())


#: The columns of :func:`flatten`, mapped as they are by ``read_orders(preset="douyin_api")``.
COLUMNS = {c: c for c in ("order_id", "line_id", "open_id", "product_id", "sku_id", "product_name", "quantity",
                          "paid_amount", "paid_at", "status", "influencer_id", "influencer_name", "traffic_source",
                          "traffic_genre")}
