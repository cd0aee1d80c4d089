"""The environment files agree, and importing crm_lab is quiet."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = set(project["dependencies"])
    for extra in ("spark", "polars", "dev"):
        wanted |= set(project["optional-dependencies"][extra])
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pinned = {p for p in pip if not p.startswith("-e")}
    assert {_name(p): p for p in pinned} == {_name(p): p for p in wanted}
    assert "-e ." in pip


def test_import_prints_nothing_and_is_lazy():
    code = "import sys, crm_lab; print(sorted(m for m in ('pandas', 'seaborn', 'papermill') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]" and done.stderr == ""


def test_cli_help():
    done = subprocess.run([sys.executable, "-m", "crm_lab.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "simulate" in done.stdout and "run" in done.stdout
