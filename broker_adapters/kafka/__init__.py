"""Kafka plumbing every stage reuses: client configuration, topic bootstrap, durable producer
and the transactional consume-process-produce loop.

Import from here: :func:`client_config`, :func:`ensure_topics`,
:func:`wait_until_reachable`, :class:`DurableProducer`, :class:`TransactionalLoop`,
:class:`OutRecord`.
"""

from broker_adapters.kafka.admin import BrokerUnreachableError, ensure_topics, wait_until_reachable
from broker_adapters.kafka.config import client_config, consumer_config, producer_config
from broker_adapters.kafka.producer import DeliveryFailedError, DurableProducer
from broker_adapters.kafka.records import OutRecord, headers_of
from broker_adapters.kafka.transactional import TransactionalLoop

__all__ = [
    "BrokerUnreachableError",
    "DeliveryFailedError",
    "DurableProducer",
    "OutRecord",
    "TransactionalLoop",
    "client_config",
    "consumer_config",
    "ensure_topics",
    "headers_of",
    "producer_config",
    "wait_until_reachable",
]
