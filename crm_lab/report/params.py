"""Params files: plain data, checked whole before any notebook starts.

A params file (``params/<campaign>.yaml``) is what a scheduler runs every morning, so it is read
as data and never as code:

* the YAML loader accepts only the JSON types (text, numbers, true/false, null, lists, mappings);
  tags such as ``!!binary`` or ``!!python/...``, aliases (``*name``), merge keys and duplicated
  keys are errors naming the file, the line and the fix; dates stay the text they were written as;
* every parameter value is checked, all the way down, against the template's ``parameters`` cell
  (names it declares, and the kind of its default);
* names that become paths (``campaign``, ``name``, ``notebook``) are plain file-name tokens, and
  ``report_dir`` is set by the runner only.

Examples
--------
>>> from crm_lab.report.params import load_params_text
>>> load_params_text("campaign: d11\\nnotebooks:\\n  - notebook: clv\\n").campaign
'd11'
>>> load_params_text("campaign: d11\\ncampaign: d12\\nnotebooks: []\\n")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
crm_lab.report.params.ParamsError: <params>, line 2: key 'campaign' appears twice (first on line 1); the second would silently win. Fix: keep one
"""

from __future__ import annotations

import ast
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crm_lab.files import file_token

__all__ = [
    "ParamsError",
    "NotebookRun",
    "RunParams",
    "load_params",
    "load_params_text",
    "check_parameters",
    "check_value",
    "resolve_notebook",
    "TEMPLATE_DIR",
    "INJECTED",
]

#: The templates shipped with crm_lab.
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "notebooks"
#: Injected into every notebook by the runner; a template need not declare them (``plan``: the
#: params file's campaign plan, read by the templates of a campaign that declare it).
INJECTED = ("data", "as_of", "title", "plan", "care")
#: Set by the runner only (the staging folder a notebook exports into).
RUNNER_ONLY = ("report_dir",)
#: A params file is a page of settings; anything larger is refused before it is parsed.
MAX_BYTES = 256 * 1024

_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}
_MERGE = "tag:yaml.org,2002:merge"


class ParamsError(ValueError):
    """A params file or a parameter value that cannot be run; the message says where and the fix."""


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader limited to JSON types: no tags, aliases, merge keys or duplicated keys."""

    source = "<params>"

    def _fail(self, node_or_event: Any, problem: str) -> ParamsError:
        line = node_or_event.start_mark.line + 1
        return ParamsError(f"{self.source}, line {line}: {problem}")

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise self._fail(self.peek_event(), "YAML aliases (*name) are not accepted in params files. Fix: write the "
                             "value out, or put values shared by every notebook under the top-level `parameters:`")
        return super().compose_node(parent, index)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node.tag not in _PLAIN_TAGS:
            raise self._fail(node, f"the tag {node.tag!r} is not accepted: params are plain text, numbers, true/false, "
                             "null, lists and mappings. Fix: remove the tag (quote the value if it is text)")
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == _MERGE:
                raise self._fail(key_node, "merge keys (<<) are not accepted. Fix: write the keys out")
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise self._fail(key_node, f"key {key!r} is not text. Fix: quote it")
            if key in seen:
                raise self._fail(key_node, f"key {key!r} appears twice (first on line {seen[key]}); the second would "
                                 "silently win. Fix: keep one")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


# Dates stay as written ("2025-10-20" is text a notebook parses), so no timestamp tag ever appears.
_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def check_value(value: Any, where: str) -> Any:
    """Check that a parameter value is plain data all the way down (text, finite number, bool,
    None, list, mapping with text keys) and return it.

    Raises
    ------
    ParamsError
        Naming the parameter path (``where``) and the value found.

    Examples
    --------
    >>> from crm_lab.report.params import check_value
    >>> check_value({"days": [1, 7, 30]}, "p")
    {'days': [1, 7, 30]}
    >>> check_value(b"x", "p.related")
    Traceback (most recent call last):
    ...
    crm_lab.report.params.ParamsError: p.related: bytes is not a plain value (text, number, true/false, null, list or mapping)
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParamsError(f"{where}: {value} is not a finite number. Fix: give a number")
        return value
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_value(item, f"{where}[{i}]")
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ParamsError(f"{where}: key {key!r} is not text")
            check_value(item, f"{where}.{key}")
        return value
    raise ParamsError(f"{where}: {type(value).__name__} is not a plain value (text, number, true/false, null, list or mapping)")


def _token(value: Any, what: str) -> str:
    try:
        return file_token(value, what)
    except ValueError as exc:
        raise ValueError(str(exc)) from None  # pydantic shows the message


class NotebookRun(BaseModel):
    """One notebook of a params file."""

    model_config = ConfigDict(extra="forbid")
    notebook: str = Field(description="template name: a notebook in notebooks/ (without .ipynb)")
    name: str | None = Field(default=None, description="report file name (default: the notebook's)")
    timeout: float | None = Field(default=None, gt=0, description="seconds this notebook may run (default: the file's)")
    parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("notebook")
    @classmethod
    def _notebook_token(cls, value: str) -> str:
        return _token(value.removesuffix(".ipynb"), "notebook")

    @field_validator("name")
    @classmethod
    def _name_token(cls, value: str | None) -> str | None:
        return None if value is None else _token(value, "name")

    @property
    def report_name(self) -> str:
        """The report's file name without suffix."""
        return self.name or self.notebook


class RunParams(BaseModel):
    """A params file: one campaign or scheduled report (``params/<campaign>.yaml``)."""

    model_config = ConfigDict(extra="forbid")
    campaign: str = Field(description="folder name under the output folder (a plain name)")
    title: str | None = None
    data: str | None = Field(default=None, description="shop folder passed to every notebook as `data`")
    as_of: str | None = None
    timeout: float | None = Field(default=None, gt=0, description="seconds each notebook may run")
    parameters: dict[str, Any] = Field(default_factory=dict, description="shared by every notebook")
    schedule: Literal["daily", "weekly", "monthly"] | None = Field(
        default=None, description="how often the file is run: a page on data older than that gets a red banner")
    plan: dict[str, Any] | None = Field(
        default=None, description="the campaign's definition (crm_lab.campaign.CampaignPlan), read by every notebook declaring `plan`")
    care: dict[str, Any] | None = Field(
        default=None, description="the shop's event-care rules (crm_lab.care.CareRules), read by `crm-lab care` and every notebook declaring `care`")
    notebooks: list[NotebookRun] = Field(min_length=1)

    @field_validator("campaign")
    @classmethod
    def _campaign_token(cls, value: str) -> str:
        return _token(value, "campaign")


def load_params_text(text: str, source: str = "<params>") -> RunParams:
    """Parse and check the text of a params file (see :func:`load_params`)."""
    loader = _PlainLoader(text)
    loader.source = source
    try:
        raw = loader.get_single_data() or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{source}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: a params file is a mapping (campaign:, notebooks: ...), not {type(raw).__name__}")
    try:
        spec = RunParams.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ParamsError(f"{source}: {problems}") from None
    _check_spec(spec, source)
    return spec


def _check_spec(spec: RunParams, source: str) -> None:
    blocks = [("parameters", spec.parameters)] + [(f"notebooks[{i}].parameters", nb.parameters) for i, nb in enumerate(spec.notebooks)]
    for where, block in blocks:
        check_value(block, f"{source}: {where}")
        for key in RUNNER_ONLY:
            if key in block:
                raise ParamsError(f"{source}: {where}.{key} is set by `crm-lab run` (exports go under --out). Fix: remove it")
    names: dict[str, int] = {}
    for i, nb in enumerate(spec.notebooks):
        if nb.report_name in names:
            raise ParamsError(f"{source}: notebooks[{i}] and notebooks[{names[nb.report_name]}] would both publish "
                              f"{nb.report_name}.html (the second would overwrite the first). Fix: give one a `name:`")
        names[nb.report_name] = i
    if spec.as_of is not None:
        parse_date(spec.as_of, f"{source}: as_of")
    if spec.plan is not None:
        from crm_lab.campaign_plan import CampaignPlan

        check_value(spec.plan, f"{source}: plan")
        try:
            CampaignPlan.from_dict(spec.plan, id=spec.campaign)
        except (ValueError, TypeError) as exc:
            raise ParamsError(f"{source}: {exc}") from None
    if spec.care is not None:
        from crm_lab.care import CareRules

        check_value(spec.care, f"{source}: care")
        try:
            CareRules.from_dict(spec.care)
        except ValueError as exc:
            raise ParamsError(f"{source}: {exc}") from None


def parse_date(value: Any, where: str) -> Any:
    """A params date as a pandas Timestamp; anything else is an error naming where it stands."""
    import pandas as pd

    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ParamsError(f"{where}: {value!r} is not a date. Fix: write it as 2025-11-30") from None


def load_params(path: str | os.PathLike[str]) -> RunParams:
    """Read and check a params YAML file; any problem is an error before any notebook runs.

    Raises
    ------
    ParamsError
        Not plain YAML (tags, aliases, duplicated keys), an unknown key, a name that is not a
        plain token, the same report twice, ``report_dir`` set, a file over 256 KiB.

    Examples
    --------
    >>> from crm_lab.report import load_params
    >>> load_params("params/demo_overview.yaml").campaign  # doctest: +SKIP
    'demo'
    """
    p = Path(path)
    if p.stat().st_size > MAX_BYTES:
        raise ParamsError(f"{p}: {p.stat().st_size:,} bytes; a params file is at most {MAX_BYTES:,}")
    return load_params_text(p.read_text(encoding="utf-8"), str(p))


def resolve_notebook(name: str, templates: list[str | os.PathLike[str]] | tuple = ()) -> Path:
    """The template file for a name: in ``templates`` folders first, then crm_lab's own.

    A name is a plain token, never a path, so a params file cannot make a run execute a notebook
    from anywhere else.

    Examples
    --------
    >>> from crm_lab.report.params import resolve_notebook
    >>> resolve_notebook("clv").name
    'clv.ipynb'
    """
    stem = file_token(str(name).removesuffix(".ipynb"), "notebook")
    folders = [Path(f) for f in templates] + [TEMPLATE_DIR]
    found = next((f / f"{stem}.ipynb" for f in folders if (f / f"{stem}.ipynb").is_file()), None)
    if found is None:
        available = sorted({p.stem for f in folders for p in f.glob("*.ipynb")})
        raise ParamsError(f"No notebook {stem!r}; templates: {available}")
    return found


def _same_kind(value: Any, default: Any) -> bool:
    """Whether a parameter value can stand where the template's default stands."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):  # 600000 for 600000.0 and back; True is no number here
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):  # a list, or a name in its place (an event in the calendar)
        if isinstance(value, str):
            return True
        if not isinstance(value, (list, tuple)):
            return False
        kinds = [d for d in default if d is not None]
        return not kinds or all(any(_same_kind(v, d) for d in kinds) for v in value if v is not None)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return isinstance(value, type(default))


def declared_parameters(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A template's ``parameters`` cell (papermill's ``inspect_notebook``), read once per file version:
    a run checks every notebook's parameters and then what each declares."""
    p = Path(path)
    return _declared(str(p), p.stat().st_mtime_ns)


@lru_cache(maxsize=64)
def _declared(path: str, _mtime_ns: int) -> dict[str, Any]:
    import papermill

    return papermill.inspect_notebook(path)


def check_parameters(notebook: str, parameters: dict[str, Any], where: str | None = None,
                     templates: list[str | os.PathLike[str]] | tuple = ()) -> None:
    """Check parameter names and values against a template's ``parameters`` cell, before any run.

    A name the template does not declare would be injected and silently ignored, so it is an
    error listing the names it does declare. Every value must be plain data (see
    :func:`check_value`) and of the kind of its default (text for text, a number for a number,
    a list of numbers for a list of numbers ...); defaults of None accept any plain value.

    Raises
    ------
    ParamsError
        Unknown notebook, unknown parameter name, a runner-only name, or a value of the wrong kind.

    Examples
    --------
    >>> from crm_lab.report import check_parameters
    >>> check_parameters("sample_to_full_size", {"sample_product": "S02"})
    >>> check_parameters("sample_to_full_size", {"sampel_product": "S02"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    crm_lab.report.params.ParamsError: sample_to_full_size: unknown parameter 'sampel_product' ...
    """
    path = resolve_notebook(notebook, templates)
    declared = declared_parameters(path)
    where = where or notebook
    for key, value in parameters.items():
        check_value(value, f"{where}: {key}")
        if key in RUNNER_ONLY:
            raise ParamsError(f"{where}: {key} is set by `crm-lab run` only. Fix: remove it")
        if key not in declared:
            if key in INJECTED:
                continue
            raise ParamsError(f"{where}: unknown parameter {key!r} (a typo would be ignored silently). "
                              f"{path.stem} declares: {', '.join(k for k in declared if k not in RUNNER_ONLY)}")
        try:
            default = ast.literal_eval(declared[key]["default"])
        except (ValueError, SyntaxError):
            continue
        if default is not None and value is not None and not _same_kind(value, default):
            raise ParamsError(f"{where}: parameter {key!r} should be like its default {declared[key]['default']} "
                              f"({type(default).__name__}), got {value!r} ({type(value).__name__})")
