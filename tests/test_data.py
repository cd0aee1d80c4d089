"""Readers, presets, personal data and validation (crm_lab.data)."""

from __future__ import annotations

import hashlib
import io
import re

import pandas as pd
import pytest

import crm_lab as cl
from crm_lab.data import DataValidationError

SALT = "test-salt-0123456789"

DOUYIN_HEADER = (
    "主订单编号,子订单编号,选购商品,商品规格,商品数量,商品ID,商家编码,商品单价,订单应付金额,订单提交时间,"
    "支付完成时间,订单完成时间,订单状态,售后状态,取消原因,达人ID,达人昵称,流量来源,流量类型,流量体裁,"
    "收件人,收件人手机号,省,市,区,街道,详细地址,用户ID"
)
DOUYIN_ROWS = [
    # 19-digit ids, plain
    "6921234567890123456,6921234567890123457,精华液,50ml,1,3601,SKU-1,199,199.00,2025-10-01 10:00:00,"
    "2025-10-01 10:01:02,2025-10-05 10:00:00,已完成,,,KOL1,小鹿美妆,精选联盟,,直播,张三,13800138000,浙江省,杭州市,西湖区,文三路,1号,U1",
    # ="…" wrapped ids and a leading apostrophe
    '="6921234567890123458",\'6921234567890123459,面霜,30g,2,3602,SKU-2,99,198.00,2025-10-02 11:00:00,'
    "2025-10-02 11:00:30,,已完成,同意退款，退款成功,,,,商城推荐,,商品卡,李四,'13900139000,广东省,深圳市,南山区,科技路,2号,U2",
    # genre not yet known
    "6921234567890123460,6921234567890123461,口红,#01,1,3603,SKU-3,89,89.00,2025-10-03 12:00:00,"
    "2025-10-03 12:00:05,,已发货,,,KOL2,甜心酱,精选联盟,,数据将于第二天更新,王五,+86 137 0013 7000,北京,北京市,朝阳区,建国路,3号,U3",
    # unpaid: the payment-reminder population
    "6921234567890123462,6921234567890123463,面膜,5片,1,3604,SKU-4,59,59.00,2025-10-04 13:00:00,"
    ",,待支付,,,,,店铺页,,短视频,赵六,13600136000,上海,上海市,浦东新区,世纪大道,4号,U4",
]
AFTERSALES = (
    "售后单号,订单号,商品单号,售后类型,售后状态,售后申请时间,退商品金额（元）\n"
    "A1,6921234567890123458,6921234567890123459,仅退款,同意退款，退款成功,2025-10-03 09:00:00,99.00\n"
    "A2,6921234567890123456,6921234567890123457,换货,换货成功,2025-10-06 09:00:00,0\n"
)

TMALL_CLASSIC = (
    "订单编号,买家会员名,买家应付货款,买家实际支付金额,订单状态,收货人姓名,收货地址,联系手机,订单创建时间,"
    "订单付款时间,宝贝标题,宝贝总数量,店铺Id,店铺名称,订单关闭原因,退款金额\n"
    '="3456789012345678901",tb_buyer_1,120.00,118.00,交易成功,钱七,浙江省 杭州市 余杭区 某路1号,\'13500135000,'
    "2025-06-01 09:00:00,2025-06-01 09:01:00,玫瑰身体精油,1,1001,旗舰店,,18.00\n"
    '="3456789012345678902",tb_buyer_2,80.00,80.00,等待买家付款,孙八,江苏省 南京市 某路2号,13400134000,'
    "2025-06-02 09:00:00,,护手霜,2,1001,旗舰店,,0\n"
)


@pytest.fixture
def douyin_csv(tmp_path):
    path = tmp_path / "douyin_orders.csv"
    path.write_text(DOUYIN_HEADER + "\n" + "\n".join(DOUYIN_ROWS) + "\n", encoding="utf-8-sig")
    return path


@pytest.fixture
def aftersales_csv(tmp_path):
    path = tmp_path / "douyin_aftersales.csv"
    path.write_text(AFTERSALES, encoding="utf-8-sig")
    return path


def test_douyin_export_maps_to_canonical(douyin_csv, aftersales_csv):
    before = hashlib.sha256(douyin_csv.read_bytes()).hexdigest()
    with pytest.warns(UserWarning) as seen:  # no refund amount for a 退款成功 line without the 售后表
        cl.data.read_orders(douyin_csv, preset="douyin", salt=SALT)
    assert any("退款成功" in str(w.message) for w in seen)
    with pytest.warns(UserWarning, match="1 unpaid line"):
        orders = cl.data.read_orders(douyin_csv, preset="douyin", salt=SALT, refunds=aftersales_csv)
    assert hashlib.sha256(douyin_csv.read_bytes()).hexdigest() == before  # input untouched
    assert list(orders.columns[:len(cl.data.SCHEMA["orders"])]) == list(cl.data.SCHEMA["orders"])
    assert orders["order_id"].tolist() == ["6921234567890123456", "6921234567890123458", "6921234567890123460"]
    assert orders["line_id"].tolist() == ["6921234567890123457", "6921234567890123459", "6921234567890123461"]
    assert orders["traffic_genre"].tolist()[:2] == ["live", "product_card"]
    assert pd.isna(orders["traffic_genre"].iloc[2])  # 数据将于第二天更新: not known yet
    assert orders["refund_amount"].tolist() == [0.0, 99.0, 0.0]  # the exchange is no refund
    assert orders["refunded_at"].iloc[1] == pd.Timestamp("2025-10-03 09:00:00")
    assert orders["paid_at"].iloc[0] == pd.Timestamp("2025-10-01 10:01:02")
    assert orders["quantity"].tolist() == [1, 2, 1]
    assert orders["influencer_name"].iloc[0] == "小鹿美妆" and orders["channel"].eq("douyin").all()
    assert orders["customer_id"].tolist() == ["U1", "U2", "U3"]


def test_personal_data_never_kept_in_clear(douyin_csv, aftersales_csv):
    with pytest.warns(UserWarning, match="1 unpaid line"):
        orders = cl.data.read_orders(douyin_csv, preset="douyin", salt=SALT, refunds=aftersales_csv)
    text = orders.to_csv(index=False)
    for secret in ("13800138000", "13900139000", "13700137000", "张三", "李四", "文三路", "西湖区"):
        assert secret not in text
    assert not re.search(r"1[3-9]\d{9}", text)
    expected = hashlib.sha256((SALT + "13800138000").encode()).hexdigest()
    assert orders["phone_hash"].iloc[0] == expected
    # The same phone written three ways hashes the same.
    h = cl.data.hash_phone(["+86 137 0013 7000", "13700137000", "'13700137000"], salt=SALT)
    assert h.nunique() == 1
    assert orders["province"].tolist() == ["浙江省", "广东省", "北京"]


def test_phone_needs_a_salt(douyin_csv, monkeypatch):
    monkeypatch.delenv("CRM_LAB_SALT", raising=False)
    with pytest.raises(ValueError, match="CRM_LAB_SALT"):
        cl.data.read_orders(douyin_csv, preset="douyin")
    monkeypatch.setenv("CRM_LAB_SALT", SALT)
    with pytest.warns(UserWarning):
        assert len(cl.data.read_orders(douyin_csv, preset="douyin")) == 3
    with pytest.warns(UserWarning):
        dropped = cl.data.read_orders(douyin_csv, preset="douyin", pii="drop")
    assert "phone_hash" not in dropped


def test_unpaid_lines_are_the_payment_reminder_population(douyin_csv):
    unpaid = cl.data.read_unpaid_orders(douyin_csv, preset="douyin", salt=SALT)
    assert unpaid["order_id"].tolist() == ["6921234567890123462"]
    assert unpaid["status"].tolist() == ["待支付"] and unpaid["amount"].tolist() == [59.0]
    assert unpaid["created_at"].iloc[0] == pd.Timestamp("2025-10-04 13:00:00")


def test_douyin_xlsx(tmp_path, douyin_csv):
    raw = pd.read_csv(douyin_csv, dtype=str, encoding="utf-8-sig")
    # openpyxl would store ="…" as a formula; real xlsx exports hold the value.
    raw["主订单编号"] = cl.data.clean_id(raw["主订单编号"])
    path = tmp_path / "orders.xlsx"
    raw.to_excel(path, index=False)
    with pytest.warns(UserWarning):
        orders = cl.data.read_orders(path, preset="douyin", salt=SALT)
    assert orders["order_id"].tolist()[0] == "6921234567890123456"
    assert len(orders) == 3


def test_tmall_gbk_classic_report(tmp_path):
    path = tmp_path / "ExportOrderList202506.csv"
    path.write_bytes(TMALL_CLASSIC.encode("gbk"))
    with pytest.warns(UserWarning, match="product_id is taken from 宝贝标题"), pytest.warns(UserWarning, match="1 unpaid line"):
        orders = cl.data.read_orders(path, preset="tmall", salt=SALT)
    assert len(orders) == 1  # the unpaid order is not an order
    row = orders.iloc[0]
    assert row["order_id"] == "3456789012345678901" == row["line_id"]
    assert row["paid_amount"] == 118.0 and row["refund_amount"] == 18.0 and row["quantity"] == 1
    assert row["product_id"] == "玫瑰身体精油" and row["channel"] == "tmall"
    # The buyer nick is an account name: only its salted hash is kept.
    assert row["customer_id"].startswith("tb_") and "tb_buyer_1" not in orders.to_csv()
    assert "13500135000" not in orders.to_csv()


def test_tmall_item_level_without_buyer_is_a_clear_error(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(
        "子订单编号,主订单编号,商品标题,商品价格,购买数量,商品属性,订单状态,商家编码,买家应付货款,买家实付金额,"
        "退款状态,退款金额,订单创建时间,订单付款时间,商品ID\n"
        "1,2,精华,100,1,,交易成功,S1,100,100,,0,2025-06-01 09:00:00,2025-06-01 09:00:00,77\n",
        encoding="utf-8",
    )
    with pytest.raises(DataValidationError, match="customer_id") as err:
        cl.data.read_orders(path, preset="tmall", salt=SALT)
    assert "买家会员名" in str(err.value)


def _canonical() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["1", "2", "3", "4"],
            "line_id": ["11", "21", "31", "41"],
            "customer_id": ["a", "b", "c", "d"],
            "paid_at": ["2025-01-01 10:00", "2025-01-02 10:00", "2025-01-03 10:00", "2025-01-04 10:00"],
            "product_id": ["p", "p", "q", "q"],
            "quantity": [1, 1, 2, 1],
            "paid_amount": [10.0, 20.0, 30.0, 40.0],
            "refund_amount": [0.0, 5.0, 0.0, 0.0],
        }
    )


BAD_INPUTS = [
    ("negative amount", lambda d: d.assign(paid_amount=[10.0, -20.0, 30.0, 40.0]), "paid_amount", "negative"),
    ("refund > paid", lambda d: d.assign(refund_amount=[0.0, 25.0, 0.0, 0.0]), "refund_amount", "refund_amount > paid_amount"),
    ("quantity <= 0", lambda d: d.assign(quantity=[1, 0, 2, 1]), "quantity", "quantity <= 0"),
    ("duplicate line_id", lambda d: d.assign(line_id=["11", "21", "21", "41"]), "line_id", "duplicates"),
    ("unparseable date", lambda d: d.assign(paid_at=["2025-01-01 10:00", "yesterday", "2025-01-03", "2025-01-04"]), "paid_at", "unreadable date"),
    ("decimal comma", lambda d: d.assign(paid_amount=["10", "12,5", "30", "40"]), "paid_amount", "unreadable number"),
    ("inf amount", lambda d: d.assign(paid_amount=["10", "inf", "30", "40"]), "paid_amount", "unreadable number"),
    ("fractional quantity", lambda d: d.assign(quantity=[1, 1.5, 2, 1]), "quantity", "non-integer quantity"),
    ("placeholder customer", lambda d: d.assign(customer_id=["a", "0", "c", "d"]), "customer_id", "placeholder id"),
    ("scientific order id", lambda d: d.assign(order_id=["1", "6.91235E+18", "3", "4"]), "order_id", "scientific notation"),
    ("future paid_at", lambda d: d.assign(paid_at=["2025-01-01", "2025-01-02", "2025-01-03", "2030-01-01"]), "paid_at", "after as_of"),
    ("missing customer", lambda d: d.assign(customer_id=["a", None, "c", "d"]), "customer_id", "have no customer_id"),
]


@pytest.mark.parametrize("name,make,column,problem", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_raises_with_table_column_rows_and_fix(name, make, column, problem):
    bad = make(_canonical())
    with pytest.raises(DataValidationError) as err:
        cl.data.read_orders(bad, as_of="2025-06-30")
    e = err.value
    assert e.table == "orders" and e.column == column and problem in str(e)
    assert e.count >= 1 and "Fix:" in str(e) and len(e.rows) >= 1
    assert "line_id" in str(e)  # names the offending rows


def test_missing_required_column():
    with pytest.raises(DataValidationError, match=r"orders\.paid_amount: .*required column missing"):
        cl.data.read_orders(_canonical().drop(columns="paid_amount"))


def test_quarantine_sets_bad_rows_aside(tmp_path):
    bad = _canonical().assign(quantity=[1, 0, 2, 1], refund_amount=[0.0, 5.0, 99.0, 0.0])
    target = tmp_path / "q" / "orders.csv"
    with pytest.warns(UserWarning, match="2 row"):
        good = cl.data.read_orders(bad, errors="quarantine", quarantine=target)
    assert good["line_id"].tolist() == ["11", "41"]
    rejected = pd.read_csv(target, dtype=str)
    assert rejected["line_id"].tolist() == ["21", "31"]
    assert rejected["reason"].str.contains("quantity").iloc[0] and rejected["reason"].str.contains("refund").iloc[1]


def test_lazy_duckdb_validation(tmp_path):
    path = tmp_path / "orders.csv"
    _canonical().assign(line_id=["11", "11", "31", "41"], order_id=["6921234567890123456", "2", "3", "4"]).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="duplicates"):
        cl.data.read_table(path, "orders")
    good = cl.engine.open_file(path)
    assert cl.engine.collect(good)["order_id"].iloc[0] == "6921234567890123456"  # ids stay text


def test_lazy_quarantine_and_unparseable_csv(tmp_path):
    path = tmp_path / "orders.csv"
    _canonical().assign(paid_at=["2025-01-01 10:00", "soon", "2025-01-03 10:00", "2025-01-04 10:00"]).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="unparseable"):
        cl.data.read_table(path, "orders")
    with pytest.warns(UserWarning, match="1 row"):
        rel = cl.data.read_table(path, "orders", errors="quarantine", quarantine=tmp_path / "q.parquet")
    assert cl.engine.backend_name(rel) == "duckdb"
    assert sorted(cl.engine.collect(rel)["line_id"]) == ["11", "31", "41"]
    assert pd.read_parquet(tmp_path / "q.parquet")["reason"].tolist() == ["unparseable paid_at"]


def test_read_shop_round_trip(small_shop, shop_dir):
    shop = cl.data.read_shop(shop_dir)
    assert shop.as_of == small_shop.as_of and shop.name == small_shop.name
    assert set(shop.tables()) == {"orders", "members", "products", "touches", "events", "unpaid_orders", "benefits", "coupons", "referrals"}
    back = cl.engine.collect(shop.orders).sort_values("line_id", ignore_index=True)
    orig = small_shop.orders.sort_values("line_id", ignore_index=True)
    pd.testing.assert_frame_equal(back, orig, check_dtype=False)


def test_read_shop_for_an_earlier_day_leaves_later_rows_to_the_analyses(small_shop, shop_dir, tmp_path):
    # A daily report run again for a past day: rows after that day are not errors, analyses leave them out.
    earlier = cl.data.read_shop(shop_dir, as_of="2025-06-30")
    assert earlier.as_of == pd.Timestamp("2025-06-30")
    s = cl.summary.customer_summary(earlier)
    assert s["last_order_at"].max() < pd.Timestamp("2025-07-01")
    pd.testing.assert_frame_equal(s, cl.summary.customer_summary(small_shop, as_of="2025-06-30"), check_dtype=False)
    # Rows after the extraction time (shop.json) still are errors.
    cl.data.write_shop(small_shop, tmp_path)
    meta = tmp_path / "shop.json"
    meta.write_text(meta.read_text(encoding="utf-8").replace("2025-11-30", "2025-10-31"), encoding="utf-8")
    with pytest.raises(DataValidationError, match="after as_of"):
        cl.data.read_shop(tmp_path)


def test_as_of_date_includes_its_whole_day():
    late_on_the_day = _canonical().assign(paid_at=["2025-01-01", "2025-01-02", "2025-01-03", "2025-06-30 23:59:59"])
    assert len(cl.data.read_orders(late_on_the_day, as_of="2025-06-30")) == 4
    with pytest.raises(DataValidationError, match="after as_of"):
        cl.data.read_orders(late_on_the_day, as_of="2025-06-30 12:00")


def test_shop_tables_pass_validation(small_shop):
    for name, frame in small_shop.tables().items():
        assert len(cl.data.validate(frame, name, as_of=small_shop.as_of)) == len(frame), name


def test_read_shop_from_a_duckdb_file(tmp_path, small_shop):
    import duckdb

    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    for name in ("orders", "members"):
        frame = getattr(small_shop, name)  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
    con.close()
    shop = cl.data.read_shop(path, as_of=small_shop.as_of)
    assert set(shop.tables()) == {"orders", "members"} and "orders=<duckdb>" in repr(shop)
    s = cl.summary.customer_summary(shop)
    pd.testing.assert_frame_equal(s, cl.summary.customer_summary(small_shop), check_exact=False, rtol=1e-12)


def test_missing_shop_folder_and_orders(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        cl.data.read_shop(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no orders table"):
        cl.data.read_shop(tmp_path / "empty")


def _douyin_without_buyer_id(tmp_path, phones):
    header = DOUYIN_HEADER.replace(",用户ID", "")
    rows = []
    for i, (phone, province) in enumerate(phones):
        rows.append(f"69212345678901300{i:02d},69212345678901400{i:02d},精华液,50ml,1,3601,SKU-1,199,199.00,2025-10-01 10:00:00,"
                    f"2025-10-01 10:01:02,,已完成,,,,,商城推荐,,商品卡,买家{i},{phone},{province},某市,某区,某路,{i}号")
    path = tmp_path / "masked.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8-sig")
    return path


def test_masked_phones_never_merge_buyers(tmp_path):
    # Four buyers in four provinces with the same masked pattern: refused, not one customer.
    path = _douyin_without_buyer_id(tmp_path, [("138****5678", p) for p in ("浙江省", "广东省", "北京", "四川省")])
    with pytest.warns(UserWarning, match="4 phone"), pytest.raises(cl.data.DataValidationError) as err:
        cl.data.read_orders(path, preset="douyin", salt=SALT)
    message = str(err.value)
    assert "masked or encrypted phone in '收件人手机号'" in message and "file lines 2, 3, 4, 5" in message
    assert "doudian_open_id" in message  # the column to use instead
    # Encrypted values (the open platform's) are refused alike; whole numbers still key customers.
    with pytest.warns(UserWarning, match="1 phone"), pytest.raises(cl.data.DataValidationError, match="file lines 3"):
        cl.data.read_orders(_douyin_without_buyer_id(tmp_path, [("13800138000", "浙江省"), ("#Xk1mQ9w2==", "北京")]), preset="douyin", salt=SALT)
    whole = cl.data.read_orders(_douyin_without_buyer_id(tmp_path, [("13800138000", "浙江省"), ("13900139000", "北京")]), preset="douyin", salt=SALT)
    assert whole["customer_id"].nunique() == 2


def test_masked_phones_are_not_hashed_when_a_buyer_id_keys_customers(tmp_path):
    raw = pd.read_csv(io.StringIO(DOUYIN_HEADER + "\n" + "\n".join(DOUYIN_ROWS[:3])), dtype=str)
    raw["收件人手机号"] = ["138****5678", "138****5678", "13700137000"]
    path = tmp_path / "masked_with_ids.csv"
    raw.to_csv(path, index=False, encoding="utf-8-sig")
    with pytest.warns(UserWarning) as caught:  # also: 退款成功 without the after-sales file, as the fixture has
        orders = cl.data.read_orders(path, preset="douyin", salt=SALT)
    assert any("2 phone(s) masked" in str(w.message) for w in caught)
    assert orders["customer_id"].tolist() == ["U1", "U2", "U3"]
    assert orders["phone_hash"].isna().tolist() == [True, True, False]


def test_tmall_nicks_are_hashed_as_text(tmp_path):
    rows = []
    for i, nick in enumerate(["tb1234_alice", "tb1234_bob", "小明", "ｔｂ１２３４_alice"]):
        rows.append(f'="34567890123456789{i:02d}",{nick},120.00,118.00,交易成功,某人,某地址,,2025-06-01 09:00:00,'
                    f"2025-06-01 09:01:00,玫瑰身体精油,1,1001,旗舰店,,0")
    path = tmp_path / "nicks.csv"
    path.write_text(TMALL_CLASSIC.splitlines()[0] + "\n" + "\n".join(rows) + "\n", encoding="utf-8-sig")
    with pytest.warns(UserWarning, match="product_id is taken from 宝贝标题"):
        orders = cl.data.read_orders(path, preset="tmall", salt=SALT)
    ids = orders.set_index("order_id")["customer_id"]
    # alice and bob are two people (digits alone merged them); 小明 has an id; the full-width
    # spelling of alice's nick is alice (NFKC).
    assert ids.iloc[0] != ids.iloc[1] and ids.iloc[2].startswith("tb_") and ids.iloc[3] == ids.iloc[0]
    assert "alice" not in orders.to_csv() and "小明" not in orders.to_csv()
