"""Report pipeline: params files, papermill runs, HTML without code, failures kept and reported."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab.report import ReportError

ROOT = Path(__file__).resolve().parents[1]
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def _visible_text(page: str) -> str:
    return re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", page)


@pytest.fixture(scope="module")
def overview_run(tmp_path_factory, shop_dir):
    out = tmp_path_factory.mktemp("reports")
    params = out / "overview.yaml"
    params.write_text(
        f"campaign: test_overview\ntitle: 测试店铺概览\ndata: {shop_dir}\nnotebooks:\n  - notebook: shop_overview\n",
        encoding="utf-8",
    )
    records = cl.report.run_params(params, out=out)
    return out, records


def test_overview_report_is_published_without_code(overview_run, shop_dir):
    out, records = overview_run
    assert [r["status"] for r in records] == ["ok"]
    page = (out / "test_overview" / "shop_overview.html").read_text(encoding="utf-8")
    assert "<title>测试店铺概览</title>" in page and "<h1>测试店铺概览</h1>" in page
    assert 'src="http' not in page and not re.search(r"<script[^>]+src=", page)
    for code in ("import crm_lab", "cl.summary.shop_overview", "cl.report.kpi_cards", "jp-InputArea"):
        assert code not in page, code
    assert page.count("data:image/png;base64,") == 3  # monthly sales, buyers, RF grid: inline
    assert "crm-kpi" in page and "核心结论" in page and str(shop_dir) in page  # provenance footer
    # The KPI values are crm_lab's own numbers for this shop.
    ov = cl.summary.shop_overview(cl.data.read_shop(shop_dir))
    for label, value, _note in ov.cards():
        assert value in page, (label, value)
    assert not PHONE.search(_visible_text(page))
    assert (out / "test_overview" / "shop_overview.ipynb").exists()


def test_index_and_manifest(overview_run):
    out, _ = overview_run
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="test_overview/shop_overview.html"' in index and "测试店铺概览" in index
    manifest = json.loads((out / "test_overview" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["reports"][0]["status"] == "ok" and manifest["crm_lab"] == cl.__version__
    assert "ok" in (out / "test_overview" / "run.log").read_text(encoding="utf-8")


def _failing_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("data = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("raise RuntimeError('the shop folder is empty')")]
    nbformat.write(nb, path)
    return path


def test_failing_notebook_exits_non_zero_and_is_kept(tmp_path):
    nb = _failing_notebook(tmp_path / "broken.ipynb")
    out = tmp_path / "reports"
    # A previous good report stays in place: a failed run keeps what it had.
    (out / "nightly").mkdir(parents=True)
    (out / "nightly" / "broken.html").write_text("<html>yesterday</html>", encoding="utf-8")
    params = tmp_path / "nightly.yaml"
    params.write_text(f"campaign: nightly\nnotebooks:\n  - notebook: {nb}\n", encoding="utf-8")
    assert cl.cli.main(["run", str(params), "--out", str(out)]) == 1
    failed = out / "nightly" / "broken.failed.ipynb"
    assert failed.exists() and "the shop folder is empty" in failed.read_text(encoding="utf-8")
    assert (out / "nightly" / "broken.html").read_text(encoding="utf-8") == "<html>yesterday</html>"
    assert not list((out / "nightly").glob(".*.tmp")) and not list((out / "nightly").glob(".*running*"))
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "failed" in index and "broken.failed.ipynb" in index
    with pytest.raises(ReportError, match="the shop folder is empty"):
        cl.report.run_params(params, out=out)


@pytest.mark.parametrize(
    "text,message",
    [
        ("campaign: x\nnotebooks:\n  - notebook: shop_overview\n    paramters: {}\n", "paramters"),
        ("campaign: x\nnotebook: shop_overview\n", "notebook"),
        ("campaign: has space\nnotebooks:\n  - notebook: shop_overview\n", "campaign"),
        ("campaign: x\nnotebooks: []\n", "notebooks"),
    ],
)
def test_params_errors_before_anything_runs(tmp_path, text, message):
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        cl.report.run_params(path, out=tmp_path / "reports")
    assert not (tmp_path / "reports").exists()


def test_unknown_notebook_is_named(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("campaign: x\nnotebooks:\n  - notebook: no_such_report\n", encoding="utf-8")
    with pytest.raises(ValueError, match="shop_overview"):
        cl.report.run_params(path, out=tmp_path)


def test_repo_params_files_are_valid():
    files = sorted((ROOT / "params").glob("*.yaml"))
    assert files
    for f in files:
        cl.report.load_params(f)


def test_templates_are_clean_and_parameterised():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), f"{path.name} has outputs"
        assert any("parameters" in c.metadata.get("tags", []) for c in code), f"{path.name} has no parameters cell"


def test_display_helpers_escape_and_format():
    assert cl.report.fmt_yuan(-1234.4) == "-¥1,234" and cl.report.fmt_yuan(float("nan")) == "–"
    assert cl.report.fmt_pct(0.1234) == "12.3%"
    cards = cl.report.kpi_cards([("<b>x</b>", "1")])._repr_html_()
    assert "<b>x</b>" not in cards and "&lt;b&gt;" in cards


def test_cli_simulate_writes_parquet(tmp_path):
    out = tmp_path / "shop"
    assert cl.cli.main(["simulate", "--customers", "300", "--out", str(out), "--seed", "3"]) == 0
    assert {p.name for p in out.glob("*.parquet")} == {f"{t}.parquet" for t in cl.data.SCHEMA}
    shop = cl.data.read_shop(out)
    assert shop.as_of == cl.datasets.make_shop(300, seed=3).as_of


def test_audience_notebook_exports_ids_only_beside_the_report(tmp_path, shop_dir):
    params = tmp_path / "aud.yaml"
    params.write_text(
        f"campaign: aud\ndata: {shop_dir}\nnotebooks:\n  - notebook: audience_builder\n"
        "    parameters: {new_product: N01, sample_product: S01, influencers: [KOL001]}\n",
        encoding="utf-8",
    )
    cl.report.run_params(params, out=tmp_path / "reports")
    folder = tmp_path / "reports" / "aud"
    page = (folder / "audience_builder.html").read_text(encoding="utf-8")
    assert "人群圈选" in page and "import crm_lab" not in page
    files = sorted(folder.glob("audience_*.csv"))
    assert files and all(f.with_name(f.name + ".manifest.json").exists() for f in files)
    for f in files:
        exported = pd.read_csv(f, dtype=str)
        assert list(exported.columns) == ["id", "group"] and set(exported["group"]) <= {"treatment", "control"}
        assert not PHONE.search(f.read_text(encoding="utf-8"))
    assert not PHONE.search(_visible_text(page))


@pytest.mark.parametrize(
    "notebook,parameters",
    [
        ("campaign_gap", "{event: [2025-10-20, 2025-11-11], baselines: [[2024-10-20, 2024-11-11]], target_net_amount: 300000}"),
        ("response_report", "{campaign_id: d11_2025_wave1, control_share: 0.2}"),
        ("clv", "{calibration_end: '2025-03-31', holdout_end: '2025-11-30'}"),
    ],
)
def test_campaign_templates_run_and_hide_code(tmp_path, shop_dir, notebook, parameters):
    params = tmp_path / "p.yaml"
    params.write_text(f"campaign: suite\ndata: {shop_dir}\nnotebooks:\n  - notebook: {notebook}\n    parameters: {parameters}\n", encoding="utf-8")
    cl.report.run_params(params, out=tmp_path / "reports")
    page = (tmp_path / "reports" / "suite" / f"{notebook}.html").read_text(encoding="utf-8")
    assert "核心结论" in page and "crm-kpi" in page and "import crm_lab" not in page
    assert not re.search(r"<script[^>]+src=", page) and not PHONE.search(_visible_text(page))
