"""``meldingshub stats verify``: compare the statistics export with a simulation's truth."""

import sys
from pathlib import Path

import click

from hubstats.store import StatisticsStore
from meldingshub.cli.common import EXIT_ERROR, settings_from
from meldingshub.cli.stats import stats
from meldingshub.simulator.truth import Truth
from meldingshub.simulator.verify import verify


@stats.command("verify")
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The truth file `meldingshub simulate --truth` wrote.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=0,
    help="Print at most this many differences (0: all of them).",
)
@click.pass_context
def verify_command(ctx: click.Context, truth_path: Path, limit: int) -> None:
    """Print every difference between the hub's export and the truth; exit 1 if there is one.

    The store must hold only this simulation's traffic (a fresh hub, or a fresh store).
    """
    settings = settings_from(ctx)
    truth = Truth.read(truth_path)
    store = StatisticsStore.open(settings.store.dsn, settings.statistics.timezone)
    try:
        result = verify(store, truth)
    finally:
        store.close()
    if result.timezone_note:
        click.echo(f"note: {result.timezone_note}", err=True)
    shown = result.differences if not limit else result.differences[:limit]
    for difference in shown:
        sys.stdout.write(f"{difference}\n")
    if len(shown) < len(result.differences):
        sys.stdout.write(f"... and {len(result.differences) - len(shown)} more\n")
    summary = (
        f"{len(result.differences)} difference(s) over {result.cells} cells "
        f"({result.expected_total:,} expected counts, {truth.documents:,} documents sent)"
    )
    click.echo(summary, err=True)
    if not result.ok:
        sys.exit(EXIT_ERROR)
