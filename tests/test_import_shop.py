"""``crm-lab import``: UCI Online Retail with one mapping and one command, day-2 merges, the
quality report, contacts kept apart and platform-ready audience files."""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab.cli import main

ROOT = Path(__file__).resolve().parents[1]
SALT = "import-shop-salt-0123456789"
PHONES = ["13800138000", "13900139000", "13700137000", "13600136000"]

HEADER = ("主订单编号,子订单编号,商品ID,商品数量,商品单价,订单应付金额,支付完成时间,订单状态,售后状态,收件人,收件人手机号,"
          "详细地址,用户ID,doudian_open_id")


def _line(order, line, buyer, phone, paid="2025-10-01 10:00:00", amount="99", refund_status=""):
    return f"{order},{line},P1,1,{amount},{amount},{paid},已完成,{refund_status},张三,{phone},某路1号,{buyer},open_{buyer}"


def _export(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def day1(tmp_path):
    rows = [_line(f"10{i}", f"L{i}", f"U{i}", PHONES[i], paid=f"2025-10-0{i + 1} 10:00:00") for i in range(4)]
    return _export(tmp_path / "day1.csv", rows)


@pytest.fixture
def aftersales(tmp_path):
    path = tmp_path / "aftersales.csv"
    path.write_text("售后单号,订单号,商品单号,售后类型,售后状态,售后申请时间,退商品金额（元）\n"
                    "A1,101,L1,仅退款,同意退款，退款成功,2025-10-06 09:00:00,40.00\n", encoding="utf-8")
    return path


def _import(out, *files, refunds=None, as_of="2025-10-07"):
    args = ["import", "--out", str(out), "--orders", *map(str, files), "--preset", "douyin", "--as-of", as_of]
    if refunds is not None:
        args += ["--refunds", str(refunds)]
    return main(args)


def test_day_two_import_adds_lines_updates_refunds_and_duplicates_nothing(tmp_path, day1, aftersales, monkeypatch):
    monkeypatch.setenv("CRM_LAB_SALT", SALT)
    shop_dir = tmp_path / "shop"
    assert _import(shop_dir, day1) == 0
    first = cl.data.read_shop(shop_dir)
    assert len(cl.engine.collect(first.orders)) == 4
    # Day 2: the same four lines again (one now refunded) and two new ones.
    rows = [_line(f"10{i}", f"L{i}", f"U{i}", PHONES[i], paid=f"2025-10-0{i + 1} 10:00:00") for i in range(4)]
    rows += [_line("105", "L5", "U1", PHONES[1], paid="2025-10-07 09:00:00"), _line("106", "L6", "U9", "138****0000", paid="2025-10-07 09:30:00")]
    day2 = _export(tmp_path / "day2.csv", rows)
    with pytest.warns(UserWarning, match="1 phone"):
        assert _import(shop_dir, day2, refunds=aftersales, as_of="2025-10-08") == 0
    orders = cl.engine.collect(cl.data.read_shop(shop_dir).orders).set_index("line_id")
    assert sorted(orders.index) == ["L0", "L1", "L2", "L3", "L5", "L6"]
    assert orders.loc["L1", "refund_amount"] == 40.0 and orders["refund_amount"].sum() == 40.0
    report = json.loads((shop_dir / "quality.json").read_text(encoding="utf-8"))
    (table,) = [t for t in report["tables"] if t["table"] == "orders"]
    assert (table["rows"], table["added"], table["updated"], table["unchanged"]) == (6, 2, 1, 3)
    assert json.loads((shop_dir / "shop.json").read_text())["as_of"].startswith("2025-10-08")
    # Another salt would turn every buyer into a new customer: refused, nothing written.
    before = (shop_dir / "orders.parquet").stat().st_mtime_ns
    monkeypatch.setenv("CRM_LAB_SALT", "another-salt-0123456789")
    assert _import(shop_dir, day2, as_of="2025-10-08") == 1
    assert (shop_dir / "orders.parquet").stat().st_mtime_ns == before
    assert not [p for p in shop_dir.iterdir() if p.name.startswith(".")]


def test_failed_import_publishes_nothing(tmp_path, day1, monkeypatch):
    monkeypatch.setenv("CRM_LAB_SALT", SALT)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\n" + _line("1", "L1", "U1", PHONES[0])[:20] + "\n", encoding="utf-8")
    shop_dir = tmp_path / "shop"
    assert _import(shop_dir, day1, bad) == 1
    assert [p.name for p in shop_dir.iterdir()] == []


def test_platform_exports_match_independent_hashes_and_phones_stay_out_of_everything(tmp_path, day1, monkeypatch, caplog):
    monkeypatch.setenv("CRM_LAB_SALT", SALT)
    caplog.set_level(logging.DEBUG)
    shop_dir = tmp_path / "shop"
    assert _import(shop_dir, day1) == 0
    shop = cl.data.read_shop(shop_dir)
    audience = cl.audience.Audience(shop, as_of="2025-10-07", name="all").bought(within="30D")
    ids = audience.customer_ids()
    assert sorted(ids) == ["U0", "U1", "U2", "U3"]
    out = tmp_path / "exports"
    sha = {hashlib.sha256(p.encode()).hexdigest() for p in PHONES}
    md5 = {hashlib.md5(p.encode()).hexdigest() for p in PHONES}
    dmp = audience.export(out / "dmp.txt", format="oceanengine_dmp")
    assert set(dmp.read_text().split()) == sha
    gdt = audience.export(out / "gdt.txt", format="tencent_gdt")
    assert set(gdt.read_text().split()) == md5
    sms = audience.export(out / "sms.txt", format="doudian_open_id")
    assert set(sms.read_text().split()) == {f"open_U{i}" for i in range(4)}
    manifest = json.loads(Path(f"{dmp}.manifest.json").read_text())
    assert manifest["match"] == {"customers": 4, "with_key": 4, "rate": 1.0} and manifest["format"] == "oceanengine_dmp"
    # A control group is held out of the platform file.
    held = audience.export(out / "dmp_control.txt", format="oceanengine_dmp", control_share=0.5, seed=3)
    held_manifest = json.loads(Path(f"{held}.manifest.json").read_text())
    assert held_manifest["held_out"] + held_manifest["customers"] == 4
    assert len(held.read_text().split()) == held_manifest["customers"]
    # No phone in any form but the salted hash: tables, quality report, quarantine, logs.
    forms = set(PHONES) | sha | md5
    for path in shop_dir.rglob("*"):
        if path.is_file() and "contacts" not in path.parts:
            text = path.read_bytes().decode("utf-8", "ignore") if path.suffix != ".parquet" else pd.read_parquet(path).to_csv()
            assert not any(f in text for f in forms), path
    assert not any(f in caplog.text for f in forms)
    assert oct((shop_dir / "contacts").stat().st_mode & 0o777) == "0o700"


def test_platform_export_without_contacts_is_a_clear_error(small_shop, tmp_path):
    audience = cl.audience.Audience(small_shop, as_of=small_shop.as_of).bought(within="30D")
    with pytest.raises(ValueError, match="needs the shop's contacts table"):
        audience.export(tmp_path / "x.txt", format="tencent_gdt")
    with pytest.raises(ValueError, match="format='wechat'"):
        audience.export(tmp_path / "x.txt", format="wechat", contacts=tmp_path / "c.parquet")


@pytest.fixture(scope="module")
def uci_shop(tmp_path_factory):
    path = cl.datasets.shared_data_path("online_retail_clean.parquet")
    if not path.exists():
        pytest.skip("../shared/data is not beside this checkout")
    out = tmp_path_factory.mktemp("uci") / "shop"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the 133,358 CustomerID-0 lines quarantined: checked below
        code = main(["import", "--out", str(out), "--orders", str(path), "--mapping", str(ROOT / "mappings" / "online_retail.yaml"),
                     "--as-of", "2011-12-10"])
    assert code == 0
    return out


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_uci_online_retail_imports_with_one_mapping_and_matches_lifetimes(uci_shop):
    from lifetimes.utils import summary_data_from_transaction_data

    report = json.loads((uci_shop / "quality.json").read_text(encoding="utf-8"))
    (f,) = report["files"]
    assert (f["rows_read"], f["rows_kept"], f["rows_quarantined"]) == (531_282, 397_924, 133_358)
    assert f["quarantined"] == {"customer_id: have a placeholder id": 133_358}
    assert report["currency"] == "GBP" and "数据质量" in (uci_shop / "quality.html").read_text(encoding="utf-8")
    shop = cl.data.read_shop(uci_shop)
    assert shop.currency == "GBP" and shop.tz == "Europe/London"
    ours = cl.summary.customer_summary(shop, as_of="2011-12-09")
    raw = cl.datasets.load_online_retail()
    raw = raw.assign(customer_id=raw["CustomerID"].astype(int).astype(str), paid_at=pd.to_datetime(raw["InvoiceDate"]),
                     amount=raw["Quantity"] * raw["UnitPrice"])
    ref = summary_data_from_transaction_data(raw, "customer_id", "paid_at", monetary_value_col="amount",
                                             observation_period_end="2011-12-09").sort_index()
    assert len(ours) == len(ref) == 4_339
    ours = ours.loc[ref.index]
    for col in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[col].to_numpy(), ref[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(ours["monetary_value"], ref["monetary_value"], rtol=1e-9, atol=1e-9)
    # An independent pandas computation of the same summary.
    days = raw.assign(day=raw["paid_at"].dt.normalize()).groupby(["customer_id", "day"])["amount"].sum().reset_index()
    per = days.groupby("customer_id").agg(first=("day", "min"), last=("day", "max"), n=("day", "size"))
    np.testing.assert_array_equal(ours["frequency"].to_numpy(), (per.loc[ref.index, "n"] - 1).to_numpy())
    np.testing.assert_array_equal(ours["T"].to_numpy(), (pd.Timestamp("2011-12-09") - per.loc[ref.index, "first"]).dt.days.to_numpy())


@pytest.mark.browser
def test_quality_report_fits_a_phone(tmp_path, day1, monkeypatch):
    from test_report import phone_width

    monkeypatch.setenv("CRM_LAB_SALT", SALT)
    shop_dir = tmp_path / "shop"
    bad = _export(tmp_path / "day1_bad.csv", [_line("200", "L200", "0", PHONES[0]), _line("201", "L201", "U7", PHONES[1], amount='"12,5"')])
    with pytest.warns(UserWarning):
        assert _import(shop_dir, day1, bad) == 0
    html = (shop_dir / "quality.html").read_text(encoding="utf-8")
    assert "客户ID：占位值" in html and "实付金额：数字无法识别" in html and "隔离" in html
    width, who = phone_width(shop_dir / "quality.html", tmp_path)
    assert width <= 390, f"the quality report needs {width}px on a 390px phone ({who})"


def test_templates_an_orders_only_shop_cannot_run_are_refused_in_one_line(tmp_path, small_shop):
    from dataclasses import replace

    orders_only = replace(small_shop, members=None, products=None, touches=None, events=None, unpaid_orders=None)
    cl.data.write_shop(orders_only, tmp_path / "shop")
    params = tmp_path / "p.yaml"
    params.write_text(f"campaign: bare\ndata: {tmp_path / 'shop'}\nnotebooks:\n  - notebook: response_report\n"
                      "  - notebook: high_potential\n  - notebook: new_member_first_purchase\n  - notebook: sample_to_full_size\n",
                      encoding="utf-8")
    with pytest.raises(cl.report.ReportError) as err:
        cl.report.run_params(params, out=tmp_path / "reports")
    message = str(err.value)
    for table in ("touches table", "events table", "members table", "products table"):
        assert table in message
    manifest = json.loads((tmp_path / "reports" / "bare" / "manifest.json").read_text(encoding="utf-8"))
    assert {r["status"] for r in manifest["reports"]} == {"refused"}
    assert all(r["seconds"] == 0.0 and r["report"] is None for r in manifest["reports"])  # no kernel started
    index = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert index.count("未运行（缺少数据）") == 4 and "href=\"bare/None\"" not in index


@pytest.mark.slow
def test_uci_shop_runs_every_template_in_pounds_or_refuses_in_one_line(uci_shop, tmp_path):
    """params/uci_online_retail.yaml on the imported orders-only shop: every template publishes (in £,
    no warning text, product names beside ids) or is refused in one line naming the table it needs."""
    root = Path(__file__).resolve().parents[1]
    with pytest.raises(cl.report.ReportError, match="influencer_repurchase needs orders.influencer_id"):
        cl.report.run_params(root / "params" / "uci_online_retail.yaml", out=tmp_path / "reports", data=uci_shop, parallel=2)
    manifest = json.loads((tmp_path / "reports" / "uci_online_retail" / "manifest.json").read_text(encoding="utf-8"))
    records = {r["notebook"]: r for r in manifest["reports"]}
    assert set(records) == {p.stem for p in (root / "notebooks").glob("*.ipynb")}  # every template
    published = {n for n, r in records.items() if r["status"] == "ok"}
    assert published == {"campaign_overview", "shop_overview", "clv", "new_product_launch", "campaign_gap", "promotion_waves", "pivot"}
    for name, record in records.items():
        if name in published:
            page = (tmp_path / "reports" / "uci_online_retail" / f"{name}.html").read_text(encoding="utf-8")
            assert "£" in page and "¥" not in page, name
            assert "Traceback" not in page and "Warning:" not in page and "Hint:" not in page, name
        else:
            assert record["status"] == "refused" and " needs " in record["error"] and "\n" not in record["error"], record
    launch = (tmp_path / "reports" / "uci_online_retail" / "new_product_launch.html").read_text(encoding="utf-8")
    assert "RABBIT NIGHT LIGHT" in launch  # 23084 by its name, from the orders' product_name


def test_an_imported_folder_is_validated_once_until_a_table_changes(tmp_path, day1, monkeypatch):
    import os

    from crm_lab.data import canonical

    monkeypatch.setenv("CRM_LAB_SALT", SALT)
    shop_dir = tmp_path / "shop"
    assert _import(shop_dir, day1) == 0
    calls = []
    monkeypatch.setattr(canonical, "validate", lambda frame, table, **kw: calls.append(table) or frame)
    cl.data.read_shop(shop_dir)
    assert calls == []  # the import vouched for these files
    orders = shop_dir / "orders.parquet"
    os.utime(orders, ns=(orders.stat().st_atime_ns, orders.stat().st_mtime_ns + 1_000_000))
    cl.data.read_shop(shop_dir)
    assert calls == ["orders"]  # a table file changed: validated again


def test_benefits_and_coupons_import_beside_the_orders(tmp_path, day1, monkeypatch):
    monkeypatch.setenv("CRM_LAB_SALT", SALT)
    benefits = tmp_path / "benefits.csv"
    benefits.write_text("benefit_id,kind,starts_at,ends_at,members_only\nB1,gift,2025-09-01,2025-09-30,1\n", encoding="utf-8")
    coupons = tmp_path / "coupons.csv"
    coupons.write_text("coupon_id,audience,discount,threshold,starts_at,ends_at\nM1,member,30,199,2025-09-01,2025-09-10\n"
                       "S1,store,10,199,2025-09-01,2025-09-10\n", encoding="utf-8")
    shop_dir = tmp_path / "shop"
    assert main(["import", "--out", str(shop_dir), "--orders", str(day1), "--preset", "douyin", "--as-of", "2025-10-07",
                 "--benefits", str(benefits), "--coupons", str(coupons)]) == 0
    shop = cl.data.read_shop(shop_dir)
    check = cl.lifecycle.membership_check(shop)
    assert check.findings.empty and round(check.days_since_benefit) == 8  # 09-30 .. the end of 10-07


def test_import_starts_the_global_holdout_once_and_keeps_it(tmp_path, day1, monkeypatch):
    monkeypatch.setenv("CRM_LAB_SALT", SALT)
    out = tmp_path / "shop"
    base = ["import", "--out", str(out), "--orders", str(day1), "--preset", "douyin", "--as-of", "2025-10-07"]
    assert main([*base, "--holdout-share", "0.05"]) == 0
    first = cl.data.read_shop(out).holdout
    assert first["share"] == 0.05 and len(first["key"]) == 16
    assert main(base) == 0 and cl.data.read_shop(out).holdout == first  # a later import keeps it
    assert main([*base, "--holdout-share", "0.1"]) == 1 and cl.data.read_shop(out).holdout == first
