"""Figures with one look and Chinese labels that render.

Every function takes a DataFrame and returns the matplotlib Axes, as seaborn's do.
:func:`set_theme` applies the house style and finds a CJK font (Noto Sans CJK, installed by
``make`` from Debian's ``fonts-noto-cjk``); without one it warns once, in one line, and Chinese
labels show as boxes.

Examples
--------
>>> import pandas as pd, crm_lab as cl
>>> cl.plots.set_theme()  # doctest: +SKIP
>>> ax = cl.plots.bar(pd.DataFrame({"月份": ["1月", "2月"], "有效金额": [1.0, 2.0]}), x="月份", y="有效金额")
"""

from __future__ import annotations

import glob
import warnings
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib import font_manager
from matplotlib.ticker import FuncFormatter, PercentFormatter

from crm_lab import currency

__all__ = ["set_theme", "ensure_cjk", "cjk_font", "bar", "line", "yuan_formatter", "PALETTE", "GROUP_COLORS"]

ACCENT = "#e6456a"
PALETTE = ["#e6456a", "#2bb8c4", "#f2a541", "#6c5ce7", "#7f8c8d", "#27ae60", "#b0b7c3"]
GROUP_COLORS = {"control": "#b0b7c3", "treatment": ACCENT, "对照组": "#b0b7c3", "实验组": ACCENT}
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                "SimHei", "Microsoft YaHei", "PingFang SC")
CJK_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/**/NotoSansCJK*.ttc",
             "/usr/share/fonts/**/*CJK*.otf", "/usr/share/fonts/**/wqy*.ttc")

_FONT: str | None = None
_WARNED = False


def cjk_font() -> str | None:
    """Name of a font that has Chinese glyphs, registering Noto CJK from disk if needed.

    matplotlib caches its font list; a font installed after that cache was built is added here
    by file.

    Examples
    --------
    >>> from crm_lab.plots import cjk_font
    >>> cjk_font()  # doctest: +SKIP
    'Noto Sans CJK JP'
    """
    global _FONT
    if _FONT is not None:
        return _FONT
    available = {f.name for f in font_manager.fontManager.ttflist}
    found = next((f for f in CJK_FAMILIES if f in available), None)
    if found is None:
        for pattern in CJK_FILES:
            for path in sorted(glob.glob(pattern, recursive=True)):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        available = {f.name for f in font_manager.fontManager.ttflist}
        found = next((f for f in CJK_FAMILIES if f in available), None)
    _FONT = found
    return found


def ensure_cjk() -> str | None:
    """Put the CJK font first among sans-serif fonts (crm_lab's figures call this themselves).

    Unlike :func:`set_theme` it changes nothing else, so a user's own style stays.
    """
    font = cjk_font()
    if font is not None and plt.rcParams["font.sans-serif"][:1] != [font]:
        plt.rcParams["font.sans-serif"] = [font, *[f for f in plt.rcParams["font.sans-serif"] if f != font]]
        plt.rcParams["axes.unicode_minus"] = False
    if font is not None and plt.rcParams["font.family"] != ["sans-serif"]:
        plt.rcParams["font.family"] = ["sans-serif"]
    return font


#: Width (inches) of crm_lab's figures and the smallest text on them (points): on a 390 px phone
#: the figure is shown about PHONE_IMAGE_PX wide, so text is MIN_FONT_PT * 362 / (72 * 5) = 11 px.
PHONE_FIGURE_WIDTH = 5.0
MIN_FONT_PT = 11.0
PHONE_IMAGE_PX = 362


def phone_text_px(fig: Any, image_px: float = PHONE_IMAGE_PX) -> float:
    """The size in CSS pixels of the smallest visible text of ``fig`` once shown ``image_px`` wide.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(5, 3)); _ = ax.set_title("x", fontsize=11)
    >>> round(phone_text_px(fig), 1)
    11.1
    """
    sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))
             if t.get_visible() and str(t.get_text()).strip()]
    return float(min(sizes) * image_px / (72 * fig.get_figwidth())) if sizes else float("inf")


def set_theme(context: str = "notebook") -> str | None:
    """Apply crm_lab's style (seaborn whitegrid, house palette, CJK font); return the font used.

    Examples
    --------
    >>> import crm_lab as cl
    >>> cl.plots.set_theme()  # doctest: +SKIP
    """
    global _WARNED
    font = cjk_font()
    sns.set_theme(context=context, style="whitegrid", palette=PALETTE)
    families = [font] if font else []
    plt.rcParams.update(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [*families, "DejaVu Sans"],
            "axes.unicode_minus": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            # Drawn for a phone: a figure PHONE_FIGURE_WIDTH inches wide shows at about 360 px on a
            # 390 px screen, where the smallest text (MIN_FONT_PT) is still >= 11 px; dpi 150 keeps
            # it sharp on a laptop.
            "figure.dpi": 150,
            "savefig.dpi": 150,
            "figure.figsize": (PHONE_FIGURE_WIDTH, 3.4),
            "font.size": MIN_FONT_PT + 1,
            "axes.titlesize": MIN_FONT_PT + 1,
            "axes.labelsize": MIN_FONT_PT,
            "xtick.labelsize": MIN_FONT_PT,
            "ytick.labelsize": MIN_FONT_PT,
            "legend.fontsize": MIN_FONT_PT,
            "legend.title_fontsize": MIN_FONT_PT,
        }
    )
    if font is None and not _WARNED:
        _WARNED = True
        warnings.warn(
            "No CJK font found: Chinese labels will show as boxes. Install one: "
            "apt-get install fonts-noto-cjk (or run make, which does it where it can).",
            stacklevel=2,
        )
    return font


def yuan_formatter(decimals: int = 0) -> FuncFormatter:
    """Axis formatter for amounts in the shop's currency (:mod:`crm_lab.currency`): ¥1,234, and
    ¥12.5万 / ¥3.4亿 from ten thousand up (£12.5万 for a GBP shop).

    Examples
    --------
    >>> from crm_lab.plots import yuan_formatter
    >>> yuan_formatter()(125000), yuan_formatter()(500000), yuan_formatter()(950)
    ('¥12.5万', '¥50万', '¥950')
    """

    def fmt(value: float, _pos: Any = None) -> str:
        sign = currency.symbol()
        if abs(value) >= 1e8:
            return f"{sign}{value / 1e8:.4g}亿"
        if abs(value) >= 1e4:
            return f"{sign}{value / 1e4:.4g}万"
        return f"{sign}{value:,.{decimals}f}"

    return FuncFormatter(fmt)


def _finish(ax: plt.Axes, title: str | None, xlabel: str | None, ylabel: str | None, kind: str | None) -> plt.Axes:
    if title:
        ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    axis = ax.xaxis if getattr(ax, "_crm_horizontal", False) else ax.yaxis
    if kind == "yuan":
        axis.set_major_formatter(yuan_formatter())
    elif kind == "percent":
        axis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    return ax


def bar(
    data: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None = None,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    kind: str | None = None,
    palette: Any = None,
    rotate: int = 0,
    horizontal: bool = False,
) -> plt.Axes:
    """Bar chart of ``y`` by ``x`` (and ``hue``) from a tidy DataFrame.

    Parameters
    ----------
    kind : {"yuan", "percent", None}
        Format of the value axis.
    horizontal : bool
        Bars along the x axis, one row per ``x`` value (long labels read on a phone): ``y`` is
        still the value.

    Examples
    --------
    >>> import pandas as pd, crm_lab as cl
    >>> ax = cl.plots.bar(pd.DataFrame({"g": ["a", "b"], "v": [0.1, 0.2]}), x="g", y="v", kind="percent")
    """
    ensure_cjk()
    if ax is None:
        _, ax = plt.subplots()
    if palette is None and hue is not None and set(data[hue].dropna().unique()) <= set(GROUP_COLORS):
        palette = GROUP_COLORS
    sns.barplot(data=data, x=y if horizontal else x, y=x if horizontal else y, hue=hue, ax=ax, palette=palette if hue else None,
                color=None if hue else ACCENT, errorbar=None, orient="h" if horizontal else None)
    ax._crm_horizontal = horizontal  # which axis _finish formats
    if rotate:
        ax.tick_params(axis="x", labelrotation=rotate)
    return _finish(ax, title, xlabel, ylabel, kind)


def line(
    data: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None = None,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    kind: str | None = None,
    marker: str = "o",
) -> plt.Axes:
    """Line chart of ``y`` over ``x`` (and ``hue``) from a tidy DataFrame.

    Examples
    --------
    >>> import pandas as pd, crm_lab as cl
    >>> ax = cl.plots.line(pd.DataFrame({"m": [1, 2], "v": [1.0, 3.0]}), x="m", y="v", kind="yuan")
    """
    ensure_cjk()
    if ax is None:
        _, ax = plt.subplots()
    sns.lineplot(data=data, x=x, y=y, hue=hue, ax=ax, marker=marker, color=None if hue else ACCENT)
    return _finish(ax, title, xlabel, ylabel, kind)
