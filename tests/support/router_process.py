"""A router process for crash tests: ``python -m tests.support.router_process SETTINGS ID``.

It routes with the corpus register (built the same way as in the in-process
tests) so a test can SIGKILL and restart it like a real replica.
"""

import sys
import threading

from prometheus_client import CollectorRegistry

from access.principals import Principals
from meldingshub.cli.common import stop_on_signals
from meldingshub.components.router import RouterComponent
from meldingshub.logging import configure_logging
from meldingshub.settings import Settings
from meldingshub.supervisor import Supervisor
from metrics.components import ComponentMetrics
from schemas.reader import MessageReader
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.hub import router_settings


def main() -> None:
    settings = Settings.model_validate_json(sys.argv[1])
    settings.kafka.instance_id = sys.argv[2]
    configure_logging("router", "json", "info")
    reader = MessageReader(settings.schemas)
    register = register_for(consistent(accepted_samples(reader)))
    router = RouterComponent(
        *router_settings(settings),
        settings.kafka.bootstrap_servers,
        lambda: register,
        reader,
        Principals.open(),
    )
    stop = stop_on_signals()
    ready = threading.Thread(target=_announce, args=(router, stop), daemon=True)
    ready.start()
    # Supervised as in `meldingshub run router`: a failed run is restarted with back-off.
    Supervisor(router, ComponentMetrics(CollectorRegistry(), [router.name])).run(stop)


def _announce(router: RouterComponent, stop: threading.Event) -> None:
    while not stop.is_set() and not router.ready():
        stop.wait(0.05)
    print("router ready", flush=True)


if __name__ == "__main__":
    main()
