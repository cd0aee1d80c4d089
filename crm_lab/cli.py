"""``crm-lab``: the command line for scheduled runs and the demo.

Commands
--------
``crm-lab simulate --customers N --out DIR``
    Write a simulated sample shop as Parquet files.
``crm-lab run PARAMS... [--out reports] [--parallel N] [--data DIR] [--timeout S] [--templates DIR]``
    Execute the notebooks each params file names and publish HTML reports and audience exports;
    exit 1 if any failed or a params file was refused (nothing of it ran).
``crm-lab import --out DIR --orders FILE... (--preset P | --mapping MAP.yaml) [--refunds F] [--members F...] ...``
    Import export files into a canonical shop folder (merged with an earlier import, atomic),
    with ``quality.json`` / ``quality.html``; the salt comes from ``CRM_LAB_SALT``. Exit 1 if
    the files were refused (nothing written).
``crm-lab demo``
    Simulate the sample shop (if missing) into ``data/demo`` and run ``params/demo_*.yaml``.
``crm-lab care PARAMS --out DIR [--data DIR] [--at TIME]``
    The day's event care from a params file's ``care:`` block: package-card notes for the ERP,
    payment reminders and expiry reminders for the SMS platform, in ``DIR/<date>/`` (rebuilt
    whole on a rerun), with the ledger of reminded orders in ``DIR/reminded.csv``.
``crm-lab audience RECIPE --data DIR --out DIR [--set key=value ...] [--control-share S]``
    Export a scenario recipe's audiences (ids and groups, with manifests) without a notebook:
    e.g. the daily new members for the SMS platform. Every audience is written, an empty one as
    a header-only file, so a fixed ``--out`` never keeps an earlier day's list.

Examples
--------
>>> from crm_lab.cli import main
>>> main(["simulate", "--customers", "500", "--out", "data/small"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import Any

from crm_lab.files import clean_stale, file_token, run_id, temp_path

__all__ = ["main"]

#: The recipes ``crm-lab audience`` takes (the keys of :data:`crm_lab.recipes.RECIPES`, tested): named
#: here so that every other command starts without importing the models the recipes use.
RECIPE_NAMES = ("high_potential", "influencer_new_customers", "new_member_first_purchase", "new_product_launch", "promotion_waves",
                "sample_to_full_size")


def _simulate(args: argparse.Namespace) -> int:
    from crm_lab import datasets

    started = time.time()
    out = datasets.write_sample_shop(args.out, args.customers, start=args.start, end=args.end, seed=args.seed,
                                     workers=args.workers, progress=True)
    print(f"{args.customers:,} customers written to {out} (validated, with truth/) in {time.time() - started:.1f}s")
    return 0


def _warm_kernels(args: argparse.Namespace) -> Any:
    """A pool of kernels shared by every params file of the command, started first so that they
    start and import crm_lab while this process imports papermill and checks the params."""
    from crm_lab.report.kernels import KernelPool

    if getattr(args, "fresh_kernels", False):
        return contextlib.nullcontext(False)
    return KernelPool().prestart(max(1, args.parallel))


def _report_outcomes(outcomes: list[Any], out: str) -> int:
    """Print each page made and each params file that failed; how many failed."""
    for outcome in outcomes:
        for r in outcome.records:
            if r["status"] == "ok":
                print(f"ok     {r['seconds']:6.1f}s  {Path(out) / outcome.campaign / r['report']}")
        if outcome.error is not None:
            print(f"FAILED {outcome.params_path}: {outcome.error}", file=sys.stderr)
    return sum(not o.ok for o in outcomes)


def _run(args: argparse.Namespace) -> int:
    with _warm_kernels(args) as pool:
        from crm_lab import report

        outcomes = report.run_many(args.params, out=args.out, parallel=args.parallel, data=args.data, timeout=args.timeout,
                                   templates=args.templates or (), kernels=pool)
    failed = _report_outcomes(outcomes, args.out)
    print(f"index: {(Path(args.out) / 'index.html').resolve()}")
    return 1 if failed else 0


def _import(args: argparse.Namespace) -> int:
    from crm_lab import data
    from crm_lab.data.importer import import_shop
    from crm_lab.files import atomic_text
    from crm_lab.report.quality import quality_page, quality_verdict

    try:
        report = import_shop(args.out, orders=args.orders, refunds=args.refunds, members=args.members,
                             products=args.products, touches=args.touches, events=args.events, benefits=args.benefits,
                             coupons=args.coupons, referrals=args.referrals, preset=args.preset,
                             mapping=args.mapping, as_of=args.as_of, name=args.name, currency=args.currency,
                             errors=args.errors, holdout_share=args.holdout_share)
    except (ValueError, FileNotFoundError, data.DataValidationError) as exc:
        print(f"FAILED import into {args.out}: {exc}", file=sys.stderr)
        return 1
    page = atomic_text(Path(args.out) / "quality.html", quality_page(report))
    print(report.summary().to_string(index=False))
    print(quality_verdict(report).replace("**", ""))
    print(f"shop: {Path(args.out).resolve()}\nquality report: {page.resolve()}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    shop_dir = Path(args.data)
    if args.force or not ((shop_dir / "orders.parquet").exists() or (shop_dir / "orders").is_dir()):
        from crm_lab import datasets

        print(f"simulating the sample shop ({args.customers:,} customers) into {shop_dir} ...")
        datasets.write_sample_shop(shop_dir, args.customers, seed=args.seed, progress=True)
    params = sorted(Path(args.params_dir).glob("demo_*.yaml"))
    if not params:
        print(f"no demo params files in {args.params_dir}", file=sys.stderr)
        return 1
    print(f"running {len(params)} params files: {', '.join(p.name for p in params)} ...")
    with _warm_kernels(args) as pool:  # every demo page in one queue of --parallel kernels
        from crm_lab import report

        outcomes = report.run_many(params, out=args.out, parallel=args.parallel, data=shop_dir, kernels=pool)
    failed = _report_outcomes(outcomes, args.out)
    index = report.write_index(args.out)
    print(f"reports: {index.resolve()}")
    return 1 if failed else 0


def _care(args: argparse.Namespace) -> int:
    from crm_lab import care, data, report

    try:
        spec = report.load_params(args.params)
        if spec.care is None:
            raise ValueError(f"{args.params} has no `care:` block (package_cards, payment_reminders ...); see params/demo_care.yaml")
        folder = args.data or spec.data
        if folder is None:
            raise ValueError(f"{args.params} names no `data:` folder; pass --data DIR")
        shop = data.read_shop(folder)
        result = care.run_care(shop, care.CareRules.from_dict(spec.care), args.out, at=args.at,
                               run={"id": run_id(), "command": f"crm-lab care {args.params}", "data": str(folder)})
    except (report.ReportError, ValueError, FileNotFoundError) as exc:
        print(f"FAILED {args.params}: {exc}", file=sys.stderr)
        return 1
    for row in result.summary().itertuples():
        print(f"{row.rows:>9,}  {result.folder / row.file}")
    return 0


def _audience(args: argparse.Namespace) -> int:
    import inspect

    import yaml

    from crm_lab import data, recipes

    recipe = recipes.RECIPES[args.recipe]
    options = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"--set {item!r}: write key=value, e.g. --set new_product=N01", file=sys.stderr)
            return 2
        options[key.strip()] = yaml.safe_load(value)  # numbers, lists ([P001, P002]) and text as YAML reads them
    accepted = [name for name in inspect.signature(recipe).parameters if name != "shop"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        print(f"{args.recipe}: unknown parameter(s) {unknown}; it takes {accepted}", file=sys.stderr)
        return 2
    try:
        prefix = file_token(args.prefix or args.recipe, "--prefix")
        shop = data.read_shop(args.data, as_of=args.as_of)
        result = recipe(shop, **options)
        files = _publish_audiences(result, Path(args.out), prefix, args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"FAILED {args.recipe}: {exc}", file=sys.stderr)
        return 1
    for row in files.itertuples():
        print(f"{row.customers:>9,}  {row.file}")
    return 0


def _publish_audiences(result: Any, out: Path, prefix: str, args: argparse.Namespace) -> Any:
    """Export into a staging folder, then rename each file into ``out``: all or nothing is written."""
    import os
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    run = {"id": run_id(),
           "command": f"crm-lab audience {args.recipe}", "data": str(args.data)}
    stage = temp_path(out / prefix, "staging")
    stage.mkdir()
    try:
        files = result.export(stage, prefix=prefix, control_share=args.control_share or None, seed=args.seed, run=run)
        for staged in sorted(stage.iterdir()):  # each CSV before its manifest
            os.replace(staged, out / staged.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return files.assign(file=[str(out / Path(f).name) for f in files["file"]])


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``crm-lab``; returns the exit code."""
    # jsonschema (under nbformat and papermill) builds an Earley parser for IRI formats when the
    # optional rfc3987-syntax is installed (2.5 s at import); notebooks never use that format, and
    # this command is a process of its own, so it does without.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    parser = argparse.ArgumentParser(prog="crm-lab", description="Member operations analytics: sample shop and reports.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="write a simulated sample shop as Parquet")
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", default="2024-01-01")
    p.add_argument("--end", default="2025-11-30")
    p.add_argument("--workers", type=int, default=2, help="processes simulating blocks of customers (a shop over 100,000 customers)")
    p.set_defaults(func=_simulate)

    p = sub.add_parser("run", help="run the notebooks of params files and publish HTML reports")
    p.add_argument("params", nargs="+", help="params/<campaign>.yaml")
    p.add_argument("--out", default="reports")
    p.add_argument("--parallel", type=int, default=1, help="notebooks run at once")
    p.add_argument("--data", default=None, help="shop folder replacing the params files' `data`")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="time limit of each notebook (default: the params file's `timeout:`, else 1200)")
    p.add_argument("--templates", action="append", metavar="DIR", help="a folder of your own notebook templates (repeatable)")
    p.add_argument("--fresh-kernels", action="store_true",
                   help="a new kernel for every notebook (default: warm kernels, cleared between notebooks)")
    p.set_defaults(func=_run)

    p = sub.add_parser("import", help="import export files into a canonical shop folder, with a quality report")
    p.add_argument("--out", required=True, help="the shop folder (merged with an earlier import there)")
    p.add_argument("--orders", nargs="+", required=True, metavar="FILE", help="order exports")
    p.add_argument("--refunds", default=None, metavar="FILE", help="Douyin after-sales export (售后表)")
    for table in ("members", "products", "touches", "events", "benefits", "coupons", "referrals"):
        p.add_argument(f"--{table}", nargs="+", default=None, metavar="FILE", help=f"{table} files")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--preset", choices=("douyin", "tmall", "douyin_api"), help="a platform's export headers")
    which.add_argument("--mapping", metavar="YAML", help="a mapping file: canonical column -> your column, per table")
    p.add_argument("--as-of", default=None, help="extraction time (default: the newest file's modification time)")
    p.add_argument("--name", default=None, help="the shop's name")
    p.add_argument("--currency", default=None, help="ISO code, e.g. GBP (default: the mapping's, else CNY)")
    p.add_argument("--errors", choices=("quarantine", "raise"), default="quarantine",
                   help="set bad rows aside in quarantine/ (default) or refuse the files")
    p.add_argument("--holdout-share", type=float, default=None, metavar="S",
                   help="start the shop's global holdout: this share of customers is left out of every audience (kept by later imports)")
    p.set_defaults(func=_import)

    p = sub.add_parser("demo", help="simulate the sample shop and build the demo reports")
    p.add_argument("--customers", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--data", default="data/demo")
    p.add_argument("--params-dir", default="params")
    p.add_argument("--out", default="reports")
    p.add_argument("--parallel", type=int, default=1)
    p.add_argument("--force", action="store_true", help="simulate again even if data exists")
    p.set_defaults(func=_demo)

    p = sub.add_parser("care", help="write the day's event care: package-card notes, payment and expiry reminders")
    p.add_argument("params", help="a params file with a `care:` block, e.g. params/demo_care.yaml")
    p.add_argument("--out", required=True, help="folder of the dated day folders and the reminders ledger")
    p.add_argument("--data", default=None, help="shop folder replacing the params file's `data`")
    p.add_argument("--at", default=None, help="the run's moment (default: the data's extraction time)")
    p.set_defaults(func=_care)

    p = sub.add_parser("audience", help="export a scenario recipe's audiences (ids and groups) with manifests")
    p.add_argument("recipe", choices=RECIPE_NAMES)
    p.add_argument("--data", required=True, help="shop folder or .duckdb file")
    p.add_argument("--out", required=True, help="folder for <prefix>_<audience>.csv and its manifest")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a recipe parameter, e.g. new_product=N01 (repeatable)")
    p.add_argument("--as-of", default=None, help="look from this day (default: the extraction)")
    p.add_argument("--control-share", type=float, default=0.1, help="held-out share (0: no control group)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prefix", default=None, help="file name prefix (default: the recipe's name)")
    p.set_defaults(func=_audience)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
