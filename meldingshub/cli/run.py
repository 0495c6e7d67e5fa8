"""``meldingshub run [COMPONENT]...`` and ``meldingshub broker``.

``meldingshub run`` with no component names is the demo a newcomer starts with
``make run``: every component in one process with the embedded defaults, a
steady simulated stream of the national message mix, and a live view of the
traffic (plain log lines when standard output is not a terminal).
``--no-simulate`` runs the hub alone; naming components runs only those, as a
deployment does.
"""

import threading
from typing import TextIO

import click
import structlog
from prometheus_client import CollectorRegistry
from rich.console import Console

from meldingshub.app import Hub
from meldingshub.cli.common import main, settings_from, setup_logging, stop_on_signals
from meldingshub.cli.live_view import show
from meldingshub.embedded_broker import MEMORY_ONLY, EmbeddedBroker
from meldingshub.embedded_process import limit_malloc_arenas
from meldingshub.logging import configure_logging
from meldingshub.settings import Settings
from meldingshub.simulator.component import DEMO_FAULT_RATE, DEMO_RATE
from meldingshub.simulator.receivers import owns_its_data
from meldingshub.wiring import Stream, component_factory


@main.command()
@click.argument("components", nargs=-1)
@click.option(
    "--no-simulate",
    is_flag=True,
    help="Run the hub alone, without the simulated stream and the live view.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0.1, 10_000),
    default=DEMO_RATE,
    show_default=True,
    help="Messages per second of the simulated stream (receivers' AppRecs come on top).",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0.0, 1.0),
    default=DEMO_FAULT_RATE,
    show_default=True,
    help="Share of faulty documents in the simulated stream.",
)
@click.pass_context
def run(
    ctx: click.Context,
    components: tuple[str, ...],
    no_simulate: bool,
    rate: float,
    fault_rate: float,
) -> None:
    """Run the hub: all components in one process, or only the COMPONENTS named.

    With no MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS the embedded broker is started
    too, and stopped when the hub stops. With no COMPONENTS (and no
    --no-simulate) a simulated stream of the national mix feeds the hub and a
    live view shows it; the stream needs the embedded broker and the synthetic
    national register (no MELDINGSHUB_ADDRESS_REGISTER__SNAPSHOT).
    """
    limit_malloc_arenas()
    settings = settings_from(ctx)
    registry = CollectorRegistry()
    if components or no_simulate or not _national_register(settings):
        factory = component_factory(settings, components, registry)
        setup_logging(settings, components[0] if len(components) == 1 else "hub")
        if not components and not no_simulate:
            structlog.get_logger(__name__).info(
                "simulated stream off: it needs the embedded broker and the synthetic national "
                "register; `meldingshub simulate --register FILE` sends into any hub"
            )
        Hub(settings, factory, registry).run(stop_on_signals())
        return
    receivers = owns_its_data(settings)
    if receivers:
        settings = _demo_retention(settings)
    console = Console()
    log_file = _logs_for_demo(settings, console)
    if not receivers:
        structlog.get_logger(__name__).info(
            "simulated receivers off: the store or the outbox root is configured, and the "
            "receivers would take every receiver's messages there"
        )
    stream = Stream(rate=rate, fault_rate=fault_rate, receivers=receivers)
    hub = Hub(settings, component_factory(settings, [], registry, stream), registry)
    stop = stop_on_signals()
    view = threading.Thread(
        target=show,
        args=(registry, stop, hub.ready, _urls(settings)),
        kwargs={"console": console},
        name="live-view",
        daemon=True,
    )
    view.start()
    try:
        hub.run(stop)
    finally:
        stop.set()
        view.join(timeout=5)
        if log_file is not None:
            log_file.close()
            console.print(f"meldingshub stopped; logs in {log_file.name}")


def _national_register(settings: Settings) -> bool:
    """The demo stream's mix is calibrated to the synthetic national register of the embedded
    default; a configured snapshot or an external broker's register has other parties."""
    return settings.kafka.embedded and settings.address_register.snapshot is None


DEMO_MAILBOX_RETENTION_DAYS = 1 / 24
"""How long the demo keeps a mailbox message its simulated receiver has read (unless set)."""


def _demo_retention(settings: Settings) -> Settings:
    """The demo's receivers read their mailboxes within a minute: a month's retention of what
    they read would fill the disk by gigabytes a day, an hour shows the same."""
    delivery = settings.delivery
    shorter = {
        name: value
        for name, value in (
            ("mailbox_retention_days", DEMO_MAILBOX_RETENTION_DAYS),
            ("mailbox_prune_interval_s", 600.0),
        )
        if name not in delivery.model_fields_set
    }
    return settings.model_copy(update={"delivery": delivery.model_copy(update=shorter)})


def _urls(settings: Settings) -> dict[str, str]:
    api = f"http://{settings.http.api_bind}"
    return {
        "statistics": f"{api}/v1/statistics?from=2000-01-01&to=2100-12-31&granularity=year",
        "register": f"{api}/v1/parties?name=kommune",
        "metrics": f"http://{settings.http.ops_bind}/metrics",
    }


def _logs_for_demo(settings: Settings, console: Console) -> TextIO | None:
    """On a terminal the live view owns the screen, so logs go to a file; else to stdout."""
    if not console.is_terminal:
        setup_logging(settings, "hub")
        return None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "meldingshub.log"
    handle = path.open("a", encoding="utf-8")
    # Libraries (pika, uvicorn) log through the standard library: into the file as well.
    configure_logging("hub", "json", settings.log.level, stream=handle)
    console.print(f"meldingshub: starting the hub with a simulated stream (logs in {path})")
    return handle


@main.command()
@click.option(
    "--port", type=int, help="Port to listen on (default: MELDINGSHUB_KAFKA__EMBEDDED_PORT)."
)
@click.pass_context
def broker(ctx: click.Context, port: int | None) -> None:
    """Run the embedded Kafka-protocol broker on a loopback port until interrupted."""
    settings = settings_from(ctx)
    setup_logging(settings, "broker")
    stop = stop_on_signals()
    embedded = EmbeddedBroker(settings.kafka.embedded_host, port or settings.kafka.embedded_port)
    with embedded:
        structlog.get_logger(__name__).warning(MEMORY_ONLY)
        click.echo(f"broker listening on {embedded.bootstrap_servers} (Ctrl-C stops it)", err=True)
        stop.wait()
