"""Tmall / Taobao: the order report's headers (classic and item-level).

Examples
--------
>>> from crm_lab.data.tmall import HEADERS
>>> HEADERS["buyer_nick"]
('买家会员名', '买家昵称')
"""

from __future__ import annotations

#: Headers of the Tmall / Taobao order report (classic and item-level), as for Douyin.
HEADERS: dict[str, tuple[str, ...]] = {
    "order_id": ("主订单编号", "订单编号"),
    "line_id": ("子订单编号",),
    "customer_id": ("买家ID", "买家会员ID", "买家openuid", "openuid"),
    "buyer_nick": ("买家会员名", "买家昵称"),
    "product_id": ("商品ID", "宝贝ID"),
    "sku_id": ("商家编码",),
    "product_name": ("商品标题", "宝贝标题"),
    "spec": ("商品属性",),
    "quantity": ("购买数量", "宝贝总数量"),
    "unit_price": ("商品价格",),
    "paid_amount": ("买家实付金额", "买家实际支付金额"),
    "payable_amount": ("买家应付货款",),
    "created_at": ("订单创建时间",),
    "paid_at": ("订单付款时间",),
    "shipped_at": ("发货时间", "卖家发货时间"),
    "status": ("订单状态",),
    "refund_status": ("退款状态",),
    "refund_amount": ("退款金额",),
    "cancel_reason": ("订单关闭原因",),
    "shop_id": ("店铺Id", "店铺ID"),
    "shop_name": ("店铺名称",),
}
