"""``meldingshub credentials add``: a bearer token for a principal, shown once, stored as a hash."""

from pathlib import Path

import click

from meldingshub.cli.common import fail, main, settings_from
from routing.principals import add_token


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
    help="A sender HER-id the principal may send for (repeatable; required for a new one).",
)
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Principals file (default: MELDINGSHUB_ROUTING__PRINCIPALS_FILE); created if missing.",
)
@click.pass_context
def add(ctx: click.Context, name: str, her_ids: tuple[int, ...], path: Path | None) -> None:
    """Create a bearer token for PRINCIPAL; print it once. Only its hash is stored."""
    target = path or settings_from(ctx).routing.principals_file
    if target is None:
        fail(
            "no principals file: pass --file or set MELDINGSHUB_ROUTING__PRINCIPALS_FILE "
            "(the hub reads principals and their tokens from it)"
        )
    token = add_token(target, name, her_ids)
    click.echo(token)
    click.echo(
        f"token for principal {name!r} stored as a hash in {target}; "
        "it cannot be shown again. Send it as 'Authorization: Bearer <token>'.",
        err=True,
    )
