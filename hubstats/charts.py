"""One PNG chart per indicator, for people who would rather look than read.

A series over months or years is drawn as lines, anything else as bars; every
chart names its unit and the report's scale, draws counts of messages at
national size (× the scale), and marks the published figures it reproduces.
Uses matplotlib's object API with the Agg canvas (no pyplot, no display, no
global figure state), so charts can be drawn from any thread or a server.
"""

import re
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from hubstats.published import SCALED_UNITS
from hubstats.report import Indicator, Report

_COLOURS = ("#1f5f8b", "#e07b39", "#4c9a2a", "#8e44ad")
_PUBLISHED_COLOUR = "#c0392b"
_PERIOD = re.compile(r"^\d{4}(-\d{2})?$")
_THOUSANDS = FuncFormatter(lambda value, _position: f"{value:,.0f}".replace(",", " "))


def is_time_series(indicator: Indicator) -> bool:
    """Whether every label of ``indicator`` is a month or a year, and there are several."""
    labels = {v.label for v in indicator.values}
    return len(labels) > 1 and all(_PERIOD.match(label) for label in labels)


def scale_note(report: Report, indicator: Indicator) -> str:
    """The unit and scale line every chart carries."""
    if report.scale == 1:
        return f"unit: {indicator.unit} · scale 1:1 (as counted)"
    if indicator.unit in SCALED_UNITS:
        factor = f"{report.scale:,}".replace(",", " ")
        return f"unit: {indicator.unit} · scale 1:{report.scale}, drawn × {factor} (national size)"
    return f"unit: {indicator.unit} · scale 1:{report.scale} (not scaled: not a count of messages)"


def draw_indicator(report: Report, indicator: Indicator, path: Path) -> Path:
    """Draw ``indicator`` of ``report`` into ``path``: lines over time, else horizontal bars."""
    series = list(dict.fromkeys(v.series for v in indicator.values))
    labels = list(dict.fromkeys(v.label for v in indicator.values))
    over_time = is_time_series(indicator)
    rows = len(labels) * max(1, len(series)) ** 0.6
    height = 4.2 if over_time else max(2.8, 1.1 + 0.42 * rows)
    figure = Figure(figsize=(9, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if over_time:
        _lines(report, indicator, axes, series, labels)
    else:
        _bars(report, indicator, axes, series, labels)
    axes.set_title(
        f"{indicator.title}\n{report.period} · {scale_note(report, indicator)}", fontsize=10
    )
    axes.spines[["top", "right"]].set_visible(False)
    if len(series) > 1 or _published_points(report, indicator):
        axes.legend(fontsize=8)
    figure.savefig(path)
    return path


def _values(report: Report, indicator: Indicator, name: str) -> dict[str, float | None]:
    return {
        v.label: report.comparison(indicator, v).scaled
        for v in indicator.values
        if v.series == name
    }


def _published_points(report: Report, indicator: Indicator) -> list[tuple[str, str, float]]:
    points = []
    for value in indicator.values:
        published = report.comparison(indicator, value).published
        if published is not None:
            points.append((value.series, value.label, published))
    return points


def _lines(
    report: Report, indicator: Indicator, axes: Axes, series: list[str], labels: list[str]
) -> None:
    positions = range(len(labels))
    for index, name in enumerate(series):
        values = _values(report, indicator, name)
        axes.plot(
            positions,
            [values.get(label) or 0.0 for label in labels],
            marker="o",
            markersize=3,
            label=name,
            color=_COLOURS[index % len(_COLOURS)],
        )
    points = _published_points(report, indicator)
    if points:
        axes.scatter(
            [labels.index(label) for _s, label, _v in points],
            [value for _s, _l, value in points],
            marker="D",
            color=_PUBLISHED_COLOUR,
            zorder=3,
            label="published",
        )
    axes.set_xticks(list(positions), labels, rotation=45, ha="right", fontsize=8)
    axes.set_ylabel(indicator.unit)
    axes.set_ylim(bottom=0)
    axes.yaxis.set_major_formatter(_THOUSANDS)


def _bars(
    report: Report, indicator: Indicator, axes: Axes, series: list[str], labels: list[str]
) -> None:
    bar = 0.8 / len(series)
    for index, name in enumerate(series):
        values = _values(report, indicator, name)
        positions = [row + (index - (len(series) - 1) / 2) * bar for row in range(len(labels))]
        widths = [values.get(label) or 0.0 for label in labels]
        bars = axes.barh(
            positions, widths, height=bar, label=name, color=_COLOURS[index % len(_COLOURS)]
        )
        texts = [_text(values.get(label), indicator.unit) for label in labels]
        axes.bar_label(bars, labels=texts, padding=3, fontsize=8)
    points = _published_points(report, indicator)
    if points:
        offset = {name: (i - (len(series) - 1) / 2) * bar for i, name in enumerate(series)}
        axes.scatter(
            [value for _s, _l, value in points],
            [labels.index(label) + offset[name] for name, label, _v in points],
            marker="D",
            color=_PUBLISHED_COLOUR,
            zorder=3,
            label="published",
        )
    axes.set_yticks(range(len(labels)), labels)
    axes.invert_yaxis()
    axes.set_xlabel(indicator.unit)
    axes.margins(x=0.15)
    axes.xaxis.set_major_formatter(_THOUSANDS)
    if indicator.unit == "percent":
        axes.set_xlim(0, 115)


def draw_report(report: Report, directory: Path) -> list[Path]:
    """One ``<indicator>.png`` per indicator in ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        draw_indicator(report, indicator, directory / f"{indicator.key}.png")
        for indicator in report.indicators
    ]


def _text(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "percent":
        return f"{value:.1f} %"
    return f"{round(value):,}".replace(",", " ")
