"""Builds the queue-, topic- and directory-driven adapters the settings enable.

The HTTP adapter is not here: it is a router the composition root mounts in the
hub's one API application (:func:`broker_adapters.http.ingress_api.ingress_router`).
"""

from pathlib import Path

from access.principals_file import PrincipalsFile
from broker_adapters.ingress.amqp import AmqpIngress
from broker_adapters.ingress.amqp_errors import AmqpRejectionReporter
from broker_adapters.ingress.base import IngressAdapter
from broker_adapters.ingress.files import FileCatalogueIngress
from broker_adapters.ingress.gate import IngressGate
from broker_adapters.ingress.kafka import KafkaIngress
from broker_adapters.settings import AmqpSettings
from kafka_io.settings import KafkaSettings


def ingress_adapters(
    gate: IngressGate,
    principals: PrincipalsFile,
    kafka: KafkaSettings,
    bootstrap_servers: str,
    amqp: AmqpSettings,
    data_dir: Path | None = None,
    hub_her_id: int | None = None,
) -> list[IngressAdapter | AmqpRejectionReporter]:
    """The AMQP, Kafka and file adapters enabled in ``gate.settings``; with AMQP, the
    reporter of the router's rejections to AMQP senders' error queues (given ``hub_her_id``).

    ``data_dir`` anchors a relative ``file_root``.
    """
    settings = gate.settings
    enabled = settings.adapters
    adapters: list[IngressAdapter | AmqpRejectionReporter] = []
    if "amqp" in enabled:
        url = amqp.url.get_secret_value()
        adapters.append(AmqpIngress(gate, principals, url, gate.amqp_prefetch()))
        if hub_her_id is not None:
            adapters.append(
                AmqpRejectionReporter(principals, kafka, bootstrap_servers, url, hub_her_id)
            )
    if "kafka" in enabled:
        adapters.append(KafkaIngress(gate, principals, kafka, bootstrap_servers, settings))
    if "file" in enabled:
        root = settings.file_root
        if data_dir is not None and not root.is_absolute():
            root = data_dir / root
        adapters.append(FileCatalogueIngress(gate, principals, root))
    return adapters
