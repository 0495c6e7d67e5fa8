"""One PNG bar chart per indicator, for people who would rather look than read.

Uses matplotlib's object API with the Agg canvas (no pyplot, no display, no
global figure state), so charts can be drawn from any thread or a server.
"""

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hubstats.report import Indicator, Report

_COLOURS = ("#1f5f8b", "#e07b39", "#4c9a2a", "#8e44ad")


def draw_indicator(indicator: Indicator, period: str, path: Path) -> Path:
    """Draw ``indicator`` as horizontal bars (grouped by series) into ``path``."""
    series = list(dict.fromkeys(v.series for v in indicator.values))
    labels = list(dict.fromkeys(v.label for v in indicator.values))
    height = max(2.6, 0.9 + 0.42 * len(labels) * max(1, len(series)) ** 0.6)
    figure = Figure(figsize=(9, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bar = 0.8 / len(series)
    for index, name in enumerate(series):
        values = {v.label: v.value for v in indicator.values if v.series == name}
        positions = [row + (index - (len(series) - 1) / 2) * bar for row in range(len(labels))]
        widths = [values.get(label) or 0.0 for label in labels]
        bars = axes.barh(
            positions, widths, height=bar, label=name, color=_COLOURS[index % len(_COLOURS)]
        )
        texts = [_text(values.get(label), indicator.unit) for label in labels]
        axes.bar_label(bars, labels=texts, padding=3, fontsize=8)
    axes.set_yticks(range(len(labels)), labels)
    axes.invert_yaxis()
    axes.set_xlabel(indicator.unit)
    axes.set_title(f"{indicator.title}\n{period}", fontsize=11)
    axes.margins(x=0.15)
    if indicator.unit == "percent":
        axes.set_xlim(0, 115)
    axes.spines[["top", "right"]].set_visible(False)
    if len(series) > 1:
        axes.legend(loc="lower right", fontsize=8)
    figure.savefig(path)
    return path


def draw_report(report: Report, directory: Path) -> list[Path]:
    """One ``<indicator>.png`` per indicator in ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        draw_indicator(indicator, report.period, directory / f"{indicator.key}.png")
        for indicator in report.indicators
    ]


def _text(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "percent":
        return f"{value:.1f} %"
    return f"{int(value):,}".replace(",", " ")
