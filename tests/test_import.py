"""Real exports in: each silent breakage of real data is read right or refused by name; the import
command, its quality report, day-2 merges, platform-ready exports and the shop's currency."""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab.data import DataValidationError

SALT = "import-test-salt-0123456789"

HEADER = "主订单编号,子订单编号,商品ID,商品数量,商品单价,订单应付金额,支付完成时间,订单状态,收件人,收件人手机号,详细地址,用户ID"


def _douyin(tmp_path, rows, name="orders.csv", header=HEADER):
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _row(order, line, product="P1", paid="2025-10-01 10:00:00", status="已完成", phone="13800138000", buyer="U1", amount="99"):
    return f"{order},{line},{product},1,{amount},{amount},{paid},{status},张三,{phone},某路1号,{buyer}"


# --- ids ---------------------------------------------------------------------------------------


def test_scientific_notation_ids_are_refused_with_the_fix(tmp_path):
    rows = [_row("6.91235E+18", f"L{i}", buyer=f"U{i}") for i in range(6)]
    with pytest.raises(DataValidationError) as err:
        cl.data.read_orders(_douyin(tmp_path, rows), "douyin", salt=SALT)
    e = err.value
    assert e.column == "order_id" and e.count == 6 and "scientific notation" in str(e)
    assert "file lines 2, 3" in str(e) and "'6.91235E+18'" in str(e) and "as text" in str(e)


def test_xlsx_numeric_ids_beyond_15_digits_are_refused(tmp_path):
    frame = pd.DataFrame({"主订单编号": [6912345678901234334, 6912345678901234335], "子订单编号": ["L1", "L2"],
                          "商品ID": ["P1", "P1"], "商品数量": [1, 1], "订单应付金额": [10.0, 12.5],
                          "支付完成时间": ["2025-10-01 10:00:00"] * 2, "订单状态": ["已完成"] * 2, "用户ID": [1001, 1002]})
    path = tmp_path / "orders.xlsx"
    frame.to_excel(path, index=False)
    with pytest.raises(DataValidationError, match="order_id: 2 row.*scientific notation"):
        cl.data.read_orders(path, "douyin")
    # Short numeric ids (user ids as numbers) are exact and read as text.
    small = frame.assign(主订单编号=[1, 2])
    small.to_excel(path, index=False)
    orders = cl.data.read_orders(path, "douyin")
    assert orders["order_id"].tolist() == ["1", "2"] and orders["customer_id"].tolist() == ["1001", "1002"]
    assert orders["paid_amount"].tolist() == [10.0, 12.5]


def test_full_width_ids_are_the_same_id(tmp_path):
    rows = [_row("1001", "１２３"), _row("1002", "123", buyer="U2")]
    with pytest.raises(DataValidationError, match="duplicates"):
        cl.data.read_orders(_douyin(tmp_path, rows), "douyin", salt=SALT)


@pytest.mark.parametrize("placeholder", ["0", "-", "NULL", "None"])
def test_placeholder_customer_ids_are_never_customers(tmp_path, placeholder):
    rows = [_row("1", "L1", buyer=placeholder), _row("2", "L2", buyer=placeholder), _row("3", "L3", buyer="U3")]
    path = _douyin(tmp_path, rows)
    with pytest.raises(DataValidationError, match="customer_id: 2 row.*placeholder id"):
        cl.data.read_orders(path, "douyin", salt=SALT)
    with pytest.warns(UserWarning, match="2 row.*quarantined"):
        orders = cl.data.read_orders(path, "douyin", salt=SALT, errors="quarantine", quarantine=tmp_path / "q.csv")
    assert orders["customer_id"].tolist() == ["U3"]


# --- timestamps and numbers ------------------------------------------------------------------


def test_utc_parquet_timestamps_are_shop_local_time(tmp_path):
    utc = pd.to_datetime(["2025-10-01 16:30:00", "2025-10-01 02:00:00"]).tz_localize("UTC")
    orders = pd.DataFrame({"order_id": ["1", "2"], "line_id": ["1", "2"], "customer_id": ["a", "b"], "paid_at": utc,
                           "product_id": ["p", "p"], "quantity": [1, 1], "paid_amount": [1.0, 2.0]})
    path = tmp_path / "orders.parquet"
    orders.to_parquet(path)
    lazy = cl.engine.collect(cl.data.read_table(path, "orders"))
    expected = [pd.Timestamp("2025-10-02 00:30:00"), pd.Timestamp("2025-10-01 10:00:00")]
    assert lazy.sort_values("order_id")["paid_at"].tolist() == expected  # the next day in Shanghai, not 16:30
    assert cl.data.read_orders(orders)["paid_at"].tolist() == expected
    assert cl.data.read_table(orders, "orders")["paid_at"].tolist() == expected


def test_one_offset_among_naive_timestamps_is_converted(tmp_path):
    rows = [_row("1", "L1", paid="2025-10-01 10:00:00"), _row("2", "L2", paid="2025-10-01T02:00:00+00:00", buyer="U2"),
            _row("3", "L3", paid="2025-10-01 10:00:00+08:00", buyer="U3")]
    orders = cl.data.read_orders(_douyin(tmp_path, rows), "douyin", salt=SALT)
    assert orders["paid_at"].tolist() == [pd.Timestamp("2025-10-01 10:00:00")] * 3


def test_ambiguous_day_first_dates_need_dayfirst(tmp_path):
    rows = [_row("1", "L1", paid="01/10/2025 10:00"), _row("2", "L2", paid="02/10/2025 10:00", buyer="U2")]
    path = _douyin(tmp_path, rows)
    with pytest.raises(ValueError, match="dayfirst=True"):
        cl.data.read_orders(path, "douyin", salt=SALT)
    orders = cl.data.read_orders(path, "douyin", salt=SALT, dayfirst=True)
    assert orders["paid_at"].dt.month.tolist() == [10, 10]
    assert cl.data.read_orders(path, "douyin", salt=SALT, dayfirst=False)["paid_at"].dt.month.tolist() == [1, 2]
    decided = _douyin(tmp_path, [_row("1", "L1", paid="13/10/2025 10:00")], name="decided.csv")
    assert cl.data.read_orders(decided, "douyin", salt=SALT)["paid_at"].iloc[0] == pd.Timestamp("2025-10-13 10:00")


def test_decimal_commas_and_inf_name_the_file_lines(tmp_path):
    rows = [_row("1", "L1", amount='"12,5"'), _row("2", "L2", amount="inf", buyer="U2"), _row("3", "L3", amount='"1,299.00"', buyer="U3")]
    path = _douyin(tmp_path, rows)
    with pytest.raises(DataValidationError) as err:
        cl.data.read_orders(path, "douyin", salt=SALT)
    assert err.value.column == "paid_amount" and err.value.count == 2 and "file lines 2, 3" in str(err.value)
    with pytest.warns(UserWarning, match="quarantined"):
        kept = cl.data.read_orders(path, "douyin", salt=SALT, errors="quarantine", quarantine=tmp_path / "q.csv")
    assert kept["paid_amount"].tolist() == [1299.0]  # thousands commas are fine
    q = pd.read_csv(tmp_path / "q.csv", dtype=str)
    assert sorted(q["raw_value"]) == ["12,5", "inf"] and set(q["source"]) == {"orders.csv"}


def test_fractional_quantity_is_a_validation_error_quarantine_can_set_aside(tmp_path):
    rows = ["1,L1,P1,1.5,10,15,2025-10-01 10:00:00,已完成,张三,13800138000,某路1号,U1", _row("2", "L2", buyer="U2")]
    path = _douyin(tmp_path, rows)
    with pytest.raises(DataValidationError, match="quantity: 1 row.*non-integer quantity"):
        cl.data.read_orders(path, "douyin", salt=SALT)
    with pytest.warns(UserWarning, match="quarantined"):
        assert len(cl.data.read_orders(path, "douyin", salt=SALT, errors="quarantine", quarantine=tmp_path / "q.csv")) == 1


# --- files ---------------------------------------------------------------------------------------


def test_truncated_lines_are_refused_with_their_line_numbers(tmp_path):
    rows = [_row("1", "L1"), _row("2", "L2", buyer="U2"), "3,L3,P1,1,99"]  # the download stopped mid-line
    with pytest.raises(ValueError, match=r"1 line\(s\).*12 fields \(lines 4; line 4 has 5\).*download the export again"):
        cl.data.read_orders(_douyin(tmp_path, rows), "douyin", salt=SALT)


def test_duplicated_headers_are_refused(tmp_path):
    header = HEADER + ",商品ID"
    with pytest.raises(ValueError, match="'商品ID' appears twice.*columns 3 and 13"):
        cl.data.read_orders(_douyin(tmp_path, [_row("1", "L1") + ",P9"], header=header), "douyin", salt=SALT)


def test_completed_line_without_payment_time_is_not_moved_to_unpaid(tmp_path):
    rows = [_row("1", "L1"), _row("2", "L2", paid="", buyer="U2"), _row("3", "L3", paid="", status="待支付", buyer="U3")]
    with pytest.raises(DataValidationError, match="paid_at: 1 row.*have no paid_at.*file lines 3"), \
            pytest.warns(UserWarning, match="1 unpaid line"):  # the 待支付 one is unpaid; the 已完成 one is bad data
        cl.data.read_orders(_douyin(tmp_path, rows), "douyin", salt=SALT)


def test_unpaid_lines_left_out_are_counted_in_a_warning(tmp_path):
    rows = [_row("1", "L1"), _row("3", "L3", paid="", status="待支付", buyer="U3")]
    with pytest.warns(UserWarning, match="1 unpaid line"):
        assert len(cl.data.read_orders(_douyin(tmp_path, rows), "douyin", salt=SALT)) == 1


def test_quarantine_per_file_and_run_keeps_raw_values_and_no_personal_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = [_row("1", "L1", amount="abc"), _row("2", "L2", buyer="U2")]
    path = _douyin(tmp_path, rows)
    with pytest.warns(UserWarning, match=r"quarantine/orders\.orders\.\d{8}T\d{6}-\d+\.csv"):
        cl.data.read_orders(path, "douyin", salt=SALT, errors="quarantine")
    (written,) = (tmp_path / "quarantine").iterdir()
    text = written.read_text(encoding="utf-8")
    assert "abc" in text and "orders.csv" in text and str(tmp_path) not in text
    assert "13800138000" not in text and "张三" not in text and "某路" not in text
    with pytest.raises(ValueError, match="that is the input file"):
        cl.data.read_orders(path, "douyin", salt=SALT, errors="quarantine", quarantine=path)
    assert "abc" in path.read_text(encoding="utf-8")  # the input is untouched
    # A named file is appended to: two runs, both kept.
    target = tmp_path / "q.csv"
    for _ in range(2):
        with pytest.warns(UserWarning):
            cl.data.read_orders(path, "douyin", salt=SALT, errors="quarantine", quarantine=target)
    assert len(pd.read_csv(target)) == 2


def test_canonical_tables_refuse_clear_personal_columns():
    frame = pd.DataFrame({"customer_id": ["a"], "joined_at": pd.to_datetime(["2025-01-01"]), "phone": ["13800138000"]})
    with pytest.raises(DataValidationError, match="personal data in clear text"):
        cl.data.validate(frame, "members")


# --- generic reader ------------------------------------------------------------------------------


def _uci_like() -> pd.DataFrame:
    return pd.DataFrame({
        "InvoiceNo": ["536365", "536365", "536366", "C536367", "536368", "C536369"],
        "StockCode": ["85123A", "71053", "85123A", "85123A", "22633", "99999"],
        "Quantity": [6, 6, 2, -2, 3, -1],
        "InvoiceDate": ["2010-12-01 08:26:00", "2010-12-01 08:26:00", "2010-12-03 09:00:00", "2010-12-05 10:00:00",
                        "2010-12-06 10:00:00", "2010-12-07 10:00:00"],
        "UnitPrice": [2.55, 3.39, 2.55, 2.55, 1.85, 4.0],
        "CustomerID": [17850.0, 17850.0, 17850.0, 17850.0, 0.0, 13047.0],
    })


UCI_COLUMNS = {"order_id": "InvoiceNo", "customer_id": "CustomerID", "paid_at": "InvoiceDate", "product_id": "StockCode",
               "quantity": "Quantity", "unit_price": "UnitPrice"}


def test_generic_columns_derive_amounts_lines_and_credit_refunds(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        orders = cl.data.read_orders(_uci_like(), columns=UCI_COLUMNS, errors="quarantine", quarantine=tmp_path / "q.csv")
    messages = " | ".join(str(w.message) for w in caught)
    assert "2 credit line(s)" in messages and "1 became refunds of 1 earlier line" in messages
    assert "1 match no earlier sale" in messages and "4.00" in messages  # 13047's credit has no sale in the file
    assert "1 row(s) quarantined" in messages  # CustomerID 0
    lines = orders.set_index("line_id")
    assert list(lines.index) == ["536365-1", "536365-2", "536366-1"]
    assert lines.loc["536365-1", "paid_amount"] == pytest.approx(15.3)
    # The credit of 2 x 2.55 on 12-05 refunds the latest earlier sale of that product: 536366.
    assert lines.loc["536366-1", "refund_amount"] == pytest.approx(5.1)
    assert lines.loc["536366-1", "refunded_at"] == pd.Timestamp("2010-12-05 10:00:00")
    assert lines["customer_id"].unique().tolist() == ["17850"]


def test_cdnow_master_imports_without_a_product_column():
    master = cl.datasets.load_cdnow_master()
    frame = master.assign(order_id=(np.arange(len(master)) + 1).astype(str))
    columns = {"order_id": "order_id", "customer_id": "customer_id", "paid_at": "date", "quantity": "cds",
               "paid_amount": "amount"}
    frame = frame[frame["amount"] > 0]
    with pytest.warns(UserWarning, match="pseudo-product 'ALL'"):
        orders = cl.data.read_orders(frame, columns=columns)
    assert len(orders) == len(frame) and orders["product_id"].unique().tolist() == ["ALL"]
    assert orders["customer_id"].nunique() == frame["customer_id"].nunique()


def test_mapping_files_are_data_not_code(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("orders: !!python/object/apply:os.system ['echo pwned']\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a YAML mapping"):
        cl.data.Mapping.read(evil)
    with pytest.raises(ValueError, match="unknown key 'ordrs'"):
        cl.data.Mapping.from_dict({"ordrs": {}})
    with pytest.raises(ValueError, match="orders has no column.*'amount'"):
        cl.data.Mapping.from_dict({"orders": {"amount": "Betrag"}})
    with pytest.raises(ValueError, match=r"names column\(s\) \['Rechnung'\] that are not there"):
        cl.data.read_orders(_uci_like(), columns={**UCI_COLUMNS, "order_id": "Rechnung"})


# --- salt, currency ------------------------------------------------------------------------------


def test_short_salts_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="at least 16.*10\\^10"):
        cl.data.hash_phone(["13800138000"], salt="short")


def test_shop_currency_is_kept_and_printed(tmp_path, small_shop):
    from dataclasses import replace

    shop = replace(small_shop, currency="gbp")
    assert shop.currency == "GBP"
    cl.data.write_shop(shop, tmp_path / "gbp")
    again = cl.data.read_shop(tmp_path / "gbp")
    assert again.currency == "GBP"
    with cl.currency.use(again):
        assert cl.report.fmt_yuan(1234.0) == "£1,234"
        assert cl.plots.yuan_formatter()(125000) == "£12.5万"
    assert cl.report.fmt_yuan(1234.0) == "¥1,234"
    with pytest.raises(ValueError, match="ISO 4217"):
        replace(small_shop, currency="pounds")


# --- the Douyin open platform ----------------------------------------------------------------------

SEARCH_PAGE = {
    "code": 10000, "msg": "success",
    "data": {"page": 0, "size": 100, "total": 2, "shop_order_list": [
        {"order_id": "6920000000000000001", "doudian_open_id": "1@#AbCdEf==", "order_status": 5, "order_status_desc": "已完成",
         "pay_time": 1759284000, "create_time": 1759283900, "post_tel": "", "encrypt_post_tel": "#QmFzZTY0#==",
         "mask_post_tel": "138****5678", "post_receiver": "张*", "encrypt_post_receiver": "#6L+Z#==",
         "post_addr": {"province": {"name": "浙江省"}, "encrypt_detail": "#ZGV0YWls#"},
         "sku_order_list": [
             {"order_id": "6920000000000000002", "parent_order_id": "6920000000000000001", "product_id": "3601",
              "sku_id": "17001", "code": "SKU-1", "product_name": "焕颜精华 50ml", "item_num": 2, "origin_amount": 19900,
              "pay_amount": 35800, "order_status": 5, "c_biz": 2, "c_biz_desc": "精选联盟", "author_id": 880001,
              "author_name": "小鹿美妆", "room_id": 7300000000000000001, "video_id": "", "given_product_type": "NORMAL"},
             {"order_id": "6920000000000000003", "parent_order_id": "6920000000000000001", "product_id": "3699",
              "sku_id": "17099", "product_name": "小样 5ml（赠品）", "item_num": 1, "pay_amount": 0, "c_biz": 2,
              "author_id": 880001, "author_name": "小鹿美妆", "room_id": 7300000000000000001, "given_product_type": "FREE"}]},
        {"order_id": "6920000000000000010", "doudian_open_id": "1@#XyZ==", "order_status": 1, "pay_time": 0,
         "mask_post_tel": "139****0000",
         "sku_order_list": [{"order_id": "6920000000000000011", "product_id": "3602", "sku_id": "17002", "item_num": 1,
                             "pay_amount": 9900, "c_biz": 8, "author_id": 0, "room_id": 0, "video_id": "v123"}]},
    ]},
}


def test_douyin_open_platform_orders(tmp_path):
    path = tmp_path / "search_page.json"
    path.write_text(json.dumps(SEARCH_PAGE, ensure_ascii=False), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found: list = []
        orders = cl.data.read_orders(path, "douyin_api", contacts=found)
    messages = " | ".join(str(w.message) for w in caught)
    assert "1 gift line" in messages and "1 unpaid line" in messages
    (line,) = orders.to_dict(orient="records")
    assert line["order_id"] == "6920000000000000001" and line["line_id"] == "6920000000000000002"
    assert line["customer_id"] == "1@#AbCdEf==" and line["paid_amount"] == 358.0 and line["quantity"] == 2
    assert line["paid_at"] == pd.Timestamp("2025-10-01 10:00:00")  # 1759284000 is 02:00 UTC
    assert (line["influencer_id"], line["influencer_name"], line["traffic_source"], line["traffic_genre"]) == \
        ("880001", "小鹿美妆", "精选联盟", "live")
    assert line["channel"] == "douyin"
    text = orders.to_csv()
    assert "****" not in text and "#" not in text.replace("1@#AbCdEf==", "") and "张*" not in text
    contacts = pd.concat(found)
    assert set(contacts["doudian_open_id"]) == {"1@#AbCdEf==", "1@#XyZ=="} and contacts["phone_sha256"].isna().all()
    with pytest.warns(UserWarning, match="1 gift line"):
        unpaid_only = cl.data.douyin_api.flatten(SEARCH_PAGE).set_index("line_id").loc["6920000000000000011"]
    assert (unpaid_only["status"], unpaid_only["traffic_source"], unpaid_only["traffic_genre"]) == ("待支付", "小店自卖", "short_video")


def test_a_mapped_masked_phone_is_never_an_identity():
    frame = pd.DataFrame({"单号": ["1", "2"], "手机": ["138****5678", "138****5678"], "时间": ["2025-10-01", "2025-10-02"],
                          "金额": ["10", "20"]})
    columns = {"order_id": "单号", "phone": "手机", "paid_at": "时间", "paid_amount": "金额"}
    with pytest.warns(UserWarning, match="2 phone"), pytest.raises(DataValidationError, match="masked or encrypted phone.*rows 1, 2"):
        cl.data.read_orders(frame, columns=columns, salt=SALT)
