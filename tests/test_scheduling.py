"""Scheduled runs as a hostile or careless user meets them: params never run code, nothing escapes
the output folder, runs are bounded, exports never go stale, reports are never lost."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import crm_lab as cl
from crm_lab.report import ParamsError, ReportError

KERNEL_META = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _template(folder: Path, name: str, *cells: str, params: str = "data = None\nreport_dir = None") -> Path:
    """A small notebook template with a parameters cell, in a user's template folder."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNEL_META
    first = nbformat.v4.new_code_cell(params)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


def _params(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _refused_fast(params: Path, out: Path, match: str, **kwargs) -> None:
    started = time.monotonic()
    with pytest.raises(ParamsError, match=match):
        cl.report.run_params(params, out=out, **kwargs)
    assert time.monotonic() - started < 1.0
    assert not out.exists()  # refused before anything ran or was written


# --------------------------------------------------------------------------------------------
# 1. Params are data, never code


@pytest.mark.parametrize("kind", ["binary", "binary_in_list", "python_object", "python_name", "custom_tag", "set"])
def test_tagged_values_are_refused_and_run_no_code(tmp_path, kind):
    marker = tmp_path / "marker"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    binary = base64.b64encode(code.encode()).decode()
    value = {
        "binary": f"!!binary {binary}",
        "binary_in_list": f"[P001, !!binary {binary}]",
        "python_object": f"!!python/object/apply:os.system [\"touch {marker}\"]",
        "python_name": "!!python/name:os.system",
        "custom_tag": "!code x",
        "set": "!!set {a, b}",
    }[kind]
    params = _params(tmp_path / "p.yaml", "campaign: x\nnotebooks:\n  - notebook: new_product_launch\n"
                                          f"    parameters:\n      new_product: N01\n      related: {value}\n")
    _refused_fast(params, tmp_path / "reports", "tag")
    assert not marker.exists()


def test_an_alias_bomb_is_refused_within_a_second(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    text = "campaign: x\nparameters:\n" + "\n".join("  " + line for line in lines) + "\nnotebooks:\n  - notebook: clv\n"
    assert len(text) < 700  # 9**9 = 387 million items once expanded
    _refused_fast(_params(tmp_path / "p.yaml", text), tmp_path / "reports", "aliases")


def test_a_duplicated_key_is_refused_with_both_lines(tmp_path):
    text = ("campaign: x\nnotebooks:\n  - notebook: campaign_gap\n    parameters:\n"
            "      target_net_amount: 600000\n      target_net_amount: 1\n")
    _refused_fast(_params(tmp_path / "p.yaml", text), tmp_path / "reports", r"line 6: key 'target_net_amount' appears twice \(first on line 5\)")


@pytest.mark.parametrize("value", [".inf", ".nan", "{k: .inf}"])
def test_non_finite_numbers_are_refused(tmp_path, value):
    text = f"campaign: x\nnotebooks:\n  - notebook: campaign_gap\n    parameters: {{target_net_amount: {value}}}\n"
    _refused_fast(_params(tmp_path / "p.yaml", text), tmp_path / "reports", "finite|like its default")


def test_values_are_checked_all_the_way_down(tmp_path):
    text = "campaign: x\nnotebooks:\n  - notebook: new_member_first_purchase\n    parameters: {days: [1, seven, 30]}\n"
    _refused_fast(_params(tmp_path / "p.yaml", text), tmp_path / "reports", "days")
    cl.report.check_parameters("new_member_first_purchase", {"days": [1, 7, 30]})
    with pytest.raises(ParamsError, match="bytes is not a plain value"):
        cl.report.check_parameters("new_product_launch", {"related": [b"x"]})


def test_dates_stay_the_text_they_were_written_as():
    spec = cl.report.params.load_params_text("campaign: x\nas_of: 2025-11-29\nparameters: {e: [2025-10-20, 2025-11-11]}\n"
                                             "notebooks:\n  - notebook: clv\n")
    assert spec.as_of == "2025-11-29" and spec.parameters["e"] == ["2025-10-20", "2025-11-11"]


# --------------------------------------------------------------------------------------------
# Names stay inside the output folder


@pytest.mark.parametrize(
    "text,match",
    [
        ("campaign: ../../x\nnotebooks:\n  - notebook: clv\n", "campaign"),
        ("campaign: /abs/path\nnotebooks:\n  - notebook: clv\n", "campaign"),
        ("campaign: x\nnotebooks:\n  - notebook: clv\n    name: ../../x\n", "name"),
        ("campaign: x\nnotebooks:\n  - notebook: clv\n    name: /abs/path\n", "name"),
        ("campaign: x\nnotebooks:\n  - notebook: clv\n    name: .hidden\n", "name"),
        ("campaign: x\nnotebooks:\n  - notebook: /tmp/evil.ipynb\n", "notebook"),
        ("campaign: x\nnotebooks:\n  - notebook: ../notebooks/clv\n", "notebook"),
        ("campaign: x\nnotebooks:\n  - notebook: clv\n    parameters: {report_dir: /etc}\n", "report_dir"),
        ("campaign: x\nparameters: {report_dir: ../..}\nnotebooks:\n  - notebook: clv\n", "report_dir"),
    ],
)
def test_paths_from_a_params_file_cannot_leave_the_output_folder(tmp_path, text, match):
    _refused_fast(_params(tmp_path / "p.yaml", text), tmp_path / "reports", match)


def test_names_that_become_file_names_are_refused_in_the_api(tmp_path, small_shop):
    recipe = cl.recipes.new_member_first_purchase(small_shop, joined_within="30D")
    for prefix in ("../x", "/abs", "a/b", ".."):
        with pytest.raises(ValueError, match="plain name"):
            recipe.export(tmp_path, prefix=prefix)
    with pytest.raises(ValueError, match="outside"):
        cl.files.inside(tmp_path, "..", "x.csv")
    assert list(tmp_path.iterdir()) == []


def test_cli_audience_prefix_cannot_climb_out(tmp_path, shop_dir, capsys):
    out = tmp_path / "sms"
    code = cl.cli.main(["audience", "new_member_first_purchase", "--data", str(shop_dir), "--out", str(out), "--prefix", "../x"])
    assert code == 1 and "plain name" in capsys.readouterr().err
    assert not list(tmp_path.glob("x_*")) and not (out.exists() and list(out.iterdir()))


# --------------------------------------------------------------------------------------------
# 2. Bounded runs


def test_a_blocking_notebook_is_stopped_by_the_time_limit(tmp_path):
    _template(tmp_path / "templates", "sleepy", "import time\ntime.sleep(600)")
    params = _params(tmp_path / "p.yaml", "campaign: nightly\ntimeout: 600\nnotebooks:\n  - notebook: sleepy\n")
    out = tmp_path / "reports"
    started = time.monotonic()
    code = cl.cli.main(["run", str(params), "--out", str(out), "--timeout", "3", "--templates", str(tmp_path / "templates")])
    assert code == 1 and time.monotonic() - started < 60
    assert (out / "nightly" / "sleepy.failed.ipynb").exists() and not (out / "nightly" / "sleepy.html").exists()
    manifest = json.loads((out / "nightly" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["reports"][0]["status"] == "failed" and "time limit of 3 s" in manifest["reports"][0]["error"]
    assert "sleepy.failed.ipynb" in (out / "index.html").read_text(encoding="utf-8")


def test_the_time_limit_can_be_set_per_notebook_in_the_params_file(tmp_path):
    _template(tmp_path / "templates", "sleepy", "import time\ntime.sleep(600)")
    params = _params(tmp_path / "p.yaml", "campaign: nightly\nnotebooks:\n  - notebook: sleepy\n    timeout: 2\n")
    with pytest.raises(ReportError, match="time limit of 2 s"):
        cl.report.run_params(params, out=tmp_path / "reports", templates=[tmp_path / "templates"])


# --------------------------------------------------------------------------------------------
# 3. Audience exports that cannot go stale


def _days_with_and_without_new_members(shop) -> tuple[str, str]:
    joined = cl.engine.collect(shop.members.select("customer_id", "joined_at"))
    buyers = set(cl.engine.collect(shop.orders.select("customer_id"))["customer_id"])
    days = pd.date_range("2025-10-01", "2025-11-29", freq="D")
    sizes = {d: cl.recipes.new_member_first_purchase(shop, joined_within="1D", as_of=d).sizes().sum() for d in days[-25:]}
    busy = next(d for d, n in sizes.items() if n > 0)
    quiet = next((d for d, n in sizes.items() if n == 0 and d > busy), None)
    assert quiet is not None and len(joined) and buyers, "the small shop needs a day without new members"
    return f"{busy:%Y-%m-%d}", f"{quiet:%Y-%m-%d}"


@pytest.fixture(scope="module")
def daily_days(small_shop):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the empty day's audience warns that it is empty
        return _days_with_and_without_new_members(small_shop)


@pytest.mark.slow
def test_a_day_without_new_members_leaves_no_earlier_list_where_the_sms_job_reads(tmp_path, shop_dir, daily_days):
    busy, quiet = daily_days
    out = tmp_path / "reports"
    for day in (busy, quiet):
        params = _params(tmp_path / "daily.yaml", f"campaign: daily\ndata: {shop_dir}\nas_of: '{day}'\nnotebooks:\n"
                                                  "  - notebook: new_member_first_purchase\n    parameters: {joined_within: 1D}\n")
        cl.report.run_params(params, out=out)
    today = out / "daily" / "audiences" / quiet / "new_member_first_purchase"
    files = sorted(p.name for p in today.iterdir())
    assert files == ["new_members_new_members.csv", "new_members_new_members.csv.manifest.json"]
    assert pd.read_csv(today / "new_members_new_members.csv").empty  # written, empty: never yesterday's list
    manifest = json.loads((today / "new_members_new_members.csv.manifest.json").read_text(encoding="utf-8"))
    assert manifest["customers"] == 0 and manifest["as_of"].startswith(quiet)
    assert manifest["run"]["params_file"] == "daily.yaml" and manifest["run"]["id"]
    assert manifest["data"]["path"] == str(shop_dir) and len(manifest["data"]["fingerprint"]) == 16
    earlier = out / "daily" / "audiences" / busy / "new_member_first_purchase" / "new_members_new_members.csv"
    assert len(pd.read_csv(earlier)) > 0  # the busy day keeps its own folder
    page = (out / "daily" / "new_member_first_purchase.html").read_text(encoding="utf-8")
    assert "<b>0</b> 人" in page


def test_cli_audience_into_a_fixed_folder_replaces_the_earlier_day(tmp_path, shop_dir, daily_days):
    busy, quiet = daily_days
    out = tmp_path / "sms"
    args = ["audience", "new_member_first_purchase", "--data", str(shop_dir), "--out", str(out), "--set", "joined_within=1D", "--as-of"]
    assert cl.cli.main([*args, busy]) == 0
    with pytest.warns(UserWarning, match="is empty"):  # said, and the empty list is still written
        assert cl.cli.main([*args, quiet]) == 0
    exported = out / "new_member_first_purchase_new_members.csv"
    assert pd.read_csv(exported).empty
    manifest = json.loads(exported.with_name(exported.name + ".manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"].startswith(quiet) and manifest["run"]["command"] == "crm-lab audience new_member_first_purchase"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging leftovers


def test_exports_of_a_notebook_that_fails_are_withdrawn(tmp_path, shop_dir):
    _template(tmp_path / "templates", "export_then_fail",
              "import crm_lab as cl\nshop = cl.data.read_shop(data)\n"
              "cl.recipes.new_member_first_purchase(shop, joined_within='30D').export(report_dir, prefix='x')",
              "raise RuntimeError('after the export')")
    params = _params(tmp_path / "p.yaml", f"campaign: c\ndata: {shop_dir}\nnotebooks:\n  - notebook: export_then_fail\n")
    out = tmp_path / "reports"
    with pytest.raises(ReportError, match="after the export"):
        cl.report.run_params(params, out=out, templates=[tmp_path / "templates"])
    assert not list(out.rglob("*.csv")) and not (out / "c" / "audiences").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".index.lock"]


# --------------------------------------------------------------------------------------------
# 4. Reports are never lost


def test_the_same_report_twice_is_refused(tmp_path):
    text = "campaign: x\nnotebooks:\n  - notebook: clv\n  - notebook: clv\n"
    _refused_fast(_params(tmp_path / "p.yaml", text), tmp_path / "reports", "both publish clv.html")
    named = "campaign: x\nnotebooks:\n  - notebook: clv\n  - notebook: clv\n    name: clv_2\n"
    assert [nb.report_name for nb in cl.report.params.load_params_text(named).notebooks] == ["clv", "clv_2"]


def test_a_second_params_file_with_the_same_campaign_is_refused(tmp_path):
    _template(tmp_path / "templates", "quick", "x = 1")
    out = tmp_path / "reports"
    first = _params(tmp_path / "a.yaml", "campaign: shared\nnotebooks:\n  - notebook: quick\n")
    cl.report.run_params(first, out=out, templates=[tmp_path / "templates"])
    second = _params(tmp_path / "b.yaml", "campaign: shared\nnotebooks:\n  - notebook: quick\n    name: other\n")
    with pytest.raises(ParamsError, match="already holds the reports of a.yaml"):
        cl.report.run_params(second, out=out, templates=[tmp_path / "templates"])
    cl.report.run_params(first, out=out, templates=[tmp_path / "templates"])  # the owner runs again


def test_run_many_shares_its_workers_and_a_refused_file_stops_only_itself(tmp_path):
    templates = tmp_path / "templates"
    _template(templates, "quick", "import os\nprint(os.getpid())")
    out = tmp_path / "reports"
    good = [_params(tmp_path / f"g{i}.yaml", f"campaign: g{i}\nnotebooks:\n  - notebook: quick\n") for i in range(3)]
    bad = _params(tmp_path / "bad.yaml", "campaign: bad\nnotebooks:\n  - notebook: nowhere\n")
    clash = _params(tmp_path / "clash.yaml", "campaign: g0\nnotebooks:\n  - notebook: quick\n    name: other\n")
    outcomes = cl.report.run_many([good[0], bad, good[1], clash, good[2]], out=out, parallel=2, templates=[templates])
    assert [o.ok for o in outcomes] == [True, False, True, False, True]
    assert isinstance(outcomes[1].error, ParamsError) and outcomes[1].records == [] and not (out / "bad").exists()
    assert "also the campaign of" in str(outcomes[3].error)  # two files of one batch in one folder
    assert [o.campaign for o in outcomes] == ["g0", None, "g1", None, "g2"]
    for i in range(3):
        manifest = json.loads((out / f"g{i}" / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["params_file"] == f"g{i}.yaml" and [r["status"] for r in manifest["reports"]] == ["ok"]
    assert not list(out.glob(".run-*"))  # every staging folder withdrawn
    # one pool of two kernels served the three pages: at most two processes
    pids = {nbformat.read(out / f"g{i}" / "quick.ipynb", as_version=4).cells[-1].outputs[0]["text"].strip() for i in range(3)}
    assert 1 <= len(pids) <= 2


def test_notebooks_start_longest_first_by_their_last_run(tmp_path):
    from crm_lab.report.runner import _longest_first, _Run

    _template(tmp_path / "templates", "quick", "x = 1")
    text = "campaign: c\nnotebooks:\n" + "".join(f"  - notebook: quick\n    name: {n}\n" for n in ("a", "b", "c", "new"))
    run = _Run.start(_params(tmp_path / "c.yaml", text), tmp_path / "reports", data=None, timeout=None,
                     templates=[tmp_path / "templates"], kernel_name=None)
    try:
        assert [nb.report_name for _, nb in _longest_first([(run, nb) for nb in run.spec.notebooks])] == ["a", "b", "c", "new"]
        (run.folder / "manifest.json").write_text(json.dumps({"reports": [{"name": "a", "seconds": 1.0}, {"name": "b", "seconds": 9.5},
                                                                          {"name": "c", "seconds": 3.0}]}), encoding="utf-8")
        # never run before: first (its time unknown); then 9.5, 3.0, 1.0 seconds
        assert [nb.report_name for _, nb in _longest_first([(run, nb) for nb in run.spec.notebooks])] == ["new", "b", "c", "a"]
    finally:
        run.discard()


def test_runs_finishing_together_with_a_corrupt_manifest_list_every_good_report(tmp_path):
    templates = tmp_path / "templates"
    _template(templates, "quick", "x = 1")
    out = tmp_path / "reports"
    (out / "broken").mkdir(parents=True)
    (out / "broken" / "manifest.json").write_text("{not json", encoding="utf-8")
    files = [_params(tmp_path / f"c{i}.yaml", f"campaign: c{i}\nnotebooks:\n  - notebook: quick\n    name: r{i}\n") for i in range(3)]
    errors = []

    def run(path):
        try:
            cl.report.run_params(path, out=out, templates=[templates])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    index = (out / "index.html").read_text(encoding="utf-8")
    for i in range(3):
        assert f'href="c{i}/r{i}.html"' in index
    assert "broken/manifest.json 无法读取" in index


def test_stale_leftovers_of_dead_runs_are_cleaned_at_the_next_run(tmp_path):
    _template(tmp_path / "templates", "quick", "x = 1")
    out = tmp_path / "reports"
    dead = 2**22 + 12345  # above the default pid_max: no live process has it
    leftovers = [out / "c" / f".quick.html.{dead}.0123abcd.tmp", out / "c" / f".quick.ipynb.{dead}.89abcdef.running.ipynb",
                 out / f".run-c.{dead}.00ff00ff.staging" / "quick" / "x.csv"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half", encoding="utf-8")
    live = out / "c" / f".other.html.{os.getpid()}.0123abcd.tmp"
    live.write_text("being written", encoding="utf-8")
    cl.report.run_params(_params(tmp_path / "c.yaml", "campaign: c\nnotebooks:\n  - notebook: quick\n"), out=out, templates=[tmp_path / "templates"])
    assert not any(p.exists() for p in leftovers) and not (out / f".run-c.{dead}.00ff00ff.staging").exists()
    assert live.exists()  # a live writer's file is left alone


# --------------------------------------------------------------------------------------------
# 5. Nothing hidden


def test_warnings_are_shown_in_words_and_nothing_is_hidden_with_css(tmp_path):
    _template(tmp_path / "templates", "warns",
              "import warnings\nwarnings.warn('样本比例异常：对照组 12%，计划 20%', UserWarning)\n"
              "warnings.warn('old API', DeprecationWarning)\nprint('debug output')\n"
              "from IPython.display import HTML\nHTML('<p>正文</p>')")
    out = tmp_path / "reports"
    cl.report.run_params(_params(tmp_path / "w.yaml", "campaign: w\nnotebooks:\n  - notebook: warns\n"), out=out,
                         templates=[tmp_path / "templates"])
    page = (out / "w" / "warns.html").read_text(encoding="utf-8")
    assert 'class="crm-note"' in page and "样本比例异常：对照组 12%，计划 20%" in page and "<p>正文</p>" in page
    assert "old API" not in page and "debug output" not in page and "UserWarning" not in page
    assert "display:none" not in page.replace(".anchor-link{display:none}", "")


# --------------------------------------------------------------------------------------------
# 6. as_of after the data's extraction


def test_as_of_after_the_extraction_is_an_error_on_the_cli(tmp_path, shop_dir, capsys):
    code = cl.cli.main(["audience", "new_member_first_purchase", "--data", str(shop_dir), "--out", str(tmp_path / "a"), "--as-of", "2030-01-01"])
    assert code == 1 and "after the data's extraction" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    params = _params(tmp_path / "p.yaml", f"campaign: x\ndata: {shop_dir}\nas_of: '2030-01-01'\nnotebooks:\n  - notebook: shop_overview\n")
    _refused_fast(params, tmp_path / "reports", "after the data's extraction")
    with pytest.raises(ValueError, match="after the data's extraction"):
        cl.data.read_shop(shop_dir, as_of="2030-01-01")


# --------------------------------------------------------------------------------------------
# A run killed at any point


def _published(out: Path, pattern: str) -> list[Path]:
    """Published files: not temporary names or staging folders (their parts start with a dot)."""
    return [p for p in out.rglob(pattern) if not any(part.startswith(".") for part in p.relative_to(out).parts)]


def _complete_set(out: Path) -> None:
    """What a reader or pickup job may see: complete pages, parseable manifests, no half files."""
    for page in _published(out, "*.html"):
        assert page.read_text(encoding="utf-8").rstrip().endswith("</html>"), page
    for manifest in _published(out, "*.json"):
        json.loads(manifest.read_text(encoding="utf-8"))
    for csv in _published(out, "*.csv"):
        assert csv.with_name(csv.name + ".manifest.json").exists(), csv


def _kill_when(command: list[str], seen, limit: float = 120.0) -> None:
    """Start a run and SIGKILL it (the driver and its kernels) as soon as ``seen()`` is true."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + limit
    while proc.poll() is None and not seen() and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # as a scheduler's kill or a reboot would
    proc.wait()


@pytest.mark.slow
def test_a_run_killed_at_any_point_and_run_again_publishes_a_complete_valid_set(tmp_path, shop_dir):
    templates = tmp_path / "templates"
    exporting = ("import crm_lab as cl\nshop = cl.data.read_shop(data)\n"
                 "cl.recipes.new_member_first_purchase(shop, joined_within='30D').export(report_dir, prefix='m')")
    _template(templates, "one", exporting)
    _template(templates, "two", "import time\ntime.sleep(0.5)", exporting)
    params = _params(tmp_path / "k.yaml", f"campaign: k\ndata: {shop_dir}\nnotebooks:\n  - notebook: one\n  - notebook: two\n")
    out = tmp_path / "reports"
    command = [sys.executable, "-m", "crm_lab.cli", "run", str(params), "--out", str(out), "--templates", str(templates)]

    def newer(since: float, *patterns: str):
        return lambda: any(p.stat().st_mtime > since for pattern in patterns for p in out.glob(pattern))

    # Whichever page runs first (the one that took longer last time): its export or page published
    # is inside the run, as the other page is still to come.
    interrupted = 0
    for point in ("staging made", "an export staged", "first export published", "first report published", "index written"):
        since = time.time()
        seen = {"staging made": newer(since, ".run-k.*.staging"),
                "an export staged": newer(since, ".run-k.*.staging/*/m_new_members.csv"),
                "first export published": newer(since, "k/audiences/*/one", "k/audiences/*/two"),
                "first report published": newer(since, "k/one.html", "k/two.html"),
                "index written": newer(since, "index.html")}[point]
        _kill_when(command, seen)
        _complete_set(out)
        interrupted += any(p.name.endswith(".staging") for p in out.glob(".*"))  # killed mid-run, not after it
        time.sleep(1.5)  # orphaned kernels notice their parent is gone and exit
        assert subprocess.run(command, capture_output=True, timeout=300).returncode == 0, point
        _complete_set(out)
        manifest = json.loads((out / "k" / "manifest.json").read_text(encoding="utf-8"))
        assert [r["status"] for r in manifest["reports"]] == ["ok", "ok"]
        index = (out / "index.html").read_text(encoding="utf-8")
        assert 'href="k/one.html"' in index and 'href="k/two.html"' in index
        leftovers = [p for p in out.rglob(".*") if p.name != ".index.lock"]
        assert not leftovers, (point, leftovers)
        for name in ("one", "two"):
            exported = list((out / "k" / "audiences").glob(f"*/{name}/m_new_members.csv"))
            assert len(exported) == 1 and exported[0].with_name("m_new_members.csv.manifest.json").exists()
    assert interrupted >= 4  # every point but the last is inside the run


def test_the_command_line_names_every_recipe_without_importing_them():
    import subprocess
    import sys

    assert set(cl.cli.RECIPE_NAMES) == set(cl.recipes.RECIPES)
    code = ("import sys\nfrom crm_lab.cli import main\ntry:\n    main(['audience', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('crm_lab.recipes' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1] == "False"


def test_a_simulated_folder_is_validated_once_when_written(tmp_path, monkeypatch):
    from crm_lab.data import canonical

    assert cl.cli.main(["simulate", "--customers", "300", "--out", str(tmp_path / "shop")]) == 0
    assert (tmp_path / "shop" / canonical.VALIDATED_MARKER).exists()
    calls = []
    monkeypatch.setattr(canonical, "validate", lambda frame, table, **kw: calls.append(table) or frame)
    cl.data.read_shop(tmp_path / "shop")
    assert calls == []  # the reports that read it skip validating it again
