"""The endpoints a delivery worker hands messages to: one per kind, built from the settings."""

from pathlib import Path

from addressregister.model import EndpointKind
from broker_adapters.delivery.amqp import AmqpEndpoint
from broker_adapters.delivery.base import DeliveryEndpoint
from broker_adapters.delivery.kafka_topic import KafkaTopicEndpoint
from broker_adapters.delivery.mailbox import MailboxEndpoint
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.delivery.outbox import FileOutboxEndpoint
from broker_adapters.delivery.settings import DeliverySettings
from broker_adapters.delivery.webhook import WebhookEndpoint
from broker_adapters.delivery.webhook_keys import WebhookKeys
from broker_adapters.settings import AmqpSettings
from kafka_io import client_config
from kafka_io.settings import KafkaSettings


def build_endpoints(
    delivery: DeliverySettings,
    amqp: AmqpSettings,
    kafka: KafkaSettings,
    bootstrap_servers: str,
    mailbox: MailboxStore,
    outbox_root: Path,
) -> dict[EndpointKind, DeliveryEndpoint]:
    """One endpoint per kind, configured from the settings (nothing connects yet)."""
    return {
        EndpointKind.AMQP: AmqpEndpoint(
            amqp.url.get_secret_value(),
            declare_queues=delivery.amqp_declare_queues,
            timeout_s=min(amqp.timeout_s, delivery.call_timeout_s),
        ),
        EndpointKind.MAILBOX: MailboxEndpoint(mailbox),
        EndpointKind.WEBHOOK: WebhookEndpoint(
            WebhookKeys(delivery.webhook_keys_file),
            delivery.call_timeout_s,
            delivery.max_response_bytes,
        ),
        EndpointKind.KAFKA: KafkaTopicEndpoint(
            client_config(kafka, bootstrap_servers),
            delivery.kafka_topic_prefix,
            delivery.kafka_topic_partitions,
        ),
        EndpointKind.FILE: FileOutboxEndpoint(outbox_root),
    }
