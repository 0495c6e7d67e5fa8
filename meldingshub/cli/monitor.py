"""``meldingshub monitor report``: the e-helsemonitor indicators as a table, CSV and PNG charts."""

import sys
from pathlib import Path

import click
import structlog
from rich.console import Console
from rich.table import Table

from hubstats.published import SCALED_UNITS
from hubstats.report import Indicator, Report, build_report, report_csv
from hubstats.store import StatisticsStore
from meldingshub.cli.common import main, parse_scale, settings_from, setup_logging
from meldingshub.settings import Settings


@main.group()
def monitor() -> None:
    """National statistics (e-helsemonitor) from the statistics store."""


@monitor.command()
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option("--month", type=click.IntRange(1, 12), help="Only this month of the year.")
@click.option(
    "--scale",
    "scale_text",
    default="1:1",
    show_default=True,
    help="The store holds 1:N of the national traffic (a simulated year): figures × N are "
    "set beside the published ones.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the figures to this CSV file.",
)
@click.option(
    "--png-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also draw one PNG chart per indicator into this directory.",
)
@click.pass_context
def report(
    ctx: click.Context,
    year: int,
    month: int | None,
    scale_text: str,
    csv_path: Path | None,
    png_dir: Path | None,
) -> None:
    """Regenerate the indicators for --year (or --month of it) and print them, each beside
    the published e-helsemonitor figure it reproduces where there is one."""
    scale = parse_scale(scale_text) or 1
    settings = settings_from(ctx)
    _logs_to_stderr(settings)
    store = StatisticsStore.open(settings.store.dsn, settings.statistics.timezone)
    try:
        result = build_report(store, year, month, scale)
    finally:
        store.close()
    Console().print(*_tables(result))
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        csv_path.write_text(report_csv(result), encoding="utf-8")
        click.echo(f"wrote {csv_path}", err=True)
    if png_dir is not None:
        from hubstats.charts import draw_report  # matplotlib only when charts are asked for

        for path in draw_report(result, png_dir):
            click.echo(f"wrote {path}", err=True)


def _tables(result: Report) -> list[Table]:
    tables = []
    for indicator in result.indicators:
        table = Table(
            title=f"{indicator.title} — {result.period}, scale 1:{result.scale}",
            title_justify="left",
        )
        several = len({v.series for v in indicator.values}) > 1
        scaled = result.scale != 1 and indicator.unit in SCALED_UNITS
        published = _has_published(result, indicator)
        if several:
            table.add_column("series")
        table.add_column("")
        table.add_column(f"{indicator.unit} counted" if scaled else indicator.unit, justify="right")
        if scaled:
            table.add_column(f"× {result.scale:,}".replace(",", " "), justify="right")
        if published:
            table.add_column("published", justify="right")
            table.add_column("ratio", justify="right")
        for value in indicator.values:
            compared = result.comparison(indicator, value)
            cells = [value.series] if several else []
            cells += [value.label, _cell(value.value, indicator.unit)]
            if scaled:
                cells.append(_cell(compared.scaled, indicator.unit))
            if published:
                cells.append(
                    "" if compared.published is None else _cell(compared.published, indicator.unit)
                )
                cells.append("" if compared.ratio is None else f"{compared.ratio:.3f}")
            table.add_row(*cells)
        tables.append(table)
    return tables


def _has_published(result: Report, indicator: Indicator) -> bool:
    return any(result.comparison(indicator, v).published is not None for v in indicator.values)


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "percent":
        return f"{value:.2f} %"
    return f"{round(value):,}".replace(",", " ")


def _logs_to_stderr(settings: Settings) -> None:
    """The hub's log set-up, but on stderr: standard output carries the report."""
    setup_logging(settings, "monitor")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
