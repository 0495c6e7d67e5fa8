"""``meldingshub credentials add``: a bearer token for a principal, shown once, stored as a hash."""

from pathlib import Path

import click

from access.principals import Role
from access.principals_file import add_credentials
from meldingshub.cli.common import fail, main, settings_from


@main.group()
def credentials() -> None:
    """Credentials of the systems that send through the hub (the principals file)."""


@credentials.command()
@click.option("--principal", "name", required=True, help="Name of the sending system.")
@click.option(
    "--her-id",
    "her_ids",
    type=int,
    multiple=True,
    help="A HER-id the principal acts for, with everything below it "
    "(repeatable; required for a new one).",
)
@click.option(
    "--role",
    "roles",
    type=click.Choice([role.value for role in Role]),
    multiple=True,
    help="A role to grant (repeatable): sender (submit, status), receiver (mailbox), "
    "operator (console, statistics, register, dead letters), monitor (statistics export). "
    "Default for a new principal: sender and receiver.",
)
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Principals file (default: MELDINGSHUB_ACCESS__PRINCIPALS_FILE); created if missing.",
)
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    her_ids: tuple[int, ...],
    roles: tuple[str, ...],
    path: Path | None,
) -> None:
    """Create a bearer token for PRINCIPAL; print it once. Only its hash is stored."""
    target = path or settings_from(ctx).access.principals_file
    if target is None:
        fail(
            "no principals file: pass --file or set MELDINGSHUB_ACCESS__PRINCIPALS_FILE "
            "(the hub reads principals and their tokens from it)"
        )
    token = add_credentials(target, name, her_ids, [Role(role) for role in roles])
    click.echo(token)
    click.echo(
        f"token for principal {name!r} stored as a hash in {target}; "
        "it cannot be shown again. Send it as 'Authorization: Bearer <token>'.",
        err=True,
    )
