"""A delivery worker process for crash tests.

Run as ``python -m tests.broker_adapters.delivery.worker_process CONFIG``.

CONFIG is JSON: the kafka, delivery and routing settings, the bootstrap servers,
the store DSN, the outbox root and the register as ``[her_id, kind, address]``
triples. It prints ``ready`` once it has its partitions, so a test can SIGKILL
it mid-stream and start another like a restarted replica.
"""

import json
import sys
import threading
from pathlib import Path

from addressregister.index import RegisterIndex
from addressregister.model import EndpointKind
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.delivery.settings import DeliverySettings
from broker_adapters.delivery.worker import DeliveryComponent, build_endpoints
from broker_adapters.settings import AmqpSettings
from kafka_io.settings import KafkaSettings
from meldingshub.cli.common import stop_on_signals
from meldingshub.logging import configure_logging
from routing.settings import RoutingSettings
from tests.broker_adapters.delivery.support import party


def main() -> None:
    config = json.loads(sys.argv[1])
    configure_logging("delivery", "json", "warning")
    kafka = KafkaSettings.model_validate(config["kafka"])
    delivery = DeliverySettings.model_validate(config["delivery"])
    routing = RoutingSettings.model_validate(config["routing"])
    register = RegisterIndex(
        party(her_id, EndpointKind(kind), address) for her_id, kind, address in config["register"]
    )
    mailbox = MailboxStore.open(config["dsn"])
    bootstrap = config["bootstrap"]
    endpoints = build_endpoints(
        delivery, AmqpSettings(), kafka, bootstrap, mailbox, Path(config["outbox"])
    )
    worker = DeliveryComponent(
        delivery, kafka, routing, bootstrap, lambda: register, endpoints, mailbox=mailbox
    )
    stop = stop_on_signals()
    threading.Thread(target=_announce, args=(worker, stop), daemon=True).start()
    worker.run(stop)


def _announce(worker: DeliveryComponent, stop: threading.Event) -> None:
    while not stop.is_set() and not worker.ready():
        stop.wait(0.05)
    print("ready", flush=True)


if __name__ == "__main__":
    main()
