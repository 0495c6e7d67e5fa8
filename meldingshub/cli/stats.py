"""``meldingshub stats export`` and ``meldingshub stats migrate``: the statistics store by hand."""

import sys
from datetime import datetime
from pathlib import Path
from typing import cast

import click
import structlog

from hubstats.export import (
    FORMATS,
    GRANULARITIES,
    ExportFormat,
    Granularity,
    StatisticsQuery,
    query_counts,
    render,
)
from hubstats.schema import DIMENSIONS
from hubstats.store import StatisticsStore, create_store_engine
from meldingshub.cli.common import main, settings_from, setup_logging
from meldingshub.settings import Settings

_DATE = click.DateTime(formats=["%Y-%m-%d"])


@main.group()
def stats() -> None:
    """Exact message statistics from the store the aggregator fills."""


@stats.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Create or upgrade the statistics store's tables (the aggregator also does this at start)."""
    settings = settings_from(ctx)
    _logs_to_stderr(settings)
    store = StatisticsStore(create_store_engine(settings.store.dsn), settings.statistics.timezone)
    try:
        steps = store.migrate()
    finally:
        store.close()
    click.echo(f"statistics store up to date ({steps} migration(s) applied)", err=True)


@stats.command()
@click.option("--from", "start", type=_DATE, required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", type=_DATE, required=True, help="Last day (inclusive), YYYY-MM-DD.")
@click.option("--granularity", type=click.Choice(GRANULARITIES), default="month", show_default=True)
@click.option(
    "--group-by",
    multiple=True,
    help=f"Dimension(s) to group by, repeatable or comma-separated: {', '.join(DIMENSIONS)}.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--family", multiple=True, help="Only these families (repeatable).")
@click.option("--message-type", multiple=True, help="Only these 8279 message types.")
@click.option("--sender-category", multiple=True, help="Only these sender categories.")
@click.option("--receiver-category", multiple=True, help="Only these receiver categories.")
@click.option("--addressing-mode", multiple=True, help="Only these addressing modes.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.pass_context
def export(
    ctx: click.Context,
    start: datetime,
    end: datetime,
    granularity: str,
    group_by: tuple[str, ...],
    fmt: str,
    family: tuple[str, ...],
    message_type: tuple[str, ...],
    sender_category: tuple[str, ...],
    receiver_category: tuple[str, ...],
    addressing_mode: tuple[str, ...],
    output: Path | None,
) -> None:
    """Export exact counts per period and dimension (columns: hubstats/README.md)."""
    settings = settings_from(ctx)
    _logs_to_stderr(settings)
    filters = {
        "family": family,
        "message_type": message_type,
        "sender_category": sender_category,
        "receiver_category": receiver_category,
        "addressing_mode": addressing_mode,
    }
    query = StatisticsQuery(
        start=start.date(),
        end=end.date(),
        granularity=cast(Granularity, granularity),  # click.Choice checked it
        group_by=tuple(p.strip() for value in group_by for p in value.split(",") if p.strip()),
        filters={name: values for name, values in filters.items() if values},
    )
    store = StatisticsStore.open(settings.store.dsn, settings.statistics.timezone)
    try:
        text = render(query_counts(store, query), query, cast(ExportFormat, fmt), store.zone.key)
    finally:
        store.close()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _logs_to_stderr(settings: Settings) -> None:
    """The hub's log set-up, but on stderr: standard output carries the export."""
    setup_logging(settings, "stats")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
