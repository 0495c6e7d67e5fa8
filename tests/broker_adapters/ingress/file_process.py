"""A file-catalogue ingress process for crash tests.

Run as ``python -m tests.broker_adapters.ingress.file_process JSON``.

``JSON`` is the hub settings; the principals come from ``access.principals_file``. It
prints ``ingress ready`` once polling, and runs until SIGTERM (or a SIGKILL by the test).
"""

import sys
import threading

from access.principals_file import PrincipalsFile
from addressregister.live import StaticRegister
from broker_adapters.ingress import IngressGate
from broker_adapters.ingress.files import FileCatalogueIngress
from meldingshub.cli.common import stop_on_signals
from meldingshub.logging import configure_logging
from meldingshub.settings import Settings
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from tests.support.corpus_register import accepted_samples, consistent, register_for


def main() -> None:
    settings = Settings.model_validate_json(sys.argv[1])
    configure_logging("ingress-file", "json", "warning")
    register = StaticRegister(
        register_for(consistent(accepted_samples(MessageReader(SchemaSettings()))))
    )
    gate = IngressGate.create(
        settings.kafka, settings.kafka.bootstrap_servers, settings.ingress, register
    )
    adapter = FileCatalogueIngress(
        gate, PrincipalsFile(settings.access.principals_file), settings.ingress.file_root
    )
    stop = stop_on_signals()
    threading.Thread(target=_announce, args=(adapter, stop), daemon=True).start()
    try:
        adapter.run(stop)
    finally:
        gate.close()


def _announce(adapter: FileCatalogueIngress, stop: threading.Event) -> None:
    while not stop.is_set() and not adapter.ready():
        stop.wait(0.02)
    print("ingress ready", flush=True)


if __name__ == "__main__":
    main()
