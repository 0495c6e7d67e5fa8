"""``meldingshub register generate|import|export|show|search|resolve|serve``."""

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from addressregister.categories import CategoryTable
from addressregister.errors import RegisterUnavailableError
from addressregister.fileformat import read_register_file, write_register_file
from addressregister.generator import expected_size, generate_national_register
from addressregister.importer import import_file
from addressregister.index import RegisterIndex
from addressregister.model import PartyKind
from addressregister.records import party_to_record
from addressregister.resolution import resolve_receiver
from addressregister.results import ResolutionFailure
from addressregister.topic import read_parties
from meldingshub.cli.common import EXIT_ERROR, fail, main, settings_from
from meldingshub.settings import Settings
from schemas.parties import PartyRef
from schemas.vocabulary import Category

_REGISTER_OPTION = click.option(
    "--register",
    "register_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Read this register file instead of the parties topic.",
)
_BOOTSTRAP_OPTION = click.option(
    "--bootstrap-servers",
    help="Kafka bootstrap servers (default: MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS).",
)


@main.group()
def register() -> None:
    """The address register: generate, import, export and look up parties."""


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _categories(settings: Settings) -> CategoryTable:
    register_settings = settings.address_register
    return CategoryTable.configured(
        register_settings.category_rules, register_settings.categories_file
    )


def _bootstrap(settings: Settings, given: str | None) -> str | None:
    return given or settings.kafka.bootstrap_servers or None


def _load_index(
    ctx: click.Context, register_file: Path | None, bootstrap: str | None
) -> RegisterIndex:
    """The register from a file, the topic, or the configured snapshot file, in that order."""
    settings = settings_from(ctx)
    table = _categories(settings)
    if register_file is not None:
        return RegisterIndex(read_register_file(register_file).parties, table)
    servers = _bootstrap(settings, bootstrap)
    if servers:
        state = read_parties(
            settings.kafka, servers, timeout_s=settings.address_register.load_timeout_s
        )
        return RegisterIndex(state.values(), table)
    if settings.address_register.snapshot is not None:
        return RegisterIndex(read_register_file(settings.address_register.snapshot).parties, table)
    raise RegisterUnavailableError(
        "no register to read: pass --register FILE, set MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS, "
        "or set MELDINGSHUB_ADDRESS_REGISTER__SNAPSHOT"
    )


def _category_table(index: RegisterIndex) -> Table:
    table = Table(title="Parties per statistics category")
    table.add_column("category")
    table.add_column("parties", justify="right")
    for category, count in index.counts_by_category().items():
        if category is not Category.UKJENT:
            table.add_row(category.value, str(count))
    table.add_row("total", str(len(index)), style="bold")
    return table


@register.command()
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same register.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "file_format", type=click.Choice(["json", "csv"]), default=None)
@click.pass_context
def generate(ctx: click.Context, seed: int, out: Path, file_format: str | None) -> None:
    """Write the synthetic national register to OUT and print its counts per category."""
    settings = settings_from(ctx)
    console = Console(stderr=True)
    started = time.perf_counter()
    with _progress(console) as progress:
        task = progress.add_task("generating", total=expected_size())
        parties = generate_national_register(seed, lambda n: progress.advance(task, n))
        progress.update(task, total=len(parties), completed=len(parties))
    write_register_file(out, parties, file_format)
    index = RegisterIndex(parties, _categories(settings))
    Console().print(_category_table(index))
    click.echo(
        f"wrote {len(parties)} parties to {out} in {time.perf_counter() - started:.1f} s "
        f"(seed {seed})"
    )


@register.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(["json", "csv"]), default=None)
@click.option(
    "--keep-missing",
    is_flag=True,
    help="Only add and update; parties missing from FILE stay (default: they are removed).",
)
@click.option("--dry-run", is_flag=True, help="Validate and show the changes; publish nothing.")
@_BOOTSTRAP_OPTION
@click.pass_context
def import_(
    ctx: click.Context,
    file: Path,
    file_format: str | None,
    keep_missing: bool,
    dry_run: bool,
    bootstrap_servers: str | None,
) -> None:
    """Validate FILE (JSON or CSV) and publish its changes to the parties topic.

    Every wrong row and field is listed; if there is any, nothing is published and the
    exit code is non-zero.
    """
    settings = settings_from(ctx)
    servers = _bootstrap(settings, bootstrap_servers)
    if not servers:
        fail("set MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS or --bootstrap-servers to import")
    console = Console(stderr=True)
    with _progress(console) as progress:
        reading = progress.add_task("validating", total=None)
        publishing = progress.add_task("publishing", total=None, visible=False)

        def published(n: int) -> None:
            progress.update(publishing, visible=True)
            progress.advance(publishing, n)

        plan = import_file(
            file,
            settings.kafka,
            servers,
            file_format=file_format,
            remove_missing=not keep_missing,
            dry_run=dry_run,
            timeout_s=settings.address_register.load_timeout_s,
            read_progress=lambda n: progress.advance(reading, n),
            publish_progress=published,
        )
    verb = "would publish" if dry_run else "published"
    click.echo(
        f"{verb} {len(plan.upserts)} new or changed parties and {len(plan.removals)} removals "
        f"({plan.unchanged} unchanged)"
    )


@register.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "file_format", type=click.Choice(["json", "csv"]), default=None)
@click.option("--with-category", is_flag=True, help="Add the derived statistics category.")
@_REGISTER_OPTION
@_BOOTSTRAP_OPTION
@click.pass_context
def export(
    ctx: click.Context,
    out: Path,
    file_format: str | None,
    with_category: bool,
    register_file: Path | None,
    bootstrap_servers: str | None,
) -> None:
    """Write the current register (the parties topic) to OUT as JSON or CSV."""
    index = _load_index(ctx, register_file, bootstrap_servers)
    count = write_register_file(out, index, file_format, with_category=with_category)
    click.echo(f"wrote {count} parties to {out}")


@register.command()
@click.argument("her_id", type=int)
@_REGISTER_OPTION
@_BOOTSTRAP_OPTION
@click.pass_context
def show(
    ctx: click.Context, her_id: int, register_file: Path | None, bootstrap_servers: str | None
) -> None:
    """Print the party HER_ID as JSON."""
    index = _load_index(ctx, register_file, bootstrap_servers)
    party = index.get(her_id)
    if party is None:
        fail(f"HER-id {her_id} is not in the register")
    record = party_to_record(party, with_category=True)
    record["organisationHerId"] = index.organisation_of(her_id)
    receiver = index.receiving_party(her_id)
    record["receivingHerId"] = receiver.her_id if receiver is not None else None
    click.echo(json.dumps(record, ensure_ascii=False, indent=2))


@register.command()
@click.option("--name", help="Part of the name (case-insensitive).")
@click.option("--organisation-number")
@click.option("--municipality")
@click.option("--business-type")
@click.option("--service-code")
@click.option("--kind", type=click.Choice([k.value for k in PartyKind]))
@click.option("--category", type=click.Choice([c.value for c in Category]))
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON record per line.")
@_REGISTER_OPTION
@_BOOTSTRAP_OPTION
@click.pass_context
def search(
    ctx: click.Context,
    name: str | None,
    organisation_number: str | None,
    municipality: str | None,
    business_type: str | None,
    service_code: str | None,
    kind: str | None,
    category: str | None,
    page: int,
    page_size: int,
    as_json: bool,
    register_file: Path | None,
    bootstrap_servers: str | None,
) -> None:
    """Search parties by name, organisation number, municipality, business type, service code."""
    index = _load_index(ctx, register_file, bootstrap_servers)
    result = index.search(
        name=name,
        organisation_number=organisation_number,
        municipality=municipality,
        business_type=business_type,
        service_code=service_code,
        kind=PartyKind(kind) if kind else None,
        category=Category(category) if category else None,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    if as_json:
        for party in result.items:
            click.echo(json.dumps(party_to_record(party, with_category=True), ensure_ascii=False))
        return
    table = Table(title=f"{result.total} parties (page {page})")
    for column in ("herId", "kind", "name", "parent", "category", "endpoint"):
        table.add_column(column)
    for party in result.items:
        receiver = index.receiving_party(party.her_id)
        endpoint = receiver.endpoint if receiver is not None else None
        table.add_row(
            str(party.her_id),
            party.kind.value,
            party.name,
            str(party.parent_her_id or ""),
            party.category.value,
            f"{endpoint.kind.value}:{endpoint.address}" if endpoint else "-",
        )
    Console().print(table)


@register.command()
@click.option("--organisation", "organisation_her_id", type=int, help="Level-1 HER-id.")
@click.option("--service", "service_her_id", type=int, help="Level-2 service/department HER-id.")
@click.option("--person", "person_her_id", type=int, help="Level-2 person HER-id.")
@click.option("--organisation-number", help="Organisation number, when there is no HER-id.")
@click.option("--type", "message_type", required=True, help="Message type code, e.g. ERM1.")
@click.option("--version", help="Message version, e.g. 1.6.")
@click.option("--at", type=click.DateTime(), help="Moment to resolve at (UTC; default now).")
@_REGISTER_OPTION
@_BOOTSTRAP_OPTION
@click.pass_context
def resolve(
    ctx: click.Context,
    organisation_her_id: int | None,
    service_her_id: int | None,
    person_her_id: int | None,
    organisation_number: str | None,
    message_type: str,
    version: str | None,
    at: datetime | None,
    register_file: Path | None,
    bootstrap_servers: str | None,
) -> None:
    """Resolve the receiver of a message as the router would; exit 1 with the AppRec code if not."""
    index = _load_index(ctx, register_file, bootstrap_servers)
    ref = PartyRef(organisation_her_id, service_her_id, person_her_id, organisation_number)
    moment = at.replace(tzinfo=UTC) if at is not None else datetime.now(UTC)
    outcome = resolve_receiver(index, ref, message_type, version, moment)
    if isinstance(outcome, ResolutionFailure):
        click.echo(
            json.dumps(
                {
                    "resolved": False,
                    "apprecCode": outcome.code.value,
                    "problem": outcome.problem.value,
                    "reason": outcome.reason,
                }
            )
        )
        sys.exit(EXIT_ERROR)
    result: dict[str, Any] = {
        "resolved": True,
        "receiverHerId": outcome.receiver_her_id,
        "organisationHerId": outcome.organisation_her_id,
        "addressedHerId": outcome.addressed_her_id,
        "addressingMode": outcome.addressing_mode.value,
        "category": outcome.category.value,
        "endpoint": {"kind": outcome.endpoint.kind.value, "address": outcome.endpoint.address},
    }
    click.echo(json.dumps(result))
