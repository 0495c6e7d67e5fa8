"""The root command group, settings loading and the exit-code policy every command shares."""

import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import click
import prometheus_client

from hubcore.errors import MeldingshubError
from meldingshub import __version__
from meldingshub.logging import configure_logging
from meldingshub.settings import Settings, SettingsError, load_settings

EXIT_ERROR = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one clear error line and exit with ``code``."""
    click.echo(f"meldingshub: error: {message}", err=True)
    sys.exit(code)


class HubGroup(click.Group):
    """Turns the hub's own errors into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            fail(str(exc), EXIT_USAGE)
        except MeldingshubError as exc:
            fail(str(exc))


@click.group(cls=HubGroup)
@click.version_option(__version__, prog_name="meldingshub")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="MELDINGSHUB_CONFIG",
    help="TOML settings file (environment variables MELDINGSHUB_* take precedence).",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """meldingshub: event-streaming hub for message exchange on the Norwegian health network."""
    # ``_created`` samples double the series count and no dashboard or alert reads them.
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    ctx.obj = config


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    """Load the settings once for this command (exits with a clear message when invalid)."""
    config: Path | None = ctx.find_root().obj
    return load_settings(config, **overrides)


def setup_logging(settings: Settings, component: str) -> None:
    """Configure logs for a long-running command."""
    configure_logging(component, settings.log.format, settings.log.level)


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM; a second signal exits at once."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        if stop.is_set():
            sys.exit(128 + signum)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


_SCALE = re.compile(r"^\s*(?:1\s*:\s*)?([\d_ ]+)\s*$")


def parse_scale(value: str | None) -> int | None:
    """``1:N`` (or ``N``) as N; a usage error for anything else (shared by simulate and
    the monitor report, so a simulated year is reported at the scale it was sent)."""
    if value is None:
        return None
    match = _SCALE.match(value)
    scale = int(match.group(1).replace("_", "").replace(" ", "")) if match else 0
    if scale < 1:
        raise click.BadParameter("give the scale as 1:N, e.g. 1:1000")
    return scale
