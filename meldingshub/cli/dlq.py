"""``meldingshub dlq list|replay``: the dead-letter topic for operators."""

import getpass
import uuid
from collections import Counter
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from hubstats.store import StatisticsStore
from hubstats.timeline import record_replay
from kafka_io import wait_until_reachable
from meldingshub.cli.common import main, settings_from
from meldingshub.dlq import read_dead_letters, replay, selector
from meldingshub.settings import Settings


def _bootstrap(settings: Settings) -> str:
    if settings.kafka.embedded:
        servers = f"{settings.kafka.embedded_host}:{settings.kafka.embedded_port}"
    else:
        servers = settings.kafka.bootstrap_servers
    wait_until_reachable(servers, settings.kafka.connect_timeout_s)
    return servers


_code = click.option(
    "--code", "codes", multiple=True, help="AppRec error code (repeatable), e.g. E21."
)
_since = click.option("--since", type=click.DateTime(), help="Rejected at or after (UTC).")
_until = click.option("--until", type=click.DateTime(), help="Rejected before (UTC).")


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@main.group()
def dlq() -> None:
    """Dead-lettered (rejected) messages: list them, replay selected ones."""


@dlq.command("list")
@_code
@_since
@_until
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to show.")
@click.pass_context
def list_(
    ctx: click.Context,
    codes: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> None:
    """Rejected messages by reason and time (ids and codes only, never content)."""
    settings = settings_from(ctx)
    chosen = selector(codes, (), _utc(since), _utc(until))
    letters = [
        x for x in read_dead_letters(settings.kafka, _bootstrap(settings)) if chosen(x.message)
    ]
    by_code = Counter(x.message.code.value for x in letters)
    console = Console()
    table = Table(title=f"{len(letters)} dead-lettered messages")
    for column in (
        "rejected at",
        "code",
        "stage",
        "family",
        "type",
        "sender",
        "hub message id",
        "reason",
    ):
        table.add_column(column)
    for letter in letters[-limit:]:
        m = letter.message
        table.add_row(
            m.rejected_at.isoformat(timespec="seconds"),
            m.code.value,
            m.stage.value,
            m.family.value if m.family else "",
            m.message_type or "",
            str(m.sender_her_id or ""),
            str(m.hub_message_id),
            m.reason,
        )
    console.print(table)
    console.print("by code: " + ", ".join(f"{code} {n}" for code, n in sorted(by_code.items())))


@dlq.command("replay")
@_code
@_since
@_until
@click.option("--id", "ids", multiple=True, help="Hub message id to replay (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would be replayed; write nothing.")
@click.pass_context
def replay_(
    ctx: click.Context,
    codes: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    ids: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Re-inject selected rejected messages into hub.inbound with their ingress metadata."""
    if not (codes or ids or since or until):
        raise click.UsageError("select what to replay with --code, --id, --since or --until")
    settings = settings_from(ctx)
    bootstrap = _bootstrap(settings)
    chosen = selector(codes, ids, _utc(since), _utc(until))
    letters = [x for x in read_dead_letters(settings.kafka, bootstrap) if chosen(x.message)]
    if dry_run:
        click.echo(f"would replay {len(letters)} messages")
        return
    store = StatisticsStore.open(settings.store.dsn)
    operator = f"cli:{getpass.getuser()}"
    try:

        def note(original: uuid.UUID, again: uuid.UUID) -> None:
            record_replay(store.engine, original, again, operator, datetime.now(UTC))

        replayed = replay(settings.kafka, bootstrap, letters, note)
    finally:
        store.close()
    click.echo(f"replayed {len(replayed)} messages into {settings.kafka.topics.inbound.name}")
